"""Reddit: post permalinks, the listing JSON and oEmbed, and the embed.reddit.com render.

Facts (see PLATFORMS.md): publishers paste `blockquote.reddit-embed-bq` (before 2023:
`blockquote.reddit-card`; comment embeds: `div.reddit-embed`) holding links to the post,
its author (`/user/<name>/`) and its subreddit, then `embed.reddit.com/widgets.js`, which
replaces the quote by an iframe to `embed.reddit.com/r/<sub>/comments/<id>/<slug>/?embed=
true...` (the older script built `www.redditmedia.com/r/...` iframes; that host now
forwards to embed.reddit.com path for path). AMP pages use `amp-reddit data-src`.

Identity: post_id is the base36 post id. A comment permalink
(`/r/<sub>/comments/<id>/<slug>/<comment>/`, `/comment/<comment>/`) names the post it is
under: that post is what we archive (the comment's URL stays in the embed's markup, and
the embed's `author` is whom it shows: the commenter). The subreddit is kept in the
canonical URL when known, the way Twitter keeps the author, because the embed render needs
it: `embed.reddit.com/comments/<id>/` answers a "page not found" shell (reported by other
tools, unverified here). Without a known subreddit the render uses `r/all`, on the report
(unverified) that the player selects the post by id alone; if that is wrong, the capture
fails, naming the render's notice.

Data: `www.reddit.com/comments/<id>/.json` answers `[listing of the post, listing of
comments]` without login (when Reddit does not block the client); `removed_by_category`,
`[deleted]` and `[removed]` tell deletion by the author from removal by moderators or
Reddit (both recorded as deleted, the reason says which); a restricted subreddit answers
403 / 404 with a `reason` (private, quarantined, gated, banned). Anything less definite
(network error, 429, a 403 block page) leaves the decision to the embed render.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

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

_HOSTS = (r"(?:(?:(?:www|old|new|np|m|i|amp|sh|ns|embed)\.)?reddit\.com"
          r"|(?:www\.)?redditmedia\.com)")
_SUB = r"[A-Za-z0-9][A-Za-z0-9_]{1,20}"
_USER = r"[A-Za-z0-9_-]{3,20}"
_ID = r"[A-Za-z0-9]{1,13}"  # base36
_TAIL = r"(?:[/?#].*)?$"
_START = r"^(?:https?:)?//"
#: re.ASCII: in Unicode mode IGNORECASE folds "\u212a" to "k" and "\u017f" to "s": ids that
#: are no post's, and canonical URLs that are not ASCII.
_FLAGS = re.IGNORECASE | re.ASCII

WWW = "https://www.reddit.com"
EMBED = "https://embed.reddit.com"
OEMBED = "https://www.reddit.com/oembed"
#: The location used for the embed render when the subreddit is unknown (see above).
UNKNOWN_SUB = "all"

#: The post card of the embed render and of the new post page (<shreddit-post id="t3_...">).
READY = 'shreddit-post[id^="t3_"]'
#: Reddit's notices: post deleted or removed, community private, quarantined or banned,
#: and the not-found shell.
GONE = ('[data-testid="post-unavailable"], [data-testid="community-unavailable"], '
        '[data-testid="page-not-found"], shreddit-forbidden')

#: `removed_by_category` values, and what they mean for the capture.
_BY_AUTHOR = frozenset({"deleted", "author"})
_BY_MODS = frozenset({"moderator", "automod_filtered"})
#: Reddit's reasons for refusing a subreddit's content (403 / 404 answers).
_RESTRICTED = {
    "private": "{where} is a private community",
    "quarantined": "{where} is quarantined (needs a logged-in opt-in)",
    "gated": "{where} is gated (needs a logged-in opt-in)",
    "banned": "{where} was banned by Reddit",
}


def _location(url: str) -> str | None:
    """`r/<sub>` or `user/<name>` from a canonical URL's path, if it names one."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) >= 2 and parts[0] in ("r", "user"):
        return f"{parts[0]}/{parts[1]}"
    return None


def _iso(value: Any) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(exchange: HttpExchange) -> Any:
    try:
        return json.loads(exchange.body)
    except ValueError:
        return None


def _media(data: dict[str, Any]) -> tuple[str, ...]:
    """Image, gallery and video URLs of a post (i.redd.it, v.redd.it, previews)."""
    out: list[str] = []
    url = data.get("url_overridden_by_dest") or data.get("url")
    if isinstance(url, str) and (data.get("post_hint") == "image"
                                 or urlsplit(url).hostname == "i.redd.it"):
        out.append(url)
    metadata = data.get("media_metadata")
    if isinstance(metadata, dict):
        for item in metadata.values():
            source = item.get("s") if isinstance(item, dict) else None
            if isinstance(source, dict) and isinstance(source.get("u"), str):
                out.append(source["u"])
    video = ((data.get("secure_media") or data.get("media") or {}).get("reddit_video") or {})
    if isinstance(video, dict) and isinstance(video.get("fallback_url"), str):
        out.append(video["fallback_url"])
    return tuple(dict.fromkeys(out))


def removal(data: dict[str, Any]) -> str | None:
    """Why a post is gone, from its listing data; None when it is not."""
    category = data.get("removed_by_category")
    selftext, sub = data.get("selftext"), data.get("subreddit") or "?"
    if category in _BY_AUTHOR or selftext == "[deleted]":
        return "deleted by its author"
    if category in _BY_MODS or (category is None and selftext == "[removed]"):
        return f"removed by the moderators of r/{sub}"
    if category:
        return f"removed by Reddit (removed_by_category: {category})"
    return None


class Reddit(Platform):
    name: ClassVar[str] = "reddit"
    url_patterns = (
        # /r/<sub>/comments/<id>/<slug>/[<comment>/], /user/<name>/comments/<id>/ (profile
        # posts), on every Reddit host, embed.reddit.com and the legacy www.redditmedia.com
        re.compile(rf"{_START}{_HOSTS}/(?:r/(?P<sub>{_SUB})|(?:user|u)/(?P<user>{_USER}))"
                   rf"/comments/(?P<id>{_ID}){_TAIL}", _FLAGS),
        re.compile(rf"{_START}{_HOSTS}/(?:comments|gallery)/(?P<id>{_ID}){_TAIL}", _FLAGS),
        re.compile(rf"{_START}redd\.it/(?P<id>{_ID})/?(?:[?#].*)?$", _FLAGS),
    )
    examples = (
        Example("https://www.reddit.com/r/europe/comments/1fq8k2z/floods_in_the_valley/",
                "1fq8k2z"),
        Example("https://reddit.com/r/europe/comments/1fq8k2z/floods_in_the_valley/?utm_source"
                "=share&utm_medium=web2x", "1fq8k2z"),
        Example("https://old.reddit.com/r/AskHistorians/comments/5m2b2y/", "5m2b2y"),
        Example("https://new.reddit.com/r/europe/comments/1fq8k2z", "1fq8k2z"),
        Example("https://np.reddit.com/r/europe/comments/1fq8k2z/x/", "1fq8k2z"),
        Example("https://redd.it/1fq8k2z", "1fq8k2z"),
        Example("https://www.reddit.com/comments/1fq8k2z/", "1fq8k2z"),
        Example("https://www.reddit.com/gallery/1fq8k2z", "1fq8k2z"),
        # a comment permalink names the post it is under (post_id is the post's)
        Example("https://www.reddit.com/r/europe/comments/1fq8k2z/floods_in_the_valley/lp3x9qa/",
                "1fq8k2z"),
        Example("https://www.reddit.com/r/europe/comments/1fq8k2z/comment/lp3x9qa/", "1fq8k2z"),
        Example("https://www.reddit.com/user/ValleyWatch/comments/1fr0a1b/levels_update/",
                "1fr0a1b", "ValleyWatch"),
        Example("https://embed.reddit.com/r/europe/comments/1fq8k2z/floods_in_the_valley/"
                "?embed=true&ref_source=embed&ref=share&utm_medium=widgets", "1fq8k2z"),
        Example("https://www.redditmedia.com/r/europe/comments/1fq8k2z/floods/?ref_source=embed"
                "&ref=share&embed=true", "1fq8k2z"),
        Example("https://www.reddit.com/r/europe/", None),
        Example("https://www.reddit.com/r/europe/top/?t=week", None),
        Example("https://www.reddit.com/user/ValleyWatch/", None),
        Example("https://www.reddit.com/u/ValleyWatch", None),
        Example("https://www.reddit.com/r/europe/s/Xk2mPq9LrT", None),  # app share link
        Example("https://www.reddit.com/submit?url=https%3A%2F%2Fnews.example.org%2F&title=x",
                None),
        Example("https://www.reddit.com/r/europe/wiki/index", None),
        Example("https://www.reddit.com.evil.example/r/europe/comments/1fq8k2z/", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        # Pasted markup: the post link (its text is the title), "by u/<name>", "in <sub>".
        # The element is Reddit's own, so it is an embed even if its link is broken.
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE, classes=frozenset({"reddit-embed-bq"}),
                    link_pattern=re.compile(r"/comments/", re.IGNORECASE),
                    author_link=re.compile(r"reddit\.com/(?:user|u)/(?P<user>[\w-]{3,20})/?$",
                                           re.IGNORECASE), claims=True),
        # Before 2023; "reddit-card" is a common class name, so only with a post link.
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE, classes=frozenset({"reddit-card"}),
                    link_pattern=re.compile(r"/comments/", re.IGNORECASE)),
        # The comment embed of the same era (comment-embed.js), only with a post link.
        EmbedMarkup("div", FoundIn.BLOCKQUOTE, classes=frozenset({"reddit-embed"}),
                    link_pattern=re.compile(r"/comments/", re.IGNORECASE)),
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
        EmbedMarkup("amp-reddit", FoundIn.IFRAME, url_attrs=("data-src",), claims=True),
    )
    id_pattern = re.compile(_ID)

    # -- identity ------------------------------------------------------------------------
    def match_url(self, url: str) -> PostRef | None:
        """As the base class, but the canonical URL keeps the subreddit (or profile)."""
        for pattern in self.url_patterns:
            m = pattern.match(url.strip())
            if m:
                post_id = self.normalise_id(m["id"])
                sub, user = m.groupdict().get("sub"), m.groupdict().get("user")
                where = f"r/{sub}/" if sub else f"user/{user}/" if user else ""
                return PostRef(self.name, post_id, f"{WWW}/{where}comments/{post_id}/", user)
        return None

    def normalise_id(self, raw: str) -> str:
        return raw.lower()

    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        # The author alone does not say where the post is (a subreddit or the profile).
        return f"{WWW}/comments/{post_id}/"

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        return [
            DataRequest("post.json", f"{WWW}/comments/{post.post_id}/.json?raw_json=1&limit=100"),
            DataRequest("oembed.json", f"{OEMBED}?url={quote(post.url, safe='')}"),
        ]

    def embed_url(self, post: PostRef) -> str:
        where = _location(post.url) or f"r/{UNKNOWN_SUB}"
        return f"{EMBED}/{where}/comments/{post.post_id}/?embed=true&showmedia=true&depth=1"

    def pages(self, post: PostRef) -> list[PageSpec]:
        # Logged out, the post page is evidence of what the public sees (it may be a
        # block page or a login wall), never deciding the status.
        return embed_and_post_page(self.embed_url(post), post.url, READY, GONE)

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        listing = responses.get("post.json")
        if listing is None:
            return None  # not fetched (the error is in the manifest): the render decides
        body = _json(listing)
        if listing.status in (403, 404) and isinstance(body, dict) and body.get("reason"):
            reason = str(body["reason"])
            where = (_location(post.url) or "the post's community").replace("user/", "u/")
            template = _RESTRICTED.get(reason, "Reddit refuses the post (reason: {reason})")
            return PostData(CaptureStatus.UNAVAILABLE, template.format(where=where, reason=reason))
        if listing.status == 404:
            return PostData(CaptureStatus.DELETED, "Reddit reports no such post (HTTP 404)")
        if listing.status != 200 or not isinstance(body, list) or not body:
            return None  # 429, a block page, a login page ...: the render decides
        children = ((body[0] or {}).get("data") or {}).get("children") \
            if isinstance(body[0], dict) else None
        if not children:
            return PostData(CaptureStatus.DELETED, "Reddit answered an empty listing")
        first = children[0] if isinstance(children[0], dict) else {}
        data = first.get("data") if first.get("kind") == "t3" else None
        if not isinstance(data, dict):
            return PostData(CaptureStatus.FAILED, "unexpected listing (no t3 post)")
        if str(data.get("id", "")).lower() != post.post_id:
            return PostData(CaptureStatus.FAILED, "Reddit answered for another post id")
        author = data.get("author") if data.get("author") != "[deleted]" else None
        created = _iso(data.get("created_utc"))
        gone = removal(data)
        if gone is not None:
            return PostData(CaptureStatus.DELETED, gone, author=author, created_at=created)
        title, selftext = str(data.get("title") or ""), str(data.get("selftext") or "")
        return PostData(
            CaptureStatus.LIVE,
            None,
            text=f"{title}\n\n{selftext}" if selftext else title,
            author=author,
            created_at=created,
            media=_media(data),
        )

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        """The embed's notice, when the listing JSON could not decide."""
        low = detail.lower()
        if "deleted" in low or "removed" in low or "not found" in low:
            return CaptureStatus.DELETED, detail
        return CaptureStatus.UNAVAILABLE, detail or "Reddit shows the post as unavailable"
