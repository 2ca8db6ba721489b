"""Telegram: public channel posts (`t.me/<channel>/<id>`), their widget, and its notices.

Facts (see PLATFORMS.md): publishers paste `<script src="https://telegram.org/js/
telegram-widget.js?22" data-telegram-post="channel/123">` (older code: a
`blockquote.telegram-post` with the same attribute). The script inserts, just before
itself, an `iframe#telegram-post-channel-123` to `https://t.me/channel/123?embed=1` and
stays in the page. The same script draws the comments (`data-telegram-discussion`, an
iframe with `&discussion=1`), the login button (`data-telegram-login`) and share buttons:
none of those is an embedded post.

The iframe's page is also the data: server-rendered HTML with the message in
`.tgme_widget_message[data-post]` (text in `.tgme_widget_message_text`, author in
`.tgme_widget_message_owner_name`, `<time datetime>`, photos as background images), or a
`.tgme_widget_message_error` notice ("Post not found", ...). post_id = `channel/123`, the
channel name in lower case (Telegram names are case-insensitive).
"""

from __future__ import annotations

import re
from typing import ClassVar

from bs4 import BeautifulSoup, Tag

from archiver.models import CaptureStatus, FoundIn, HttpExchange, PostData, PostRef
from archiver.platforms.base import (
    LAZY_SRC_ATTRS,
    DataRequest,
    EmbedMarkup,
    Example,
    PageSpec,
    Platform,
)
from archiver.platforms.htmltext import html_text

_HOSTS = r"(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)"
#: t.me paths that are not channels (c/ and s/ are too short to be channel names anyway).
_RESERVED = ("joinchat", "addstickers", "addemoji", "addtheme", "addlist", "share", "proxy",
             "socks", "login", "setlanguage", "confirmphone", "invoice", "boost", "iv")
_CHANNEL = rf"(?!(?:{'|'.join(_RESERVED)})/)[A-Za-z][A-Za-z0-9_]{{3,31}}"
#: A link to a comment under a post, or the comments widget of a post, is not the post.
_QUERY = r"(?:\?(?!(?:[^#]*&)?(?:discussion|comment)=)[^#]*)?(?:#.*)?$"
_BACKGROUND = re.compile(r"background-image:\s*url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")

EMBED_RENDER = "https://t.me/{post_id}?embed=1"
#: re.ASCII: in Unicode mode IGNORECASE lets "\u017f" and "\u0131" stand for "s" and "i" in a
#: channel name (ids that are no post's, URLs that are not ASCII), and `\d` other digits.
_FLAGS = re.IGNORECASE | re.ASCII


def classify_notice(text: str) -> tuple[CaptureStatus, str]:
    """What a Telegram "post unavailable" notice (widget error, app-only page) means."""
    detail = " ".join(text.split()) or "Telegram shows no post"
    low = detail.lower().replace("\u2019", "'")
    if "not found" in low:
        return CaptureStatus.DELETED, f"{detail} (deleted, or it never existed)"
    if "private" in low:
        return CaptureStatus.UNAVAILABLE, f"private channel: {detail}"
    if "can't be displayed" in low or "blocked" in low or "violat" in low:
        return CaptureStatus.UNAVAILABLE, f"blocked: {detail}"
    if "open telegram" in low or "view in telegram" in low or "telegram app" in low:
        return CaptureStatus.UNAVAILABLE, f"shown only in the Telegram app: {detail}"
    return CaptureStatus.UNAVAILABLE, detail


class Telegram(Platform):
    name: ClassVar[str] = "telegram"
    url_patterns = (
        re.compile(rf"^(?:https?:)?//{_HOSTS}/(?:s/)?(?P<id>(?P<user>{_CHANNEL})/\d{{1,10}})"
                   rf"/?{_QUERY}", _FLAGS),
    )
    examples = (
        Example("https://t.me/durov/43", "durov/43", "durov"),
        Example("https://t.me/s/Durov/43", "durov/43", "durov"),
        Example("https://telegram.me/nexta_live/71231?single", "nexta_live/71231", "nexta_live"),
        Example("https://t.me/durov/43?embed=1&userpic=true", "durov/43", "durov"),
        Example("http://www.t.me/UkraineNow/102030/", "ukrainenow/102030", "ukrainenow"),
        Example("https://t.me/durov", None),
        Example("https://t.me/s/durov", None),
        Example("https://t.me/joinchat/AAAAAEkkpD8b0bYLo7Qx1A", None),
        Example("https://t.me/+Fh3kQm9iZ2ZkYjQy", None),
        Example("https://t.me/c/1234567890/55", None),  # a private channel's link
        Example("https://t.me/durov/43?comment=1056", None),  # a comment, not the post
        Example("https://t.me/durov/43?embed=1&discussion=1", None),  # the comments widget
        Example("https://t.me/share/url?url=https%3A%2F%2Fnews.example.org", None),
        Example("https://telegram.org/js/telegram-widget.js?22", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        # The widget script itself; data-telegram-discussion / -login / -share-url are read
        # by nobody, so those widgets never count.
        EmbedMarkup("script", FoundIn.SCRIPT, id_attrs=("data-telegram-post",)),
        # telegram-widget.js also accepts a blockquote.telegram-post (replaced by the iframe).
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE, classes=frozenset({"telegram-post"}),
                    id_attrs=("data-telegram-post",), claims=True),
        # The rendered widget, or an iframe pasted by hand: t.me/<channel>/<id>?embed=1.
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
    )
    id_pattern = re.compile(rf"{_CHANNEL}/\d{{1,10}}", _FLAGS)

    # -- identity ------------------------------------------------------------------------
    def normalise_id(self, raw: str) -> str:
        channel, _, number = raw.strip().rpartition("/")
        return f"{channel.lower()}/{int(number)}"

    def normalise_author(self, raw: str | None) -> str | None:
        return raw.lower() if raw else None

    def post_from_id(self, raw_id: str, author: str | None = None) -> PostRef | None:
        # the channel is the author of a channel post; the id names it
        return super().post_from_id(raw_id, author or raw_id.strip().partition("/")[0])

    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        return f"https://t.me/{post_id}"

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        return [DataRequest("widget.html", EMBED_RENDER.format(post_id=post.post_id),
                            "text/html")]

    def pages(self, post: PostRef) -> list[PageSpec]:
        return [PageSpec(
            role="embed",
            url=EMBED_RENDER.format(post_id=post.post_id) + "&userpic=true",
            ready=".tgme_widget_message[data-post]",
            gone=".tgme_widget_message_error",
            element=".tgme_widget_message[data-post]",
        )]

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData:
        got = responses.get("widget.html")
        if got is None:
            return PostData(CaptureStatus.FAILED, "the widget page was not fetched")
        if got.status == 429:
            return PostData(CaptureStatus.FAILED, "rate limited (HTTP 429)")
        if got.status != 200:
            return PostData(CaptureStatus.FAILED, f"the widget page answered HTTP {got.status}")
        soup = BeautifulSoup(got.body, "lxml")
        error = soup.select_one(".tgme_widget_message_error")
        if error is not None:
            return PostData(*classify_notice(error.get_text(" ")))
        message = soup.select_one(".tgme_widget_message[data-post]")
        if message is None:
            page = soup.select_one(".tgme_page_description, .tgme_page_action")
            if page is not None:  # t.me's "open in the app" landing page instead of a widget
                return PostData(*classify_notice(page.get_text(" ")))
            return PostData(CaptureStatus.FAILED, "the widget page shows no message")
        shown = str(message.get("data-post", ""))
        if self.id_pattern and self.id_pattern.fullmatch(shown) \
                and self.normalise_id(shown) != post.post_id:
            return PostData(CaptureStatus.FAILED, f"the widget answered for another post ({shown})")
        return PostData(
            CaptureStatus.LIVE,
            None,
            text=_message_text(message),
            author=post.post_id.partition("/")[0],
            author_name=_text_of(message.select_one(
                ".tgme_widget_message_owner_name, .tgme_widget_message_author_name")),
            created_at=_datetime(message),
            media=_media(message),
        )

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail)


def _text_of(node: Tag | None) -> str | None:
    if node is None:
        return None
    return " ".join(node.get_text(" ").split()) or None


def _message_text(message: Tag) -> str | None:
    # the post's own text, not the quoted text of the message it replies to
    for node in message.select(".tgme_widget_message_text"):
        if node.find_parent(class_="tgme_widget_message_reply") is None:
            return html_text(node) or None
    return None


def _datetime(message: Tag) -> str | None:
    time = message.select_one(".tgme_widget_message_date time[datetime], time[datetime]")
    return str(time["datetime"]) if time is not None else None


def _media(message: Tag) -> tuple[str, ...]:
    urls: list[str] = []
    for node in message.select(".tgme_widget_message_photo_wrap, "
                               ".tgme_widget_message_video_thumb"):
        found = _BACKGROUND.search(str(node.get("style", "")))
        if found:
            urls.append(found.group(1))
    for video in message.select("video[src]"):
        urls.append(str(video["src"]))
    return tuple(dict.fromkeys(urls))
