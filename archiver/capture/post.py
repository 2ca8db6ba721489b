"""Capture one post: a self-contained unit of work (post ref + environment in; capture
directory + index rows out), so it can later run as a task on any worker.

The platform's public data endpoints are fetched (each GET in a worker thread, the waits
for the host's pace and for Retry-After on the event loop) while the browser renders the
embed and the post page in one fresh context; then the evidence directory is written and
moved into place, and the index row is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext

from archiver.capture.browser import BrowserSession
from archiver.capture.guard import BrowserGuard
from archiver.capture.pages import PageResult, render_page
from archiver.capture.store import Gathered, store_capture
from archiver.config import Config
from archiver.errors import ArchiverError, BrowserError, FetchError
from archiver.evidence.keys import ArchiveKey
from archiver.models import CaptureResult, CaptureStatus, EmbedRef, HttpExchange, PostData, PostRef
from archiver.net import Http, HttpPool, utc_now
from archiver.platforms import by_name
from archiver.platforms.base import DataRequest, PageSpec, Platform
from archiver.politeness import HostLimiter, pace_key, polite_get
from archiver.store.files import safe_segments, scratch
from archiver.store.index import Index, new_id


@dataclass
class CaptureEnv:
    """What every capture of a run shares."""

    config: Config
    index: Index
    http: HttpPool
    browser: BrowserSession
    run_id: str
    requested: Sequence[str] = ()
    key: ArchiveKey | None = None
    #: the run's pace per host for data endpoints
    limiter: HostLimiter | None = None

    @property
    def data_dir(self) -> Path:
        return self.config.storage.data_dir


def capture_relpath(post: PostRef, capture_id: str, started: datetime) -> Path:
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    return Path("captures", post.platform, *safe_segments(post.post_id), f"{stamp}-{capture_id}")


async def fetch_data(http: HttpPool, request: DataRequest, limiter: HostLimiter | None = None,
                     key: str | None = None) -> HttpExchange | FetchError:
    """A data endpoint's answer (at the pace of `key`, see `politeness.pace_key`, 429s
    honoured), or why there is none. Each GET runs in a worker thread; the waits between
    them are made on the event loop."""
    def send() -> HttpExchange:  # in the worker thread: its own requests session
        return http.get().get(request.url, accept=request.media_type)

    try:
        return await polite_get(lambda: asyncio.to_thread(send), request.url,
                                limiter or HostLimiter(0), http.config, key=key)
    except FetchError as exc:
        return exc


async def capture_post(env: CaptureEnv, post: PostRef,
                       embeds: Sequence[tuple[EmbedRef, str | None]] = ()) -> CaptureResult:
    """Capture `post`; never raises for the site's faults, which become a failed status."""
    platform = by_name(post.platform)
    capture_id = new_id()
    started_dt = datetime.now(UTC)
    started = started_dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    relpath = capture_relpath(post, capture_id, started_dt)
    env.index.begin_capture(capture_id, post, env.run_id, started, relpath.as_posix())
    storing: list[bool] = []  # set once evidence writing began: it finishes on its own
    try:
        result = await _capture(env, platform, post, embeds, capture_id, started, relpath,
                                storing)
    except asyncio.CancelledError:
        if not storing:  # else the worker thread may still commit; reconcile will settle it
            env.index.finish_capture(CaptureResult(
                capture_id, post, CaptureStatus.FAILED, "interrupted before the capture "
                "finished", started, utc_now(), None, None), env.run_id, interrupted=True)
        raise
    except ArchiverError as exc:
        if not exc.expected:
            raise
        result = CaptureResult(capture_id, post, CaptureStatus.FAILED, str(exc), started,
                               utc_now(), None, None, embeds=tuple(e for e, _ in embeds))
    change = env.index.finish_capture(result, env.run_id)
    if change is not None:
        previous = None if change.previous_id is None else (
            change.previous_id, change.previous_status or "", change.previous_text)
        result = replace(result, change=change.change, previous=previous)
    return result


async def _capture(env: CaptureEnv, platform: Platform, post: PostRef,
                   embeds: Sequence[tuple[EmbedRef, str | None]], capture_id: str,
                   started: str, relpath: Path, storing: list[bool]) -> CaptureResult:
    t0 = time.monotonic()
    requests = platform.data_requests(post)
    specs = [s for s in platform.pages(post) if s.required or env.config.capture.post_page]
    with scratch(env.data_dir, f"{capture_id}-har") as tmp:
        har_path = tmp / "traffic.har"
        guard = BrowserGuard.for_network(env.http.resolver, env.config.network)
        try:
            context = await guard.new_context(env.browser, record_har=har_path)
            try:
                data_tasks = [fetch_data(env.http, r, env.limiter, pace_key(
                    platform.name, platform.federated, r.url)) for r in requests]
                page_tasks = [_guarded_render(env, context, s, guard) for s in specs]
                gathered = await asyncio.gather(*data_tasks, *page_tasks)
            finally:
                with contextlib.suppress(Exception):  # a dead browser: the pages say so
                    await context.close()  # writes the HAR
        finally:
            await guard.close()  # and every tunnel the context still held
        har = await asyncio.to_thread(_read_har, har_path)
    guard.attribute_har(har)  # the servers' real addresses, not the proxy's
    fetched = [g for g in gathered[: len(requests)] if not isinstance(g, PageResult)]
    pages = [g for g in gathered[len(requests):] if isinstance(g, PageResult)]
    if not env.browser.alive:
        raise BrowserError("the browser died during the capture")

    storing.append(True)
    return await asyncio.to_thread(
        store_capture, env, platform, post, embeds, capture_id, started, relpath,
        Gathered(requests, fetched, pages, specs, t0, har, tuple(guard.refused),
                 tuple(guard.breaches)))


def _read_har(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None  # the browser died before writing it; the pages say so
    return loaded if isinstance(loaded, dict) else None


async def _guarded_render(env: CaptureEnv, context: BrowserContext, spec: PageSpec,
                          guard: BrowserGuard) -> PageResult:
    """Render a page, unless its host resolves to an address the policy refuses; a page
    that stalls the browser itself (a busy main thread) is cut off at its deadline."""
    try:
        await asyncio.to_thread(check_navigation, env.http, spec.url)
    except FetchError as exc:
        return PageResult(spec.role, spec.url, "error", str(exc), started=utc_now())
    timeout = _timeout(env, spec)
    try:
        result = await asyncio.wait_for(render_page(context, spec, timeout), timeout + 15)
    except TimeoutError:
        return PageResult(spec.role, spec.url, "timeout", f"the page did not answer within "
                          f"{timeout + 15:.0f} s", started=utc_now())
    if guard.proxy is not None and result.server is not None:
        # Playwright names the guard's proxy; the proxy knows where it connected
        result = replace(result, server=guard.server_for(result.final_url or spec.url))
    refusal = guard.server_refusal(result.server, result.final_url or spec.url)
    return replace(result, signal="error", detail=refusal) if refusal else result


def check_navigation(http: HttpPool | Http, url: str) -> None:
    """Refuse a URL whose host resolves to an address the policy refuses (FetchError).

    With a proxy the proxy resolves names, so there is nothing here to check."""
    if http.config.proxy:
        return
    parts = urlsplit(url)
    http.resolver.resolve(parts.hostname or "", parts.port or
                          (443 if parts.scheme == "https" else 80))


def _timeout(env: CaptureEnv, spec: PageSpec) -> float:
    cfg = env.config.browser
    return cfg.page_timeout if spec.required else cfg.post_page_timeout


def decide(data: PostData | None, pages: Sequence[PageResult], specs: Sequence[PageSpec],
           fetch_errors: Sequence[str], platform: Platform | None = None
           ) -> tuple[CaptureStatus, str | None]:
    """The capture's status: the data endpoints say what the post is; the required pages
    must have shown it (or shown it gone). Anything short of that is a failure with a reason,
    never an empty success. Without data (`None`) the required pages alone decide."""
    required = {s.role for s in specs if s.required}
    if data is None:
        for page in pages:
            if page.role not in required:
                continue
            if page.signal in ("timeout", "error"):
                return CaptureStatus.FAILED, f"{page.role} page: {page.detail or page.signal}"
            if page.signal == "gone":
                return (platform.gone_status(page.detail or "") if platform else
                        (CaptureStatus.UNAVAILABLE, page.detail))
        return CaptureStatus.LIVE, None
    if data.status is CaptureStatus.FAILED:
        detail = f": {'; '.join(fetch_errors)}" if fetch_errors else ""
        return data.status, f"{data.reason}{detail}"
    for page in pages:
        if page.role not in required:
            continue
        if page.signal in ("timeout", "error"):
            return CaptureStatus.FAILED, f"{page.role} page: {page.detail or page.signal}"
        if data.status is CaptureStatus.LIVE and page.signal == "gone":
            if platform is not None and platform.render_restrictions:
                status, why = platform.gone_status(page.detail or "")
                if status is CaptureStatus.UNAVAILABLE:
                    return status, f"{why} (the post exists; its {page.role} refuses to show it)"
            return CaptureStatus.FAILED, (f"data endpoint says live but the {page.role} page "
                                          f"says: {page.detail}")
        if data.status in (CaptureStatus.DELETED, CaptureStatus.UNAVAILABLE) \
                and page.signal == "rendered":
            return CaptureStatus.FAILED, (f"data endpoint says {data.status} but the "
                                          f"{page.role} page rendered the post")
    return data.status, data.reason
