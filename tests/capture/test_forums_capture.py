"""Reddit and LinkedIn end to end: an article of the fake news site embedding live, deleted,
removed, private and login-walled posts, captured with the session's Chromium against the
fake embeds; then states flipped at run time."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from archiver.config import Config
from archiver.models import CaptureResult, CaptureStatus
from tests.fakeplatform import FakePlatform
from tests.harness import LoopThread
from tests.harness import archive_run as run

pytestmark = pytest.mark.browser
ARTICLE = "https://news.example.org/site/forums-mixed.html"
LIVE, DELETED, UNAVAILABLE = CaptureStatus.LIVE, CaptureStatus.DELETED, CaptureStatus.UNAVAILABLE

#: (platform, id) -> (status, words the reason must contain, words the embed's text shows)
EXPECTED: dict[tuple[str, str], tuple[CaptureStatus, str | None, str]] = {
    ("reddit", "1fs0k7q"): (LIVE, None, "Floodwater reached the old town square"),
    ("linkedin", "7246061437948930876"): (LIVE, None, "Evacuation of the old town"),
    ("reddit", "1fs3x1v"): (DELETED, "deleted by its author", "deleted by the person"),
    ("reddit", "1fs4c8n"): (DELETED, "removed by the moderators of r/Kellstadt",
                            "removed by the moderators"),
    ("reddit", "1fs5h2e"): (UNAVAILABLE, "r/KellstadtResidents is a private community",
                            "private community"),
    ("linkedin", "7246134127426085427"): (DELETED, "This post cannot be displayed",
                                          "cannot be displayed"),
    ("linkedin", "7246432331417718285"): (UNAVAILABLE, "login wall: Sign in to view this post",
                                          "Sign in to view this post"),
}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def evidence(config: Config, capture: CaptureResult) -> tuple[Path, dict[str, Any]]:
    """The capture directory, checked with standard tools, and its manifest."""
    assert capture.directory is not None
    root = config.storage.data_dir / capture.directory
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=root, check=True)
    return root, json.loads((root / "manifest.json").read_text())


def embed_page(manifest: dict[str, Any]) -> dict[str, Any]:
    pages: list[dict[str, Any]] = [p for p in manifest["got"]["pages"] if p["role"] == "embed"]
    assert len(pages) == 1
    return pages[0]


def test_article_with_live_deleted_removed_and_walled_posts(browser_loop: LoopThread,
                                                            config: Config) -> None:
    report = run(browser_loop, config, ARTICLE)
    assert [a.status for a in report.articles] == ["ok"]
    got = {c.post.key: c for c in report.captures}
    assert set(got) == set(EXPECTED)  # no share button, follow link or subreddit link counted
    for key, (status, reason, shown) in EXPECTED.items():
        capture = got[key]
        assert capture.status is status, (key, capture.reason)
        root, manifest = evidence(config, capture)
        embed = embed_page(manifest)
        assert manifest["status"] == {"status": str(status), "reason": capture.reason}
        assert shown in (root / "embed.txt").read_text(), key
        if status is LIVE:
            assert capture.reason is None
            assert embed["signal"] == "rendered" and embed["screenshot"] == "element"
            width, height = png_size((root / "embed.png").read_bytes())
            assert 400 <= width <= 660 and 200 <= height <= 1400, (key, width, height)
        else:
            assert reason is not None and reason in (capture.reason or ""), (key, capture.reason)
            assert embed["signal"] == "gone" and embed["screenshot"] == "full"
    assert report.ok  # establishing that a post is gone is a completed capture


def test_what_each_platform_stores(browser_loop: LoopThread, config: Config) -> None:
    report = run(browser_loop, config, "https://redd.it/1fs0k7q",
                 "https://www.linkedin.com/embed/feed/update/urn:li:share:7246061437948930876")
    reddit, linkedin = sorted(report.captures, key=lambda c: c.post.platform, reverse=True)
    root, manifest = evidence(config, reddit)
    names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {"data/post.json", "data/oembed.json", "embed.png", "post-page.png"} <= names
    listing = json.loads((root / "data" / "post.json").read_text())
    assert listing[0]["data"]["children"][0]["data"]["id"] == "1fs0k7q"
    assert reddit.data is not None and reddit.data.author == "ValleyWatch"
    assert reddit.data.media == ("https://i.redd.it/x7k2m9qv3frd1.png",)
    # redd.it names no subreddit: the render's location is a placeholder the player ignores
    assert embed_page(manifest)["url"].startswith("https://embed.reddit.com/r/all/comments/")
    root, manifest = evidence(config, linkedin)
    assert not (root / "data").exists() and manifest["got"]["requests"] == []
    assert linkedin.status is LIVE and linkedin.data is None
    assert "Harbour City Council" in (root / "embed.txt").read_text()


def test_states_flipped_at_run_time(browser_loop: LoopThread, config: Config,
                                    fake_platform: FakePlatform) -> None:
    fake_platform.set_post_state("reddit", "1fs0k7q", "removed")
    fake_platform.set_post_state("reddit", "1fs2m9d", "ratelimited")  # only the JSON fails
    fake_platform.set_post_state("linkedin", "7246061437948930876", "private")
    report = run(browser_loop, config, "https://www.reddit.com/r/europe/comments/1fs0k7q/x/",
                 "https://www.reddit.com/r/weather/comments/1fs2m9d/",
                 "https://www.linkedin.com/feed/update/urn:li:share:7246061437948930876/")
    got = {c.post.post_id: c for c in report.captures}
    assert (got["1fs0k7q"].status, got["1fs0k7q"].reason) == (
        DELETED, "removed by the moderators of r/europe")
    # a rate-limited data endpoint leaves the status to the embed render, which shows the post
    assert got["1fs2m9d"].status is LIVE and got["1fs2m9d"].data is None
    _, manifest = evidence(config, got["1fs2m9d"])
    assert {r["status"] for r in manifest["got"]["requests"]} == {429}
    assert got["7246061437948930876"].status is UNAVAILABLE
    assert "not public" in (got["7246061437948930876"].reason or "")
