"""`make demo`: archive the seed article end to end, offline, with the real CLI.

This machine cannot reach the platforms, so the demo starts the same loopback servers the
tests use (a fake news site and fake Twitter/X hosts over HTTPS, with a CA made on the
spot) and points the archiver at them through its ordinary configuration: a host map and
a CA bundle. Captures go to the default data directory, snapshots/.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from tests.fakeplatform import start_fake_platform
from tests.fakeplatform.feeds import Item, rss
from tests.harness import SEED_URL, config_toml
from tests.tsa import start_tsa

DEMO_FEED = "https://news.example.org/feeds/demo.xml"


def step(args: list[str], cwd: Path | None = None) -> int:
    print(f"\n$ {' '.join(shlex.quote(a) for a in args)}", flush=True)
    return subprocess.call(args, cwd=cwd)


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    work = root / "snapshots" / ".demo-network"
    work.mkdir(parents=True, exist_ok=True)
    with start_fake_platform(work) as fake, start_tsa(work / "tsa", keep=True) as tsa:
        cfg = work / "archiver.toml"
        sources = work / "sources.toml"
        sources.write_text('[[source]]\nname = "demo-feed"\nkind = "feed"\n'
                           f'url = "{DEMO_FEED}"\nevery = "15m"\n')
        fake.serve(DEMO_FEED, rss([Item(SEED_URL, "Violents combats entre l'Azerbaïdjan et "
                                        "l'Arménie")]), "application/rss+xml; charset=utf-8")
        cfg.write_text(config_toml(fake.host_map(), fake.ca_pem) + "\n[evidence]\n"
                       f'tsa_urls = ["{tsa.url}"]\ntsa_ca_bundle = "{tsa.ca_pem}"\n'
                       f'\n[schedule]\nsources_file = "{sources}"\n')
        print("This machine is offline. The demo serves the seed article and the Twitter/X "
              f"endpoints from loopback HTTPS servers on 127.0.0.1:{fake.port}, with a test CA "
              f"made just now; the archiver reaches them through {cfg.relative_to(root)} "
              "(a host map and a CA bundle), the same settings a real network would use. "
              f"A local RFC 3161 authority ({tsa.url}, openssl ts) stamps the manifests.")
        archiver = [sys.executable, "-m", "archiver.cli", "--config", str(cfg)]
        failures = 0
        failures += step([*archiver, "detect", SEED_URL]) != 0
        failures += step([*archiver, "archive", SEED_URL]) != 0
        failures += step([*archiver, "list", "--limit", "5"]) != 0
        failures += step([*archiver, "verify", "--all"]) != 0
        latest = sorted((root / "snapshots" / "captures").glob("twitter/*/*"),
                        key=lambda p: p.name)
        if latest:
            capture = latest[-1]
            failures += step(["sha256sum", "-c", "SHA256SUMS"], cwd=capture) != 0
            failures += step(["openssl", "dgst", "-sha256", "-verify", "archive-key.pub.pem",
                              "-signature", "manifest.sig", "manifest.json"], cwd=capture) != 0
            failures += step(["openssl", "ts", "-verify", "-in", "manifest.tsr", "-data",
                              "manifest.json", "-CAfile", str(tsa.ca_pem)], cwd=capture) != 0
            failures += step([str(Path(sys.executable).with_name("warcio")), "check", "-v",
                              "traffic.warc.gz"], cwd=capture) != 0
            print(f"(in {capture.relative_to(root)}; open embed.png there to see the post)")
            wacz = work / "seed-post.wacz"
            capture_id = capture.name.rsplit("-", 1)[-1]
            failures += step([*archiver, "export", capture_id, "--format", "wacz",
                              "-o", str(wacz)]) != 0
            validator = Path(sys.executable).with_name("wacz")
            if validator.exists():
                failures += step([str(validator), "validate", "-f", str(wacz)]) != 0
        print("\nThe scheduler, once, over a feed that lists the seed article. The article was "
              "archived above, so the feed's run fetches and captures nothing again; its posts "
              "are queued for re-capture 1 h after their first capture (a re-run within 15 "
              "minutes finds no job due).")
        failures += step([*archiver, "run", "--once"]) != 0
        failures += step([*archiver, "status"]) != 0
    print("\ndemo finished" + (f" with {failures} failing step(s)" if failures else ": all OK"))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
