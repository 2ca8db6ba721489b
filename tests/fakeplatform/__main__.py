"""`python -m tests.fakeplatform --dir DIR [--port N] [--tweets FILE] [--latency-ms MS]`:
serve until SIGTERM or SIGINT.

Prints one JSON line: {"port": .., "ca_pem": .., "host_map": {..}}. `--tweets` adds the
tweet records of a JSON list to the fixture's; `--latency-ms` makes every answer wait (see
FakePlatform.latency). A server in its own process is what benchmarks use: in the
benchmark's process its TLS and handlers would compete with the archiver for the GIL.
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
    parser.add_argument("--tweets", type=Path,
                        help="JSON list of tweet records to serve besides the fixture's")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="wait this long before every answer")
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
        for record in json.loads(args.tweets.read_text()) if args.tweets else []:
            fake.tweets.put(record)
        fake.latency = args.latency_ms / 1000
        print(json.dumps({"port": fake.port, "ca_pem": str(fake.ca_pem.resolve()),
                          "host_map": fake.host_map()}), flush=True)
        while not stop.wait(3600):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
