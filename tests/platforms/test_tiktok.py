"""TikTok: ids and handles from every URL form, oEmbed, the v2 player's notices."""

from __future__ import annotations

import json

import pytest

from archiver.models import CaptureStatus, HttpExchange
from archiver.platforms.tiktok import TikTok

TT = TikTok()
VID = "7312345678901234567"
POST = TT.post_from_id(VID, "reuters")
assert POST is not None
LIVE, DELETED, UNAVAILABLE, FAILED = (CaptureStatus.LIVE, CaptureStatus.DELETED,
                                      CaptureStatus.UNAVAILABLE, CaptureStatus.FAILED)
OEMBED = {"version": "1.0", "type": "video", "title": "Rescue boats move #flood",
          "author_url": "https://www.tiktok.com/@reuters", "author_name": "Reuters",
          "html": "<blockquote class=\"tiktok-embed\"></blockquote>",
          "thumbnail_url": "https://p16-sign-va.tiktokcdn.com/obj/x.jpeg",
          "provider_name": "TikTok", "author_unique_id": "reuters", "embed_product_id": VID,
          "embed_type": "video"}


def exchange(status: int, body: object = b"") -> HttpExchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = "https://www.tiktok.com/oembed"
    return HttpExchange("GET", url, url, status, (), raw)


@pytest.mark.parametrize("url, author", [
    (f"https://www.tiktok.com/@reuters/video/{VID}?is_from_webapp=1&sender_device=pc", "reuters"),
    (f"https://tiktok.com/@the.washington.post/video/{VID}", "the.washington.post"),
    (f"https://m.tiktok.com/@reuters/video/{VID}", "reuters"),
    (f"https://www.tiktok.com/embed/{VID}", None),
    (f"https://www.tiktok.com/embed/v2/{VID}?lang=en-US&referrer=x", None),
    (f"//www.tiktok.com/player/v1/{VID}?music_info=1", None),
    (f"https://m.tiktok.com/v/{VID}.html?u_code=x", None),
    (f"https://www.tiktok.com/@/video/{VID}", None),
])
def test_every_url_form_gives_the_video_id(url: str, author: str | None) -> None:
    ref = TT.match_url(url)
    assert ref is not None and (ref.post_id, ref.author) == (VID, author)
    assert ref.url == f"https://www.tiktok.com/@{author or ''}/video/{VID}"
    assert TT.match_url(ref.url) == ref


@pytest.mark.parametrize("url", [
    "https://vm.tiktok.com/ZMhKq8Lw2/", "https://www.tiktok.com/t/ZT8AbCdEf/",
    "https://www.tiktok.com/@reuters", "https://www.tiktok.com/tag/flood",
    "https://www.tiktok.com/music/original-sound-7312345600000000000",
    "https://www.tiktok.com/embed/@mayor.kovacs", "https://www.tiktok.com/@reuters/video/123",
])
def test_pages_that_are_not_one_video(url: str) -> None:
    assert TT.match_url(url) is None


def test_short_links_are_left_to_the_pipeline() -> None:
    assert TT.is_short_link("https://vm.tiktok.com/ZMhKq8Lw2/")
    assert not TT.is_short_link("https://vm.tiktok.com/")
    assert not TT.is_short_link(f"https://www.tiktok.com/@reuters/video/{VID}")


def test_requests_and_the_player_page() -> None:
    (request,) = TT.data_requests(POST)
    assert request.url == ("https://www.tiktok.com/oembed?url=https%3A%2F%2Fwww.tiktok.com%2F"
                           f"%40reuters%2Fvideo%2F{VID}")
    anonymous = TT.post_from_id(VID)
    assert anonymous is not None
    assert TT.data_requests(anonymous)[0].url.endswith(f"%40%2Fvideo%2F{VID}")
    (page,) = TT.pages(POST)
    assert page.url == f"https://www.tiktok.com/embed/v2/{VID}?lang=en-US"
    assert "DivVideoContainer" in page.ready and "DivErrorContainer" in page.gone


def test_live_video_is_read_from_oembed() -> None:
    data = TT.interpret(POST, {"oembed.json": exchange(200, OEMBED)})
    assert data is not None and data.status is LIVE
    assert (data.text, data.author, data.author_name) == ("Rescue boats move #flood", "reuters",
                                                          "Reuters")
    assert data.media == ("https://p16-sign-va.tiktokcdn.com/obj/x.jpeg",)


def test_a_video_without_caption_is_still_live() -> None:
    data = TT.interpret(POST, {"oembed.json": exchange(200, OEMBED | {"title": ""})})
    assert data is not None and data.status is LIVE and data.text is None


@pytest.mark.parametrize("answer, status, words", [
    (exchange(429, b""), FAILED, "429"),
    (exchange(200, OEMBED | {"embed_product_id": "1"}), FAILED, "another video"),
])
def test_definite_oembed_answers(answer: HttpExchange, status: CaptureStatus,
                                 words: str) -> None:
    data = TT.interpret(POST, {"oembed.json": answer})
    assert data is not None and data.status is status and words in (data.reason or "")


@pytest.mark.parametrize("responses", [
    {}, {"oembed.json": exchange(400, {"code": 400, "message": "Something went wrong"})},
    {"oembed.json": exchange(404, b"")}, {"oembed.json": exchange(200, {"code": 0})},
    {"oembed.json": exchange(200, b"<html>")},
])
def test_oembed_never_says_why_so_the_player_decides(responses: dict[str, HttpExchange]) -> None:
    assert TT.interpret(POST, responses) is None


@pytest.mark.parametrize("notice, status, words", [
    ("Video currently unavailable\nVideo unavailable because it was deleted\nWatch more on "
     "TikTok", DELETED, "deleted video"),
    ("Video currently unavailable\nThis video is private", UNAVAILABLE, "private video"),
    ("Video currently unavailable\nThis video may not be appropriate for some users. Log in "
     "to confirm your age.", UNAVAILABLE, "age-restricted"),
    ("Video currently unavailable\nThis video is not available in your region", UNAVAILABLE,
     "region-blocked"),
    ("Video currently unavailable\nThe creator has turned off embedding for this video",
     UNAVAILABLE, "embedding disabled"),
    ("Video currently unavailable\nWatch more on TikTok", UNAVAILABLE,
     "TikTok does not say which"),
    ("Something went wrong\nTry again later", FAILED, "player failed"),
])
def test_player_notices(notice: str, status: CaptureStatus, words: str) -> None:
    got, reason = TT.gone_status(notice)
    assert got is status and words in reason
