"""The library functions the CLI (and later the scheduler) call: detect and archive.

    source URL -> article stage (archiver.article: fetch, discover, render, short links)
               -> posts (deduplicated across articles) -> capture each (archiver.capture)
               -> index
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.article import ACCEPT_HTML, ArticleOutcome, discover_document, fetch_article
from archiver.capture.article import render_article
from archiver.capture.browser import BrowserSession
from archiver.capture.guard import BrowserGuard
from archiver.capture.post import CaptureEnv, capture_post
from archiver.config import Config
from archiver.discover import discover_html, merge_rendered
from archiver.errors import FetchError, UsageError
from archiver.evidence import ledger
from archiver.evidence.keys import ArchiveKey, load_or_create_key
from archiver.evidence.timestamp import stamp_pending
from archiver.models import CaptureResult, EmbedRef, HttpExchange, PostRef
from archiver.net import Http, HttpPool, Resolver, decode_document, utc_now
from archiver.platforms import match_url
from archiver.store.files import clean_staging
from archiver.store.index import Index, new_id

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
    guard = BrowserGuard(Resolver(config.network.host_map, config.network.allow_networks),
                         proxied=bool(config.network.proxy))
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

    @property
    def ok(self) -> bool:
        """True when every article was read and every capture completed."""
        return all(a.status != "failed" for a in self.articles) and all(
            c.status.completed for c in self.captures)

    def to_json(self) -> dict[str, Any]:
        def located(item: dict[str, Any]) -> dict[str, Any]:
            if item.get("directory"):
                item["directory"] = str(self.data_dir / item["directory"])
            return item

        return {"run_id": self.run_id, "started": self.started, "finished": self.finished,
                "ok": self.ok, "articles": [located(a.to_json()) for a in self.articles],
                "captures": [located(c.to_json()) for c in self.captures],
                "notes": list(self.notes)}


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


async def archive_async(urls: Sequence[str], config: Config, progress: Progress = _quiet,
                        browser: BrowserSession | None = None) -> ArchiveReport:
    """`archive` for callers with their own event loop; `browser` may be a running session
    to reuse (one browser for many runs), else one is started when first needed."""
    urls = [validate_url(u) for u in urls]
    if not urls:
        raise UsageError("give at least one URL")
    started, run_id = utc_now(), new_id()
    data_dir = config.storage.data_dir
    index = Index(config.storage.effective_database_url)
    http = HttpPool(config.network)
    notes: list[str] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            run_browser = _Browser(config, browser, stack)
            key = await asyncio.to_thread(load_or_create_key, config.key_path)
            for name in clean_staging(data_dir):
                notes.append(f"removed unfinished capture {name} left by an interrupted run")
            stamped, failures = await asyncio.to_thread(
                stamp_pending, index, http.get(), data_dir, config.evidence.tsa_urls)
            if stamped:
                notes.append(f"timestamped {stamped} earlier capture(s) no authority had "
                             "answered for")
            notes.extend(f"timestamp authority {f}" for f in failures)
            for capture_id, completed in index.reconcile(data_dir):
                notes.append(f"closed capture {capture_id} left in progress by an earlier run")
                if completed:
                    _ledger_late(index, data_dir, capture_id)
            direct: list[PostRef] = []
            outcomes: list[ArticleOutcome] = []
            for url in urls:
                ref = match_url(url)
                if ref is not None:
                    direct.append(ref)
                    continue
                progress(f"fetching article {url}")
                renderer = await run_browser.get() if config.capture.render_article else None
                outcome = await fetch_article(http.get(), index, config, url, renderer, key)
                outcomes.append(outcome)
                notes.extend(f"{url}: {note}" for note in outcome.notes)
                progress(_describe_article(outcome))
            posts = collect_posts(outcomes, direct)
            captures = await _capture_all(config, index, http, run_id, urls, posts, progress,
                                          await run_browser.get(), key) if posts else []
        for outcome in outcomes:
            text_only = [e for e in outcome.embeds if e.post is None]
            if text_only:
                notes.append(f"{outcome.url}: {len(text_only)} embed(s) could not be resolved "
                             "to a post (text only, or a broken link) and cannot be captured: "
                             + ", ".join(f"@{e.author or '?'} {e.date or e.raw_url or ''}"
                                         .strip() for e in text_only))
        return ArchiveReport(run_id, started, utc_now(), tuple(outcomes), tuple(captures),
                             tuple(notes), data_dir)
    finally:
        http.close()
        index.close()


async def _capture_all(config: Config, index: Index, http: HttpPool, run_id: str,
                       requested: Sequence[str],
                       posts: Sequence[tuple[PostRef, list[tuple[EmbedRef, str | None]]]],
                       progress: Progress, browser: BrowserSession, key: ArchiveKey
                       ) -> list[CaptureResult]:
    progress(f"capturing {len(posts)} post(s)")
    env = CaptureEnv(config, index, http, browser, run_id, requested, key)
    limit = asyncio.Semaphore(max(1, config.capture.concurrency))

    async def one(ref: PostRef, embeds: list[tuple[EmbedRef, str | None]]) -> CaptureResult:
        async with limit:
            t0 = time.monotonic()
            result = await capture_post(env, ref, embeds)
            progress(f"{result.status:<11} {ref.platform}/{ref.post_id} "
                     f"({time.monotonic() - t0:.2f} s)"
                     + (f": {result.reason}" if result.reason else ""))
            return result

    return list(await asyncio.gather(*(one(ref, e) for ref, e in posts)))


def _ledger_late(index: Index, data_dir: Path, capture_id: str) -> None:
    """Enter a capture that made it to disk but not into the ledger before a crash."""
    row = index.capture(capture_id)
    if row is None or row.directory is None or row.manifest_sha256 is None:
        return
    entries, _, _ = ledger.read_entries(data_dir)
    if any(e.capture_id == capture_id for e in entries):
        return
    ledger.append(data_dir, capture_id=row.id, platform=row.post.platform,
                  post_id=row.post.post_id, directory=row.directory,
                  manifest_sha256=row.manifest_sha256, recorded_at=utc_now(),
                  on_head=lambda head: index.set_meta("ledger_head", head))


def _describe_article(outcome: ArticleOutcome) -> str:
    if outcome.status == "failed":
        return f"article failed: {outcome.error}"
    resolved = sum(1 for e in outcome.embeds if e.post is not None)
    return f"found {len(outcome.embeds)} embed(s), {resolved} capturable"
