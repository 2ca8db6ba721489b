"""LinkedIn: post URLs and URNs, the embed iframe, and what its notices mean.

Facts (see PLATFORMS.md): "Embed this post" gives an iframe to
`www.linkedin.com/embed/feed/update/urn:li:share:<id>` (or `urn:li:ugcPost:<id>`, often with
`?collapsed=1`); publishers also build `urn:li:activity:<id>` embed URLs from post URLs
(`linkedin.com/posts/<vanity>_<slug>-activity-<id>-<code>`, `/feed/update/urn:li:activity:
<id>/`). There is no pasted blockquote and no script widget for posts; LinkedIn's
`<script type="IN/Share">` / `IN/FollowCompany` widgets are buttons, not embeds.

Identity: post_id is the URN's number. One post has an activity URN and a share (or
ugcPost) URN with different numbers (their timestamp bits a fraction of a second apart in
the examples seen), so the same post embedded once by share URN and linked once by
activity URN is two posts here: at discovery nothing maps one to the other (the embed
render shows the activity URN, which the capture's DOM keeps). The canonical URL keeps the
URN kind, which the embed render needs.

Capture: no public, no-login data endpoint is known (LinkedIn's APIs need an app token),
so `data_requests` is empty and the embed render decides: its post card, or one of its
notices, which `gone_status` classifies: a sign-in wall and "private" notices are
UNAVAILABLE; "This post cannot be displayed" (LinkedIn's notice for a deleted post, which
may also be what a post whose visibility was narrowed shows, unverified) is DELETED, with
the notice's words as the reason.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import unquote

from archiver.models import CaptureStatus, FoundIn, HttpExchange, PostData, PostRef
from archiver.platforms.base import (
    LAZY_SRC_ATTRS,
    DataRequest,
    EmbedMarkup,
    Example,
    PageSpec,
    Platform,
    embed_and_post_page,
)

_HOSTS = r"(?:(?:www|[a-z]{2})\.)?linkedin\.com"
_START = r"^(?:https?:)?//"
_KIND = r"(?P<kind>activity|share|ugcPost)"
_ID = r"(?P<id>\d{15,20})"
_URN = rf"urn(?::|%3A)li(?::|%3A){_KIND}(?::|%3A){_ID}"
_END = r"/?(?:[?#].*)?$"
#: re.ASCII: in Unicode mode `\d` and `\w` take other scripts' digits and letters (an id "٢٠"
#: is no post's, and its URL is not ASCII), and IGNORECASE folds "\u212a" to "k".
_FLAGS = re.IGNORECASE | re.ASCII
#: The one spelling of each URN kind (URLs in the wild vary the case).
_KINDS = {"activity": "activity", "share": "share", "ugcpost": "ugcPost"}
DEFAULT_KIND = "activity"

WWW = "https://www.linkedin.com"

#: The embed's post card (also the public post page's) and its parts.
READY = 'article[data-activity-urn], [data-test-id="main-feed-activity-embed-card__commentary"]'
#: The embed's notices: an error card, or the sign-in wall LinkedIn shows guests.
GONE = ('[data-test-id="embed-error"], .embed-error, .authwall-join-form, '
        '[data-test-id="authwall"]')

_LOGIN = ("sign in", "join linkedin", "join now", "log in", "login")
_PRIVATE = ("private", "only visible", "connections", "not public", "restricted")
_DELETED = ("cannot be displayed", "can't be displayed", "deleted", "removed",
            "no longer available", "doesn't exist", "does not exist", "not found")


def urn_kind(url: str) -> str:
    """The URN kind a LinkedIn URL names (`activity` when it names none)."""
    m = re.search(r"urn(?::|%3A)li(?::|%3A)(activity|share|ugcPost)(?::|%3A)", url,
                  re.IGNORECASE)
    if m is None:
        m = re.search(r"-(activity|share|ugcPost)-\d{15,20}", url, re.IGNORECASE)
    return _KINDS[m.group(1).lower()] if m else DEFAULT_KIND


def classify_notice(detail: str) -> tuple[CaptureStatus, str]:
    """What a LinkedIn "post unavailable" notice means (its text is the reason)."""
    detail = " ".join(detail.split())
    low = unquote(detail).lower().replace("\u2019", "'")
    if any(word in low for word in _LOGIN):
        return CaptureStatus.UNAVAILABLE, f"login wall: {detail}"
    if any(word in low for word in _PRIVATE):
        return CaptureStatus.UNAVAILABLE, f"not public: {detail}"
    if any(word in low for word in _DELETED):
        return CaptureStatus.DELETED, f"LinkedIn shows: {detail}"
    return CaptureStatus.UNAVAILABLE, detail or "LinkedIn shows the post as unavailable"


class LinkedIn(Platform):
    name: ClassVar[str] = "linkedin"
    url_patterns = (
        # /posts/<vanity>_<slug>-activity-<id>-<code>: the vanity before the first '_'
        # The code after the id is a few characters: bounded, since each "-activity-<id>" in a
        # long slug otherwise scanned the rest of the URL (quadratic: 50 KB took seconds).
        re.compile(rf"{_START}{_HOSTS}/posts/[^/?#_]+_(?:[^/?#]*-)?{_KIND}-{_ID}"
                   rf"(?:-[\w-]{{0,64}})?{_END}", _FLAGS),
        re.compile(rf"{_START}{_HOSTS}/(?:embed/)?feed/update/{_URN}{_END}", _FLAGS),
    )
    examples = (
        Example("https://www.linkedin.com/posts/harbour-city-council_flood-update-activity-"
                "7245123456789012480-Xk3q?utm_source=share&utm_medium=member_desktop",
                "7245123456789012480"),
        Example("https://www.linkedin.com/posts/prytaneum-partners_activity-"
                "7378805658780930048-_bo9", "7378805658780930048"),
        Example("https://linkedin.com/posts/jdoe_ai-ugcPost-7322563857183313921-AbCd/",
                "7322563857183313921"),
        Example("https://www.linkedin.com/feed/update/urn:li:activity:7245123456789012480/",
                "7245123456789012480"),
        Example("https://www.linkedin.com/feed/update/urn:li:share:7245123455912345600",
                "7245123455912345600"),
        Example("https://www.linkedin.com/feed/update/urn%3Ali%3AugcPost%3A7322563857183313921",
                "7322563857183313921"),
        Example("https://www.linkedin.com/embed/feed/update/urn:li:share:7245123455912345600"
                "?collapsed=1", "7245123455912345600"),
        Example("https://www.linkedin.com/embed/feed/update/urn:li:ugcPost:7322563857183313921",
                "7322563857183313921"),
        Example("https://uk.linkedin.com/posts/jdoe_update-activity-7245123456789012480-a1B2",
                "7245123456789012480"),
        Example("https://www.linkedin.com/in/jdoe/", None),
        Example("https://www.linkedin.com/company/harbour-city-council/", None),
        Example("https://www.linkedin.com/company/harbour-city-council/posts/?feedView=all",
                None),
        Example("https://www.linkedin.com/shareArticle?mini=true&url=https%3A%2F%2Fnews.example"
                ".org%2Fa&title=Floods", None),
        Example("https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Fwww.linkedin"
                ".com%2Ffeed%2Fupdate%2Furn%3Ali%3Aactivity%3A7245123456789012480", None),
        Example("https://www.linkedin.com/pulse/flood-defences-what-went-wrong-jane-doe/", None),
        Example("https://www.linkedin.com/feed/", None),
        Example("https://www.linkedin.com.evil.example/feed/update/urn:li:activity:"
                "7245123456789012480", None),
    )

    # -- discovery -----------------------------------------------------------------------
    # Only iframes: src, or a lazy loader's copy; WordPress figures around them are walked
    # into, and a bare post URL in a WordPress embed figure is found by discover.py itself.
    embed_markup = (EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),)
    id_pattern = re.compile(r"\d{15,20}", re.ASCII)

    # -- identity ------------------------------------------------------------------------
    def match_url(self, url: str) -> PostRef | None:
        """As the base class, but the canonical URL keeps the URN kind the URL names."""
        for pattern in self.url_patterns:
            m = pattern.match(url.strip())
            if m:
                kind = _KINDS[m["kind"].lower()]
                return PostRef(self.name, m["id"], self.urn_url(m["id"], kind))
        return None

    def urn_url(self, post_id: str, kind: str = DEFAULT_KIND) -> str:
        return f"{WWW}/feed/update/urn:li:{kind}:{post_id}/"

    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        return self.urn_url(post_id)

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        return []  # no public no-login data endpoint: the embed render decides

    def embed_url(self, post: PostRef) -> str:
        return f"{WWW}/embed/feed/update/urn:li:{urn_kind(post.url)}:{post.post_id}"

    def pages(self, post: PostRef) -> list[PageSpec]:
        # The public post page: evidence when LinkedIn shows it to guests, often only a
        # sign-in wall; never deciding the status.
        return embed_and_post_page(self.embed_url(post), post.url, READY, GONE)

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        return None

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail)
