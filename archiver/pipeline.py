"""The library functions the CLI (and later the scheduler) call: detect and archive.

    source URL -> article stage (archiver.article: fetch, discover, render, short links)
               -> posts (deduplicated across articles) -> capture each (archiver.capture)
               -> index
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from archiver.article import ACCEPT_HTML, ArticleOutcome, discover_document, fetch_article
from archiver.capture.article import render_article
from archiver.capture.browser import BrowserSession
from archiver.capture.guard import BrowserGuard
from archiver.capture.post import CaptureEnv, capture_post
from archiver.config import Config, effective_concurrency
from archiver.discover import discover_html, merge_rendered
from archiver.errors import FetchError, UsageError
from archiver.evidence import ledger
from archiver.evidence.keys import ArchiveKey, load_or_create_key
from archiver.evidence.timestamp import stamp_pending
from archiver.models import CaptureResult, EmbedRef, HttpExchange, PostRef
from archiver.net import Http, HttpPool, Resolver, decode_document, utc_now
from archiver.platforms import match_url
from archiver.politeness import HostLimiter
from archiver.recapture import Policy
from archiver.store.files import clean_staging
from archiver.store.index import Index, new_id
from archiver.store.liveness import hold

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def validate_url(url: str) -> str:
    """An absolute http(s) URL with a host, or UsageError."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not an http(s) URL: {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise UsageError(f"malformed URL {url!r}: {exc}") from exc
    return text


@dataclass(frozen=True)
class Detection:
    article: str
    embeds: tuple[EmbedRef, ...]
    title: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"article": self.article, "embeds": [e.to_json() for e in self.embeds]}


def detect(target: str, config: Config, *, render: bool = False) -> Detection:
    """List the embeds of an article (URL or local file) without capturing anything.

    With `render`, the page is also loaded in Chromium and the embeds its scripts inject
    are merged in (as `archive` does).
    """
    path = Path(target)
    if "://" not in target:
        if not path.is_file():
            raise UsageError(f"no such file, and not a URL: {target}")
        kind = "text/plain" if path.suffix.lower() in (".txt", ".text") else "text/html"
        exchange = HttpExchange("GET", path.resolve().as_uri(), path.resolve().as_uri(), 200,
                                (("Content-Type", kind),), path.read_bytes())
        base = None
    else:
        url = validate_url(target)
        http = Http(config.network)
        try:
            exchange = http.get(url, accept=ACCEPT_HTML)
        finally:
            http.close()
        base = exchange.final_url
    text, doc_kind = decode_document(exchange)
    embeds = discover_document(text, doc_kind, base)
    if render and doc_kind == "html":
        embeds = asyncio.run(_with_rendered(config, exchange.final_url, embeds))
    return Detection(target, tuple(embeds))


async def _with_rendered(config: Config, url: str, embeds: list[EmbedRef]) -> list[EmbedRef]:
    guard = BrowserGuard.for_network(
        Resolver(config.network.host_map, config.network.allow_networks), config.network)
    async with BrowserSession(config.browser, config.network) as browser:
        page = await render_article(browser, url, config.capture.article_timeout,
                                    config.capture.article_settle, guard)
    if page.html is None:
        raise FetchError(f"the page could not be rendered: {page.detail}", url=url)
    return merge_rendered(embeds, discover_html(page.html, page.final_url))


@dataclass(frozen=True)
class ArchiveReport:
    run_id: str
    started: str
    finished: str
    articles: tuple[ArticleOutcome, ...]
    captures: tuple[CaptureResult, ...]
    notes: tuple[str, ...] = field(default=())
    data_dir: Path = Path(".")
    #: posts left alone because they already have a completed capture (`skip_captured`)
    skipped: tuple[PostRef, ...] = ()
    #: posts not captured because the run was asked to stop; they stay due in the index
    pending: tuple[PostRef, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every article was read and every capture completed."""
        return not self.pending and all(a.status != "failed" for a in self.articles) and all(
            c.status.completed for c in self.captures)

    def to_json(self) -> dict[str, Any]:
        def located(item: dict[str, Any]) -> dict[str, Any]:
            if item.get("directory"):
                item["directory"] = str(self.data_dir / item["directory"])
            return item

        return {"run_id": self.run_id, "started": self.started, "finished": self.finished,
                "ok": self.ok, "articles": [located(a.to_json()) for a in self.articles],
                "captures": [located(c.to_json()) for c in self.captures],
                "skipped": [r.url for r in self.skipped],
                "pending": [r.url for r in self.pending], "notes": list(self.notes)}


class Tracker(Protocol):
    """Follows a run's captures (a progress bar, a counter)."""

    def start(self, total: int) -> None: ...

    def advance(self, result: CaptureResult) -> None: ...


class _NoTracker:
    def start(self, total: int) -> None:
        return None

    def advance(self, result: CaptureResult) -> None:
        return None


def collect_posts(outcomes: Sequence[ArticleOutcome], direct: Sequence[PostRef]
                  ) -> list[tuple[PostRef, list[tuple[EmbedRef, str | None]]]]:
    """Each post once, in first-seen order, with every embed of it across the articles."""
    posts: dict[tuple[str, str], PostRef] = {}
    seen_in: dict[tuple[str, str], list[tuple[EmbedRef, str | None]]] = {}
    for ref in direct:
        posts.setdefault(ref.key, ref)
        seen_in.setdefault(ref.key, [])
    for outcome in outcomes:
        for embed in outcome.embeds:
            if embed.post is None:
                continue
            key = embed.post.key
            known = posts.get(key)
            if known is None or (known.author is None and embed.post.author):
                posts[key] = embed.post
            seen_in.setdefault(key, []).append((embed, outcome.url))
    return [(ref, seen_in[key]) for key, ref in posts.items()]


def archive(urls: Sequence[str], config: Config, progress: Progress = _quiet) -> ArchiveReport:
    """Archive every post embedded in the given articles (or the given post URLs)."""
    return asyncio.run(archive_async(urls, config, progress))


class _Browser:
    """The run's browser: the caller's, or one started on first need and closed at the end."""

    def __init__(self, config: Config, shared: BrowserSession | None,
                 stack: contextlib.AsyncExitStack) -> None:
        self.config, self.session, self.stack = config, shared, stack

    async def get(self) -> BrowserSession:
        if self.session is None:
            session = BrowserSession(self.config.browser, self.config.network)
            await self.stack.enter_async_context(session)
            self.session = session
        return self.session


@dataclass
class _Run:
    """What one run holds open: index, HTTP pool, browser, key; and its notes."""

    config: Config
    index: Index
    http: HttpPool
    browser: _Browser
    key: ArchiveKey
    run_id: str = field(default_factory=new_id)
    started: str = field(default_factory=utc_now)
    notes: list[str] = field(default_factory=list)
    _restarting: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: the pace per platform and the Retry-After holds, for every request of the run to a
    #: platform (data endpoints, short-link lookups)
    limiter: HostLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = HostLimiter(self.config.network.requests_per_second)

    def housekeeping(self) -> None:
        """Settle what earlier runs left: staging, late timestamps, captures in flight."""
        data_dir = self.config.storage.data_dir
        for name in clean_staging(data_dir):
            self.notes.append(f"removed unfinished capture files {name} left by an "
                              "interrupted run")
        stamped, failures = stamp_pending(self.index, self.http.get(), data_dir,
                                          self.config.evidence.tsa_urls)
        if stamped:
            self.notes.append(f"timestamped {stamped} earlier capture(s) no authority had "
                              "answered for")
        self.notes.extend(f"timestamp authority {f}" for f in failures)
        for capture_id, completed in self.index.reconcile(data_dir):
            self.notes.append(f"closed capture {capture_id} left in progress by an earlier run")
            if completed:
                _ledger_late(self.index, data_dir, capture_id)
        _settle_head(self.index, data_dir)

    async def capture(self, requested: Sequence[str],
                      posts: Sequence[tuple[PostRef, list[tuple[EmbedRef, str | None]]]],
                      progress: Progress, stop: asyncio.Event | None, tracker: Tracker
                      ) -> tuple[list[CaptureResult], list[PostRef]]:
        """Capture each post (up to `capture.concurrency` at once); once `stop` is set no
        new capture starts. Returns the results and the posts not started."""
        if not posts:
            return [], []
        progress(f"capturing {len(posts)} post(s)")
        tracker.start(len(posts))
        env = CaptureEnv(self.config, self.index, self.http, await self.browser.get(),
                         self.run_id, requested, self.key, self.limiter)
        limit = asyncio.Semaphore(effective_concurrency(self.config.capture.concurrency))

        async def one(ref: PostRef, embeds: list[tuple[EmbedRef, str | None]]
                      ) -> CaptureResult | PostRef:
            async with limit:
                if stop is not None and stop.is_set():
                    return ref
                if not env.browser.alive:
                    await self._revive(env.browser)
                t0 = time.monotonic()
                result = await capture_post(env, ref, embeds)
                progress(f"{result.status:<11} {ref.platform}/{ref.post_id} "
                         f"({time.monotonic() - t0:.2f} s)"
                         + (f": {result.reason}" if result.reason else "")
                         + (f" [{result.change}]" if result.change not in (None, "first",
                                                                          "unchanged") else ""))
                tracker.advance(result)
                return result

        done = await asyncio.gather(*(one(ref, e) for ref, e in posts))
        results = [d for d in done if isinstance(d, CaptureResult)]
        pending = [d for d in done if isinstance(d, PostRef)]
        if pending:
            self.notes.append(f"stopped before capturing {len(pending)} post(s); they stay "
                              "due for the next run")
        return results, pending

    async def _revive(self, browser: BrowserSession) -> None:
        """The browser died (crashed, killed, out of memory): the capture it was doing has
        failed with that reason; start a new one so that the rest of the batch goes on."""
        async with self._restarting:
            if browser.alive:
                return  # another capture restarted it meanwhile
            await browser.restart()
            self.notes.append("the browser died during the run and was restarted")

    def report(self, outcomes: Sequence[ArticleOutcome], results: Sequence[CaptureResult],
               skipped: Sequence[PostRef] = (), pending: Sequence[PostRef] = ()
               ) -> ArchiveReport:
        return ArchiveReport(self.run_id, self.started, utc_now(), tuple(outcomes),
                             tuple(results), tuple(self.notes), self.config.storage.data_dir,
                             tuple(skipped), tuple(pending))


@contextlib.asynccontextmanager
async def _open_run(config: Config, browser: BrowserSession | None) -> AsyncIterator[_Run]:
    hold(config.storage.data_dir)  # before any row or file this run will own
    index = Index(config.storage.effective_database_url, Policy.from_config(config.schedule))
    http = HttpPool(config.network)
    try:
        async with contextlib.AsyncExitStack() as stack:
            key = await asyncio.to_thread(load_or_create_key, config.key_path)
            run = _Run(config, index, http, _Browser(config, browser, stack), key)
            await asyncio.to_thread(run.housekeeping)
            yield run
    finally:
        http.close()
        index.close()


async def archive_async(urls: Sequence[str], config: Config, progress: Progress = _quiet,
                        browser: BrowserSession | None = None, *, skip_captured: bool = False,
                        stop: asyncio.Event | None = None, tracker: Tracker | None = None
                        ) -> ArchiveReport:
    """`archive` for callers with their own event loop; `browser` may be a running session
    to reuse (one browser for many runs), else one is started when first needed.

    With `skip_captured` (scheduled runs), posts that already have a completed capture are
    left to the re-capture schedule. Once `stop` is set, no new article or capture starts.
    """
    urls = [validate_url(u) for u in urls]
    if not urls:
        raise UsageError("give at least one URL")
    async with _open_run(config, browser) as run:
        direct: list[PostRef] = []
        outcomes: list[ArticleOutcome] = []
        for url in urls:
            ref = match_url(url)
            if ref is not None:
                direct.append(ref)
                continue
            if stop is not None and stop.is_set():
                run.notes.append(f"{url}: not fetched, the run was asked to stop")
                continue
            progress(f"fetching article {url}")
            renderer = await run.browser.get() if config.capture.render_article else None
            outcome = await fetch_article(run.http.get(), run.index, config, url, renderer,
                                          run.key, run.limiter)
            outcomes.append(outcome)
            run.notes.extend(f"{url}: {note}" for note in outcome.notes)
            progress(_describe_article(outcome))
        posts = collect_posts(outcomes, direct)
        skipped: list[PostRef] = []
        if skip_captured and posts:
            done = run.index.captured_keys(ref for ref, _ in posts)
            skipped = [ref for ref, _ in posts if ref.key in done]
            posts = [(ref, e) for ref, e in posts if ref.key not in done]
        results, pending = await run.capture(urls, posts, progress, stop,
                                             tracker or _NoTracker())
        for outcome in outcomes:
            text_only = [e for e in outcome.embeds if e.post is None]
            if text_only:
                run.notes.append(
                    f"{outcome.url}: {len(text_only)} embed(s) could not be resolved to a post "
                    "(text only, or a broken link) and cannot be captured: "
                    + ", ".join(f"@{e.author or '?'} {e.date or e.raw_url or ''}".strip()
                                for e in text_only))
        return run.report(outcomes, results, skipped, pending)


async def recapture_async(config: Config, *, limit: int | None = None,
                          progress: Progress = _quiet, browser: BrowserSession | None = None,
                          stop: asyncio.Event | None = None, tracker: Tracker | None = None,
                          now: str | None = None) -> ArchiveReport:
    """Capture every post whose next check is due (first captures an interrupted run left,
    failed ones to retry, and re-captures on the schedule), most overdue first."""
    async with _open_run(config, browser) as run:
        due = run.index.due_posts(now or utc_now(), limit or config.schedule.recapture_batch)
        results, pending = await run.capture([ref.url for ref, _ in due], due, progress, stop,
                                             tracker or _NoTracker())
        return run.report((), results, (), pending)


def _ledger_late(index: Index, data_dir: Path, capture_id: str) -> None:
    """Enter a capture that made it to disk but not into the ledger before a crash."""
    row = index.capture(capture_id)
    if row is None or row.directory is None or row.manifest_sha256 is None:
        return
    ledger.append_missing(data_dir, capture_id=row.id, platform=row.post.platform,
                          post_id=row.post.post_id, directory=row.directory,
                          manifest_sha256=row.manifest_sha256, recorded_at=utc_now(),
                          on_head=lambda head: index.entered_in_ledger(
                              head, (row.id, ledger.seq_of(head))))


def _settle_head(index: Index, data_dir: Path) -> None:
    """A run killed after writing a capture's ledger entry but before recording the new
    head leaves the head short of the ledger's end; once the index holds those captures as
    stored (reconcile), the head moves to the end."""

    def stored(entry: ledger.LedgerEntry) -> bool:
        row = index.capture(entry.capture_id)
        return row is not None and row.status not in ("in_progress", "abandoned") and \
            row.manifest_sha256 == entry.manifest_sha256 and row.directory == entry.directory

    ledger.settle_head(data_dir, lambda: index.get_meta("ledger_head"), stored,
                       lambda head, entries: index.entered_in_ledger(
                           head, *((e.capture_id, e.seq) for e in entries)))


def _describe_article(outcome: ArticleOutcome) -> str:
    if outcome.status == "failed":
        return f"article failed: {outcome.error}"
    resolved = sum(1 for e in outcome.embeds if e.post is not None)
    return f"found {len(outcome.embeds)} embed(s), {resolved} capturable"
