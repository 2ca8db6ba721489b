"""Politeness towards the platforms: a request rate per platform, and 429 / 503 honoured.

Data endpoints (syndication, oEmbed, APIs) are fetched through `polite_get`, paced by a
key (`pace_key`): the platform, whose data hosts (x.com's syndication CDN and its oEmbed
host, say) are one service; for a federated platform (Mastodon) the server, since each
instance is its own.

- at most `network.requests_per_second` requests start per second for one key, across
  every capture of the run (0 = no limit);
- an answer 429 (Too Many Requests) or 503 with `Retry-After` (seconds or an HTTP date) is
  retried after that long, when it is at most `network.max_retry_after` seconds; without
  the header after 1 s, then 2 s; at most `network.retries` times. That wait holds the key
  (the platform, or the server) back for every capture of the run, not only for the one
  that was answered. A longer
  wait is not made: the answer is kept, the capture fails as rate limited, and the post is
  retried later on the re-capture schedule.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from archiver.config import NetworkConfig
from archiver.errors import FetchError
from archiver.models import HttpExchange

RETRY_STATUSES = (429, 503)


class HostLimiter:
    """Spaces out request starts per host, and holds a host back for as long as it asked
    (Retry-After), for every capture of the run (thread-safe; one per run).

    It only hands out delays: the caller waits them out on the event loop, so that a wait
    holds no worker thread and ends at once when the capture is cancelled."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next: dict[str, float] = {}
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def hold(self, host: str, seconds: float) -> None:
        """No request to `host` starts in the next `seconds` (the server asked for it)."""
        with self._lock:
            until = self._clock() + seconds
            self._held[host] = max(until, self._held.get(host, until))

    def held_for(self, host: str) -> float:
        """Seconds `host` is still held back (0 when it is not)."""
        with self._lock:
            return max(self._held.get(host, 0.0) - self._clock(), 0.0)

    def reserve(self, host: str) -> float:
        """Take the next start for `host`; returns the seconds to wait before it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(host, now), self._held.get(host, now))
            if self.interval:
                self._next[host] = start + self.interval
        return start - now


def pace_key(platform: str, federated: bool, url: str) -> str:
    """What a request is paced and held back by: the platform, or for a federated one the
    server (`platform@host`)."""
    return f"{platform}@{(urlsplit(url).hostname or '').lower()}" if federated else platform


def retry_after(exchange: HttpExchange, now: datetime | None = None) -> float | None:
    """The server's Retry-After in seconds (from seconds or an HTTP date), if given."""
    value = (exchange.header("retry-after") or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():  # isdigit() alone takes "²" (a latin-1 byte)
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def polite_get(send: Callable[[], Awaitable[HttpExchange]], url: str,
                     limiter: HostLimiter, network: NetworkConfig,
                     sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                     key: str | None = None) -> HttpExchange:
    """`send()` (a GET of `url`, run in a worker thread) at the pace of `key` (`pace_key`;
    by default the url's host), retried on 429 / 503 as documented above. Returns the last
    answer. The waits are made on the event loop: they hold no thread, and a cancelled
    capture stops at once, asking nothing more."""
    host = key or (urlsplit(url).hostname or "").lower()
    attempt = 0
    earlier: list[HttpExchange] = []
    while True:
        pace = limiter.reserve(host)  # the host's pace, and any wait it asked for
        if pace > 0:
            await sleep(pace)
            if limiter.held_for(host) > 0:  # asked for by an answer that came meanwhile;
                await sleep(limiter.reserve(host))  # once: others' 429s cannot starve it
        try:
            exchange = await send()
        except FetchError as exc:
            exc.retried = tuple(earlier)  # the answers waited out stay with the evidence
            raise
        if earlier:  # the answers that were retried stay with the evidence
            exchange = replace(exchange, retried=tuple(earlier))
        if exchange.status not in RETRY_STATUSES:
            return exchange
        wait = retry_after(exchange)
        if wait is None:
            if exchange.status == 503:  # a plain 503 is an outage, not "slow down"
                return exchange
            wait = float(1 << attempt)
        if wait > network.max_retry_after:
            return exchange
        limiter.hold(host, wait)  # every capture of the run leaves the host alone that long
        if attempt >= network.retries:
            return exchange
        earlier.append(replace(exchange, retried=()))
        attempt += 1  # the next reserve waits the hold out
