"""Vimeo: ids and privacy hashes from every URL form, oEmbed answers, the player's notices."""

from __future__ import annotations

import json

import pytest

from archiver.models import CaptureStatus, HttpExchange
from archiver.platforms.vimeo import Vimeo

VM = Vimeo()
POST = VM.post_from_id("512340987")
assert POST is not None
LIVE, DELETED, UNAVAILABLE, FAILED = (CaptureStatus.LIVE, CaptureStatus.DELETED,
                                      CaptureStatus.UNAVAILABLE, CaptureStatus.FAILED)
OEMBED = {"type": "video", "version": "1.0", "provider_name": "Vimeo",
          "title": "The River Remembers", "author_name": "Lena Varga",
          "author_url": "https://vimeo.com/lenavarga", "upload_date": "2024-05-02 14:31:07",
          "thumbnail_url": "https://i.vimeocdn.com/video/1-abc-d_295x166",
          "video_id": 512340987, "domain_status_code": 200}


def exchange(status: int, body: object = b"") -> HttpExchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpExchange("GET", "https://vimeo.com/api/oembed.json", "https://vimeo.com/api/"
                        "oembed.json", status, (), raw)


@pytest.mark.parametrize("url, url_kept", [
    ("https://vimeo.com/512340987", "https://vimeo.com/512340987"),
    ("https://www.vimeo.com/512340987?share=copy#t=30s", "https://vimeo.com/512340987"),
    ("https://vimeo.com/channels/staffpicks/512340987", "https://vimeo.com/512340987"),
    ("https://vimeo.com/groups/shortfilms/videos/512340987", "https://vimeo.com/512340987"),
    ("https://vimeo.com/album/3951234/video/512340987", "https://vimeo.com/512340987"),
    ("https://vimeo.com/showcase/7008490/video/512340987", "https://vimeo.com/512340987"),
    ("https://player.vimeo.com/video/512340987?badge=0&autopause=0", "https://vimeo.com/512340987"),
    ("//player.vimeo.com/video/512340987", "https://vimeo.com/512340987"),
    ("https://player.vimeo.com/video/512340987?h=&badge=0", "https://vimeo.com/512340987"),
    ("https://vimeo.com/512340987/9e2c1f0abc", "https://vimeo.com/512340987/9e2c1f0abc"),
    ("https://player.vimeo.com/video/512340987?h=9E2C1F0ABC&app_id=58479",
     "https://vimeo.com/512340987/9e2c1f0abc"),
])
def test_every_url_form_gives_the_numeric_id_and_keeps_the_privacy_hash(url: str,
                                                                         url_kept: str) -> None:
    ref = VM.match_url(url)
    assert ref is not None and (ref.post_id, ref.url) == ("512340987", url_kept)
    assert VM.match_url(ref.url) == ref


@pytest.mark.parametrize("url", [
    "https://vimeo.com/channels/staffpicks", "https://vimeo.com/showcase/7008490",
    "https://vimeo.com/showcase/7008490/embed", "https://vimeo.com/event/1234567/embed",
    "https://vimeo.com/lenavarga", "https://vimeo.com/512340987/likes",
    "https://vimeo.com/ondemand/riverremembers", "https://notvimeo.com/512340987",
])
def test_pages_that_are_not_one_video(url: str) -> None:
    assert VM.match_url(url) is None


def test_requests_and_the_player_carry_the_hash() -> None:
    unlisted = VM.match_url("https://player.vimeo.com/video/824804225?h=9e2c1f0abc")
    assert unlisted is not None
    (request,) = VM.data_requests(unlisted)
    assert request.url == ("https://vimeo.com/api/oembed.json?url=https%3A%2F%2Fvimeo.com%2F"
                           "824804225%2F9e2c1f0abc")
    (page,) = VM.pages(unlisted)
    assert page.url == "https://player.vimeo.com/video/824804225?h=9e2c1f0abc&dnt=1"
    (page,) = VM.pages(POST)
    assert page.url == "https://player.vimeo.com/video/512340987?dnt=1"
    assert page.element == ".player" and "vp-preview" in page.ready


def test_live_video_is_read_from_oembed() -> None:
    data = VM.interpret(POST, {"oembed.json": exchange(200, OEMBED)})
    assert data is not None and data.status is LIVE
    assert (data.text, data.author, data.author_name, data.created_at) == (
        "The River Remembers", "lenavarga", "Lena Varga", "2024-05-02 14:31:07")
    assert data.media == ("https://i.vimeocdn.com/video/1-abc-d_295x166",)


@pytest.mark.parametrize("answer, status, words", [
    (exchange(200, {"type": "video", "video_id": 512340987, "domain_status_code": 403}),
     UNAVAILABLE, "chosen sites"),
    (exchange(403, b"403 Forbidden"), UNAVAILABLE, "embedding disabled"),
    (exchange(429, b""), FAILED, "429"),
    (exchange(200, OEMBED | {"video_id": 1}), FAILED, "another video"),
])
def test_definite_oembed_answers(answer: HttpExchange, status: CaptureStatus,
                                 words: str) -> None:
    data = VM.interpret(POST, {"oembed.json": answer})
    assert data is not None and data.status is status and words in (data.reason or "")
    assert data.text is None


@pytest.mark.parametrize("responses", [
    {}, {"oembed.json": exchange(404, b"404 Not Found")},
    {"oembed.json": exchange(500, b"")}, {"oembed.json": exchange(200, b"<html>")},
])
def test_404_cannot_tell_deleted_from_private_so_the_player_decides(
        responses: dict[str, HttpExchange]) -> None:
    assert VM.interpret(POST, responses) is None


@pytest.mark.parametrize("notice, status, words", [
    ("Sorry\nThis video does not exist.", DELETED, "deleted"),
    ("Sorry\nBecause of its privacy settings, this video cannot be played here.", UNAVAILABLE,
     "chosen sites"),
    ("Sorry\nThis video has been rated mature. Log in to Vimeo to confirm your age.",
     UNAVAILABLE, "age-restricted"),
    ("Sorry\nThis video is not available in your country.", UNAVAILABLE, "region-blocked"),
    ("This video is private. Log in to watch", UNAVAILABLE, "private video"),
    ("Something went wrong. Please try again later.", FAILED, "player failed"),
])
def test_player_notices(notice: str, status: CaptureStatus, words: str) -> None:
    got, reason = VM.gone_status(notice)
    assert got is status and words in reason
