"""Typed values passed between the stages. All frozen: a stage returns new values."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class FoundIn(enum.StrEnum):
    """Which kind of markup an embed was found in (the `found_in` of `archiver detect`)."""

    BLOCKQUOTE = "blockquote"
    IFRAME = "iframe"  # also AMP components, which render as iframes
    SCRIPT = "script"  # script-driven widgets and page hydration JSON
    LINK = "link"  # a bare post URL inside an embed wrapper (oEmbed-style)
    TEXT = "text"  # only the flattened "— Name (@handle) date" remnant survived


class CaptureStatus(enum.StrEnum):
    """What a capture established about a post."""

    LIVE = "live"
    DELETED = "deleted"
    UNAVAILABLE = "unavailable"  # protected, suspended, login wall, region block ...
    FAILED = "failed"  # we could not tell: network error, timeout, rate limit ...

    @property
    def completed(self) -> bool:
        """A completed capture established the post's state; a failed one did not."""
        return self is not CaptureStatus.FAILED


@dataclass(frozen=True)
class PostRef:
    """A post identified on its platform: `(platform, post_id)` is the identity."""

    platform: str
    post_id: str
    url: str  # canonical post URL
    author: str | None = None  # handle, without '@', when the URL or markup carries it

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.post_id)


@dataclass(frozen=True)
class EmbedRef:
    """One embed found in an article. `post` is None when only text survived."""

    platform: str
    found_in: FoundIn
    position: int  # order in the article, from 0
    post: PostRef | None
    element: str = ""  # the markup element, e.g. 'blockquote.twitter-tweet', 'amp-twitter'
    author: str | None = None  # handle shown in the embed
    author_name: str | None = None
    quoted_text: str | None = None
    date_text: str | None = None  # the date as the article shows it
    date: str | None = None  # that date parsed, ISO 8601 (YYYY-MM-DD)
    raw_url: str | None = None  # the post URL exactly as found
    markup: str | None = None  # outer HTML (or text) of the embed, capped in length
    #: which discovery passes saw it: "static" (the HTML as served), "rendered" (the DOM
    #: after Chromium ran the page's scripts)
    found_by: tuple[str, ...] = ("static",)

    @property
    def resolved(self) -> bool:
        return self.post is not None

    def to_json(self) -> dict[str, Any]:
        """The shape `archiver detect --json` prints for each embed."""
        return {
            "platform": self.platform,
            "post_id": self.post.post_id if self.post else None,
            "url": self.post.url if self.post else None,
            "author": self.author or (self.post.author if self.post else None),
            "author_name": self.author_name,
            "quoted_text": self.quoted_text,
            "date_text": self.date_text,
            "date": self.date,
            "found_in": str(self.found_in),
            "found_by": list(self.found_by),
            "element": self.element,
            "position": self.position,
            "resolved": self.resolved,
            "raw_url": self.raw_url,
        }


@dataclass(frozen=True)
class HttpExchange:
    """One HTTP request and its response, as fetched by `requests` (raw body kept)."""

    method: str
    url: str  # as requested
    final_url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    redirects: tuple[str, ...] = ()
    peer_ip: str | None = None
    started: str = ""  # UTC ISO 8601
    elapsed_s: float = 0.0
    request_headers: tuple[tuple[str, str], ...] = ()
    http_version: str = "HTTP/1.1"
    #: TLS version and the certificate chain the server presented (verified), if https
    tls: dict[str, Any] | None = None
    #: earlier answers to the same request that were retried (429 / 503), oldest first
    retried: tuple[HttpExchange, ...] = ()

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def describe(self) -> dict[str, Any]:
        """Everything but the body, for the manifest."""
        return {
            "method": self.method,
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "http_version": self.http_version,
            "request_headers": [list(h) for h in self.request_headers],
            "headers": [list(h) for h in self.headers],
            "redirects": list(self.redirects),
            "peer_ip": self.peer_ip,
            "tls": self.tls,
            "started": self.started,
            "elapsed_s": round(self.elapsed_s, 4),
            "body_bytes": len(self.body),
        }


@dataclass(frozen=True)
class Article:
    """A fetched article: the raw response plus the embeds discovered in it."""

    url: str
    exchange: HttpExchange | None  # None when read from a local file
    html: str
    embeds: tuple[EmbedRef, ...]
    title: str | None = None


@dataclass(frozen=True)
class PostData:
    """What a platform's public data endpoints say about a post."""

    status: CaptureStatus
    reason: str | None = None
    text: str | None = None
    author: str | None = None
    author_name: str | None = None
    created_at: str | None = None  # ISO 8601, as the platform gives it
    media: tuple[str, ...] = ()


@dataclass(frozen=True)
class Artifact:
    """One stored file of a capture."""

    name: str  # path relative to the capture directory
    sha256: str
    size: int
    media_type: str
    role: str  # data | screenshot | dom | text | response


@dataclass(frozen=True)
class CaptureResult:
    """The outcome of capturing one post: what the index and the CLI report."""

    capture_id: str
    post: PostRef
    status: CaptureStatus
    reason: str | None
    started_at: str
    finished_at: str
    directory: str | None  # relative to the data directory; None if nothing was stored
    manifest_sha256: str | None
    artifacts: tuple[Artifact, ...] = ()
    data: PostData | None = None
    embeds: tuple[EmbedRef, ...] = field(default=())
    #: "stamped", "untimestamped" (no authority answered), or None (none configured)
    timestamp: str | None = None
    notes: tuple[str, ...] = ()
    #: against the post's previous completed capture (archiver.recapture.classify); None
    #: when this capture did not complete
    change: str | None = None
    #: that previous capture: id, status and text (None for the first)
    previous: tuple[str, str, str | None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "capture_id": self.capture_id,
            "platform": self.post.platform,
            "post_id": self.post.post_id,
            "url": self.post.url,
            "status": str(self.status),
            "reason": self.reason,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "directory": self.directory,
            "manifest_sha256": self.manifest_sha256,
            "text": self.data.text if self.data else None,
            "author": self.data.author if self.data else self.post.author,
            "timestamp": self.timestamp,
            "notes": list(self.notes),
            "artifacts": [asdict(a) for a in self.artifacts],
            "change": self.change,
            "previous": None if self.previous is None else {
                "capture_id": self.previous[0], "status": self.previous[1],
                "text": self.previous[2]},
        }
