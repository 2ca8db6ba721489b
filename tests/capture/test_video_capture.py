"""YouTube, Vimeo and TikTok end to end: an article of the fake news site embedding live,
deleted and private videos, captured with the session's Chromium against the fake players."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from archiver.config import Config
from archiver.models import CaptureResult, CaptureStatus
from tests.fakeplatform import FakePlatform
from tests.harness import LoopThread
from tests.harness import archive_run as run

pytestmark = pytest.mark.browser
ARTICLE = "https://news.example.org/site/video-mixed.html"
LIVE, DELETED, UNAVAILABLE = CaptureStatus.LIVE, CaptureStatus.DELETED, CaptureStatus.UNAVAILABLE

#: (platform, id) -> (status, words the reason must contain, title or caption when live)
EXPECTED = {
    ("youtube", "q7XnB2tLp0w"): (LIVE, None, "Flood waters reach the old town"),
    ("youtube", "Zr4kD9sWm2E"): (DELETED, "removed by the uploader", None),
    ("youtube", "Hn6pQ1vYc8A"): (UNAVAILABLE, "private video", None),
    ("vimeo", "824804225"): (LIVE, None, "the hydrologist's warning"),
    ("vimeo", "498765432"): (DELETED, "This video does not exist", None),
    ("vimeo", "377123456"): (UNAVAILABLE, "privacy settings", None),
    ("tiktok", "7312345678901234567"): (LIVE, None, "Rescue boats move"),
    ("tiktok", "7298765432109876543"): (DELETED, "deleted", None),
    ("tiktok", "7287654321098765432"): (UNAVAILABLE, "private video", None),
}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def capture_dir(config: Config, capture: CaptureResult) -> Path:
    assert capture.directory is not None
    return config.storage.data_dir / capture.directory


def test_article_with_live_deleted_and_private_videos(browser_loop: LoopThread,
                                                      config: Config) -> None:
    report = run(browser_loop, config, ARTICLE)
    assert [a.status for a in report.articles] == ["ok"]
    got = {c.post.key: c for c in report.captures}
    assert set(got) == set(EXPECTED)
    for key, (status, reason, text) in EXPECTED.items():
        capture = got[key]
        assert capture.status is status, (key, capture.reason)
        root = capture_dir(config, capture)
        subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=root, check=True)
        manifest = json.loads((root / "manifest.json").read_text())
        (embed,) = [p for p in manifest["got"]["pages"] if p["role"] == "embed"]
        assert (root / "data" / "oembed.json").is_file()
        if status is LIVE:
            assert capture.reason is None and capture.data is not None
            assert text in (capture.data.text or "")
            assert embed["signal"] == "rendered" and embed["screenshot"] == "element"
            assert (root / "embed.png").is_file()
        else:
            assert reason in (capture.reason or ""), (key, capture.reason)
            assert embed["signal"] == "gone"
    assert report.ok  # establishing that a video is gone is a completed capture


def test_element_screenshots_are_the_players(browser_loop: LoopThread, config: Config) -> None:
    report = run(browser_loop, config, "https://www.youtube.com/watch?v=q7XnB2tLp0w",
                 "https://vimeo.com/512340987",
                 "https://www.tiktok.com/@mayor.kovacs/video/7318765432109876543")
    sizes = {c.post.platform: png_size((capture_dir(config, c) / "embed.png").read_bytes())
             for c in report.captures}
    width, height = sizes["youtube"]
    assert width == config.browser.viewport_width and height == config.browser.viewport_height
    assert sizes["vimeo"] == sizes["youtube"]  # both players fill their page, like an iframe
    width, height = sizes["tiktok"]
    assert 320 <= width <= 340 and 700 <= height <= 900  # the 325 px card with a 9:16 poster
    tiktok = next(c for c in report.captures if c.post.platform == "tiktok")
    assert tiktok.data is not None
    assert (tiktok.data.author, tiktok.data.author_name) == ("mayor.kovacs", "Mayor Eva Kovács")


@pytest.mark.parametrize("state, reason", [
    ("age_restricted", "age-restricted"),
    ("region_blocked", "region-blocked"),
    ("embedding_disabled", "embedding disabled"),
    ("deleted", "removed by the uploader"),
])
def test_youtube_restrictions_flipped_at_run_time(browser_loop: LoopThread, config: Config,
                                                  fake_platform: FakePlatform, state: str,
                                                  reason: str) -> None:
    fake_platform.set_post_state("youtube", "Kc1vW6zNp3I", state)
    (capture,) = run(browser_loop, config, "https://youtu.be/Kc1vW6zNp3I").captures
    expected = DELETED if state == "deleted" else UNAVAILABLE
    assert (capture.status, reason in (capture.reason or "")) == (expected, True), capture.reason


@pytest.mark.parametrize("state, status, reason", [
    ("age_restricted", UNAVAILABLE, "age-restricted"),
    ("region_blocked", UNAVAILABLE, "region-blocked"),
    ("embedding_disabled", UNAVAILABLE, "embedding disabled"),
])
def test_tiktok_player_decides_what_oembed_does_not_say(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform, state: str,
        status: CaptureStatus, reason: str) -> None:
    fake_platform.set_post_state("tiktok", "7318765432109876543", state)
    (capture,) = run(browser_loop, config,
                     "https://www.tiktok.com/embed/v2/7318765432109876543").captures
    assert capture.status is status and reason in (capture.reason or ""), capture.reason


def test_vimeo_embedding_disabled_and_unlisted_without_hash(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform) -> None:
    fake_platform.set_post_state("vimeo", "512340987", "embedding_disabled")
    report = run(browser_loop, config, "https://vimeo.com/512340987",
                 "https://player.vimeo.com/video/824804225")
    reasons = {c.post.post_id: (c.status, c.reason or "") for c in report.captures}
    assert reasons["512340987"][0] is UNAVAILABLE and "oEmbed 403" in reasons["512340987"][1]
    # asked without its privacy hash, an unlisted video is refused like a private one
    assert reasons["824804225"][0] is UNAVAILABLE and "privacy" in reasons["824804225"][1]


def test_vimeo_age_gate_unseen_by_oembed_is_a_restriction_not_a_failure(
        browser_loop: LoopThread, config: Config) -> None:
    """Vimeo's oEmbed describes a mature-rated video as live while the player refuses it:
    the video exists, but is not viewable here (see render_restrictions in base.py)."""
    (capture,) = run(browser_loop, config, "https://vimeo.com/611234567").captures
    assert capture.status is CaptureStatus.UNAVAILABLE
    assert "mature" in (capture.reason or "") and "post exists" in (capture.reason or "")
