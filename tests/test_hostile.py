"""Hostile pages in one batch: each ends within its timeout with a recorded reason, and
the batch goes on (the posts the pages embed, and the seed's, are captured)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.config import BrowserConfig, CaptureConfig, Config
from archiver.models import CaptureStatus
from archiver.retrieval import verify_selection
from tests.fakeplatform import FakePlatform
from tests.harness import SEED_IDS, SEED_URL, LoopThread, archive_run, make_config

pytestmark = pytest.mark.browser
H = "https://hostile.example"
HANG_TWEET = "1860000000000000990"
STALL_TWEET = "1860000000000000991"  # its photo starts loading and never finishes


def hostile_config(fake_platform: FakePlatform, tmp_path: Path) -> Config:
    base = make_config(fake_platform.host_map(), fake_platform.ca_pem, tmp_path / "data")
    return replace(
        base,
        network=replace(base.network, connect_timeout=3.0, read_timeout=2.0),
        browser=replace(BrowserConfig(), page_timeout=8.0, post_page_timeout=5.0),
        capture=replace(CaptureConfig(), article_timeout=5.0, article_settle=1.0,
                        concurrency=2))


def test_hostile_batch(browser_loop: LoopThread, fake_platform: FakePlatform,
                       tmp_path: Path) -> None:
    fake_platform.tweets.put({"id": HANG_TWEET, "text": "An embed page that hangs.",
                              "page": "loop",
                              "user": {"screen_name": "Hangs", "name": "Hangs"}})
    fake_platform.tweets.put({"id": STALL_TWEET, "text": "A photo from a stuck CDN node.",
                              "user": {"screen_name": "Stalls", "name": "Stalls"},
                              "media": [{"media_key": "3_1", "width": 600, "height": 400,
                                         "url": "https://pbs.twimg.com/media/stalled-1.png"}]})
    config = hostile_config(fake_platform, tmp_path)
    rendered = ["js-loop", "dialogs", "popups", "js-download", "deep", "huge-image",
                "stalled-font"]
    refused = {"big": "byte cap", "gzip-bomb": "byte cap", "endless": "too slow",
               "file.bin": "not an HTML page"}
    urls = [f"{H}/{p}" for p in [*rendered, *refused]] + [
        "https://news.example.org/loop", f"https://x.com/Hangs/status/{HANG_TWEET}",
        f"https://x.com/Stalls/status/{STALL_TWEET}", SEED_URL]
    t0 = time.monotonic()
    report = archive_run(browser_loop, config, *urls)
    elapsed = time.monotonic() - t0

    outcomes = {a.url.rsplit("/", 1)[-1]: a for a in report.articles}
    for name in rendered:  # the served markup is read whatever the page does
        assert outcomes[name].status == "ok", (name, outcomes[name].error)
        assert [e.post.post_id for e in outcomes[name].embeds if e.post] == [SEED_IDS[0]]
    loop_notes = " ".join(outcomes["js-loop"].notes)
    assert "rendered-DOM pass failed" in loop_notes or "not rendered" in loop_notes, \
        outcomes["js-loop"].notes
    # screenshots do not wait for fonts: the article waits its settle time, then notes it
    font = json.loads((config.storage.data_dir / (outcomes["stalled-font"].directory or "")
                       / "manifest.json").read_text())["got"]["pages"][0]
    assert font["signal"] == "rendered" and font["screenshot"] == "full", font
    assert "the page's fonts had not finished loading" in font["notes"], font["notes"]
    for name, reason in refused.items():
        assert outcomes[name].status == "failed", name
        assert reason in (outcomes[name].error or ""), (name, outcomes[name].error)
    assert "redirect" in (outcomes["loop"].error or "")

    by_id = {c.post.post_id: c for c in report.captures}
    assert by_id[SEED_IDS[0]].status is CaptureStatus.LIVE  # embedded by every page
    assert by_id[SEED_IDS[1]].status is CaptureStatus.LIVE  # the batch went on
    hang = by_id[HANG_TWEET]
    assert hang.status is CaptureStatus.FAILED and "embed page" in (hang.reason or "")
    # a photo that never loads: the post is captured as shown, the wait for it noted
    stalled = by_id[STALL_TWEET]
    assert stalled.status is CaptureStatus.LIVE, stalled.reason
    manifest = json.loads((config.storage.data_dir / (stalled.directory or "") /
                           "manifest.json").read_text())
    embed = next(p for p in manifest["got"]["pages"] if p["role"] == "embed")
    assert embed["signal"] == "rendered" and embed["screenshot"] == "element"
    # the photo stalls; the avatar beside it loaded
    assert embed["notes"] == ["images inside the post had not finished loading (1 of 2)"]
    assert all(v.ok for v in verify_selection(config, None))
    # bounded: every stage has a deadline (a generous sum, not a benchmark)
    assert elapsed < 240, elapsed
