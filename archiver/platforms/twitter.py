"""Twitter / X: post URLs, the syndication and oEmbed endpoints, and the embed render.

Facts (see PLATFORMS.md): publishers paste `blockquote.twitter-tweet` followed by
`widgets.js`, which replaces it by an iframe to `platform.twitter.com/embed/Tweet.html?id=`.
That page renders the post from `cdn.syndication.twimg.com/tweet-result`, which needs a
token derived from the id (the same formula react-tweet and yt-dlp use).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
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

_HOSTS = r"(?:(?:www|mobile|m)\.)?(?:twitter|x)\.com"
_MIRRORS = r"(?:www\.)?(?:(?:fxtwitter|vxtwitter|fixupx|fixvx|twittpr)\.com|nitter\.net)"
TWITTER_EPOCH_MS = 1288834974657

SYNDICATION = "https://cdn.syndication.twimg.com/tweet-result"
OEMBED = "https://publish.twitter.com/oembed"
EMBED_PAGE = "https://platform.twitter.com/embed/Tweet.html"


def js_radix_string(value: float, radix: int = 36) -> str:
    """`Number.prototype.toString(radix)` as V8 writes it, for a positive float."""
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    integer = math.floor(value)
    fraction = value - integer
    delta = max(math.nextafter(0.0, 1.0), 0.5 * (math.nextafter(value, math.inf) - value))
    digits: list[str] = []
    if fraction >= delta:
        while True:
            fraction *= radix
            delta *= radix
            digit = int(fraction)
            digits.append(chars[digit])
            fraction -= digit
            if (fraction > 0.5 or (fraction == 0.5 and digit & 1)) and fraction + delta > 1:
                # round up, carrying into earlier digits (or the integer part)
                while True:
                    if not digits:
                        integer += 1
                        break
                    last = chars.index(digits.pop())
                    if last + 1 < radix:
                        digits.append(chars[last + 1])
                        break
                break
            if not fraction >= delta:
                break
    int_digits = ""
    n = int(integer)
    while True:
        n, rem = divmod(n, radix)
        int_digits = chars[rem] + int_digits
        if n == 0:
            break
    return int_digits + ("." + "".join(digits) if digits else "")


def syndication_token(tweet_id: str) -> str:
    """The `token` parameter cdn.syndication.twimg.com expects for a tweet id."""
    raw = js_radix_string((int(tweet_id) / 1e15) * math.pi, 36)
    return re.sub(r"(0+|\.)", "", raw)


def snowflake_time(tweet_id: str) -> datetime | None:
    """Creation time encoded in a snowflake id (tweets from late 2010 on), else None."""
    value = int(tweet_id)
    if value < (1 << 22) * 1000:  # pre-snowflake ids carry no time
        return None
    return datetime.fromtimestamp(((value >> 22) + TWITTER_EPOCH_MS) / 1000, tz=UTC)


class Twitter(Platform):
    name: ClassVar[str] = "twitter"
    # re.ASCII throughout: in Unicode mode `\d` takes other scripts' digits (an id "٢٠" is
    # no tweet's, and its URL is not ASCII), and IGNORECASE folds "\u212a" to "k".
    url_patterns = (
        re.compile(
            rf"^(?:https?:)?//{_HOSTS}/(?:#!/)?(?:(?P<user>\w{{1,15}})|i/web|i)"
            r"/status(?:es)?/(?P<id>\d{1,20})(?:[/?#].*)?$",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(
            rf"^(?:https?:)?//{_MIRRORS}/(?P<user>\w{{1,15}})/status(?:es)?/(?P<id>\d{{1,20}})"
            r"(?:[/?#].*)?$",
            re.IGNORECASE | re.ASCII,
        ),
    )
    examples = (
        Example("https://twitter.com/NikolPashinyan/status/1310100737619791965?ref_src=twsrc%5Etfw",
                "1310100737619791965", "NikolPashinyan"),
        Example("https://x.com/LaurenceBroers/status/1310218169743183965", "1310218169743183965",
                "LaurenceBroers"),
        Example("https://mobile.twitter.com/jack/status/20", "20", "jack"),
        Example("https://www.x.com/i/web/status/1585341984679469056", "1585341984679469056"),
        Example("https://twitter.com/jack/statuses/20/photo/1", "20", "jack"),
        Example("https://fxtwitter.com/jack/status/20", "20", "jack"),
        Example("https://nitter.net/jack/status/20", "20", "jack"),
        Example("https://nitter.net.com/jack/status/20", None),
        Example("https://twitter.com/intent/tweet?url=https%3A%2F%2Fexample.org", None),
        Example("https://twitter.com/OvertDefense", None),
        Example("https://twitter.com/hashtag/Arm%C3%A9nie?src=hash", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        # Pasted markup: `<p>` text, `— Name (@handle)`, then the status link whose text is
        # the localized date. The post is the last status link (links in the text come first).
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE,
                    classes=frozenset({"twitter-tweet", "twitter-video"}),
                    link_pattern=re.compile(r"/status(?:es)?/"), claims=True, reads_text=True),
        # Rendered by widgets.js; the iframe's creatorScreenName is the ARTICLE's author, so
        # the embed URL pattern below reads the id only.
        EmbedMarkup("iframe", FoundIn.IFRAME, id_attrs=("data-tweet-id",),
                    url_attrs=LAZY_SRC_ATTRS),
        # widgets.js before 2020 rendered a custom element instead of an iframe.
        EmbedMarkup("twitterwidget", FoundIn.IFRAME, id_attrs=("data-tweet-id",), claims=True),
        EmbedMarkup("amp-twitter", FoundIn.IFRAME, id_attrs=("data-tweetid",), claims=True),
    )
    embed_url_patterns = (
        re.compile(r"^(?:https?:)?//platform\.(?:twitter|x)\.com/embed/(?:Tweet|index)\.html"
                   r"\?(?:[^#]*&)?id=(?P<id>\d{1,20})(?:[&#]|$)", re.IGNORECASE | re.ASCII),
    )
    id_pattern = re.compile(r"\d{1,20}", re.ASCII)
    handle_pattern = re.compile(r"[A-Za-z0-9_]{1,15}")
    byline_pattern = re.compile(
        r"[—–-]{1,2}\s*(?P<name>[^\n]{0,100}?)\s*\(@(?P<handle>[A-Za-z0-9_]{1,15})\)")

    # -- identity ------------------------------------------------------------------------
    short_link_hosts = frozenset({"t.co"})

    def normalise_author(self, raw: str | None) -> str | None:
        if not raw or raw.lower() in {"i", "intent", "hashtag", "search", "home"}:
            return None
        return raw

    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        return f"https://x.com/{author or 'i'}/status/{post_id}"

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        token = syndication_token(post.post_id)
        oembed_target = quote(f"https://twitter.com/{post.author or 'i'}/status/{post.post_id}",
                              safe="")
        return [
            DataRequest("tweet-result.json",
                        f"{SYNDICATION}?id={post.post_id}&lang=en&token={token}"),
            DataRequest("oembed.json", f"{OEMBED}?url={oembed_target}&omit_script=1&dnt=true"),
        ]

    def pages(self, post: PostRef) -> list[PageSpec]:
        return [
            PageSpec(
                role="embed",
                url=f"{EMBED_PAGE}?id={post.post_id}&dnt=true&lang=en",
                ready='article[data-testid="tweet"], article[role="article"]',
                gone='[data-testid="tweet-unavailable"], [data-testid="tombstone"], '
                     '[data-testid="tweet-error"]',
                element='article[data-testid="tweet"], article[role="article"]',
            ),
            PageSpec(
                role="post-page",
                url=post.url,
                ready='article[data-testid="tweet"]',
                gone='[data-testid="error-detail"], [data-testid="emptyState"], '
                     '[data-testid="login-wall"], form[action*="login"], '
                     '[role="alert"]',  # "Something went wrong. Try reloading."
                element=None,
                required=False,
            ),
        ]

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData:
        result = responses.get("tweet-result.json")
        oembed = responses.get("oembed.json")
        if result is None:
            return PostData(CaptureStatus.FAILED, "syndication endpoint not fetched")
        if result.status == 429 or (oembed is not None and oembed.status == 429):
            return PostData(CaptureStatus.FAILED, "rate limited (HTTP 429)")
        if result.status == 404:
            if oembed is not None and oembed.status == 403:
                return PostData(CaptureStatus.UNAVAILABLE, "protected or suspended (oEmbed 403)")
            return PostData(CaptureStatus.DELETED, "syndication and oEmbed report no such post"
                            if oembed is not None and oembed.status == 404
                            else "syndication reports no such post (HTTP 404)")
        if result.status != 200:
            return PostData(CaptureStatus.FAILED, f"syndication answered HTTP {result.status}")
        try:
            data: Any = json.loads(result.body)
        except ValueError:
            return PostData(CaptureStatus.FAILED, "syndication answer is not JSON")
        if not isinstance(data, dict) or not data:
            return PostData(CaptureStatus.DELETED, "syndication answered an empty object")
        kind = data.get("__typename")
        if kind == "TweetTombstone":
            tomb = data.get("tombstone")
            text = tomb.get("text") if isinstance(tomb, dict) else None
            shown = text.get("text") if isinstance(text, dict) else text
            return PostData(CaptureStatus.UNAVAILABLE, str(shown or "tombstone")[:500])
        if kind not in (None, "Tweet") or "text" not in data:
            return PostData(CaptureStatus.FAILED, f"unexpected syndication answer ({kind})")
        if str(data.get("id_str", post.post_id)) != post.post_id:
            return PostData(CaptureStatus.FAILED, "syndication answered for another post id")
        found = data.get("user")
        user: dict[str, Any] = found if isinstance(found, dict) else {}
        details = data.get("mediaDetails")
        media = tuple(str(m.get("media_url_https")) for m in
                      (details if isinstance(details, list) else [])
                      if isinstance(m, dict) and m.get("media_url_https"))
        return PostData(
            CaptureStatus.LIVE,
            None,
            text=str(data.get("text")),
            author=_str(user.get("screen_name")),
            author_name=_str(user.get("name")),
            created_at=_str(data.get("created_at")),
            media=media,
        )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
