"""Source readers for scheduled runs: the article URLs a feed, sitemap, URL list or page lists.

`load_sources` reads the sources file (TOML, one ``[[source]]`` table each) and refuses
anything doubtful; `list_entries` reads one source through `Http` and returns its article
URLs (newest first when a limit applies). The parsers never fetch anything themselves,
and refuse XML entity declarations (external entities, entity expansion) outright.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import io
import json
import re
import time
import tomllib
import zlib
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

import defusedxml.ElementTree as SafeET
import feedparser
from apscheduler.triggers.cron import CronTrigger
from defusedxml import DefusedXmlException

from archiver.config import parse_duration
from archiver.errors import ConfigError, FetchError
from archiver.models import HttpExchange
from archiver.net import Http

SOURCE_KINDS = ("feed", "sitemap", "list", "page")
MIN_INTERVAL = timedelta(seconds=60)  # politeness: no source is polled more often
MAX_CHILD_SITEMAPS = 50
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
_NEWS_TAG = f"{{{NEWS_NS}}}news"
FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
               "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1")
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, */*;q=0.1"
LIST_ACCEPT = "text/plain, */*;q=0.1"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TYPES: dict[str, type] = {"name": str, "kind": str, "url": str, "path": str, "every": str,
                           "cron": str, "enabled": bool, "max_articles": int, "since": str}
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer"}
_XML_DECL_ENCODING = re.compile(
    rb"^(?:\xef\xbb\xbf)?<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z][\w.:-]{0,40})[\"']")
_EXPAT_CODECS = {"utf-8", "utf-16", "utf-16-le", "utf-16-be", "iso8859-1", "ascii"}
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f]")
_ABSOLUTE = re.compile(r"https?://", re.IGNORECASE)


class SourceError(FetchError):
    """A source's document is unusable: error status, not a feed or sitemap, refused XML."""


@dataclass(frozen=True)
class SourceConfig:
    """One watched source, as validated by `parse_sources` (see config/ for the format)."""

    name: str
    kind: str
    url: str = ""
    path: str = ""
    every: str = ""
    cron: str = ""
    enabled: bool = True
    max_articles: int = 0
    since: str = ""

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of every field: the identity of the source's job."""
        body = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    @property
    def location(self) -> str:
        return self.url or self.path


@dataclass(frozen=True)
class SourceEntry:
    """One article a source lists; dates are ISO 8601 UTC ("2026-11-24T03:10:00Z")."""

    url: str
    published: str | None = None
    updated: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class SourceListing:
    """What one read of a source gave: entries, documents read, non-fatal problems."""

    source: str
    entries: tuple[SourceEntry, ...]
    documents: int
    notes: tuple[str, ...]


class _Notes:
    """Itemised notes up to a limit, then one count: 50,000 bad lines make 11 notes."""

    def __init__(self, limit: int = 10) -> None:
        self.items: list[str] = []
        self.limit, self.more = limit, 0

    def add(self, text: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(text)
        else:
            self.more += 1

    def done(self) -> list[str]:
        return self.items + ([f"... and {self.more} more like these"] if self.more else [])


# -- the sources file ----------------------------------------------------------------------
def load_sources(path: Path) -> tuple[SourceConfig, ...]:
    """The sources defined in the TOML file at `path` (ConfigError for anything wrong)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"sources file not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"sources file {path} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read sources file {path}: {exc.strerror or exc}") from exc
    return parse_sources(text, str(path))


def parse_sources(text: str, origin: str = "<string>") -> tuple[SourceConfig, ...]:
    """Sources from the TOML text of a sources file; `origin` names it in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"sources file {origin} is not valid TOML: {exc}") from exc
    extra = sorted(set(data) - {"source"})
    if extra:
        raise ConfigError(f"{origin}: unknown top-level key(s) {', '.join(extra)} "
                          "(only [[source]] tables belong in a sources file)")
    tables = data.get("source", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{origin}: source must be an array of tables, written [[source]]")
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    for index, table in enumerate(tables, 1):
        source = _source_from_table(table, origin, index)
        if source.name in seen:
            raise ConfigError(f"{origin}: source {source.name!r}: name: duplicate name "
                              "(each source needs its own)")
        seen.add(source.name)
        sources.append(source)
    return tuple(sources)


def _source_from_table(table: dict[str, Any], origin: str, index: int) -> SourceConfig:
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problem = "is missing" if name is None else (
            f"= {name!r} is not 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit")
        raise ConfigError(f"{origin}: source #{index}: name {problem}")
    where = f"{origin}: source {name!r}"
    unknown = sorted(set(table) - set(_TYPES))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(_TYPES)})")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "since" and isinstance(value, date):  # a TOML date or datetime literal
            value = value.isoformat()
        wanted = _TYPES[key]
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: {key} = {value!r} must be {_TYPE_NAMES[wanted]}")
        values[key] = value
    if "kind" not in values:
        raise ConfigError(f"{where}: kind is missing (one of {', '.join(SOURCE_KINDS)})")
    source = SourceConfig(**values)
    _check_source(source, where)
    return source


def _check_source(source: SourceConfig, where: str) -> None:
    if source.kind not in SOURCE_KINDS:
        raise ConfigError(f"{where}: kind = {source.kind!r} is not one of "
                          f"{', '.join(SOURCE_KINDS)}")
    if bool(source.every) == bool(source.cron):
        raise ConfigError(f"{where}: every / cron: give exactly one of them "
                          "(an interval like \"15m\", or a crontab expression)")
    if source.every:
        interval = parse_duration(source.every, f"{where}: every")
        if interval < MIN_INTERVAL:
            raise ConfigError(f"{where}: every = {source.every!r} is shorter than "
                              f"{MIN_INTERVAL.seconds} s (be polite to the sites)")
    if source.cron:
        _check_cron(source.cron, where)
    if source.kind == "list":
        if bool(source.url) == bool(source.path):
            raise ConfigError(f"{where}: url / path: a list needs exactly one of them "
                              "(a local file, or a list served over http(s))")
    elif source.path:
        raise ConfigError(f"{where}: path is only for kind = \"list\"; use url")
    elif not source.url:
        raise ConfigError(f"{where}: url is missing (kind = {source.kind!r} needs one)")
    if source.url and _clean_url(source.url) is None:
        raise ConfigError(f"{where}: url = {source.url!r} is not an absolute http(s) URL")
    if source.max_articles < 0:
        raise ConfigError(f"{where}: max_articles = {source.max_articles} must be 0 (no limit) "
                          "or more")
    if source.since:
        since_cutoff(source.since, datetime.now(UTC), f"{where}: since")


def _check_cron(expr: str, where: str) -> None:
    try:
        trigger = CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        raise ConfigError(f"{where}: cron = {expr!r} is not a 5-field crontab expression "
                          f"({exc})") from exc
    if re.search(r"\d", expr.split()[4]):
        raise ConfigError(f"{where}: cron = {expr!r}: write the day of week with names "
                          "(sun, mon-fri): APScheduler counts Monday as 0, crontab Sunday")
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise ConfigError(f"{where}: cron = {expr!r} never fires")


def since_cutoff(since: str, now: datetime, label: str = "since") -> datetime | None:
    """`since` as an aware datetime: an ISO date or datetime (UTC unless it says), or an age
    like "7d" counted back from `now`. ConfigError when it is none of these."""
    if not since:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        try:
            return _aware(now) - parse_duration(since, label)
        except ConfigError:
            raise ConfigError(f"{label} = {since!r} is not an ISO date (2026-01-01), datetime "
                              "(2026-01-01T06:00:00Z) or age (7d)") from None
    return _aware(moment)


# -- listing one source --------------------------------------------------------------------
def list_entries(source: SourceConfig, http: Http, *, now: datetime | None = None
                 ) -> SourceListing:
    """The articles `source` lists now. Raises FetchError (SourceError for an unusable
    document); problems that leave the listing usable become notes."""
    cutoff = since_cutoff(source.since, now or datetime.now(UTC),
                          f"source {source.name!r}: since")
    notes: list[str] = []
    entries: list[SourceEntry]
    if source.kind == "page":
        entries, documents = [SourceEntry(source.url)], 0
    elif source.kind == "list":
        entries, documents = _read_list(source, http, notes), 1
    elif source.kind == "feed":
        exchange = _fetch(http, source.url, FEED_ACCEPT)
        entries, feed_notes = parse_feed(exchange.body, exchange.final_url)
        notes.extend(feed_notes)
        documents = 1
    elif source.kind == "sitemap":
        entries, documents = _read_sitemaps(source.url, http, cutoff, notes)
    else:
        raise ConfigError(f"source {source.name!r}: kind = {source.kind!r} is not one of "
                          f"{', '.join(SOURCE_KINDS)}")
    chosen = _finish(entries, cutoff, source.max_articles, notes)
    return SourceListing(source.name, tuple(chosen), documents, tuple(notes))


def _fetch(http: Http, url: str, accept: str) -> HttpExchange:
    exchange = http.get(url, accept=accept)
    if not 200 <= exchange.status < 300:
        raise SourceError(f"{exchange.final_url} answered HTTP {exchange.status}",
                          url=exchange.final_url, status=exchange.status)
    return exchange


def _read_list(source: SourceConfig, http: Http, notes: list[str]) -> list[SourceEntry]:
    if source.path:
        try:
            with open(source.path, "rb") as handle:
                data = handle.read(http.config.max_bytes + 1)
        except OSError as exc:
            raise SourceError(f"cannot read list file {source.path}: {exc.strerror or exc}",
                              url=source.path) from exc
        if len(data) > http.config.max_bytes:
            raise SourceError(f"list file {source.path} is over the "
                              f"{http.config.max_bytes:,}-byte cap", url=source.path)
        base = None
        where = source.path
    else:
        exchange = _fetch(http, source.url, LIST_ACCEPT)
        data, base, where = exchange.body, exchange.final_url, exchange.final_url
        if exchange.content_type in ("text/html", "application/xhtml+xml") or \
                data.lstrip()[:1] == b"<":
            raise SourceError(f"{where} is a markup document, not a list of URLs (one a line)",
                              url=where)
    entries, list_notes = parse_url_list(data.decode("utf-8-sig", "replace"), base)
    notes.extend(f"{where}: {note}" for note in list_notes)
    return entries


def _read_sitemaps(url: str, http: Http, cutoff: datetime | None, notes: list[str]
                   ) -> tuple[list[SourceEntry], int]:
    cap = http.config.max_bytes
    exchange = _fetch(http, url, SITEMAP_ACCEPT)
    kind, entries, children, top_notes = _read_sitemap(exchange.body, exchange.final_url, cap)
    notes.extend(top_notes)
    if kind == "urlset":
        return entries, 1
    documents, failures = 1, []
    chosen = _pick_children(children, cutoff, notes)
    for child in chosen:
        try:
            sub = _fetch(http, child.url, SITEMAP_ACCEPT)
            documents += 1
            sub_kind, sub_entries, _, sub_notes = _read_sitemap(sub.body, sub.final_url, cap)
        except FetchError as exc:
            failures.append(str(exc))
            notes.append(f"child sitemap {child.url} skipped: {exc}")
            continue
        if sub_kind == "sitemapindex":
            notes.append(f"{child.url} is a sitemap index inside a sitemap index: not "
                         "followed (one level only)")
            continue
        notes.extend(sub_notes)
        entries.extend(sub_entries)
    if chosen and len(failures) == len(chosen):  # nothing usable: an error, not a note
        raise SourceError(f"sitemap index {exchange.final_url}: all {len(chosen)} child "
                          f"sitemaps failed, the first with: {failures[0]}",
                          url=exchange.final_url)
    return entries, documents


def _pick_children(children: list[SourceEntry], cutoff: datetime | None,
                   notes: list[str]) -> list[SourceEntry]:
    """Children not older than `cutoff`, at most MAX_CHILD_SITEMAPS, the newest first."""
    kept = [c for c in children if cutoff is None or not _before(_when(c), cutoff)]
    if len(kept) < len(children):
        notes.append(f"{len(children) - len(kept)} child sitemap(s) last modified before "
                     "since: not read")
    if len(kept) > MAX_CHILD_SITEMAPS:
        notes.append(f"the sitemap index lists {len(kept)} child sitemaps: read the "
                     f"{MAX_CHILD_SITEMAPS} most recently modified (undated ones last)")
        kept = newest_first(kept)[:MAX_CHILD_SITEMAPS]
    return kept


def _finish(entries: list[SourceEntry], cutoff: datetime | None, limit: int,
            notes: list[str]) -> list[SourceEntry]:
    """http(s) only, no fragment, first occurrence, not before `cutoff`, newest `limit`."""
    bad = _Notes()
    seen: set[str] = set()
    kept: list[SourceEntry] = []
    for entry in entries:
        url = _clean_url(entry.url)
        if url is None:
            bad.add(f"not an http(s) URL, skipped: {entry.url[:200]!r}")
            continue
        if url in seen:
            continue
        seen.add(url)
        if cutoff is not None and _before(_when(entry), cutoff):
            continue
        kept.append(entry if url == entry.url else replace(entry, url=url))
    notes.extend(bad.done())
    if limit > 0:
        kept = newest_first(kept)[:limit]
    return kept


def newest_first(entries: list[SourceEntry]) -> list[SourceEntry]:
    """Dated entries newest first, then the undated ones; equal dates keep their order."""
    dated = [(when, e) for e in entries if (when := _when(e)) is not None]
    dated.sort(key=lambda pair: pair[0], reverse=True)  # reverse=True keeps sort stability
    return [e for _, e in dated] + [e for e in entries if _when(e) is None]


def _when(entry: SourceEntry) -> datetime | None:
    """The entry's published date, else its updated date, as an aware datetime."""
    text = entry.published or entry.updated
    if not text:
        return None
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def _before(when: datetime | None, cutoff: datetime) -> bool:
    return when is not None and when < cutoff


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _iso(moment: datetime) -> str | None:
    try:
        return _aware(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):
        return None


def _clean_url(raw: str, base: str | None = None) -> str | None:
    """`raw` (resolved against `base`) as an absolute http(s) URL without fragment, or None."""
    text = raw.strip()
    if not text or _NOT_IN_URL.search(text):
        return None
    try:
        parts = urlsplit(urljoin(base, text) if base and not _ABSOLUTE.match(text) else text)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path, parts.query, ""))


# -- URL lists -----------------------------------------------------------------------------
def parse_url_list(text: str, base_url: str | None = None
                   ) -> tuple[list[SourceEntry], list[str]]:
    """One URL a line; blank lines and `#` comments skipped. With `base_url` (a list fetched
    over http), lines starting with "/" are resolved against it."""
    entries: list[SourceEntry] = []
    notes = _Notes()
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        url = _clean_url(stripped, base_url if stripped.startswith("/") else None)
        if url is None:
            notes.add(f"line {number}: not an absolute http(s) URL, skipped: {stripped[:200]!r}")
            continue
        entries.append(SourceEntry(url))
    return entries, notes.done()


# -- XML safety ----------------------------------------------------------------------------
def _xml_prepare(body: bytes, url: str, what: str) -> bytes:
    """The document without leading blanks, re-encoded as UTF-8 when its prolog declares an
    encoding expat cannot read (Shift_JIS, GB2312, windows-1252 ...)."""
    data = body.lstrip(b" \t\r\n")
    if not data.strip():
        raise SourceError(f"{url}: empty document, not a {what}", url=url)
    match = _XML_DECL_ENCODING.match(data)
    if match is None:
        return data
    name = match.group(1).decode("ascii")
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise SourceError(f"{url}: the {what} declares an unknown encoding {name!r}",
                          url=url) from None
    if codec in _EXPAT_CODECS:
        return data
    try:
        text = data.decode(codec, "replace").removeprefix("\ufeff")
    except LookupError:  # a codec that is not a text encoding (base64, zlib ...)
        raise SourceError(f"{url}: the {what} declares {name!r}, not a text encoding",
                          url=url) from None
    end = text.find("?>")
    if end < 0:
        raise SourceError(f"{url}: the {what} has an unterminated XML declaration", url=url)
    declaration = re.sub(r"encoding\s*=\s*[\"'][^\"']*[\"']", 'encoding="utf-8"', text[:end],
                         count=1)
    return (declaration + text[end:]).encode("utf-8")


def _root_name(data: bytes) -> str:
    """The local name of the first element (lower case), from the first 4 KB."""
    match = _ROOT.search(data[:4096])
    return match.group(1).decode("ascii", "replace").rsplit(":", 1)[-1].lower() if match else ""


class _Stop(Exception):
    pass


def _refuse_entities(data: bytes, url: str, what: str) -> None:
    """SourceError when the prolog declares an entity (read up to the first element only)."""
    parser = expat.ParserCreate()

    def entity(name: str, *_: Any) -> None:
        raise SourceError(f"{url}: the {what} declares the XML entity {name!r}: refused "
                          "(external entities and entity expansion are not allowed)", url=url)

    def stop(*_: Any) -> None:
        raise _Stop

    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.StartElementHandler = stop
    try:
        parser.Parse(data, True)
    except (_Stop, expat.ExpatError, ValueError, LookupError):
        return  # a malformed prolog: feedparser's tolerant parser expands no declared entity


def _parse_xml(body: bytes, url: str, what: str) -> Element:
    data = _xml_prepare(body, url, what)
    if _root_name(data) == "html":
        raise SourceError(f"{url} is an HTML page, not a {what}", url=url)
    try:
        return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as exc:
        raise SourceError(f"{url}: the {what} declares the XML entity "
                          f"{getattr(exc, 'name', '?')!r}: refused (external entities and "
                          "entity expansion are not allowed)", url=url) from exc
    except ParseError as exc:
        raise SourceError(f"{url}: the {what} is not well-formed XML ({exc})", url=url) from exc
    except (ValueError, LookupError) as exc:
        raise SourceError(f"{url}: cannot decode the {what} ({exc})", url=url) from exc


def _gunzip(body: bytes, cap: int, url: str) -> bytes:
    """Inflate gzip member(s), refusing to produce more than `cap` bytes (gzip bombs)."""
    out = bytearray()
    data = body
    while data[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(wbits=31)
        try:
            while True:
                chunk = inflater.decompress(data, 1 << 20)
                out += chunk
                if len(out) > cap:
                    raise SourceError(f"{url}: the gzip body inflates past the {cap:,}-byte "
                                      "cap: refused (gzip bomb?)", url=url)
                data = inflater.unconsumed_tail
                if inflater.eof or (not data and not chunk):
                    break
        except zlib.error as exc:
            raise SourceError(f"{url}: corrupt gzip body ({exc})", url=url) from exc
        if not inflater.eof:
            raise SourceError(f"{url}: truncated gzip body", url=url)
        data = inflater.unused_data
    return bytes(out)


# -- feeds ---------------------------------------------------------------------------------
def parse_feed(body: bytes, base_url: str) -> tuple[list[SourceEntry], list[str]]:
    """Entries of an RSS 0.9x/1.0/2.0 or Atom feed; relative links resolve against
    `base_url` (and xml:base). SourceError when nothing usable can be read."""
    data = _xml_prepare(body, base_url, "feed")
    root = _root_name(data)
    if root == "html":
        raise SourceError(f"{base_url} is an HTML page, not a feed", url=base_url)
    _refuse_entities(data, base_url, "feed")
    # A file object, never bytes or str: feedparser fetches URLs and opens file names itself.
    parsed = feedparser.parse(
        io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False,
        response_headers={"content-location": base_url, "content-type": "application/xml"})
    raw_entries = parsed.get("entries") or []
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not raw_entries:
        if problem is not None:
            raise SourceError(f"{base_url} is not a readable feed: {_describe(problem)}",
                              url=base_url)
        if not parsed.get("version"):
            raise SourceError(f"{base_url} is not an RSS or Atom feed (root element "
                              f"<{root or '?'}>)", url=base_url)
        return [], []
    notes = _Notes()
    entries: list[SourceEntry] = []
    for raw in raw_entries:
        link = _entry_link(raw)
        url = _clean_url(link, base_url) if link else None
        if url is None:
            notes.add(f"{base_url}: entry without an http(s) link skipped "
                      f"({_text(raw.get('title')) or _text(raw.get('id')) or 'untitled'})")
            continue
        entries.append(SourceEntry(
            url, published=_struct_iso(dict.get(raw, "published_parsed")),
            # dict.get: FeedParserDict falls back from updated to published (deprecated)
            updated=_struct_iso(dict.get(raw, "updated_parsed")),
            title=_text(raw.get("title"))))
    found = notes.done()
    if problem is not None:
        found.insert(0, f"{base_url}: the feed is not well-formed ({_describe(problem)}); "
                        f"{len(raw_entries)} entries read anyway")
    return entries, found


def _entry_link(raw: Any) -> str | None:
    link = raw.get("link")
    if isinstance(link, str) and link.strip():
        return link
    for item in raw.get("links") or []:
        if item.get("rel", "alternate") == "alternate" and item.get("href"):
            return str(item["href"])
    ident = raw.get("id")
    if isinstance(ident, str) and ident.strip().lower().startswith(("http://", "https://")):
        return ident
    return None


def _struct_iso(value: Any) -> str | None:
    """feedparser's parsed dates are UTC `time.struct_time`s."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return _iso(datetime(*value[:5], min(value[5], 59), tzinfo=UTC))
    except (ValueError, OverflowError):
        return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _describe(exc: Any) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200] if text.strip() else type(exc).__name__


# -- sitemaps ------------------------------------------------------------------------------
def parse_sitemap(body: bytes, base_url: str, *, max_bytes: int = 20_000_000
                  ) -> tuple[str, list[SourceEntry], list[str], list[str]]:
    """("urlset" | "sitemapindex", entries, child sitemap URLs, notes). A gzip body is
    inflated first, to at most `max_bytes`."""
    kind, entries, children, notes = _read_sitemap(body, base_url, max_bytes)
    return kind, entries, [child.url for child in children], notes


def _read_sitemap(body: bytes, base_url: str, max_bytes: int
                  ) -> tuple[str, list[SourceEntry], list[SourceEntry], list[str]]:
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, max_bytes, base_url)
    root = _parse_xml(body, base_url, "sitemap")
    ns, kind = _split(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise SourceError(f"{base_url} is not a sitemap: its root element is <{kind}>, not "
                          "<urlset> or <sitemapindex>", url=base_url)
    item = "url" if kind == "urlset" else "sitemap"
    item_tags = {item, f"{{{ns}}}{item}"}
    loc_tags, lastmod_tags = {"loc", f"{{{ns}}}loc"}, {"lastmod", f"{{{ns}}}lastmod"}
    found: list[SourceEntry] = []
    bad, undated = _Notes(), 0
    for element in root:
        if element.tag not in item_tags:
            continue
        loc, lastmod_text, news = "", None, None
        for child in element:
            if child.tag in loc_tags:
                loc = (child.text or "").strip()
            elif child.tag in lastmod_tags:
                lastmod_text = child.text
            elif child.tag == _NEWS_TAG:
                news = child
        url = _clean_url(loc, base_url) if loc else None
        if url is None:
            bad.add(f"{base_url}: <{item}> without an http(s) <loc> skipped: {loc[:200]!r}")
            continue
        updated = _w3c_date(lastmod_text) if lastmod_text else None
        undated += bool(lastmod_text) and updated is None
        published, title = None, None
        if news is not None:
            published = _w3c_date(news.findtext(f"{{{NEWS_NS}}}publication_date") or "")
            title = _text(news.findtext(f"{{{NEWS_NS}}}title"))
        found.append(SourceEntry(url, published=published, updated=updated, title=title))
    notes = bad.done()
    if undated:
        notes.append(f"{base_url}: {undated} unreadable <lastmod> date(s) ignored")
    if kind == "urlset":
        return kind, found, [], notes
    return kind, [], found, notes


def _split(tag: Any) -> tuple[str, str]:
    """("namespace", "local name") of an ElementTree tag."""
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


@functools.lru_cache(maxsize=4096)  # sitemaps repeat their dates
def _w3c_date(text: str) -> str | None:
    """A W3C datetime ("2026", "2026-11", "2026-11-24", "2026-11-24T03:10+01:00" ...) as
    ISO UTC; a date without a time zone is taken as UTC."""
    text = text.strip()
    if re.fullmatch(r"\d{4}(-\d{2})?", text):
        text = (text + "-01-01")[:10]
    try:
        return _iso(datetime.fromisoformat(text))
    except ValueError:
        return None
