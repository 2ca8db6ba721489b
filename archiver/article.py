"""The article stage: fetch (raw bytes kept), discover, resolve short links, keep evidence.

    requests GET (body and headers as served)  -> static discovery (markup + hydration JSON)
    Chromium render (optional)                 -> rendered-DOM discovery, merged
    short links                                -> one recorded redirect lookup each
    evidence directory articles/<host>/<stamp>-<id>/ and the index rows
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from archiver.capture.article import render_article
from archiver.capture.browser import BrowserSession
from archiver.capture.guard import BrowserGuard
from archiver.capture.pages import PageResult
from archiver.capture.post import check_navigation
from archiver.config import Config
from archiver.discover import discover, discover_html, merge_rendered
from archiver.errors import FetchError, StoreError
from archiver.evidence.keys import ArchiveKey, signature_seal
from archiver.evidence.manifest import article_manifest, tool_environment
from archiver.models import EmbedRef, HttpExchange
from archiver.net import Http, decode_document, utc_now
from archiver.platforms import by_name, match_url
from archiver.politeness import HostLimiter, pace_key, polite_get
from archiver.store.files import EvidenceDir, canonical_json, safe_segments
from archiver.store.index import Index, new_id

ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


@dataclass(frozen=True)
class ArticleOutcome:
    url: str
    status: str  # ok | no_embeds | failed
    error: str | None
    embeds: tuple[EmbedRef, ...] = ()
    directory: str | None = None
    notes: tuple[str, ...] = ()
    #: the posts against the previous successful fetch (Index.record_article)
    change: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status, "error": self.error,
                "directory": self.directory, "embeds": [e.to_json() for e in self.embeds],
                "notes": list(self.notes), "change": self.change}


def discover_document(text: str, kind: str, base_url: str | None) -> list[EmbedRef]:
    found: list[EmbedRef] = discover(
        text, content_type="text/plain" if kind == "text" else "text/html", base_url=base_url)
    return found


_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def page_title(text: str) -> str | None:
    """The document's <title>, unescaped and on one line (None when it has none)."""
    found = _TITLE.search(text, 0, 300_000)
    title = " ".join(html.unescape(found.group(1)).split()) if found else ""
    return title[:500] or None


def _fetch_static(http: Http, url: str
                  ) -> tuple[HttpExchange | None, str | None, list[EmbedRef], str | None,
                             str | None]:
    """(exchange, kind, embeds, error, title) of the article as served."""
    exchange = None
    try:
        exchange = http.get(url, accept=ACCEPT_HTML)
        text, kind = decode_document(exchange)
        title = page_title(text) if kind == "html" else None
        return exchange, kind, discover_document(text, kind, exchange.final_url), None, title
    except FetchError as exc:
        return exchange, None, [], str(exc), None


async def fetch_article(http: Http, index: Index, config: Config, url: str,
                        browser: BrowserSession | None = None,
                        key: ArchiveKey | None = None,
                        limiter: HostLimiter | None = None) -> ArticleOutcome:
    """Fetch an article, keep its response (and rendering) as evidence, index its embeds
    (short links looked up at the platform's pace: the run's `limiter`)."""
    started_dt, started, fetch_id = datetime.now(UTC), utc_now(), new_id()
    exchange, kind, embeds, error, title = await asyncio.to_thread(_fetch_static, http, url)
    notes: list[str] = []
    rendered: PageResult | None = None
    if browser is not None and exchange is not None and error is None and kind == "html":
        try:
            await asyncio.to_thread(check_navigation, http, exchange.final_url)
        except FetchError as exc:
            notes.append(f"not rendered: {exc}")
        else:
            # load, network quiet, fonts (render_article's waits), then the snapshot
            limit = config.capture.article_timeout + 2 * config.capture.article_settle
            try:
                guard = BrowserGuard.for_network(http.resolver, config.network)
                rendered = await asyncio.wait_for(render_article(
                    browser, exchange.final_url, config.capture.article_timeout,
                    config.capture.article_settle, guard), limit + 15)
            except TimeoutError:
                rendered = PageResult("article", exchange.final_url, "timeout",
                                      f"the page did not answer within {limit + 15:.0f} s")
            if rendered.html is not None:
                embeds = merge_rendered(embeds, discover_html(rendered.html, rendered.final_url))
            else:
                notes.append(f"rendered-DOM pass failed: {rendered.detail}")
    embeds, lookups, failures = await resolve_short_links(http, embeds, limiter)
    notes.extend(failures)
    status = "failed" if error else ("ok" if embeds else "no_embeds")
    directory = body_sha = manifest_sha = None
    if exchange is not None:
        try:
            directory, manifest_sha, body_sha = _store_evidence(
                config, exchange, rendered, browser, key, _Fetch(
                    fetch_id, url, started, started_dt, lookups, error, status, embeds, notes))
        except StoreError as exc:
            if not exc.expected:
                raise
            status, error = "failed", f"the article's evidence could not be stored: {exc}"
            embeds, directory, body_sha, manifest_sha = [], None, None, None
    change = index.record_article(url, exchange=exchange, status=status, error=error,
                                  directory=directory, body_sha256=body_sha, embeds=embeds,
                                  manifest_sha256=manifest_sha, title=title)
    return ArticleOutcome(url, status, error, tuple(embeds), directory, tuple(notes), change)


@dataclass(frozen=True)
class _Fetch:
    """What one fetch of an article found, for its evidence directory."""

    fetch_id: str
    url: str
    started: str
    started_dt: datetime
    lookups: list[HttpExchange]
    error: str | None
    status: str
    embeds: list[EmbedRef]
    notes: list[str]


def _store_evidence(config: Config, exchange: HttpExchange, rendered: PageResult | None,
                    browser: BrowserSession | None, key: ArchiveKey | None, fetch: _Fetch
                    ) -> tuple[str, str, str]:
    """Write the article's evidence directory: (directory, manifest SHA-256, body SHA-256)."""
    host = urlsplit(exchange.final_url).hostname or "unknown"
    rel = Path("articles", *safe_segments(host),
               f"{fetch.started_dt.strftime('%Y%m%dT%H%M%SZ')}-{fetch.fetch_id}")
    with EvidenceDir(config.storage.data_dir, rel, fetch.fetch_id) as ev:
        body = ev.write(_body_name(exchange), exchange.body,
                        exchange.header("content-type") or "application/octet-stream",
                        "response")
        ev.write("response.json", canonical_json(exchange.describe()), "application/json",
                 "response")
        pages = []
        if rendered is not None:
            pages.append(rendered.describe())
            if rendered.html is not None:
                ev.write("rendered.html", rendered.html.encode(), "text/html; charset=utf-8",
                         "dom")
            if rendered.screenshot is not None:
                ev.write("article.png", rendered.screenshot, "image/png", "screenshot")
        manifest = article_manifest(
            fetch_id=fetch.fetch_id, url=fetch.url, exchange=exchange, body_artifact=body.name,
            lookups=fetch.lookups, pages=pages, error=fetch.error, status=fetch.status,
            embeds=fetch.embeds, environment=tool_environment(config.digest()) | (
                browser.environment() if rendered is not None and browser else {}),
            started=fetch.started, finished=utc_now(), artifacts=ev.artifacts,
            key_fingerprint=key.fingerprint if key is not None else None, notes=fetch.notes)
        seal = (lambda m: {n: make(m) for n, make in signature_seal(key).items()}) \
            if key is not None else None
        directory, manifest_sha = ev.commit(manifest, seal=seal)
    return directory, manifest_sha, body.sha256


async def resolve_short_links(http: Http, embeds: list[EmbedRef],
                              limiter: HostLimiter | None = None
                              ) -> tuple[list[EmbedRef], list[HttpExchange], list[str]]:
    """Resolve embeds given as short links (t.co, vm.tiktok.com, fb.watch ...) by one
    redirect lookup each, without following it, at the platform's pace (429 / 503 with
    Retry-After honoured, as for data endpoints: `politeness`); the lookups are returned
    as evidence (a 429 waited out with the answer after it), and the lookups that failed
    as lines."""
    limiter = limiter or HostLimiter(0)
    failures: list[str] = []
    lookups: dict[str, HttpExchange | None] = {}
    out: list[EmbedRef] = []
    for embed in embeds:
        if embed.post is not None or not embed.raw_url or not _is_short(embed):
            out.append(embed)
            continue
        if embed.raw_url not in lookups:
            url, platform = embed.raw_url, by_name(embed.platform)

            def look(u: str = url) -> Awaitable[HttpExchange]:
                return asyncio.to_thread(http.get, u, follow_redirects=False,
                                         max_bytes=1_000_000)
            try:
                lookups[url] = await polite_get(look, url, limiter, http.config,
                                                key=pace_key(platform.name,
                                                             platform.federated, url))
            except FetchError as exc:
                lookups[embed.raw_url] = None
                failures.append(f"short link {embed.raw_url}: {exc}")
        got = lookups[embed.raw_url]
        location = got.header("location") if got is not None and 300 <= got.status < 400 \
            else None
        post = match_url(urljoin(embed.raw_url, location)) if location else None
        out.append(replace(embed, post=post) if post is not None else embed)
    return out, [x for x in lookups.values() if x is not None], failures


def _is_short(embed: EmbedRef) -> bool:
    try:
        return embed.raw_url is not None and by_name(embed.platform).is_short_link(embed.raw_url)
    except KeyError:  # a platform named by a text remnant that has no module
        return False


def _body_name(exchange: HttpExchange) -> str:
    ctype = exchange.content_type
    if ctype in ("text/html", "application/xhtml+xml"):
        return "body.html"
    if ctype == "text/plain":
        return "body.txt"
    return "body.bin"
