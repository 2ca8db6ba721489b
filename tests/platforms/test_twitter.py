"""Twitter/X: the syndication token, snowflake times, and reading the data endpoints."""

import json
from datetime import UTC, datetime

import pytest

from archiver.models import CaptureStatus, HttpExchange
from archiver.platforms.twitter import Twitter, js_radix_string, snowflake_time, syndication_token

TW = Twitter()
POST = TW.match_url("https://twitter.com/jack/status/20")
assert POST is not None

# Computed with Node: ((Number(id) / 1e15) * Math.PI).toString(36).replace(/(0+|\.)/g, '')
NODE_TOKENS = {
    "1310100737619791965": "36bswhwctrm",
    "1310218169743183965": "36c66meu27x",
    "20": "6dq1a2xwd93",
    "1": "bhi2ay3f28n",
    "1585341984679469056": "3uchycv2wqc",
    "1700000000000000000": "44cpgxmyurn",
}


@pytest.mark.parametrize("tweet_id, token", NODE_TOKENS.items())
def test_token_matches_javascript(tweet_id: str, token: str) -> None:
    assert syndication_token(tweet_id) == token


def test_radix_string_of_simple_values() -> None:
    assert js_radix_string(0.5, 2) == "0.1"
    assert js_radix_string(255.0, 16) == "ff"
    assert js_radix_string(35.5, 36) == "z.i"


def test_snowflake_time_of_the_seed_posts() -> None:
    assert snowflake_time("1310100737619791965") == datetime(2020, 9, 27, 6, 15, 31, tzinfo=UTC)
    assert snowflake_time("1310218169743183965") == datetime(2020, 9, 27, 14, 2, 9, tzinfo=UTC)
    assert snowflake_time("20") is None  # 2006: before snowflakes


def test_canonical_urls() -> None:
    assert TW.canonical_url("20", "jack") == "https://x.com/jack/status/20"
    assert TW.canonical_url("20") == "https://x.com/i/status/20"


def exchange(status: int, body: object = b"") -> HttpExchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpExchange("GET", "https://cdn/", "https://cdn/", status, (), raw)


LIVE = {"__typename": "Tweet", "id_str": "20", "text": "just setting up my twttr",
        "created_at": "2006-03-21T20:50:14.000Z",
        "user": {"screen_name": "jack", "name": "jack"},
        "mediaDetails": [{"media_url_https": "https://pbs.twimg.com/media/a.jpg"}]}


def test_live_post_is_read() -> None:
    data = TW.interpret(POST, {"tweet-result.json": exchange(200, LIVE),
                               "oembed.json": exchange(200, {})})
    assert data.status is CaptureStatus.LIVE
    assert (data.text, data.author, data.media) == ("just setting up my twttr", "jack",
                                                    ("https://pbs.twimg.com/media/a.jpg",))


@pytest.mark.parametrize("result, oembed, status, reason", [
    (exchange(404), exchange(404), CaptureStatus.DELETED, "no such post"),
    (exchange(404), exchange(403), CaptureStatus.UNAVAILABLE, "protected or suspended"),
    (exchange(200, {"__typename": "TweetTombstone",
                    "tombstone": {"text": {"text": "Age-restricted adult content."}}}),
     exchange(403), CaptureStatus.UNAVAILABLE, "Age-restricted"),
    (exchange(429), exchange(429), CaptureStatus.FAILED, "429"),
    (exchange(500), exchange(200, {}), CaptureStatus.FAILED, "HTTP 500"),
    (exchange(200, b"<html>login</html>"), exchange(200, {}), CaptureStatus.FAILED, "not JSON"),
    (exchange(200, {}), exchange(404), CaptureStatus.DELETED, "empty object"),
    (exchange(200, LIVE | {"id_str": "21"}), exchange(200, {}), CaptureStatus.FAILED,
     "another post"),
    (exchange(200, {"__typename": "Surprise"}), exchange(200, {}), CaptureStatus.FAILED,
     "unexpected"),
])
def test_every_answer_gets_a_status_and_a_reason(result: HttpExchange, oembed: HttpExchange,
                                                 status: CaptureStatus, reason: str) -> None:
    data = TW.interpret(POST, {"tweet-result.json": result, "oembed.json": oembed})
    assert data.status is status
    assert reason in (data.reason or "")
    assert data.text is None


def test_no_response_at_all_is_a_failure() -> None:
    assert TW.interpret(POST, {}).status is CaptureStatus.FAILED


def test_data_requests_carry_the_token() -> None:
    urls = [r.url for r in TW.data_requests(POST)]
    assert urls[0].startswith("https://cdn.syndication.twimg.com/tweet-result?id=20&")
    assert f"token={NODE_TOKENS['20']}" in urls[0]
    assert urls[1].startswith("https://publish.twitter.com/oembed?url=https%3A%2F%2Ftwitter.com")


@pytest.mark.parametrize("body", [
    {"__typename": "TweetTombstone", "tombstone": "gone"},
    {"__typename": "TweetTombstone", "tombstone": {"text": "gone"}},
    {"__typename": "Tweet", "id_str": "20", "text": "x", "user": "jack", "mediaDetails": 3,
     "created_at": 12},
])
def test_odd_shapes_of_the_answer_do_not_crash(body: dict[str, object]) -> None:
    data = TW.interpret(POST, {"tweet-result.json": exchange(200, body),
                               "oembed.json": exchange(200, {})})
    assert data.status in (CaptureStatus.UNAVAILABLE, CaptureStatus.LIVE)
