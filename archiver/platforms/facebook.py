"""Facebook: post, video and photo URLs, the SDK and plugin embeds, and the plugin render.

Facts (see PLATFORMS.md): publishers paste the SDK's `div.fb-post` / `div.fb-video` with
`data-href` and a fallback `blockquote.fb-xfbml-parse-ignore` whose `cite` may name another
URL (data-href wins: it is what the SDK renders), or an iframe to
`facebook.com/plugins/post.php?href=<encoded URL>` (`plugins/video.php` for videos), or
`amp-facebook data-href`. The plugin pages render without login: they are both the data
(their HTML, read here) and the render. oEmbed needs an app token, so it is not used.

Identity: the numeric id when the URL has one (story_fbid, fbid, v, /posts/, /videos/),
else the URL path (`<page>/posts/pfbid...`). Each URL form keeps its own canonical URL, as
the plugin to use (post or video) follows from it. fb.watch links are short links (one
recorded redirect lookup by the pipeline names the post). Not posts: share and sharer
links, and the page / like / comments plugins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import parse_qs, quote, urlsplit

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

_FB = r"^(?:https?:)?//(?:(?:www|m|mbasic|web|touch|mobile|business)\.)?facebook\.com"
_NUM = r"\d{5,25}"
_PFBID = r"pfbid[A-Za-z0-9]{10,100}"
#: A page's vanity name or numeric id; never one of Facebook's own path words, nor a "." or
#: ".." segment (a canonical URL holding one is not fetched as written).
_PAGE = (r"(?!(?:groups|watch|photo|photos|reel|share|sharer|dialog|plugins|events|hashtag"
         r"|pages|people|login|story\.php|permalink\.php|photo\.php|profile\.php|video\.php"
         r"|\.\.?)(?:[/?#]|$))[A-Za-z0-9.\-]{1,80}")
_END = r"(?:[/?#].*)?$"
_Q = r"(?:[^#]*&)?"  # any query parameters before the one looked for
_WWW = "https://www.facebook.com"
_PLUGIN = re.compile(r"^(?:https?:)?//(?:(?:www|m|web)\.)?facebook\.com/(?:v\d+\.\d+/)?"
                     r"plugins/(?:post|video)\.php\?", re.IGNORECASE | re.ASCII)

PLUGINS = {"post": f"{_WWW}/plugins/post.php", "video": f"{_WWW}/plugins/video.php"}
DATA_NAMES = {"post": "post-plugin.html", "video": "video-plugin.html"}
READY = 'div[role="article"]'  # the post card in the plugin, screenshotted
GONE = '[role="alert"], form#login_form'  # the plugin's notice, or the login page's form


@dataclass(frozen=True)
class _Form:
    """One URL form: its pattern, and how its post id and canonical URL are written."""

    pattern: re.Pattern[str]
    post_id: str  # str.format template over the pattern's groups
    url: str
    url_without_user: str = ""  # when the optional `user` group did not match

    def ref(self, platform: str, m: re.Match[str]) -> PostRef:
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        template = self.url if "user" in groups or not self.url_without_user \
            else self.url_without_user
        return PostRef(platform, self.post_id.format(**groups), template.format(**groups),
                       groups.get("user"))


def _form(pattern: str, post_id: str, url: str, url_without_user: str = "") -> _Form:
    # re.ASCII: in Unicode mode `\d` takes other scripts' digits (an id "٢٠" is no post's, and
    # its URL is not ASCII), and IGNORECASE folds "\u212a" to "k" and "\u017f" to "s".
    return _Form(re.compile(_FB + pattern, re.IGNORECASE | re.ASCII), post_id, url,
                 url_without_user)


_FORMS: tuple[_Form, ...] = (
    _form(rf"/(?P<user>{_PAGE})/posts/(?P<id>{_NUM}){_END}",
          "{id}", _WWW + "/{user}/posts/{id}"),
    _form(rf"/(?P<id>(?P<user>{_PAGE})/posts/{_PFBID}){_END}", "{id}", _WWW + "/{id}"),
    _form(rf"/(?:permalink|story)\.php\?(?={_Q}story_fbid=(?P<id>{_NUM})(?:[&#]|$))"
          rf"(?:(?={_Q}id=(?P<user>\d{{1,25}})(?:[&#]|$)))?",
          "{id}", _WWW + "/{user}/posts/{id}", _WWW + "/permalink.php?story_fbid={id}"),
    _form(rf"/(?:permalink|story)\.php\?(?={_Q}story_fbid=(?P<id>{_PFBID})(?:[&#]|$))"
          rf"(?={_Q}id=(?P<user>\d{{1,25}})(?:[&#]|$))",
          "{user}/posts/{id}", _WWW + "/{user}/posts/{id}"),
    _form(rf"/groups/(?P<group>(?!\.\.?/)[A-Za-z0-9.\-]{{1,80}})/(?:posts|permalink)/(?P<id>{_NUM})"
          rf"{_END}", "{id}", _WWW + "/groups/{group}/posts/{id}"),
    _form(rf"/(?:watch/?|video\.php)\?(?={_Q}v=(?P<id>{_NUM})(?:[&#]|$))",
          "{id}", _WWW + "/watch/?v={id}"),
    _form(rf"/(?P<user>{_PAGE})/videos/(?:[^/?#]{{1,200}}/)?(?P<id>{_NUM}){_END}",
          "{id}", _WWW + "/{user}/videos/{id}"),
    _form(rf"/reel/(?P<id>{_NUM}){_END}", "{id}", _WWW + "/reel/{id}"),
    _form(rf"/photo(?:\.php|/)?\?(?={_Q}fbid=(?P<id>{_NUM})(?:[&#]|$))",
          "{id}", _WWW + "/photo/?fbid={id}"),
    _form(rf"/{_PAGE}/photos/(?:(?:a|pcb|pb)\.[\d.]{{1,60}}/)?(?P<id>{_NUM}){_END}",
          "{id}", _WWW + "/photo/?fbid={id}"),
)


def kind_of(post: PostRef) -> str:
    """Which plugin renders the post: 'video' for videos and reels, else 'post'."""
    path = urlsplit(post.url).path
    return "video" if re.search(r"/(?:videos|watch|reel)(?:/|$)", path) else "post"


class Facebook(Platform):
    name: ClassVar[str] = "facebook"
    short_link_hosts = frozenset({"fb.watch"})
    url_patterns = tuple(form.pattern for form in _FORMS)
    examples = (
        Example("https://www.facebook.com/HarbourCityCouncilEx/posts/10160123456789012",
                "10160123456789012", "HarbourCityCouncilEx"),
        Example("https://m.facebook.com/HarbourCityCouncilEx/posts/10160123456789012/?ref=embed",
                "10160123456789012", "HarbourCityCouncilEx"),
        Example("https://www.facebook.com/permalink.php?story_fbid=10160987654321098"
                "&id=100064123456789", "10160987654321098", "100064123456789"),
        Example("https://m.facebook.com/story.php?id=100064123456789&story_fbid=10160987654321098"
                "&mibextid=abc", "10160987654321098", "100064123456789"),
        Example("https://www.facebook.com/permalink.php?story_fbid=10160987654321098",
                "10160987654321098"),
        Example("https://www.facebook.com/HarbourCityCouncilEx/posts/"
                "pfbid02Xk7sWqLmN3bVcR8tYh5JpQ4eZ1aF6gD9uK2wE3rT7yU8iO0pL1mN2bV3cX",
                "HarbourCityCouncilEx/posts/"
                "pfbid02Xk7sWqLmN3bVcR8tYh5JpQ4eZ1aF6gD9uK2wE3rT7yU8iO0pL1mN2bV3cX",
                "HarbourCityCouncilEx"),
        Example("https://www.facebook.com/permalink.php?story_fbid="
                "pfbid0aBcDeFgHiJkLmNoPqRsTuVwXyZ123456789&id=100064123456789",
                "100064123456789/posts/pfbid0aBcDeFgHiJkLmNoPqRsTuVwXyZ123456789",
                "100064123456789"),
        Example("https://www.facebook.com/watch/?v=1234567890123456", "1234567890123456"),
        Example("https://www.facebook.com/watch?v=1234567890123456&ref=sharing",
                "1234567890123456"),
        Example("https://www.facebook.com/HarbourFireRescueEx/videos/1234567890123456/",
                "1234567890123456", "HarbourFireRescueEx"),
        Example("https://web.facebook.com/HarbourFireRescueEx/videos/quay-street-rescue/"
                "1234567890123456/", "1234567890123456", "HarbourFireRescueEx"),
        Example("https://www.facebook.com/reel/987654321098765", "987654321098765"),
        Example("https://www.facebook.com/photo/?fbid=10160999888777666&set=a.10150111222333444",
                "10160999888777666"),
        Example("https://www.facebook.com/photo.php?fbid=10160999888777666&set=a.101&type=3",
                "10160999888777666"),
        Example("https://mbasic.facebook.com/HarbourCityCouncilEx/photos/a.10150111222333444/"
                "10160999888777666/", "10160999888777666"),
        Example("https://www.facebook.com/groups/harbourresidents/posts/2345678901234567/",
                "2345678901234567"),
        Example("https://www.facebook.com/HarbourCityCouncilEx", None),
        Example("https://www.facebook.com/HarbourCityCouncilEx/posts/", None),
        Example("https://www.facebook.com/profile.php?id=100064123456789", None),
        Example("https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fnews.example.org%2F",
                None),
        Example("https://www.facebook.com/sharer.php?u=https://www.facebook.com/"
                "HarbourCityCouncilEx/posts/10160123456789012", None),
        Example("https://www.facebook.com/share/p/1AbCdEfGhIj/", None),
        Example("https://www.facebook.com/dialog/share?app_id=87741124305&href=https%3A%2F%2F"
                "news.example.org%2F", None),
        Example("https://www.facebook.com/plugins/page.php?href=https%3A%2F%2Fwww.facebook.com"
                "%2FHarbourCityCouncilEx&tabs=timeline", None),
        Example("https://www.facebook.com/plugins/like.php?href=https%3A%2F%2Fwww.facebook.com"
                "%2FHarbourCityCouncilEx%2Fposts%2F10160123456789012", None),
        Example("https://www.facebook.com/plugins/comments.php?href=https%3A%2F%2Fnews.example"
                ".org%2F", None),
        Example("https://fb.watch/nXy7AbC1dE/", None),
        Example("https://www.facebook.com/watch/", None),
        Example("https://www.facebook.com/groups/harbourresidents/", None),
        Example("https://www.facebook.com.evil.example/HarbourCityCouncilEx/posts/"
                "10160123456789012", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        # The SDK's widgets (script-driven, as FoundIn.SCRIPT says); `fb-page`, `fb-like`,
        # `fb-comments` are not posts and are not declared. The fallback blockquote is
        # inside, so it is not read again.
        EmbedMarkup("div", FoundIn.SCRIPT, classes=frozenset({"fb-post", "fb-video"}),
                    url_attrs=("data-href",), claims=True),
        # That fallback alone (the div lost): the post only if `cite` names one, so a page
        # plugin's fallback (`cite` is the page) is not an embed.
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE,
                    classes=frozenset({"fb-xfbml-parse-ignore"}), url_attrs=("cite",)),
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
        EmbedMarkup("amp-facebook", FoundIn.IFRAME, url_attrs=("data-href",), claims=True),
    )

    def match_url(self, url: str) -> PostRef | None:
        url = url.strip()
        for form in _FORMS:
            m = form.pattern.match(url)
            if m:
                return form.ref(self.name, m)
        return None

    def match_embed_url(self, url: str) -> PostRef | None:
        """A plugin URL shows the post its `href` names; a post URL shows itself."""
        url = url.strip()
        if _PLUGIN.match(url):
            href = parse_qs(urlsplit(url).query).get("href", [""])[0]
            return self.match_url(href) if href else None
        return self.match_url(url)

    # -- identity ------------------------------------------------------------------------
    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        if "/" in post_id:
            return f"{_WWW}/{post_id}"
        if author:
            return f"{_WWW}/{author}/posts/{post_id}"
        return f"{_WWW}/permalink.php?story_fbid={post_id}"

    # -- capture -------------------------------------------------------------------------
    def plugin_url(self, post: PostRef) -> str:
        return (f"{PLUGINS[kind_of(post)]}?href={quote(post.url, safe='')}"
                "&show_text=true&width=500")

    def data_requests(self, post: PostRef) -> list[DataRequest]:
        return [DataRequest(DATA_NAMES[kind_of(post)], self.plugin_url(post), "text/html")]

    def pages(self, post: PostRef) -> list[PageSpec]:
        # Logged out, a post page shows the post under a login banner, or only a login
        # wall: evidence of what the public sees, never deciding the status.
        return embed_and_post_page(self.plugin_url(post), post.url, READY, GONE)

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        exchange = responses.get(DATA_NAMES[kind_of(post)])
        if exchange is None:
            return None  # not fetched (the error is in the manifest): the render decides
        verdict = http_verdict(exchange, "the plugin")
        if verdict is not None:
            return verdict
        doc = parse_html(exchange.body)
        if render_decides(exchange, doc, GONE):
            return None  # a notice or a login page: the render decides, by gone_status
        card = doc.select_one(READY)
        if card is None:
            return None  # a page we do not recognise: the render decides
        links = [attr(a, "href") or "" for a in card.select("a[href]")]
        own = [h for h in links if re.search(r"/posts/|story_fbid=|/videos/|[?&]v=|fbid=", h)]
        if post.post_id.isdigit() and own and not any(post.post_id in h for h in own):
            return PostData(CaptureStatus.FAILED, "the plugin answered for another post")
        profile = card.select_one("a.profileLink")
        utime = attr(card.select_one("abbr[data-utime]"), "data-utime")
        media = [attr(m, "src") or attr(m, "poster")
                 for m in card.select("img.scaledImageFitWidth, video")]
        return PostData(
            CaptureStatus.LIVE,
            None,
            text=text_of(card.select_one('[data-testid="post_message"]')),
            author=_handle(attr(profile, "href")) or post.author,
            author_name=text_of(profile),
            created_at=datetime.fromtimestamp(int(utime), tz=UTC).isoformat().replace(
                "+00:00", "Z") if utime and utime.isdigit() else None,
            media=tuple(m for m in media if m),
        )

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail)


def _handle(href: str | None) -> str | None:
    """The page name (or profile id) a profile link points at."""
    if not href:
        return None
    parts = urlsplit(href)
    if parts.path.rstrip("/") == "/profile.php":
        return parse_qs(parts.query).get("id", [None])[0]
    segment = parts.path.strip("/").split("/")[0]
    return segment or None
