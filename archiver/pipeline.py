"""The library functions the CLI (and later the scheduler) call: detect and archive.

    source URL -> article fetch (raw bytes kept) -> discovery -> posts (deduplicated)
               -> capture each post -> index
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.capture.browser import BrowserSession
from archiver.capture.post import CaptureEnv, capture_post
from archiver.config import Config
from archiver.discover import discover
from archiver.errors import FetchError, UsageError
from archiver.evidence.manifest import article_manifest, tool_environment
from archiver.models import CaptureResult, EmbedRef, HttpExchange, PostRef
from archiver.net import Http, HttpPool, decode_document, utc_now
from archiver.platforms import match_url
from archiver.store.files import EvidenceDir, canonical_json, clean_staging, safe_segments
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


def detect(target: str, config: Config) -> Detection:
    """List the embeds of an article (URL or local file) without capturing anything."""
    path = Path(target)
    if "://" not in target:
        if not path.is_file():
            raise UsageError(f"no such file, and not a URL: {target}")
        raw = path.read_bytes()
        kind = "text/plain" if path.suffix.lower() in (".txt", ".text") else "text/html"
        exchange = HttpExchange("GET", path.resolve().as_uri(), path.resolve().as_uri(), 200,
                                (("Content-Type", kind),), raw)
        text, doc_kind = decode_document(exchange)
        return Detection(target, tuple(_discover(text, doc_kind, None)))
    url = validate_url(target)
    http = Http(config.network)
    try:
        exchange = http.get(url, accept="text/html,application/xhtml+xml,text/plain;q=0.8")
    finally:
        http.close()
    text, doc_kind = decode_document(exchange)
    return Detection(url, tuple(_discover(text, doc_kind, exchange.final_url)))


def _discover(text: str, kind: str, base_url: str | None) -> list[EmbedRef]:
    ctype = "text/plain" if kind == "text" else "text/html"
    found: list[EmbedRef] = discover(text, content_type=ctype, base_url=base_url)
    return found


@dataclass(frozen=True)
class ArticleOutcome:
    url: str
    status: str  # ok | no_embeds | failed
    error: str | None
    embeds: tuple[EmbedRef, ...] = ()
    directory: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status, "error": self.error,
                "directory": self.directory, "embeds": [e.to_json() for e in self.embeds]}


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


def fetch_article(http: Http, index: Index, config: Config, url: str) -> ArticleOutcome:
    """Fetch an article, keep its raw response as evidence, discover and index its embeds."""
    started_dt = datetime.now(UTC)
    started = utc_now()
    fetch_id = new_id()
    exchange: HttpExchange | None = None
    embeds: list[EmbedRef] = []
    error: str | None = None
    title: str | None = None
    try:
        exchange = http.get(url, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
        text, kind = decode_document(exchange)
        embeds = _discover(text, kind, exchange.final_url)
        status = "ok" if embeds else "no_embeds"
    except FetchError as exc:
        status, error = "failed", str(exc)
    directory = body_sha = None
    if exchange is not None:
        host = urlsplit(exchange.final_url).hostname or "unknown"
        rel = Path("articles", *safe_segments(host),
                  f"{started_dt.strftime('%Y%m%dT%H%M%SZ')}-{fetch_id}")
        with EvidenceDir(config.storage.data_dir, rel, fetch_id) as ev:
            body = ev.write(_body_name(exchange), exchange.body,
                            exchange.header("content-type") or "application/octet-stream",
                            "response")
            ev.write("response.json", canonical_json(exchange.describe()), "application/json",
                     "response")
            manifest = article_manifest(
                fetch_id=fetch_id, url=url, exchange=exchange, body_artifact=body.name,
                error=error, status=status, embeds=embeds,
                environment=tool_environment(config.digest()), started=started,
                finished=utc_now(), artifacts=ev.artifacts)
            directory, _ = ev.commit(manifest)
        body_sha = body.sha256
    index.record_article(url, exchange=exchange, status=status, error=error,
                         directory=directory, body_sha256=body_sha, embeds=embeds, title=title)
    return ArticleOutcome(url, status, error, tuple(embeds), directory)


def _body_name(exchange: HttpExchange) -> str:
    ctype = exchange.content_type
    if ctype in ("text/html", "application/xhtml+xml"):
        return "body.html"
    if ctype == "text/plain":
        return "body.txt"
    return "body.bin"


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


async def archive_async(urls: Sequence[str], config: Config, progress: Progress = _quiet,
                        browser: BrowserSession | None = None) -> ArchiveReport:
    """`archive` for callers with their own event loop; `browser` may be a running session
    to reuse (one browser for many runs), else one is started for this run."""
    urls = [validate_url(u) for u in urls]
    if not urls:
        raise UsageError("give at least one URL")
    started, run_id = utc_now(), new_id()
    data_dir = config.storage.data_dir
    index = Index(config.storage.effective_database_url)
    http = HttpPool(config.network)
    notes: list[str] = []
    try:
        for name in clean_staging(data_dir):
            notes.append(f"removed unfinished capture {name} left by an interrupted run")
        for capture_id in index.reconcile(data_dir):
            notes.append(f"closed capture {capture_id} left in progress by an earlier run")
        direct: list[PostRef] = []
        outcomes: list[ArticleOutcome] = []
        for url in urls:
            ref = match_url(url)
            if ref is not None:
                direct.append(ref)
                continue
            progress(f"fetching article {url}")
            outcome = await asyncio.to_thread(fetch_article, http.get(), index, config, url)
            outcomes.append(outcome)
            progress(_describe_article(outcome))
        posts = collect_posts(outcomes, direct)
        captures = await _capture_all(config, index, http, run_id, urls, posts, progress,
                                      browser) if posts else []
        for outcome in outcomes:
            text_only = [e for e in outcome.embeds if e.post is None]
            if text_only:
                notes.append(f"{outcome.url}: {len(text_only)} embed(s) survived only as text "
                             "and cannot be captured: " + ", ".join(
                                 f"@{e.author or '?'} {e.date or e.date_text or ''}".strip()
                                 for e in text_only))
        return ArchiveReport(run_id, started, utc_now(), tuple(outcomes), tuple(captures),
                             tuple(notes), data_dir)
    finally:
        http.close()
        index.close()


async def _capture_all(config: Config, index: Index, http: HttpPool, run_id: str,
                       requested: Sequence[str],
                       posts: Sequence[tuple[PostRef, list[tuple[EmbedRef, str | None]]]],
                       progress: Progress, shared: BrowserSession | None
                       ) -> list[CaptureResult]:
    progress(f"capturing {len(posts)} post(s)")
    async with contextlib.AsyncExitStack() as stack:
        browser = shared
        if browser is None:
            browser = BrowserSession(config.browser, config.network)
            await stack.enter_async_context(browser)
        env = CaptureEnv(config, index, http, browser, run_id, requested)
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


def _describe_article(outcome: ArticleOutcome) -> str:
    if outcome.status == "failed":
        return f"article failed: {outcome.error}"
    resolved = sum(1 for e in outcome.embeds if e.post is not None)
    return f"found {len(outcome.embeds)} embed(s), {resolved} capturable"
