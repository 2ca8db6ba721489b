"""Instagram: post URLs (/p/, /reel/, /tv/), the pasted blockquote, and the embed render.

Facts (see PLATFORMS.md): publishers paste `blockquote.instagram-media` with
`data-instgrm-permalink` (v12 .. v14; v7 carries the link only inside), then
`//www.instagram.com/embed.js`, which replaces it by an iframe to `/p/<code>/embed/captioned/`.
That page needs no login and is both the data (its HTML, read here) and the render. Its
post sits in `div.Embed` (`.UsernameText`, `.Caption`, `.EmbeddedMediaImage`, the class
names InstaFix and others read); a post it cannot show is a `div.EmbedIsBroken` with the
reason in `.ebmMessage`, which the render's notice decides (clients without JavaScript
have been answered with it for live posts; see meta_embeds). oEmbed needs an app token.
"""

from __future__ import annotations

import re
from typing import ClassVar

from archiver.models import CaptureStatus, FoundIn, HttpExchange, PostData, PostRef
from archiver.platforms.base import (
    LAZY_SRC_ATTRS,
    DataRequest,
    EmbedMarkup,
    Example,
    PageSpec,
    Platform,
)
from archiver.platforms.meta_embeds import (
    attr,
    classify_notice,
    http_verdict,
    parse_html,
    render_decides,
    text_of,
)

_HOSTS = (r"(?:(?:www|m)\.)?(?:instagram\.com|instagr\.am)"
          r"|(?:(?:www|d|g)\.)?(?:ddinstagram|kkinstagram)\.com")
_CODE = r"[A-Za-z0-9_-]{5,48}"
_KIND = r"(?:p|reels?|tv)"

EMBED = "https://www.instagram.com/p/{code}/embed/captioned/"
DATA_NAME = "embed-captioned.html"
#: The post in the render, and the element screenshotted (the card, not the page).
READY = "div.Embed[data-media-type]"
#: What the render shows instead of the post: the broken-embed notice, or a login form.
GONE = "div.EmbedIsBroken .ebmMessage, form#loginForm"


class Instagram(Platform):
    name: ClassVar[str] = "instagram"
    url_patterns = (
        re.compile(rf"^(?:https?:)?//(?:{_HOSTS})/(?:[A-Za-z0-9._]{{1,30}}/)?{_KIND}"
                   rf"/(?P<id>{_CODE})(?:[/?#].*)?$",
                   re.IGNORECASE | re.ASCII),  # ASCII: no "\u212a" for "k", "\u017f" for "s"
    )
    examples = (
        Example("https://www.instagram.com/p/CzK3pLqN8xR/?utm_source=ig_embed&utm_campaign=loading",
                "CzK3pLqN8xR"),
        Example("https://www.instagram.com/reel/Cy7Hn2WqL0a/", "Cy7Hn2WqL0a"),
        Example("https://instagram.com/tv/B8pQw3yHk2M", "B8pQw3yHk2M"),
        Example("https://www.instagram.com/reels/Cy7Hn2WqL0a/", "Cy7Hn2WqL0a"),
        Example("https://www.instagram.com/cityfloodwatch_ex/p/CzK3pLqN8xR/", "CzK3pLqN8xR"),
        Example("//www.instagram.com/p/BXq2LmVhS7t/embed/captioned/?cr=1&v=14", "BXq2LmVhS7t"),
        Example("https://m.instagram.com/p/CzK3pLqN8xR/", "CzK3pLqN8xR"),
        Example("https://instagr.am/p/BXq2LmVhS7t/", "BXq2LmVhS7t"),
        Example("https://www.ddinstagram.com/p/CzK3pLqN8xR/", "CzK3pLqN8xR"),
        Example("https://kkinstagram.com/reel/Cy7Hn2WqL0a/", "Cy7Hn2WqL0a"),
        Example("https://www.instagram.com/cityfloodwatch_ex/", None),
        Example("https://www.instagram.com/cityfloodwatch_ex/embed/", None),
        Example("https://www.instagram.com/explore/tags/flood/", None),
        Example("https://www.instagram.com/stories/cityfloodwatch_ex/3212345678901234567/", None),
        Example("https://www.instagram.com/p/", None),
        Example("https://www.instagram.com/accounts/login/?next=%2Fp%2FCzK3pLqN8xR%2F", None),
        Example("https://www.instagram.com.evil.example/p/CzK3pLqN8xR/", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        # Pasted markup: v12/v14 name the post in data-instgrm-permalink; v7 only links it.
        # The links' text is the caption or "A post shared by Name (@handle)", not a date:
        # v7/v12 show the date in a <time>; v14 shows none.
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE, classes=frozenset({"instagram-media"}),
                    url_attrs=("data-instgrm-permalink",),
                    link_pattern=re.compile(rf"/{_KIND}/{_CODE}", re.IGNORECASE),
                    claims=True, reads_text=True, date_link=False,
                    boilerplate=frozenset({"view this post on instagram",
                                           "voir cette publication sur instagram",
                                           "ver esta publicación en instagram",
                                           "diesen beitrag auf instagram ansehen",
                                           "visualizza questo post su instagram",
                                           "ver essa foto no instagram"})),
        # Rendered by embed.js (and pasted by hand): /p/<code>/embed[/captioned]/
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
        EmbedMarkup("amp-instagram", FoundIn.IFRAME, id_attrs=("data-shortcode",), claims=True),
    )
    id_pattern = re.compile(_CODE)
    # "A post shared by Name (@handle)" (localized); the name may be empty. The handle
    # allows dots, unlike Twitter's.
    byline_pattern = re.compile(
        r"^[^\n]{0,40}?(?:shared by|partagée par|geteilt von|compartida de|condiviso da"
        r"|compartilhada por)\s*(?P<name>[^\n()]{0,100}?)\s*\(@(?P<handle>[A-Za-z0-9._]{1,30})\)",
        re.IGNORECASE | re.MULTILINE)

    # -- identity ------------------------------------------------------------------------
    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        # /p/<code>/ serves posts, reels and IGTV alike; the handle is not part of it
        return f"https://www.instagram.com/p/{post_id}/"

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        return [DataRequest(DATA_NAME, EMBED.format(code=post.post_id), "text/html")]

    def pages(self, post: PostRef) -> list[PageSpec]:
        return [
            PageSpec(role="embed", url=EMBED.format(code=post.post_id), ready=READY, gone=GONE,
                     element="div.Embed"),
            # Logged out, the post page is often a login wall: kept as evidence of what the
            # public sees, never deciding the status.
            PageSpec(role="post-page", url=post.url, ready="main article",
                     gone="form#loginForm, main h2", element=None, required=False),
        ]

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        exchange = responses.get(DATA_NAME)
        if exchange is None:
            return None  # not fetched (the error is in the manifest): the render decides
        verdict = http_verdict(exchange, "the embed endpoint")
        if verdict is not None:
            return verdict
        doc = parse_html(exchange.body)
        if render_decides(exchange, doc, GONE):
            return None  # a notice or a login page: the render decides, by gone_status
        embed = doc.select_one(READY)
        username = text_of(embed.select_one(".UsernameText")) if embed else None
        if embed is None or not username:
            return None  # a page we do not recognise: the render decides
        links = [attr(a, "href") or "" for a in embed.select("a[href]")]
        post_links = [h for h in links if re.search(rf"/{_KIND}/{_CODE}", h)]
        if post_links and not any(f"/{post.post_id}" in h for h in post_links):
            return PostData(CaptureStatus.FAILED, "the embed endpoint answered for another post")
        media = [attr(m, "src") or attr(m, "poster") for m in
                 embed.select("img.EmbeddedMediaImage, video.EmbeddedMediaVideo")]
        return PostData(
            CaptureStatus.LIVE,
            None,
            text=text_of(embed.select_one(".Caption"), drop=".CaptionUsername, .CaptionComments"),
            author=username,
            created_at=attr(embed.select_one("time[datetime]"), "datetime"),
            media=tuple(m for m in media if m),
        )

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail)
