"""Politeness: a pace per platform (per server when federated), and 429 / 503 with
Retry-After honoured within a cap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from archiver.capture.post import fetch_data
from archiver.config import Config, NetworkConfig
from archiver.models import CaptureStatus, HttpExchange
from archiver.net import HttpPool
from archiver.pipeline import archive_async
from archiver.platforms import by_name, match_url
from archiver.platforms.base import DataRequest
from archiver.politeness import HostLimiter, pace_key, polite_get, retry_after
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

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_limiter_spaces_requests_per_host() -> None:
    clock = Clock()
    limiter = HostLimiter(4.0, clock=lambda: clock.now)
    assert [limiter.reserve("a.example") for _ in range(3)] == [0.0, 0.25, 0.5]
    assert limiter.reserve("b.example") == 0.0  # another host does not wait for a.example
    clock.now += 10  # idle: the next request starts at once, and no burst follows it
    assert [limiter.reserve("a.example") for _ in range(2)] == [0.0, 0.25]
    assert HostLimiter(0).reserve("a.example") == 0.0


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

    async def send() -> HttpExchange:
        return queue.pop(0)

    got = asyncio.run(polite_get(send, "https://h.example/x",
                                 HostLimiter(0, clock=lambda: clock.now),
                                 replace(NetworkConfig(), retries=2, max_retry_after=30),
                                 clock.sleep))
    assert got.status == final and clock.slept == slept


def _sender(sent: list[tuple[str, float]], name: str, clock: Clock,
            answers: list[HttpExchange]) -> Callable[[], Awaitable[HttpExchange]]:
    async def send() -> HttpExchange:
        sent.append((name, clock.now))
        return answers.pop(0)
    return send


def test_a_retry_after_holds_the_host_for_every_capture_of_the_run() -> None:
    clock, sent = Clock(), []
    limiter = HostLimiter(0, clock=lambda: clock.now)
    network = replace(NetworkConfig(), retries=1, max_retry_after=30)
    url = "https://h.example/x"

    async def meanwhile(seconds: float) -> None:
        # while capture a waits out its Retry-After, capture b asks the same host
        got = await polite_get(_sender(sent, "b", clock, [answer(200)]), url, limiter,
                               network, clock.sleep)
        assert got.status == 200
        await clock.sleep(seconds)

    async def both() -> HttpExchange:
        return await polite_get(_sender(sent, "a", clock, [answer(429, ("Retry-After", "10")),
                                                           answer(200)]),
                                url, limiter, network, meanwhile)

    assert asyncio.run(both()).status == 200
    # b waited for the end of the 10 s the server asked for, as a did
    assert sent[0] == ("a", 100.0) and sent[1][0] == "b" and sent[1][1] >= 110.0, sent
    assert limiter.reserve("other.example") == 0.0  # another host is not held


def test_a_platforms_data_hosts_share_its_pace_and_its_hold_a_federated_servers_do_not(
        ) -> None:
    """x.com's syndication CDN answers 429 "Retry-After: 10": its oEmbed host, the same
    service, is left alone as long; two Mastodon servers are two services."""
    clock, sent = Clock(), []
    limiter = HostLimiter(0, clock=lambda: clock.now)
    network = replace(NetworkConfig(), retries=1, max_retry_after=30)
    cdn = "https://cdn.syndication.twimg.com/tweet-result?id=20"
    oembed = "https://publish.twitter.com/oembed?url=x"
    twitter = by_name("twitter")
    assert pace_key("twitter", twitter.federated, cdn) == \
        pace_key("twitter", twitter.federated, oembed) == "twitter"
    mastodon = by_name("mastodon")
    one, two = (pace_key("mastodon", mastodon.federated, f"https://{h}/api/v1/statuses/1")
                for h in ("mastodon.social", "infosec.exchange"))
    assert one != two

    async def meanwhile(seconds: float) -> None:
        for name, url, key in (("other server", "", two), ("oembed", oembed, "twitter")):
            got = await polite_get(_sender(sent, name, clock, [answer(200)]), url, limiter,
                                   network, clock.sleep, key=key)
            assert got.status == 200
        await clock.sleep(seconds)

    async def cdn_429() -> HttpExchange:
        return await polite_get(_sender(sent, "cdn", clock, [
            answer(429, ("Retry-After", "10")), answer(200)]), cdn, limiter, network,
            meanwhile, key="twitter")

    assert asyncio.run(cdn_429()).status == 200
    at = dict(sent[1:3])
    assert at["oembed"] >= 110.0 and at["other server"] < 110.0, sent
    assert limiter.reserve(one) == 0.0


def test_a_request_already_waiting_for_its_turn_also_waits_out_a_hold() -> None:
    clock, sent = Clock(), []
    limiter = HostLimiter(1.0, clock=lambda: clock.now)
    network = replace(NetworkConfig(), retries=0, max_retry_after=30)
    url = "https://h.example/x"
    limiter.reserve("h.example")  # an earlier request: b's turn is in 1 s

    async def meanwhile(seconds: float) -> None:
        if not sent:  # while b waits for its turn, a is answered "Retry-After: 10"
            got = await polite_get(_sender(sent, "a", clock,
                                           [answer(429, ("Retry-After", "10"))]),
                                   url, limiter, network, clock.sleep)
            assert got.status == 429
        await clock.sleep(seconds)

    got = asyncio.run(polite_get(_sender(sent, "b", clock, [answer(200)]), url, limiter,
                                 network, meanwhile))
    assert got.status == 200
    [(_, a_at), (_, b_at)] = sent
    assert b_at >= a_at + 10, sent  # not inside the 10 s a was asked for


def test_a_host_that_answers_everyone_else_429_cannot_starve_a_request() -> None:
    clock, sent = Clock(), []
    limiter = HostLimiter(1.0, clock=lambda: clock.now)
    network = replace(NetworkConfig(), retries=0, max_retry_after=30)
    url = "https://h.example/x"
    limiter.reserve("h.example")
    waits: list[float] = []

    async def meanwhile(seconds: float) -> None:
        waits.append(seconds)  # every time b waits, another capture is told to wait 10 s
        await polite_get(_sender(sent, "other", clock, [answer(429, ("Retry-After", "10"))]),
                         url, limiter, network, clock.sleep)
        await clock.sleep(seconds)

    got = asyncio.run(polite_get(_sender(sent, "b", clock, [answer(200)]), url, limiter,
                                 network, meanwhile))
    assert got.status == 200 and len(waits) == 2  # its turn, then the hold once


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
        got = asyncio.run(fetch_data(
            pool, DataRequest("busy.json", "https://cdn.syndication.twimg.com/busy")))
    finally:
        pool.close()
    assert isinstance(got, HttpExchange) and got.status == 429


def _syndication_429(fake_platform: FakePlatform, tweet: str, wait: str) -> tuple[str, str]:
    """The capture's own data request for `tweet` (not the embed page's) answers 429 with
    Retry-After `wait`, every time; returns its (host, target)."""
    url = f"https://x.com/Busy/status/{tweet}"
    ref = match_url(url)
    assert ref is not None
    [request] = [r for r in by_name("twitter").data_requests(ref) if "syndication" in r.url]
    parts = urlsplit(request.url)
    host, target = parts.hostname or "", f"{parts.path}?{parts.query}"
    fake_platform.documents[(host, target)] = Response(
        429, b"Rate limit exceeded\n", "text/plain", [("Retry-After", wait)])
    return host, target


def _one_worker_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose default executor has one thread: every worker busy, as when
    the captures in flight have more data requests waiting than min(32, cores + 4)."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    return loop


def _busy(fake_platform: FakePlatform, tmp_path: Path) -> tuple[str, str, str, Config]:
    """A post whose data endpoint answers 429 "Retry-After: 2", a configuration for it,
    and an empty request log: (tweet id, data host, its path, configuration)."""
    tweet = "1310100737619791965"
    host, target = _syndication_429(fake_platform, tweet, "2")
    config = make_config(fake_platform.host_map(), fake_platform.ca_pem, tmp_path / "data")
    fake_platform.reset_log()
    return tweet, host, target, config


@pytest.mark.browser
def test_the_browser_renders_while_a_data_request_waits_out_retry_after(
        fake_platform: FakePlatform, tmp_path: Path) -> None:
    tweet, host, target, config = _busy(fake_platform, tmp_path)
    config = replace(config, network=replace(config.network, retries=1))
    with asyncio.Runner(loop_factory=_one_worker_loop) as runner:
        report = runner.run(archive_async([f"https://x.com/Busy/status/{tweet}"], config))
    [capture] = report.captures
    assert capture.status is CaptureStatus.FAILED  # still rate limited after the retry
    log = [(h, t) for _, h, t in fake_platform.log]
    asked = [n for n, (h, t) in enumerate(log) if (h, t) == (host, target)]
    embed = next(n for n, (h, t) in enumerate(log) if h == "platform.twitter.com")
    assert len(asked) == 2
    # the wait holds no worker thread: the embed page is asked for before the retry
    assert embed < asked[1], log


@pytest.mark.browser
def test_a_capture_cancelled_while_waiting_out_retry_after_asks_nothing_more(
        fake_platform: FakePlatform, tmp_path: Path) -> None:
    tweet, host, target, config = _busy(fake_platform, tmp_path)

    async def cancelled_during_the_wait() -> None:
        task = asyncio.create_task(
            archive_async([f"https://x.com/Busy/status/{tweet}"], config))
        while fake_platform.count(host, target) == 0:
            await asyncio.sleep(0.01)
        task.cancel()  # Ctrl-C, or the scheduler's stop grace running out
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled_during_the_wait())  # returns once its worker threads have ended
    assert fake_platform.count(host, target) == 1


@pytest.mark.browser
def test_a_429_is_kept_when_the_retry_after_it_fails(browser_loop: LoopThread,
                                                     fake_platform: FakePlatform,
                                                     tmp_path: Path) -> None:
    tweet = "1860000000000000802"
    fake_platform.tweets.put({"id": tweet, "text": "Busy hour, and a big answer.",
                              "state": "ratelimited_once",
                              "user": {"screen_name": "Busy", "name": "Busy"}})
    config = make_config(fake_platform.host_map(), fake_platform.ca_pem, tmp_path / "data")
    # the 429's body fits under the cap, the answer to the retry does not: the retry fails
    config = replace(config, network=replace(config.network, max_bytes=100))
    report = archive_run(browser_loop, config, f"https://x.com/Busy/status/{tweet}")
    [capture] = report.captures
    assert capture.status is CaptureStatus.FAILED
    root = config.storage.data_dir / str(capture.directory)
    [syndication] = [r for r in json.loads((root / "manifest.json").read_text())["got"]
                     ["requests"] if "tweet-result" in r["url"]]
    assert "over the 100-byte cap" in syndication["error"] or "exceeded" in syndication["error"]
    assert [r["status"] for r in syndication.get("retried", [])] == [429]
    from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

    statuses = []
    with (root / "traffic.warc.gz").open("rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response" and "/tweet-result?id=" in (
                    record.rec_headers.get_header("WARC-Target-URI") or ""):
                statuses.append(record.http_headers.get_statuscode())
    assert statuses == ["429"]
