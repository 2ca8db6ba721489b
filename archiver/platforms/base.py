"""What every platform module provides: detection, identity, and how to capture a post.

A platform is a class with class-level facts (patterns, selectors, examples) and a few
methods. Modules are registered in order in `archiver/platforms/__init__.py`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from archiver.models import CaptureStatus, FoundIn, HttpExchange, PostData, PostRef

#: Attributes an iframe keeps its URL in: `src`, then the lazy loaders' copies.
LAZY_SRC_ATTRS: tuple[str, ...] = ("src", "data-src", "data-lazy-src", "data-litespeed-src")


@dataclass(frozen=True)
class Example:
    """An example URL and the post id it must map to (None: must not match as a post)."""

    url: str
    post_id: str | None
    author: str | None = None


@dataclass(frozen=True)
class DataRequest:
    """A public, no-login endpoint to fetch for a post; stored raw as `name`."""

    name: str  # artifact file name, e.g. 'tweet-result.json'
    url: str
    media_type: str = "application/json"


@dataclass(frozen=True)
class PageSpec:
    """A page the browser loads for a capture, and how to tell it is ready."""

    role: str  # 'embed' or 'post-page'; also the artifact name prefix
    url: str
    ready: str  # CSS selector present once the post is rendered
    gone: str  # CSS selector present when the platform shows the post is unavailable
    element: str | None = None  # CSS selector of the element to screenshot; None = full page
    required: bool = True  # a required page that fails makes the capture fail


@dataclass(frozen=True)
class EmbedMarkup:
    """One kind of element through which an article embeds a post of a platform.

    Read by `archiver/discover.py`, which walks the page once and asks, for each element
    named `tag`, every platform that declared it. The post is read, in this order, from
    `url_attrs` (an embed-render URL or a post URL), `id_attrs` (a bare id), then the links
    inside whose href `link_pattern` finds: the last post URL whose text is not a URL (the
    date link that ends a pasted blockquote), else the last post URL, else the last match
    (an unresolved embed keeps it as its raw URL). Facts for later platforms, e.g.:
    TikTok ``EmbedMarkup("blockquote", BLOCKQUOTE, classes={"tiktok-embed"},
    url_attrs=("cite",), id_attrs=("data-video-id",), claims=True, reads_text=True)``,
    Telegram ``EmbedMarkup("script", SCRIPT, id_attrs=("data-telegram-post",))``.
    """

    tag: str  # element name, e.g. 'blockquote', 'iframe', 'amp-twitter'
    found_in: FoundIn
    classes: frozenset[str] = frozenset()  # the element needs one of these (empty: any)
    url_attrs: tuple[str, ...] = ()
    id_attrs: tuple[str, ...] = ()
    link_pattern: re.Pattern[str] | None = None
    #: The element is an embed even when no post can be read from it: it is reported
    #: unresolved (post=None) instead of being ignored, e.g. a blockquote.twitter-tweet.
    claims: bool = False
    #: Read handle, name, date and quoted text from the element's text (pasted blockquotes).
    #: Other claimed elements borrow them from such an element inside (an AMP placeholder).
    reads_text: bool = False
    #: With `reads_text`: the post link's text is the date shown, and not part of the quoted
    #: text (Twitter's pasted markup ends with it). False: the link's text is the embed's own
    #: text (Instagram's caption, "A post shared by ..."); the date is a `<time>` element's
    #: text, else what follows the byline.
    date_link: bool = True
    #: With `reads_text`: lines of the platform's placeholder text ("View this post on
    #: Instagram"), in lower case, left out of the quoted text.
    boilerplate: frozenset[str] = frozenset()
    #: A link inside whose href this matches (named group ``user``) names the author the
    #: embed shows, when its text does not (Reddit's "by u/<name>"). Only the embed's
    #: `author` is set: the post's identity stays as its link says.
    author_link: re.Pattern[str] | None = None


def embed_and_post_page(embed_url: str, post_url: str, ready: str, gone: str
                        ) -> list[PageSpec]:
    """The usual pair: the embed render, which decides (its post element is screenshot),
    and the post's own page, kept as evidence of what the public sees (often a login wall)
    but never deciding the status."""
    return [PageSpec(role="embed", url=embed_url, ready=ready, gone=gone, element=ready),
            PageSpec(role="post-page", url=post_url, ready=ready, gone=gone, element=None,
                     required=False)]


class Platform(ABC):
    """One social platform. Subclasses fill the class variables and the abstract methods."""

    name: ClassVar[str]
    #: Servers are independent instances (Mastodon): politeness is per server. Otherwise
    #: all of the platform's data hosts share one pace and one Retry-After hold.
    federated: ClassVar[bool] = False
    #: Regexes matching a post URL; must define the named group ``id`` (and may define ``user``).
    url_patterns: ClassVar[tuple[re.Pattern[str], ...]]
    #: Example URLs with expected ids; checked by tests/platforms/test_examples.py.
    examples: ClassVar[tuple[Example, ...]]

    def match_url(self, url: str) -> PostRef | None:
        """The post a URL points at, or None when it is not a post URL of this platform."""
        for pattern in self.url_patterns:
            m = pattern.match(url.strip())
            if m:
                groups = m.groupdict()
                post_id = self.normalise_id(groups["id"])
                author = self.normalise_author(groups.get("user"))
                return PostRef(self.name, post_id, self.canonical_url(post_id, author), author)
        return None

    # -- discovery (facts read by archiver/discover.py and archiver/textembeds.py) --------
    #: Elements that embed a post of this platform; empty: the platform is never discovered.
    embed_markup: ClassVar[tuple[EmbedMarkup, ...]] = ()
    #: Embed-render URLs (an iframe's src): named group ``id``, optionally ``user``.
    embed_url_patterns: ClassVar[tuple[re.Pattern[str], ...]] = ()
    #: A valid post id (full match); ids read from attributes that fail it are not resolved.
    id_pattern: ClassVar[re.Pattern[str] | None] = None
    #: The byline a pasted blockquote shows (``— Name (@handle)``): named groups ``name`` and
    #: ``handle``; the last match in the blockquote's text is taken.
    byline_pattern: ClassVar[re.Pattern[str] | None] = None
    #: The shape of a handle (without '@', full match), to tell whose a "— Name (@handle)
    #: date" text remnant is. Declare it only if the platform's embeds flatten to that shape.
    handle_pattern: ClassVar[re.Pattern[str] | None] = None

    #: Hosts of the platform's link shortener (t.co, vm.tiktok.com, fb.watch): such a URL
    #: names a post only after one redirect lookup, which the pipeline makes and records.
    short_link_hosts: ClassVar[frozenset[str]] = frozenset()

    def is_short_link(self, url: str) -> bool:
        try:
            parts = urlsplit(url.strip())
        except ValueError:  # "http://[x", a netloc that NFKC turns into "/": not a link
            return False
        return (parts.hostname or "").lower() in self.short_link_hosts and \
            parts.path.strip("/") != ""

    def post_from_id(self, raw_id: str, author: str | None = None) -> PostRef | None:
        """The post with an id read from markup (and the handle shown next to it), if valid."""
        raw_id = raw_id.strip()
        if not raw_id or (self.id_pattern is not None and not self.id_pattern.fullmatch(raw_id)):
            return None
        post_id = self.normalise_id(raw_id)
        author = self.normalise_author(author)
        return PostRef(self.name, post_id, self.canonical_url(post_id, author), author)

    def match_embed_url(self, url: str) -> PostRef | None:
        """The post an embed URL shows: an embed-render URL, else a post URL."""
        url = url.strip()
        for pattern in self.embed_url_patterns:
            m = pattern.match(url)
            if m:
                return self.post_from_id(m.group("id"), m.groupdict().get("user"))
        return self.match_url(url)

    # -- identity ------------------------------------------------------------------------
    def normalise_id(self, raw: str) -> str:
        return raw

    def normalise_author(self, raw: str | None) -> str | None:
        return raw

    @abstractmethod
    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        """The one URL we store for a post."""

    # -- capture -------------------------------------------------------------------------
    @abstractmethod
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        """Public endpoints whose raw responses are stored as the post's data."""

    @abstractmethod
    def pages(self, post: PostRef) -> list[PageSpec]:
        """Pages the browser renders and snapshots for a post."""

    @abstractmethod
    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        """Decide the post's status and read its text from the data responses.

        None when the data cannot decide (the platform has no public data endpoint, or it
        answered nothing definite): the status then comes from the embed render, through
        `gone_status`.
        """

    #: The embed render can refuse a post that exists (age gate, region block, embedding
    #: disabled): a "gone" notice that `gone_status` calls UNAVAILABLE then decides, even
    #: when the data endpoint says the post is live (it is: just not viewable here).
    render_restrictions: ClassVar[bool] = False

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        """The status a render's "post unavailable" notice means (`detail` is its text).

        Platforms override this to tell deleted from private, age-gated, login wall ...
        """
        return CaptureStatus.UNAVAILABLE, detail or "the platform shows the post as unavailable"
