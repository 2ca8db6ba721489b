"""Per-embed capture time against the bare Playwright floor, measured in the same run.

    .venv/bin/python bench/capture.py [--rounds 20]

Both sides use the same Chromium, the same loopback fake platform and the same post:
- floor: a fresh context, goto the embed page, wait until the post is rendered, screenshot
  the post's box from the page (the least a correct snapshot can do);
- archiver: `capture_post` for that post: data endpoints, embed render and the post's own
  page, artifacts, manifest, SHA256SUMS, atomic rename, index rows.
Rounds alternate between the two so drift on the machine hits both alike. Figures are
medians and ratios, not absolute targets: the machine's speed cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.capture.browser import BrowserSession
from archiver.capture.post import CaptureEnv, capture_post
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
        post = match_url(POST_URL)
        assert post is not None
        async with BrowserSession(config.browser, config.network) as browser:
            env = CaptureEnv(config, index, http, browser, new_id(), [POST_URL])
            # warm-up: first TLS handshakes, font cache, Python imports
            await floor_once(browser)
            await capture_post(env, post)
            floors, captures = [], []
            for _ in range(rounds):
                floors.append(await floor_once(browser))
                t0 = time.perf_counter()
                result = await capture_post(env, post)
                captures.append(time.perf_counter() - t0)
                assert result.status is CaptureStatus.LIVE, result.reason
            t0 = time.perf_counter()
            report = await archive_async([SEED_URL], config, browser=browser)
            article_s = time.perf_counter() - t0
            assert report.ok
        http.close()
        index.close()
    floor, capture = statistics.median(floors), statistics.median(captures)
    print(f"rounds: {rounds} (alternating), browser: Chromium, fake platform on loopback")
    print(f"{'':34}{'median s':>10}{'p90 s':>10}")
    print(f"{'floor (goto+wait+element shot)':34}{floor:10.3f}"
          f"{statistics.quantiles(floors, n=10)[-1]:10.3f}")
    print(f"{'archiver capture_post (1 embed)':34}{capture:10.3f}"
          f"{statistics.quantiles(captures, n=10)[-1]:10.3f}")
    print(f"ratio capture / floor: {capture / floor:.2f}x  (target <= 2.0x)")
    print(f"seed article end to end (fetch, detect, 2 embeds, concurrency "
          f"{config.capture.concurrency}): {article_s:.2f} s = {article_s / 2:.2f} s per embed")
    print("reproduce: .venv/bin/python bench/capture.py --rounds", rounds)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    raise SystemExit(asyncio.run(main(parser.parse_args().rounds)))
