"""Politeness: a pace per host, and 429 / 503 with Retry-After honoured within a cap."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from archiver.capture.post import fetch_data
from archiver.config import NetworkConfig
from archiver.models import CaptureStatus, HttpExchange
from archiver.net import HttpPool
from archiver.platforms.base import DataRequest
from archiver.politeness import HostLimiter, polite_get, retry_after
from tests.fakeplatform import FakePlatform
from tests.fakeplatform.server import Response
from tests.harness import LoopThread, archive_run, make_config


def answer(status: int, *headers: tuple[str, str]) -> HttpExchange:
    return HttpExchange("GET", "https://h.example/x", "https://h.example/x", status,
                        tuple(headers), b"")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_limiter_spaces_requests_per_host() -> None:
    clock = Clock()
    limiter = HostLimiter(4.0, clock=lambda: clock.now, sleep=clock.sleep)
    for _ in range(3):
        limiter.wait("a.example")
    limiter.wait("b.example")  # another host does not wait for a.example
    assert clock.slept == [0.25, 0.25]
    assert HostLimiter(0).wait("a.example") == 0.0


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert retry_after(answer(429, ("Retry-After", "7"))) == 7.0
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after(answer(429, ("Retry-After", date)), now) == 30.0
    assert retry_after(answer(429, ("Retry-After", "soon"))) is None
    assert retry_after(answer(429)) is None


@pytest.mark.parametrize(("answers", "slept", "final"), [
    ([answer(429, ("Retry-After", "2")), answer(200)], [2.0], 200),
    ([answer(429), answer(429), answer(200)], [1.0, 2.0], 200),
    ([answer(429), answer(429), answer(429), answer(200)], [1.0, 2.0], 429),  # 2 retries
    ([answer(429, ("Retry-After", "3600")), answer(200)], [], 429),  # beyond the cap
    ([answer(503), answer(200)], [], 503),  # an outage, not a request to slow down
    ([answer(503, ("Retry-After", "1")), answer(200)], [1.0], 200),
    ([answer(404), answer(200)], [], 404),
])
def test_polite_get_retries(answers: list[HttpExchange], slept: list[float],
                            final: int) -> None:
    clock = Clock()
    queue = list(answers)
    got = polite_get(lambda: queue.pop(0), "https://h.example/x", HostLimiter(0),
                     replace(NetworkConfig(), retries=2, max_retry_after=30), clock.sleep)
    assert got.status == final and clock.slept == slept


@pytest.mark.browser
def test_a_429_with_retry_after_is_waited_for(browser_loop: LoopThread,
                                              fake_platform: FakePlatform,
                                              tmp_path: Path) -> None:
    tweet = "1860000000000000801"
    fake_platform.tweets.put({"id": tweet, "text": "Busy hour.", "state": "ratelimited_once",
                              "user": {"screen_name": "Busy", "name": "Busy"}})
    config = make_config(fake_platform.host_map(), fake_platform.ca_pem, tmp_path / "data")
    fake_platform.reset_log()
    report = archive_run(browser_loop, config, f"https://x.com/Busy/status/{tweet}")
    [capture] = report.captures
    assert capture.status is CaptureStatus.LIVE, capture.reason
    # the data request: a 429, then after the second asked for, the answer (the embed page
    # in the browser asks too, after the state flipped)
    assert fake_platform.count("cdn.syndication.twimg.com", "/tweet-result") == 3
    # the capture's WARC keeps both answers: the 429 and the 200
    from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

    statuses = []
    with (config.storage.data_dir / capture.directory / "traffic.warc.gz").open("rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response" and "tweet-result" in (
                    record.rec_headers.get_header("WARC-Target-URI") or ""):
                statuses.append(record.http_headers.get_statuscode())
    assert sorted(statuses) == ["200", "200", "429"], statuses


@pytest.mark.parametrize("value", ["\u00b2", "\u00b9\u00b3"])  # bytes 0xB2, 0xB9 0xB3 (latin-1)
def test_a_retry_after_of_digits_that_are_not_ascii_is_not_a_number(value: str) -> None:
    # str.isdigit() says True for superscripts, which float() refuses (ValueError)
    assert retry_after(answer(429, ("Retry-After", value))) is None


def test_a_garbled_retry_after_from_a_server_is_an_answer_not_a_crash(
        fake_platform: FakePlatform, net_config: NetworkConfig) -> None:
    # a server sends the byte 0xB2 in Retry-After: HTTP headers are read as latin-1 ("²")
    fake_platform.documents[("cdn.syndication.twimg.com", "/busy")] = Response(
        429, b"slow down\n", "text/plain", [("Retry-After", "\u00b2")])
    pool = HttpPool(replace(net_config, retries=0))
    try:
        got = fetch_data(pool, DataRequest("busy.json", "https://cdn.syndication.twimg.com/busy"))
    finally:
        pool.close()
    assert isinstance(got, HttpExchange) and got.status == 429
