"""YouTube: ids from every URL form, oEmbed plus the watch page's playability, the player."""

from __future__ import annotations

import json

import pytest

from archiver.models import CaptureStatus, HttpExchange, PostData
from archiver.platforms.youtube import YouTube, player_response

YT = YouTube()
VID = "q7XnB2tLp0w"
POST = YT.post_from_id(VID)
assert POST is not None
LIVE, DELETED, UNAVAILABLE, FAILED = (CaptureStatus.LIVE, CaptureStatus.DELETED,
                                      CaptureStatus.UNAVAILABLE, CaptureStatus.FAILED)

OEMBED = {"title": "Flood waters reach the old town", "author_name": "Danube Daily News",
          "author_url": "https://www.youtube.com/@DanubeDailyNews", "type": "video",
          "provider_name": "YouTube", "thumbnail_url": f"https://i.ytimg.com/vi/{VID}/hqdefault.jpg",
          "html": f'<iframe src="https://www.youtube.com/embed/{VID}?feature=oembed"></iframe>'}


def exchange(status: int, body: object = b"") -> HttpExchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpExchange("GET", "https://www.youtube.com/", "https://www.youtube.com/", status,
                        (), raw)


def watch(playability: dict[str, object], video_id: str = VID, details: bool = True
          ) -> HttpExchange:
    data: dict[str, object] = {"playabilityStatus": playability}
    if details:
        data["videoDetails"] = {"videoId": video_id, "title": "From the watch page",
                                "author": "Danube Daily News"}
        data["microformat"] = {"playerMicroformatRenderer": {
            "ownerProfileUrl": "http://www.youtube.com/@DanubeDailyNews",
            "publishDate": "2024-09-19T06:00:12-07:00"}}
    page = (f"<html><script>var ytInitialPlayerResponse = {json.dumps(data)};var meta = 1;"
            "</script></html>")
    return exchange(200, page.encode())


def interpret(oembed: HttpExchange | None, page: HttpExchange | None) -> PostData | None:
    responses = {k: v for k, v in (("oembed.json", oembed), ("watch.html", page)) if v}
    return YT.interpret(POST, responses)


@pytest.mark.parametrize("url", [
    f"https://www.youtube.com/watch?v={VID}&t=42s&list=PL0123&index=3",
    f"https://youtu.be/{VID}?si=AbCdEf&t=10", f"https://www.youtube.com/shorts/{VID}",
    f"https://www.youtube.com/live/{VID}?feature=share", f"//www.youtube.com/embed/{VID}",
    f"https://www.youtube-nocookie.com/embed/{VID}?rel=0", f"https://m.youtube.com/watch?v={VID}",
    f"https://music.youtube.com/watch?v={VID}&si=x", f"https://www.youtube.com/v/{VID}?fs=1",
    f"http://youtube.com/watch?feature=player_embedded&v={VID}",
])
def test_every_url_form_gives_the_11_character_id(url: str) -> None:
    ref = YT.match_url(url)
    assert ref is not None and ref.post_id == VID
    assert ref.url == f"https://www.youtube.com/watch?v={VID}" and ref.author is None


@pytest.mark.parametrize("url", [
    "https://www.youtube.com/embed/videoseries?list=PL0123456789",
    "https://www.youtube.com/embed/live_stream?channel=UC0123456789abcdefghijkl",
    "https://www.youtube.com/subscribe_widget?channelid=UC0123456789abcdefghijkl",
    "https://www.youtube.com/@DanubeDailyNews", "https://www.youtube.com/playlist?list=PL0",
    f"https://www.youtube.com/watch?v={VID}x", "https://notyoutube.com/watch?v=q7XnB2tLp0w",
])
def test_pages_that_are_not_one_video(url: str) -> None:
    assert YT.match_url(url) is None


def test_requests_and_the_player_page() -> None:
    urls = {r.name: r.url for r in YT.data_requests(POST)}
    assert urls["oembed.json"] == ("https://www.youtube.com/oembed?url=https%3A%2F%2Fwww.youtube"
                                   f".com%2Fwatch%3Fv%3D{VID}&format=json")
    assert urls["watch.html"].startswith(f"https://www.youtube.com/watch?v={VID}&hl=en")
    (page,) = YT.pages(POST)
    assert page.url == f"https://www.youtube-nocookie.com/embed/{VID}?hl=en"
    assert ":not(.ytp-embed-error)" in page.ready and page.gone == ".ytp-error"
    assert page.element == ".html5-video-player"


def test_live_video_reads_oembed_and_the_watch_page() -> None:
    data = interpret(exchange(200, OEMBED), watch({"status": "OK", "playableInEmbed": True}))
    assert data is not None and data.status is LIVE and data.reason is None
    assert (data.text, data.author, data.author_name) == (
        "Flood waters reach the old town", "DanubeDailyNews", "Danube Daily News")
    assert data.created_at == "2024-09-19T06:00:12-07:00"
    assert data.media == (f"https://i.ytimg.com/vi/{VID}/hqdefault.jpg",)


def test_watch_page_alone_still_names_the_video() -> None:
    data = interpret(exchange(500), watch({"status": "OK", "playableInEmbed": True}))
    assert data is not None and data.status is LIVE
    assert (data.text, data.author) == ("From the watch page", "DanubeDailyNews")


@pytest.mark.parametrize("playability, oembed_status, status, words", [
    ({"status": "ERROR", "reason": "Video unavailable", "errorScreen": {
        "playerErrorMessageRenderer": {"subreason": {
            "simpleText": "This video has been removed by the uploader"}}}},
     404, DELETED, "removed by the uploader"),
    ({"status": "ERROR", "reason": "This video isn't available anymore"}, 404, DELETED,
     "deleted or unknown"),
    ({"status": "ERROR", "reason": "This video is no longer available because the YouTube "
                                   "account associated with this video has been terminated."},
     404, DELETED, "terminated"),
    ({"status": "LOGIN_REQUIRED", "reason": "Private video"}, 403, UNAVAILABLE, "private video"),
    ({"status": "LOGIN_REQUIRED", "reason": "Sign in to confirm your age"}, 200, UNAVAILABLE,
     "age-restricted"),
    ({"status": "AGE_VERIFICATION_REQUIRED", "reason": "Sign in"}, 200, UNAVAILABLE,
     "age-restricted"),
    ({"status": "UNPLAYABLE", "reason": "Video unavailable", "errorScreen": {
        "playerErrorMessageRenderer": {"subreason": {"runs": [
            {"text": "The uploader has not made this video available in your country"}]}}}},
     200, UNAVAILABLE, "region-blocked"),
    ({"status": "UNPLAYABLE", "reason": "Join this channel to get access to members-only "
                                        "content like this video, and other exclusive perks."},
     200, UNAVAILABLE, "members-only"),
    ({"status": "OK", "playableInEmbed": False}, 401, UNAVAILABLE, "embedding disabled"),
    ({"status": "OK"}, 401, UNAVAILABLE, "embedding disabled"),
    ({"status": "SURPRISE"}, 200, FAILED, "unexpected playability"),
])
def test_watch_page_playability_decides(playability: dict[str, object], oembed_status: int,
                                        status: CaptureStatus, words: str) -> None:
    oembed = exchange(oembed_status, OEMBED if oembed_status == 200 else b"Not Found")
    data = interpret(oembed, watch(playability, details=oembed_status == 200))
    assert data is not None and data.status is status and words in (data.reason or "")


def test_a_gated_video_keeps_its_title_on_record() -> None:
    data = interpret(exchange(200, OEMBED), watch({"status": "LOGIN_REQUIRED",
                                                   "reason": "Sign in to confirm your age"}))
    assert data is not None and data.status is UNAVAILABLE
    assert (data.text, data.author) == ("Flood waters reach the old town", "DanubeDailyNews")


def test_a_scheduled_stream_exists() -> None:
    data = interpret(exchange(200, OEMBED), watch({"status": "LIVE_STREAM_OFFLINE",
                                                   "reason": "This live event will begin soon"}))
    assert data is not None and data.status is LIVE


@pytest.mark.parametrize("oembed, status, words", [
    (exchange(200, OEMBED), LIVE, ""),
    (exchange(401, b"Unauthorized"), UNAVAILABLE, "401"),
    (exchange(403, b"Forbidden"), UNAVAILABLE, "private video (oEmbed 403"),
    (exchange(200, b"Forbidden"), UNAVAILABLE, "'Forbidden'"),
    (exchange(404, b"Not Found"), DELETED, "oEmbed 404"),
    (exchange(429, b"Too Many Requests"), FAILED, "429"),
])
def test_oembed_alone_when_the_watch_page_has_no_player_response(
        oembed: HttpExchange, status: CaptureStatus, words: str) -> None:
    consent = exchange(200, b"<html><form action='https://consent.youtube.com/save'></html>")
    data = interpret(oembed, consent)
    assert data is not None and data.status is status and words in (data.reason or "")


@pytest.mark.parametrize("oembed", [None, exchange(400, b"Bad Request"), exchange(503, b"")])
def test_nothing_definite_leaves_it_to_the_player(oembed: HttpExchange | None) -> None:
    assert interpret(oembed, None) is None


def test_a_player_response_for_another_video_is_ignored() -> None:
    assert player_response(watch({"status": "OK"}, video_id="dQw4w9WgXcQ"), VID) is None
    assert player_response(exchange(200, b"ytInitialPlayerResponse = {broken"), VID) is None
    assert player_response(exchange(404, b""), VID) is None


@pytest.mark.parametrize("notice, status, words", [
    ("Video unavailable\nThis video is private", UNAVAILABLE, "private video"),
    ("Video unavailable\nThis video is age-restricted and only available on YouTube. Learn more",
     UNAVAILABLE, "age-restricted"),
    ("Video unavailable\nThe uploader has not made this video available in your country",
     UNAVAILABLE, "region-blocked"),
    ("Video unavailable\nPlayback on other websites has been disabled by the video owner.\n"
     "Watch on YouTube", UNAVAILABLE, "embedding disabled"),
    ("Video unavailable\nThis video has been removed by the uploader", DELETED, "deleted"),
    ("Video unavailable", DELETED, "Video unavailable"),
    ("An error occurred. Please try again later. (Playback ID: x)", FAILED, "player failed"),
    ("Something unexpected", UNAVAILABLE, "Something unexpected"),
])
def test_player_notices(notice: str, status: CaptureStatus, words: str) -> None:
    got, reason = YT.gone_status(notice)
    assert got is status and words in reason
    assert "\n" not in reason
