"""Per-embed capture time against the bare Playwright floor, measured in the same run.

    .venv/bin/python bench/capture.py [--rounds 20]

All sides use the same Chromium, the same loopback fake platform (in this process) and the
same post, one capture at a time:
- floor: a fresh context, goto the embed page, wait until the post is rendered, screenshot
  the post's box clipped from the page (the least a correct snapshot can do), close;
- archiver, embed only: `capture_post` for that post with `post_page = false` (the same
  page work as the floor, plus data endpoints, HAR -> WARC, TLS chains, artifacts,
  manifest, signature with the archive's key as a run has it, SHA256SUMS, atomic rename,
  ledger, index rows): compared with the floor, target <= 1.3x;
- archiver, default: the same with the post's own page too (two pages against the floor's
  one: shown, no target).
Politeness is off (no limiter), as the floor has none. Rounds alternate between the three
so drift on the machine hits all alike. Figures are medians and ratios, not absolute
targets: the machine's speed cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.capture.browser import BrowserSession
from archiver.capture.post import CaptureEnv, capture_post
from archiver.config import effective_concurrency
from archiver.evidence.keys import load_or_create_key
from archiver.models import CaptureStatus
from archiver.net import HttpPool
from archiver.pipeline import archive_async
from archiver.platforms import match_url
from archiver.store.index import Index, new_id
from tests.fakeplatform import start_fake_platform
from tests.harness import SEED_IDS, SEED_URL, make_config

POST_URL = f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}"
EMBED_URL = f"https://platform.twitter.com/embed/Tweet.html?id={SEED_IDS[0]}&dnt=true&lang=en"


async def floor_once(browser: BrowserSession) -> float:
    t0 = time.perf_counter()
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(EMBED_URL, wait_until="domcontentloaded")
    article = page.locator('article[data-testid="tweet"]')
    await article.wait_for(state="visible")
    box = await article.bounding_box()
    assert box is not None, "the post left the page"
    await page.screenshot(type="png", clip=box)
    await context.close()
    return time.perf_counter() - t0


async def main(rounds: int) -> int:
    with tempfile.TemporaryDirectory() as tmp, start_fake_platform(Path(tmp) / "net") as fake:
        config = make_config(fake.host_map(), fake.ca_pem, Path(tmp) / "data")
        index = Index(config.storage.effective_database_url)
        http = HttpPool(config.network)
        key = load_or_create_key(config.key_path)  # a run signs each manifest with it
        post = match_url(POST_URL)
        assert post is not None
        async with BrowserSession(config.browser, config.network) as browser:
            assert browser.info is not None
            executable = browser.info.executable
            envs = {kind: CaptureEnv(replace(config, capture=replace(
                        config.capture, post_page=kind == "default")), index, http, browser,
                        new_id(), [POST_URL], key)
                    for kind in ("embed-only", "default")}
            # warm-up: first TLS handshakes, font cache, Python imports
            await floor_once(browser)
            for env in envs.values():
                await capture_post(env, post)
            times: dict[str, list[float]] = {"floor": [], "embed-only": [], "default": []}
            for _ in range(rounds):
                times["floor"].append(await floor_once(browser))
                for kind, env in envs.items():
                    t0 = time.perf_counter()
                    result = await capture_post(env, post)
                    times[kind].append(time.perf_counter() - t0)
                    assert result.status is CaptureStatus.LIVE, result.reason
            t0 = time.perf_counter()
            report = await archive_async([SEED_URL], config, browser=browser)
            article_s = time.perf_counter() - t0
            assert report.ok and all(str(c.status) == "live" for c in report.captures), \
                [(c.post.url, c.status, c.reason) for c in report.captures]
        http.close()
        index.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"rounds: {rounds} (alternating), one at a time, browser: {executable}, fake "
          "platform on loopback (in this process), politeness off")
    print(f"{'':44}{'median s':>10}{'p90 s':>10}")
    labels = {"floor": "floor (goto+wait+clip of the post's box)",
              "embed-only": "archiver capture_post, embed page only",
              "default": "archiver capture_post, embed + post page"}
    for kind, label in labels.items():
        p90 = statistics.quantiles(times[kind], n=10)[-1] if len(times[kind]) > 1 else math.nan
        print(f"{label:44}{med[kind]:10.3f}{p90:10.3f}")
    ratio = med["embed-only"] / med["floor"]
    print(f"{'PASS' if ratio <= 1.3 else 'FAIL'} ratio embed-only / floor: {ratio:.2f}x "
          "(target <= 1.3x)")
    print(f"ratio default / floor: {med['default'] / med['floor']:.2f}x (two pages against "
          "one; no target)")
    n = len(report.captures)
    print(f"seed article end to end (fetch, detect, {n} embeds, both pages, concurrency "
          f"{effective_concurrency(config.capture.concurrency)}): {article_s:.2f} s = "
          f"{article_s / max(1, n):.2f} s per embed")
    print("reproduce: .venv/bin/python bench/capture.py --rounds", rounds)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    raise SystemExit(asyncio.run(main(parser.parse_args().rounds)))
