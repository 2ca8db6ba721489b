"""What Meta's public embed renders say about a post (Instagram, Facebook, Threads).

Logged out, the three platforms answer an embed request with an HTML render, never JSON:
the post (author, text, media, date), a short notice that it cannot be shown, or a login
page. Each platform module says where those are in its render (CSS selectors, shared by
the data reading and by the browser's wait); this module holds what they share.

Who decides. The raw answer (fetched without JavaScript or cookies) decides only what is
about the post and certain: the post itself (live, with its text), no such post (HTTP 404
or 410), and a request that failed (429, other errors, not HTML). A notice or a login page
in it may be the platform's answer to such a client rather than a fact about the post
(Instagram has been reported to serve its broken-embed notice to clients without
JavaScript), so it decides nothing: the browser's render does, and the platform's
`gone_status` reads the notice it shows, by the ordered keyword rules below.

Meta's notices often do not say why a post is gone: "It may have been removed or the
privacy settings of the post may have changed" names both. Such a notice is recorded as
unavailable ("removed or not public"), never as deleted: a capture claims a deletion only
when the notice names nothing else.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from archiver.models import CaptureStatus, HttpExchange, PostData
from archiver.platforms.notices import NoticeRule as NoticeRule
from archiver.platforms.notices import one_line as one_line

LOGIN_WALL = "login wall"
_LOGIN_PATH = re.compile(r"^https?://[^/]+/(?:accounts/)?login(?:\.php)?(?:[/?#]|$)", re.I)


#: In order: the first rule whose words appear wins. An age gate or a region block often
#: also says "log in", so they come before the login wall.
RULES: tuple[NoticeRule, ...] = (
    NoticeRule(("age-restricted", "age restricted", "18 or older", "18 years", "old enough",
                "confirm your age", "verify your age"), CaptureStatus.UNAVAILABLE,
               "age-restricted"),
    NoticeRule(("in your country", "in your region", "your location", "country or region"),
               CaptureStatus.UNAVAILABLE, "region-blocked"),
    NoticeRule(("log in", "log into", "login", "sign in"), CaptureStatus.UNAVAILABLE,
               LOGIN_WALL),
)
#: Words that say the post is gone; "unavailable" alone does not: it heads every notice.
_REMOVED = ("deleted", "removed", "no longer available", "doesn't exist", "does not exist",
            "broken")
_PRIVATE = ("private", "privacy", "who can see", "small group of people", "only shared")


def classify_notice(detail: str) -> tuple[CaptureStatus, str]:
    """(status, reason) for a "cannot show this post" notice; the reason quotes it."""
    shown = one_line(detail)
    words = shown.lower().replace("\u2019", "'")
    for rule in RULES:
        if any(word in words for word in rule.words):
            return rule.status, (LOGIN_WALL if rule.label == LOGIN_WALL
                                 else f"{rule.label}: {shown}")
    removed = any(word in words for word in _REMOVED)
    private = any(word in words for word in _PRIVATE)
    if removed and private:
        return CaptureStatus.UNAVAILABLE, f"removed or not public: {shown}"
    if private:
        return CaptureStatus.UNAVAILABLE, f"private: {shown}"
    if removed:
        return CaptureStatus.DELETED, f"deleted: {shown}"
    return CaptureStatus.UNAVAILABLE, shown or "the platform shows the post as unavailable"


def is_login_url(url: str) -> bool:
    """Meta's login pages: /accounts/login/ (Instagram), /login/ and /login.php."""
    return bool(_LOGIN_PATH.match(url))


def http_verdict(exchange: HttpExchange, source: str) -> PostData | None:
    """The status the HTTP answer alone decides; None when the HTML must be read."""
    if exchange.status == 429:
        return PostData(CaptureStatus.FAILED, f"rate limited (HTTP 429 from {source})")
    if exchange.status in (404, 410):
        return PostData(CaptureStatus.DELETED,
                        f"no such post ({source} answered HTTP {exchange.status})")
    if exchange.status != 200:
        return PostData(CaptureStatus.FAILED, f"{source} answered HTTP {exchange.status}")
    if exchange.content_type not in ("text/html", "application/xhtml+xml"):
        return PostData(CaptureStatus.FAILED,
                        f"{source} answered {exchange.content_type or 'no type'}, not HTML")
    return None


def parse_html(body: bytes) -> BeautifulSoup:
    return BeautifulSoup(body.decode("utf-8", "replace"), "lxml")


def render_decides(exchange: HttpExchange, doc: BeautifulSoup, gone: str) -> bool:
    """The raw answer is a login page or shows a notice (`gone`, the render's selector):
    it decides nothing, the browser's render does (see the module's docstring)."""
    redirected_to_login = is_login_url(exchange.final_url) or any(
        is_login_url(u) for u in exchange.redirects)
    return redirected_to_login or doc.select_one(gone) is not None


def text_of(node: Tag | None, drop: str = "") -> str | None:
    """The text a render shows in `node`: <br> a line break, a paragraph a blank line,
    whitespace within lines collapsed; the elements matching `drop` left out."""
    if node is None:
        return None
    node = BeautifulSoup(str(node), "lxml")  # a copy: the caller's tree stays whole
    if drop:
        for unwanted in node.select(drop):
            unwanted.decompose()
    for br in node.find_all("br"):
        br.replace_with("\n")
    for block in node.find_all(["p", "div"]):
        block.insert_after("\n\n" if block.name == "p" else "\n")
    lines = [" ".join(line.split()) for line in node.get_text().splitlines()]
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text) or None


def attr(node: Tag | None, name: str) -> str | None:
    value = node.get(name) if node is not None else None
    if isinstance(value, list):
        return " ".join(value)
    return value or None
