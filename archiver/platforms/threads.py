"""Threads: post URLs (/@user/post/<code>, /t/<code>), the pasted blockquote, the embed render.

Facts (see PLATFORMS.md): publishers paste `blockquote.text-post-media` with
`data-text-post-permalink` and a "View on Threads" link, then `threads.net/embed.js`,
which replaces it by an iframe to `/@user/post/<code>/embed/`. The Graph oEmbed endpoint
needs a token, so the embed render is the only public, no-login source: its HTML is kept as
the data and read when it carries the post (author, text, date); when it does not (a
client-side render), the browser's render alone decides. The shortcode is the post id, as
on Instagram. Threads moved from threads.net to threads.com in 2025; both are read.
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
    embed_and_post_page,
)
from archiver.platforms.meta_embeds import (
    attr,
    classify_notice,
    http_verdict,
    parse_html,
    render_decides,
    text_of,
)

_HOSTS = r"(?:www\.)?threads\.(?:net|com)"
_CODE = r"[A-Za-z0-9_-]{5,48}"
_USER = r"[A-Za-z0-9._]{1,30}"
_WWW = "https://www.threads.net"

DATA_NAME = "threads-embed.html"
READY = "div.TextPostEmbed"  # the post card in the render, screenshotted
GONE = "div.TextPostUnavailable, form[action*='/login']"


class Threads(Platform):
    name: ClassVar[str] = "threads"
    url_patterns = (
        re.compile(rf"^(?:https?:)?//{_HOSTS}/(?:@(?P<user>{_USER})/)?(?:post|t)/(?P<id>{_CODE})"
                   r"(?:[/?#].*)?$",
                   re.IGNORECASE | re.ASCII),  # ASCII: no "\u212a" for "k", "\u017f" for "s"
    )
    examples = (
        Example("https://www.threads.net/@cityfloodwatch_ex/post/C0aBcDeFgHi",
                "C0aBcDeFgHi", "cityfloodwatch_ex"),
        Example("https://www.threads.com/@cityfloodwatch_ex/post/C0aBcDeFgHi?xmt=AQGz",
                "C0aBcDeFgHi", "cityfloodwatch_ex"),
        Example("https://threads.net/@harbour.fire_ex/post/C0zYxWvUtSr/embed/",
                "C0zYxWvUtSr", "harbour.fire_ex"),
        Example("https://www.threads.net/t/C0aBcDeFgHi/", "C0aBcDeFgHi"),
        Example("https://www.threads.com/post/C0aBcDeFgHi", "C0aBcDeFgHi"),
        Example("https://www.threads.net/@cityfloodwatch_ex", None),
        Example("https://www.threads.net/@cityfloodwatch_ex/replies", None),
        Example("https://www.threads.net/intent/post?text=Read%20this&url=https%3A%2F%2F"
                "news.example.org%2F", None),
        Example("https://www.threads.com/search?q=flood", None),
        Example("https://www.threads.net/login?next=%2F%40cityfloodwatch_ex", None),
        Example("https://www.threads.net.evil.example/@cityfloodwatch_ex/post/C0aBcDeFgHi", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        # Pasted markup: the permalink attribute, else the "View on Threads" link inside.
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE, classes=frozenset({"text-post-media"}),
                    url_attrs=("data-text-post-permalink",),
                    link_pattern=re.compile(rf"/(?:post|t)/{_CODE}", re.IGNORECASE),
                    claims=True, reads_text=True, date_link=False,
                    boilerplate=frozenset({"view on threads", "voir sur threads",
                                           "ver en threads", "auf threads ansehen",
                                           "visualizza su threads", "ver no threads"})),
        # Rendered by embed.js: /@user/post/<code>/embed/
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
    )
    id_pattern = re.compile(_CODE)

    # -- identity ------------------------------------------------------------------------
    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        if author:
            return f"{_WWW}/@{author}/post/{post_id}"
        return f"{_WWW}/t/{post_id}"  # Threads redirects it to the author's URL

    # -- capture -------------------------------------------------------------------------
    def embed_url(self, post: PostRef) -> str:
        return f"{post.url.rstrip('/')}/embed/"

    def data_requests(self, post: PostRef) -> list[DataRequest]:
        return [DataRequest(DATA_NAME, self.embed_url(post), "text/html")]

    def pages(self, post: PostRef) -> list[PageSpec]:
        return embed_and_post_page(self.embed_url(post), post.url, READY, GONE)

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        exchange = responses.get(DATA_NAME)
        if exchange is None:
            return None  # not fetched (the error is in the manifest): the render decides
        verdict = http_verdict(exchange, "the embed render")
        if verdict is not None:
            return verdict
        doc = parse_html(exchange.body)
        if render_decides(exchange, doc, GONE):
            return None  # a notice or a login page: the render decides, by gone_status
        card = doc.select_one(READY)
        username = text_of(card.select_one(".TextPostUsername")) if card else None
        if card is None or not username:
            return None  # rendered client-side, or a page we do not recognise
        links = [attr(a, "href") or "" for a in card.select("a[href]")]
        own = [h for h in links if re.search(rf"/(?:post|t)/{_CODE}", h)]
        if own and not any(f"/{post.post_id}" in h for h in own):
            return PostData(CaptureStatus.FAILED, "the embed render is of another post")
        media = [attr(m, "src") for m in card.select(".TextPostMedia img")]
        return PostData(
            CaptureStatus.LIVE,
            None,
            text=text_of(card.select_one(".TextPostBody")),
            author=username.lstrip("@"),
            created_at=attr(card.select_one("time[datetime]"), "datetime"),
            media=tuple(m for m in media if m),
        )

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail)
