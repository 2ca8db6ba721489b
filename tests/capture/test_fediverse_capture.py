"""End to end: an article embedding live, deleted and private Telegram, Bluesky and Mastodon
posts, archived through the library with the session's Chromium and the loopback fake."""

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
ARTICLE = "https://news.example.org/site/fediverse-mixed.html"
LENA = "did:plc:zslhiqyhbk2atjl2ivo4rqsa"

#: (platform, post_id) -> (status, a phrase of the reason; None: no reason)
EXPECTED: dict[tuple[str, str], tuple[CaptureStatus, str | None]] = {
    ("telegram", "eskafloodwatch/1842"): (CaptureStatus.LIVE, None),
    ("telegram", "eskafloodwatch/1851"): (CaptureStatus.DELETED, "Post not found"),
    ("telegram", "closedchannel_ex/77"): (CaptureStatus.UNAVAILABLE, "private channel"),
    ("bluesky", f"{LENA}/3lfzhd3pbigzl"): (CaptureStatus.LIVE, None),
    ("bluesky", f"{LENA}/3lex52cjrpo6a"): (CaptureStatus.DELETED, "no such post"),
    ("bluesky", "did:plc:nhgqqfkbmkdidkwcjztrsekl/3lrw52zw372zp"): (
        CaptureStatus.UNAVAILABLE, "login wall"),
    ("bluesky", "did:plc:xhzi6zs7dm6qoigjzz4tcqa4/3lcw3cz3r6azu"): (CaptureStatus.LIVE, None),
    ("mastodon", "mastodon.social/113135720304567811"): (CaptureStatus.LIVE, None),
    ("mastodon", "infosec.exchange/113136998877665522"): (CaptureStatus.DELETED,
                                                         "no such status"),
    ("mastodon", "mastodon.social/113136400000000044"): (CaptureStatus.DELETED, "not public"),
    # the instance's API wants a login: the embed render decided
    ("mastodon", "mastodon.social/113136500000000055"): (CaptureStatus.LIVE, None),
}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def evidence(config: Config, capture: CaptureResult) -> tuple[Path, dict[str, Any]]:
    assert capture.directory is not None
    root = config.storage.data_dir / capture.directory
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=root, check=True)
    return root, json.loads((root / "manifest.json").read_text())


def test_article_with_live_deleted_and_private_fediverse_posts(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform) -> None:
    report = run(browser_loop, config, ARTICLE)
    (article,) = report.articles
    assert article.status == "ok"
    # each embed once: the Telegram iframes drawn next to their scripts, the comments and
    # login widgets, follow and share links are not embeds
    assert sorted((e.platform, e.post.post_id) for e in article.embeds if e.post) == sorted(
        EXPECTED)
    assert all("rendered" in e.found_by for e in article.embeds)
    got = {c.post.key: c for c in report.captures}
    assert {key: (c.status, c.reason) for key, c in got.items()}.keys() == EXPECTED.keys()
    for key, (status, phrase) in EXPECTED.items():
        capture = got[key]
        assert capture.status is status, (key, capture.reason)
        if phrase is None:
            assert capture.reason is None, (key, capture.reason)
        else:
            assert capture.reason is not None and phrase in capture.reason, (key, capture.reason)
        root, manifest = evidence(config, capture)
        assert manifest["status"] == {"status": str(status), "reason": capture.reason}
        (page,) = manifest["got"]["pages"]
        if status is CaptureStatus.LIVE:
            assert page["signal"] == "rendered" and page["screenshot"] == "element"
            width, height = png_size((root / f"{page['role']}.png").read_bytes())
            assert 280 <= width <= 620 and 100 <= height <= 900, (key, width, height)
        else:
            assert page["signal"] == "gone", (key, page)
        assert all(r["peer_ip"] == "127.0.0.1" for r in manifest["got"]["requests"]
                   if "peer_ip" in r)
    assert report.ok  # establishing that a post is gone is a completed capture

    telegram = got[("telegram", "eskafloodwatch/1842")]
    assert telegram.data is not None and telegram.data.author_name == "Eska Flood Watch"
    assert "Hill Street" in (telegram.data.text or "")
    bluesky = got[("bluesky", f"{LENA}/3lfzhd3pbigzl")]
    assert bluesky.data is not None and bluesky.data.author == "lena-hydro.bsky.social"
    assert bluesky.post.author == "lena-hydro.bsky.social"  # from the blockquote's byline
    mastodon = got[("mastodon", "mastodon.social/113135720304567811")]
    assert mastodon.data is not None and mastodon.data.media
    assert got[("mastodon", "mastodon.social/113136500000000055")].data is None
    root, _ = evidence(config, mastodon)
    assert "@eskafloodwatch@mastodon.social" in (root / "embed.txt").read_text()


def test_states_flipped_at_run_time_reach_the_capture(
        browser_loop: LoopThread, config: Config, fake_platform: FakePlatform) -> None:
    fake_platform.set_post_state("telegram", "eskafloodwatch/1842", "blocked")
    fake_platform.set_post_state("bluesky", f"{LENA}/3lfzhd3pbigzl", "deleted")
    fake_platform.set_post_state("mastodon", "mastodon.social/113135720304567811", "login_wall")
    report = run(browser_loop, config,
                 "https://t.me/s/EskaFloodWatch/1842",
                 "https://bsky.app/profile/lena-hydro.bsky.social/post/3lfzhd3pbigzl",
                 "https://mastodon.social/@eskafloodwatch/113135720304567811",
                 "https://bsky.app/profile/EskaFloodWatch.org/post/3lcw3cz3r6azu")
    assert report.articles == ()
    by_handle = report.captures[-1]  # the embed render and the API both take a handle
    assert (by_handle.post.post_id, by_handle.status) == (
        "eskafloodwatch.org/3lcw3cz3r6azu", CaptureStatus.LIVE)
    got = {c.post.platform: c for c in report.captures[:-1]}
    assert (got["telegram"].status, got["bluesky"].status, got["mastodon"].status) == (
        CaptureStatus.UNAVAILABLE, CaptureStatus.DELETED, CaptureStatus.UNAVAILABLE)
    assert "blocked" in (got["telegram"].reason or "")
    assert got["bluesky"].post.post_id == "lena-hydro.bsky.social/3lfzhd3pbigzl"
    # the API refused without login and the embed redirected to the sign-in form
    assert got["mastodon"].data is None
    assert (got["mastodon"].reason or "").startswith("login wall")
    for capture in report.captures:
        evidence(config, capture)
