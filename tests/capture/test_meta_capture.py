"""Instagram, Facebook and Threads end to end: an article on the fake news site embedding
live, deleted, private and login-walled posts, captured with the session's Chromium."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from archiver.config import Config
from archiver.evidence.verify import verify_directory
from archiver.models import CaptureResult, CaptureStatus
from tests.fakeplatform import FakePlatform
from tests.harness import LoopThread
from tests.harness import archive_run as run

pytestmark = pytest.mark.browser
ARTICLE = "https://news.example.org/site/meta-mixed.html"

LIVE = {("instagram", "CzK3pLqN8xR"), ("facebook", "10160123456789012"),
        ("facebook", "1234567890123456"), ("threads", "C0aBcDeFgHi")}
#: (platform, post id) -> (status, words the reason starts with)
GONE = {
    ("instagram", "CwD3lEt3dPx"): (CaptureStatus.DELETED, "deleted: The link to this photo"),
    ("instagram", "Cx9PrIv4teZ"): (CaptureStatus.UNAVAILABLE, "private: This account is private"),
    ("instagram", "CLoG1nWaLl0"): (CaptureStatus.UNAVAILABLE, "login wall"),
    # the plugin does not say whether the post was removed or its audience changed
    ("facebook", "10160111222333444"): (CaptureStatus.UNAVAILABLE, "removed or not public: "),
    ("facebook", "10160444555666777"): (CaptureStatus.UNAVAILABLE, "login wall"),
    ("threads", "C0dEl3t3dXy"): (CaptureStatus.DELETED, "deleted: Post unavailable"),
    ("threads", "C0pR1vAt3Zz"): (CaptureStatus.UNAVAILABLE, "private: Post unavailable"),
}
SCREENSHOT_SIZES = {"instagram": (326, 560), "facebook": (480, 520), "threads": (270, 560)}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def check_directory(config: Config, capture: CaptureResult) -> Path:
    assert capture.directory is not None
    root = config.storage.data_dir / capture.directory
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=root, check=True)
    assert verify_directory(config.storage.data_dir, capture.directory, capture.capture_id,
                            capture.manifest_sha256).ok
    return root


def test_live_deleted_private_and_login_walled_posts(browser_loop: LoopThread, config: Config,
                                                     fake_platform: FakePlatform) -> None:
    report = run(browser_loop, config, ARTICLE)
    assert [a.status for a in report.articles] == ["ok"]
    by_key = {c.post.key: c for c in report.captures}
    assert set(by_key) == LIVE | set(GONE)  # share links, like and page plugins never count
    assert report.ok  # establishing that a post is gone is a completed capture

    for key in LIVE:
        capture = by_key[key]
        assert (capture.status, capture.reason) == (CaptureStatus.LIVE, None), key
        root = check_directory(config, capture)
        manifest = json.loads((root / "manifest.json").read_text())
        embed = next(p for p in manifest["got"]["pages"] if p["role"] == "embed")
        assert (embed["signal"], embed["screenshot"]) == ("rendered", "element")
        width, height = png_size((root / "embed.png").read_bytes())
        low, high = SCREENSHOT_SIZES[key[0]]
        assert low <= width <= high and 150 <= height <= 1400, (key, width, height)
        assert capture.data is not None and capture.data.text and capture.data.author
        shown = capture.data.author_name or capture.data.author  # Facebook shows the name
        assert shown in (root / "embed.txt").read_text()
        assert any(name.startswith("data/") for name in files(root))

    for key, (status, reason) in GONE.items():
        capture = by_key[key]
        assert capture.status is status, (key, capture.reason)
        assert capture.reason is not None and capture.reason.startswith(reason), capture.reason
        root = check_directory(config, capture)
        manifest = json.loads((root / "manifest.json").read_text())
        embed = next(p for p in manifest["got"]["pages"] if p["role"] == "embed")
        assert embed["signal"] == "gone" and embed["screenshot"] == "full"
        assert capture.data is None or capture.data.text is None  # never the post's text

    council = by_key[("facebook", "10160123456789012")].data
    assert council is not None and council.text is not None
    assert council.text.startswith("FLOOD UPDATE 08:50")
    assert (council.author, council.author_name) == ("HarbourCityCouncilEx", "Harbour City Council")
    assert council.created_at == "2023-11-04T08:52:00Z"
    gauge = by_key[("instagram", "CzK3pLqN8xR")]
    assert gauge.data is not None and gauge.data.author == "cityfloodwatch_ex"
    assert gauge.data.text is not None and "4.21 m" in gauge.data.text
    assert gauge.post.url == "https://www.instagram.com/p/CzK3pLqN8xR/"
    # the login wall was recorded as such: the login page, never the post
    walled = config.storage.data_dir / str(by_key[("instagram", "CLoG1nWaLl0")].directory)
    assert "Log in" in (walled / "embed.txt").read_text()
    assert "The gauge at 8am." not in (walled / "embed.html").read_text()


def test_a_post_flipped_at_run_time(browser_loop: LoopThread, config: Config,
                                    fake_platform: FakePlatform) -> None:
    fake_platform.set_post_state("instagram", "CzK3pLqN8xR", "age_gated")
    fake_platform.set_post_state("threads", "C0aBcDeFgHi", "region_blocked")
    report = run(browser_loop, config, "https://www.instagram.com/reel/CzK3pLqN8xR/",
                 "https://www.threads.com/@cityfloodwatch_ex/post/C0aBcDeFgHi")
    reasons = {c.post.platform: (c.status, c.reason or "") for c in report.captures}
    assert reasons["instagram"][0] is CaptureStatus.UNAVAILABLE
    assert reasons["instagram"][1].startswith("age-restricted: ")
    assert reasons["threads"][0] is CaptureStatus.UNAVAILABLE
    assert reasons["threads"][1].startswith("region-blocked: ")
    fake_platform.set_post_state("instagram", "CzK3pLqN8xR", "live")
    (again,) = run(browser_loop, config, "https://www.instagram.com/p/CzK3pLqN8xR/").captures
    assert again.status is CaptureStatus.LIVE
