"""TikTok: video URLs, oEmbed, and the v2 embed player.

Markup publishers use (TikTok's "Embed" button and oEmbed `html`): `blockquote.tiktok-embed`
with `cite=".../@user/video/<id>"` and `data-video-id`, holding a `<section>` with the
`@user` link, the caption and the sound link, then `tiktok.com/embed.js`, which replaces it
by an iframe to `tiktok.com/embed/v2/<id>`; hand-made iframes to `tiktok.com/embed/<id>` or
`/player/v1/<id>`; AMP `amp-tiktok` whose `data-src` is the video URL or id (or which wraps a
placeholder blockquote); WordPress `figure.wp-block-embed-tiktok` around the blockquote.
Not embeds: the creator embed (`blockquote.tiktok-embed` with `data-unique-id` and
`data-embed-type="creator"`, no video), profile, tag and sound pages, and short links
(vm.tiktok.com, tiktok.com/t/), which need a redirect to resolve and are handled elsewhere.
The blockquote is not claimed without a video: that is what keeps creator embeds out. The
author comes from the `cite` URL (the paste code always has it); the blockquote's text is
not read as a quote, since it mixes the handle and the sound line with the caption.

What the endpoints answer (TikTok's oEmbed documentation for the live case; failures from
consumers' reports, not verified live from here):
- `www.tiktok.com/oembed?url=<video URL>`: 200 JSON with `title` (the caption, may be
  empty), `author_name` (display name), `author_unique_id` (handle), `author_url`,
  `thumbnail_url`, `embed_product_id` (the video id), `html` (the blockquote). For a
  deleted, private or otherwise unavailable video, and for callers it does not like, it
  answers 400 (sometimes 404) with a generic error: it never says which, so then the
  player decides. A video URL without the handle works as `tiktok.com/@/video/<id>`.
- The player (`tiktok.com/embed/v2/<id>`) shows the author, the poster with a play button,
  the caption and the sound, or "Video currently unavailable"; a second line may say
  more (private, removed, region). Class names are styled-component names
  (`css-<hash>-DivVideoContainer`), so selectors match their stable suffix.
"""

from __future__ import annotations

import re
from typing import ClassVar
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
from archiver.platforms.video_common import (
    NoticeRule,
    classify_notice,
    handle_from,
    json_object,
    text_of,
)

OEMBED = "https://www.tiktok.com/oembed"
EMBED_PAGE = "https://www.tiktok.com/embed/v2"

_ID = r"(?P<id>\d{15,21})"
_TAIL = r"(?:[/?#].*)?$"
_HOST = r"(?:(?:www|m)\.)?tiktok\.com"
#: re.ASCII: in Unicode mode `\d` and `\w` take other scripts' digits and letters (an id "٢٠"
#: is no video's, and its URL is not ASCII), and IGNORECASE folds "\u212a" to "k".
_FLAGS = re.IGNORECASE | re.ASCII
_HANDLE = re.compile(r"tiktok\.com/@(?P<user>[\w.-]{1,30})", re.IGNORECASE)

GONE_RULES = (
    # a player that failed says nothing about the video: the capture could not tell
    NoticeRule(("an error occurred", "something went wrong", "try again later"),
               CaptureStatus.FAILED, "the player failed"),
    NoticeRule(("private",), CaptureStatus.UNAVAILABLE, "private video"),
    NoticeRule(("age-restricted", "age restricted", "confirm your age", "18 or older",
                "not be appropriate", "mature"),
               CaptureStatus.UNAVAILABLE, "age-restricted video"),
    NoticeRule(("your region", "your country", "your location"), CaptureStatus.UNAVAILABLE,
               "region-blocked where the capture ran"),
    NoticeRule(("embedding", "be embedded"), CaptureStatus.UNAVAILABLE,
               "embedding disabled by the owner"),
    NoticeRule(("removed", "deleted", "doesn't exist", "does not exist", "couldn't find",
                "could not find"), CaptureStatus.DELETED, "deleted video"),
)


class TikTok(Platform):
    render_restrictions = True
    name: ClassVar[str] = "tiktok"
    url_patterns = (
        re.compile(rf"^(?:https?:)?//{_HOST}/@(?P<user>[\w.-]{{0,30}})/video/{_ID}{_TAIL}",
                   _FLAGS),
        re.compile(rf"^(?:https?:)?//{_HOST}/(?:embed(?:/v2)?|player/v1)/{_ID}{_TAIL}", _FLAGS),
        re.compile(rf"^(?:https?:)?//m\.tiktok\.com/v/{_ID}\.html(?:[?#].*)?$", _FLAGS),
    )
    examples = (
        Example("https://www.tiktok.com/@scout2015/video/6718335390845095173",
                "6718335390845095173", "scout2015"),
        Example("https://www.tiktok.com/@bbcnews/video/7310000000000000001?is_from_webapp=1"
                "&sender_device=pc&lang=en", "7310000000000000001", "bbcnews"),
        Example("https://tiktok.com/@the.washington.post/video/7310000000000000002",
                "7310000000000000002", "the.washington.post"),
        Example("https://www.tiktok.com/embed/6718335390845095173", "6718335390845095173"),
        Example("https://www.tiktok.com/embed/v2/6718335390845095173?lang=en-US",
                "6718335390845095173"),
        Example("https://www.tiktok.com/player/v1/6718335390845095173?music_info=1",
                "6718335390845095173"),
        Example("https://m.tiktok.com/v/6718335390845095173.html", "6718335390845095173"),
        Example("https://www.tiktok.com/@/video/6718335390845095173", "6718335390845095173"),
        Example("https://vm.tiktok.com/ZMeAbCdEf/", None),
        Example("https://www.tiktok.com/t/ZT8AbCdEf/", None),
        Example("https://www.tiktok.com/@scout2015", None),
        Example("https://www.tiktok.com/@scout2015?refer=embed", None),
        Example("https://www.tiktok.com/tag/foryoupage?refer=embed", None),
        Example("https://www.tiktok.com/music/original-sound-6689804660171082501", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE, classes=frozenset({"tiktok-embed"}),
                    url_attrs=("cite",), id_attrs=("data-video-id",)),
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
        EmbedMarkup("amp-tiktok", FoundIn.IFRAME, url_attrs=("data-src",),
                    id_attrs=("data-src",)),
    )
    id_pattern = re.compile(r"\d{15,21}", re.ASCII)
    #: resolved by the pipeline's one recorded redirect lookup, never matched as posts here
    short_link_hosts = frozenset({"vm.tiktok.com", "vt.tiktok.com"})

    # -- identity ------------------------------------------------------------------------
    def normalise_author(self, raw: str | None) -> str | None:
        return raw or None

    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        return f"https://www.tiktok.com/@{author or ''}/video/{post_id}"

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        return [DataRequest("oembed.json", f"{OEMBED}?url={quote(post.url, safe='')}")]

    def pages(self, post: PostRef) -> list[PageSpec]:
        return [PageSpec(
            role="embed",
            url=f"{EMBED_PAGE}/{post.post_id}?lang=en-US",
            ready='[class*="-DivEmbedContainer"] [class*="-DivVideoContainer"]',
            gone='[class*="-DivErrorContainer"]',
            element='[class*="-DivEmbedContainer"]',
        )]

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        oembed = responses.get("oembed.json")
        if oembed is None:
            return None
        if oembed.status == 429:
            return PostData(CaptureStatus.FAILED, "rate limited (HTTP 429)")
        data = json_object(oembed) if oembed.status == 200 else None
        if data is None or not (data.get("embed_product_id") or data.get("author_url")):
            return None  # 400 / 404 / an error object: TikTok does not say why; the player does
        if str(data.get("embed_product_id") or post.post_id) != post.post_id:
            return PostData(CaptureStatus.FAILED, "oEmbed answered for another video id")
        thumb = text_of(data.get("thumbnail_url"))
        return PostData(
            CaptureStatus.LIVE,
            None,
            text=text_of(data.get("title")),
            author=text_of(data.get("author_unique_id"))
            or handle_from(data.get("author_url"), _HANDLE),
            author_name=text_of(data.get("author_name")),
            media=(thumb,) if thumb else (),
        )

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail, GONE_RULES,
                               "unavailable: deleted or private, TikTok does not say which",
                               "player")
