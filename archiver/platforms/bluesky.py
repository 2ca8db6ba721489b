"""Bluesky: posts at `bsky.app/profile/<handle-or-did>/post/<rkey>`, the public AppView,
and the embed render.

Facts (see PLATFORMS.md): publishers paste `blockquote.bluesky-embed` with
`data-bluesky-uri="at://did:plc:.../app.bsky.feed.post/<rkey>"` and `data-bluesky-cid`;
every link in it names the account by its DID, the handle shows only in the byline's link
text (`&mdash; Name (<a>@handle</a>) <a href=".../post/<rkey>">date</a>`).
`embed.bsky.app/static/embed.js` replaces it by `div.bluesky-embed > iframe` to
`embed.bsky.app/embed/<did>/app.bsky.feed.post/<rkey>?id=..`, a small app that reads the
post from `public.api.bsky.app` (app.bsky.feed.getPostThread) and renders it, a "Post not
found" notice, or a notice that the author opted out of logged-out viewing
(`!no-unauthenticated` label).

post_id = `<handle-or-did>/<rkey>`, whichever the markup names (handles in lower case): a
post reached once by handle and once by DID is two ids until someone resolves the handle,
which discovery does not do (it makes no requests).
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar
from urllib.parse import quote

from archiver.models import CaptureStatus, FoundIn, HttpExchange, PostData, PostRef
from archiver.platforms.base import (
    LAZY_SRC_ATTRS,
    DataRequest,
    EmbedMarkup,
    Example,
    PageSpec,
    Platform,
)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HANDLE = rf"(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"
DID = r"did:[a-z]+:[A-Za-z0-9._:%-]{1,2048}"
#: A record key: "." and ".." are not ones (the atproto spec forbids them), and a URL
#: holding them would not be fetched as written (clients resolve dot segments).
RKEY = r"(?!\.\.?(?![A-Za-z0-9._~:-]))[A-Za-z0-9._~:-]{1,512}"
_WHO = rf"(?:{DID}|{HANDLE})"
_COLLECTION = r"app\.bsky\.feed\.post"
#: ASCII: in Unicode mode IGNORECASE lets "\u017f" match "s" and "\u212a" match "k", which
#: would make ids that are no post's, and canonical URLs that are not ASCII.
_FLAGS = re.IGNORECASE | re.ASCII

API = "https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread"
EMBED_RENDER = "https://embed.bsky.app/embed/{who}/app.bsky.feed.post/{rkey}"
OPT_OUT = "!no-unauthenticated"  # the author asked not to be shown to logged-out viewers
HIDDEN_LABELS = frozenset({"!takedown", "!hide", "!suspend"})


def classify_notice(text: str) -> tuple[CaptureStatus, str]:
    """What a notice of the embed render means."""
    detail = " ".join(text.split()) or "Bluesky shows no post"
    low = detail.lower()
    if "not be displayed" in low or "signed in" in low or "sign in" in low:
        return CaptureStatus.UNAVAILABLE, f"login wall: {detail}"
    if "not found" in low or "deleted" in low:
        return CaptureStatus.DELETED, detail
    if "blocked" in low:
        return CaptureStatus.UNAVAILABLE, f"blocked: {detail}"
    return CaptureStatus.UNAVAILABLE, detail


class Bluesky(Platform):
    name: ClassVar[str] = "bluesky"
    url_patterns = (
        re.compile(rf"^(?:https?:)?//(?:(?:www|staging|main)\.)?bsky\.app/profile/"
                   rf"(?P<id>(?P<user>{_WHO})/post/{RKEY})/?(?:[?#].*)?$", _FLAGS),
        re.compile(rf"^at://(?P<id>(?P<user>{_WHO})/{_COLLECTION}/{RKEY})$", re.ASCII),
    )
    examples = (
        Example("https://bsky.app/profile/jay.bsky.team/post/3l6oveex3ii2l",
                "jay.bsky.team/3l6oveex3ii2l", "jay.bsky.team"),
        Example("https://bsky.app/profile/Jay.Bsky.Team/post/3l6oveex3ii2l?ref_src=embed",
                "jay.bsky.team/3l6oveex3ii2l", "jay.bsky.team"),
        Example("https://bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur/post/3laz2p7kfo22a",
                "did:plc:z72i7hdynmk6r22z27h6tvur/3laz2p7kfo22a"),
        Example("at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3laz2p7kfo22a",
                "did:plc:z72i7hdynmk6r22z27h6tvur/3laz2p7kfo22a"),
        Example("at://bsky.app/app.bsky.feed.post/3laz2p7kfo22a", "bsky.app/3laz2p7kfo22a",
                "bsky.app"),
        Example("https://bsky.app/profile/jay.bsky.team", None),
        Example("https://bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur", None),
        Example("https://bsky.app/profile/jay.bsky.team/feed/whats-hot", None),
        Example("https://bsky.app/search?q=%23bluesky", None),
        Example("at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.actor.profile/self", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        # Pasted markup: the at:// URI, else the last post link (the date ends the byline).
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE, classes=frozenset({"bluesky-embed"}),
                    url_attrs=("data-bluesky-uri",),
                    link_pattern=re.compile(r"bsky\.app/profile/[^/?#]+/post/", re.IGNORECASE),
                    claims=True, reads_text=True),
        # Rendered by embed.js (or pasted): embed.bsky.app/embed/<did>/app.bsky.feed.post/<rkey>
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
    )
    embed_url_patterns = (
        re.compile(rf"^(?:https?:)?//embed\.bsky\.app/embed/(?P<id>(?P<user>{_WHO})/"
                   rf"{_COLLECTION}/{RKEY})/?(?:[?#].*)?$", _FLAGS),
    )
    id_pattern = re.compile(rf"(?:at://)?{_WHO}/(?:(?:post|{_COLLECTION})/)?{RKEY}", _FLAGS)
    handle_pattern = re.compile(HANDLE)
    byline_pattern = re.compile(
        rf"[—–-]{{1,2}}\s*(?P<name>[^\n]{{0,100}}?)\s*\(@(?P<handle>{HANDLE})\)")

    # -- identity ------------------------------------------------------------------------
    def normalise_id(self, raw: str) -> str:
        parts = raw.strip().removeprefix("at://").split("/")
        who, rkey = parts[0], parts[-1]
        return f"{who if who.lower().startswith('did:') else who.lower()}/{rkey}"

    def normalise_author(self, raw: str | None) -> str | None:
        if raw is None or raw.lower().startswith("did:"):
            return None  # a DID is not a handle
        return raw.lower()

    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        who, _, rkey = post_id.partition("/")
        return f"https://bsky.app/profile/{who}/post/{rkey}"

    @staticmethod
    def at_uri(post: PostRef) -> str:
        who, _, rkey = post.post_id.partition("/")
        return f"at://{who}/app.bsky.feed.post/{rkey}"

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        uri = quote(self.at_uri(post), safe=":/")
        return [DataRequest("thread.json", f"{API}?uri={uri}&depth=0")]

    def pages(self, post: PostRef) -> list[PageSpec]:
        # embed.js builds this URL from the DID; a handle is what we have when the article
        # linked by handle (the render resolves it through the same API).
        who, _, rkey = post.post_id.partition("/")
        container = "#app > div:has(time[datetime])"
        return [PageSpec(
            role="embed",
            url=EMBED_RENDER.format(who=who, rkey=rkey),
            ready=container,
            gone='#app p:has-text("not found"), #app p:has-text("not be displayed")',
            element=container,
        )]

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData:
        got = responses.get("thread.json")
        if got is None:
            return PostData(CaptureStatus.FAILED, "getPostThread was not fetched")
        if got.status == 429:
            return PostData(CaptureStatus.FAILED, "rate limited (HTTP 429)")
        try:
            data: Any = json.loads(got.body)
        except ValueError:
            return PostData(CaptureStatus.FAILED,
                            f"getPostThread answered HTTP {got.status}, not JSON")
        if not isinstance(data, dict):
            return PostData(CaptureStatus.FAILED, "getPostThread answered an unexpected shape")
        if got.status != 200:
            return _error(got.status, data)
        thread = data.get("thread")
        if not isinstance(thread, dict):
            return PostData(CaptureStatus.FAILED, "getPostThread answered no thread")
        kind = str(thread.get("$type", ""))
        if kind.endswith("#notFoundPost") or thread.get("notFound"):
            return PostData(CaptureStatus.DELETED, "the AppView reports the post as not found")
        if kind.endswith("#blockedPost") or thread.get("blocked"):
            return PostData(CaptureStatus.UNAVAILABLE, "blocked (the AppView answers blockedPost)")
        view = thread.get("post")
        if not isinstance(view, dict) or not isinstance(view.get("record"), dict):
            return PostData(CaptureStatus.FAILED, f"unexpected thread view ({kind or 'no type'})")
        if str(view.get("uri", "")).rsplit("/", 1)[-1] != post.post_id.rpartition("/")[2]:
            return PostData(CaptureStatus.FAILED, "getPostThread answered for another post")
        return _read_post(view)

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail)


def _error(status: int, data: dict[str, Any]) -> PostData:
    """An XRPC error answer: {"error": "NotFound", "message": "Post not found: at://..."}."""
    error, message = str(data.get("error", "")), str(data.get("message", ""))
    shown = f"{error}: {message}" if message else error or f"HTTP {status}"
    low = f"{error} {message}".lower()
    if error == "NotFound" or "not found" in low:
        return PostData(CaptureStatus.DELETED, f"the AppView reports no such post ({shown})")
    if "block" in low:
        return PostData(CaptureStatus.UNAVAILABLE, f"blocked ({shown})")
    if any(word in low for word in ("takedown", "deactivated", "suspended")):
        return PostData(CaptureStatus.UNAVAILABLE, f"account unavailable ({shown})")
    if "resolve handle" in low:
        return PostData(CaptureStatus.UNAVAILABLE,
                        f"the handle no longer resolves: renamed or deleted account ({shown})")
    return PostData(CaptureStatus.FAILED, f"getPostThread answered HTTP {status} ({shown})")


def _labels(item: dict[str, Any]) -> set[str]:
    return {str(label.get("val")) for label in item.get("labels") or []
            if isinstance(label, dict)}


def _read_post(view: dict[str, Any]) -> PostData:
    record, author = view["record"], view.get("author") or {}
    status, reason = CaptureStatus.LIVE, None
    if OPT_OUT in _labels(author):
        status, reason = CaptureStatus.UNAVAILABLE, (
            "login wall: the author asked for their posts not to be shown to logged-out "
            "viewers or on other sites (label !no-unauthenticated); the API still answered")
    elif hidden := (_labels(view) | _labels(author)) & HIDDEN_LABELS:
        status, reason = CaptureStatus.UNAVAILABLE, f"hidden by moderation ({min(hidden)})"
    return PostData(
        status,
        reason,
        text=str(record.get("text", "")),
        author=author.get("handle"),
        author_name=author.get("displayName") or None,
        created_at=record.get("createdAt"),
        media=_media(view.get("embed")),
    )


def _media(embed: Any) -> tuple[str, ...]:
    """Image, video and link-card URLs of a post view's `embed` (recordWithMedia too)."""
    if not isinstance(embed, dict):
        return ()
    urls: list[str] = []
    for image in embed.get("images") or []:
        if isinstance(image, dict) and (image.get("fullsize") or image.get("thumb")):
            urls.append(str(image.get("fullsize") or image.get("thumb")))
    if embed.get("playlist"):
        urls.append(str(embed["playlist"]))
    external = embed.get("external")
    if isinstance(external, dict) and external.get("thumb"):
        urls.append(str(external["thumb"]))
    return (*urls, *_media(embed.get("media")))
