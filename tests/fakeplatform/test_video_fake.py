"""The fake YouTube, Vimeo and TikTok answer like the real endpoints, per video state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.fakeplatform import FakePlatform
from tests.fakeplatform.video import STORE

YT_LIVE, YT_PRIVATE = "q7XnB2tLp0w", "Hn6pQ1vYc8A"
TT_LIVE = "7312345678901234567"


@pytest.fixture
def fake(fake_platform: FakePlatform) -> Iterator[FakePlatform]:
    fake_platform.reset()
    yield fake_platform
    fake_platform.reset()


def yt_oembed(fake: FakePlatform, video_id: str) -> tuple[int, bytes]:
    target = quote(f"https://www.youtube.com/watch?v={video_id}", safe="")
    got = fake.fetch(f"https://www.youtube.com/oembed?url={target}&format=json")
    return got.status, got.body


def test_every_fixture_state_is_known_and_every_host_is_served(fake: FakePlatform) -> None:
    assert {"live", "deleted", "private", "age_restricted", "region_blocked",
            "embedding_disabled"} <= {(STORE.get("youtube", i) or {}).get("state")
                                      for i in STORE.ids("youtube")}
    for host in ("www.youtube.com", "www.youtube-nocookie.com", "i.ytimg.com", "yt3.ggpht.com",
                 "vimeo.com", "player.vimeo.com", "i.vimeocdn.com", "www.tiktok.com",
                 "p16-sign-va.tiktokcdn.com"):
        assert host in fake.hosts


@pytest.mark.parametrize("state, status", [
    ("live", 200), ("age_restricted", 200), ("region_blocked", 200),
    ("embedding_disabled", 401), ("private", 403), ("deleted", 404),
])
def test_youtube_oembed_by_state(fake: FakePlatform, state: str, status: int) -> None:
    fake.set_post_state("youtube", YT_LIVE, state)
    got, body = yt_oembed(fake, YT_LIVE)
    assert got == status
    if status == 200:
        data = json.loads(body)
        assert data["author_url"] == "https://www.youtube.com/@DanubeDailyNews"
        assert data["thumbnail_url"] == f"https://i.ytimg.com/vi/{YT_LIVE}/hqdefault.jpg"


def test_youtube_unknown_video_and_bad_url(fake: FakePlatform) -> None:
    assert yt_oembed(fake, "AAAAAAAAAAA")[0] == 404
    assert fake.fetch("https://www.youtube.com/oembed?url=https%3A%2F%2Fexample.org").status == 400


def test_youtube_watch_page_and_player(fake: FakePlatform) -> None:
    page = fake.fetch(f"https://www.youtube.com/watch?v={YT_PRIVATE}").body.decode()
    assert '"status": "LOGIN_REQUIRED"' in page and '"reason": "Private video"' in page
    player = fake.fetch(f"https://www.youtube-nocookie.com/embed/{YT_PRIVATE}").body.decode()
    assert "ytp-embed-error" in player and "This video is private" in player
    player = fake.fetch(f"https://www.youtube-nocookie.com/embed/{YT_LIVE}").body.decode()
    assert "ytp-large-play-button" in player and "Danube Daily News" in player
    thumb = fake.fetch(f"https://i.ytimg.com/vi/{YT_LIVE}/maxresdefault.jpg")
    assert thumb.status == 200 and thumb.body[:4] == b"\x89PNG"


def test_vimeo_unlisted_needs_its_hash(fake: FakePlatform) -> None:
    def oembed(url: str) -> int:
        return fake.fetch(f"https://vimeo.com/api/oembed.json?url={quote(url, safe='')}").status
    assert oembed("https://vimeo.com/824804225/9e2c1f0abc") == 200
    assert oembed("https://vimeo.com/824804225") == 404
    assert fake.fetch("https://player.vimeo.com/video/824804225?h=9e2c1f0abc").status == 200
    refused = fake.fetch("https://player.vimeo.com/video/824804225")
    assert refused.status == 403 and b"privacy settings" in refused.body
    assert fake.fetch("https://player.vimeo.com/video/498765432").status == 404
    fake.set_post_state("vimeo", "512340987", "embedding_disabled")
    assert oembed("https://vimeo.com/512340987") == 403


def test_tiktok_oembed_and_player(fake: FakePlatform) -> None:
    url = quote(f"https://www.tiktok.com/@reuters/video/{TT_LIVE}", safe="")
    live = fake.fetch(f"https://www.tiktok.com/oembed?url={url}")
    assert live.status == 200
    data = json.loads(live.body)
    assert (data["author_unique_id"], data["embed_product_id"]) == ("reuters", TT_LIVE)
    assert data["html"].startswith('<blockquote class="tiktok-embed"')
    fake.set_post_state("tiktok", TT_LIVE, "private")
    gone = fake.fetch(f"https://www.tiktok.com/oembed?url={url}")
    assert gone.status == 400 and json.loads(gone.body)["message"] == "Something went wrong"
    player = fake.fetch(f"https://www.tiktok.com/embed/v2/{TT_LIVE}").body.decode()
    assert "Video currently unavailable" in player and "This video is private" in player
    assert fake.fetch("https://www.tiktok.com/embed.js").status == 200
