"""`python -m tests.fakeplatform --dir DIR [--port N]`: serve until SIGTERM or SIGINT.

Prints one JSON line: {"port": .., "ca_pem": .., "host_map": {..}}.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tests.fakeplatform.server import start_fake_platform


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakeplatform", description=__doc__)
    parser.add_argument("--dir", required=True, type=Path,
                        help="directory for the generated CA and server certificate")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with start_fake_platform(args.dir, args.port) as fake:
        print(json.dumps({"port": fake.port, "ca_pem": str(fake.ca_pem.resolve()),
                          "host_map": fake.host_map()}), flush=True)
        while not stop.wait(3600):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
