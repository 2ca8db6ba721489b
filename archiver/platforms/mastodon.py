"""Mastodon, on any instance: statuses at `https://<instance>/@<user>/<id>`, the REST API,
and the embed render.

Facts (see PLATFORMS.md): publishers paste (4.3+) `blockquote.mastodon-embed
data-embed-url="https://<instance>/@<user>/<id>/embed"` holding only a "Post by
@user@instance / View on Mastodon" link, with the instance's `embed.js`, which replaces it
by `iframe.mastodon-embed` to that URL; before 4.3 they pasted that iframe directly.

Instances are arbitrary hosts, so a Mastodon status is recognised by the URL's shape, never
by a list of instances: `/@user/<digits>` (and `/@user@other.host/<digits>`, a remote
account seen from this instance), `/users/<user>/statuses/<digits>`, the old web UI's
`/web/statuses/<digits>`. That shape is generic, so discovery trusts only the embed forms
(an `/embed` URL in an iframe or in `data-embed-url`), never a bare link; a few big
non-Mastodon sites that also use `/@user/...` paths are excluded outright. Mastodon is
last in the registry for the same reason.

post_id = `<instance host>/<status id>`: ids are local to an instance, so the same post
seen through two instances is two ids (the API's `url` names its origin). Author: the full
handle `user@host`. Without login the API answers 404 alike for deleted and followers-only
statuses, and 401 on instances that require login for the API: then the render decides.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

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

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}\.)+[A-Za-z][A-Za-z0-9-]{{0,62}}"
#: Sites that use /@user/... paths but are not Mastodon (their posts are never /@user/<digits>
#: today; excluded so that a future shape cannot be read as a status).
_OTHER_SITES = (r"(?!(?:[\w-]+\.)*(?:threads\.net|threads\.com|tiktok\.com|medium\.com|"
                 r"youtube\.com|instagram\.com|substack\.com|twitter\.com|x\.com)(?:[:/]|$))")
_USER = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?"
_ACCT = rf"{_USER}(?:@{_HOST})?"
_START = rf"^https?://{_OTHER_SITES}(?P<host>{_HOST})"
_END = r"/?(?:[?#].*)?$"
#: re.ASCII: in Unicode mode `\d` takes other scripts' digits (an id "٢٠" is no status's, and
#: its URL is not ASCII), and IGNORECASE folds "\u212a" to "k" and "\u017f" to "s".
_I = re.IGNORECASE | re.ASCII


def classify_notice(text: str) -> tuple[CaptureStatus, str]:
    """What the instance's error page (or login form) shown instead of a status means."""
    detail = " ".join(text.split()) or "the instance shows no status"
    low = detail.lower().replace("\u2019", "'")
    if any(word in low for word in ("log in", "sign in", "login", "password")):
        return CaptureStatus.UNAVAILABLE, f"login wall: the instance shows it only to " \
                                          f"signed-in users ({detail[:120]})"
    if "isn't here" in low or "not found" in low:
        return CaptureStatus.DELETED, f"{detail} (deleted, or not public: Mastodon answers " \
                                      "the same for followers-only posts)"
    if "anymore" in low or "gone" in low:
        return CaptureStatus.DELETED, f"{detail} (removed, or the account was suspended)"
    if "not authorized" in low or "forbidden" in low:
        return CaptureStatus.UNAVAILABLE, f"not public: {detail}"
    return CaptureStatus.UNAVAILABLE, detail


class Mastodon(Platform):
    name: ClassVar[str] = "mastodon"
    federated: ClassVar[bool] = True
    url_patterns = (
        re.compile(rf"{_START}/@(?P<user>{_ACCT})/(?P<id>\d{{1,20}})(?:/embed)?{_END}", _I),
        re.compile(rf"{_START}/users/(?P<user>{_USER})/statuses/(?P<id>\d{{1,20}})(?:/embed)?"
                   rf"{_END}", _I),
        re.compile(rf"{_START}/web/@(?P<user>{_ACCT})/(?P<id>\d{{1,20}}){_END}", _I),
        re.compile(rf"{_START}/web/statuses/(?P<id>\d{{1,20}}){_END}", _I),
    )
    examples = (
        Example("https://mastodon.social/@Gargron/113555573428532446",
                "mastodon.social/113555573428532446", "Gargron@mastodon.social"),
        Example("https://Infosec.Exchange/@briankrebs/113448101427658470?utm_source=x",
                "infosec.exchange/113448101427658470", "briankrebs@infosec.exchange"),
        Example("https://infosec.exchange/@Gargron@mastodon.social/113555580000000000",
                "infosec.exchange/113555580000000000", "Gargron@mastodon.social"),
        Example("https://mastodon.social/users/Gargron/statuses/113555573428532446",
                "mastodon.social/113555573428532446", "Gargron@mastodon.social"),
        Example("https://social.example.coop/web/statuses/109372844123456789",
                "social.example.coop/109372844123456789"),
        Example("https://mastodon.social/@Gargron/113555573428532446/embed",
                "mastodon.social/113555573428532446", "Gargron@mastodon.social"),
        Example("https://mastodon.social/@Gargron", None),
        Example("https://mastodon.social/@Gargron/with_replies", None),
        Example("https://mastodon.social/@Gargron/113555573428532446/reblogs", None),
        Example("https://mastodon.social/tags/fediverse", None),
        # /@user/<digits> on sites that are not Mastodon (their real post URLs, e.g.
        # threads.net/@u/post/<code>, are other platforms' examples, checked against us too)
        Example("https://www.threads.net/@zuck/3412345678901234567", None),
        Example("https://www.tiktok.com/@scout2015/6718335390845095173", None),
        Example("https://medium.com/@ev/1234567890", None),
        Example("https://www.youtube.com/@NASA/2024", None),
        Example("https://fosstodon.org/@kde/112345678901234567", "fosstodon.org/112345678901234567",
                "kde@fosstodon.org"),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        # 4.3+: the blockquote holds only a "Post by @user@host / View on Mastodon" link, so
        # its text is not read; the post is its data-embed-url, else that link.
        EmbedMarkup("blockquote", FoundIn.BLOCKQUOTE, classes=frozenset({"mastodon-embed"}),
                    url_attrs=("data-embed-url",), claims=True,
                    link_pattern=re.compile(r"/@[^/?#]+/\d+|/users/[^/?#]+/statuses/\d+")),
        EmbedMarkup("iframe", FoundIn.IFRAME, classes=frozenset({"mastodon-embed"}),
                    url_attrs=LAZY_SRC_ATTRS, claims=True),
        # Any other iframe counts only when its src is a status's /embed render.
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
    )
    embed_url_patterns = (
        re.compile(rf"{_START}/@(?P<user>{_ACCT})/(?P<id>\d{{1,20}})/embed{_END}", _I),
        re.compile(rf"{_START}/users/(?P<user>{_USER})/statuses/(?P<id>\d{{1,20}})/embed{_END}",
                   _I),
    )
    id_pattern = re.compile(rf"{_HOST}/\d{{1,20}}", re.ASCII)
    handle_pattern = re.compile(rf"{_USER}@{_HOST}")

    # -- identity ------------------------------------------------------------------------
    def match_url(self, url: str) -> PostRef | None:
        return self._match(self.url_patterns, url)

    def match_embed_url(self, url: str) -> PostRef | None:
        # Only the /embed render: an iframe showing some other /@user/123 page is not one.
        return self._match(self.embed_url_patterns, url)

    def _match(self, patterns: tuple[re.Pattern[str], ...], url: str) -> PostRef | None:
        for pattern in patterns:
            m = pattern.match(url.strip())
            if m:
                host = m["host"].lower()
                user = m.groupdict().get("user")
                author = None if user is None else user if "@" in user else f"{user}@{host}"
                return self.post_from_id(f"{host}/{m['id']}", author)
        return None

    def normalise_id(self, raw: str) -> str:
        host, _, number = raw.strip().partition("/")
        return f"{host.lower()}/{number}"

    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        host, _, number = post_id.partition("/")
        if author is None:
            return f"https://{host}/web/statuses/{number}"
        user, _, domain = author.partition("@")
        return f"https://{host}/@{user if domain.lower() == host else author}/{number}"

    @staticmethod
    def local_user(post: PostRef) -> str | None:
        """The account's name on the post's instance: `user`, or `user@origin` if remote."""
        if post.author is None:
            return None
        user, _, domain = post.author.partition("@")
        return user if domain.lower() == post.post_id.partition("/")[0] else post.author

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        host, _, number = post.post_id.partition("/")
        return [DataRequest("status.json", f"https://{host}/api/v1/statuses/{number}")]

    def pages(self, post: PostRef) -> list[PageSpec]:
        host, _, number = post.post_id.partition("/")
        user = self.local_user(post)
        gone = '.dialog__message, form#new_user, form[action$="/auth/sign_in"]'
        if user is not None and "@" not in user:
            return [PageSpec(role="embed", url=f"https://{host}/@{user}/{number}/embed",
                             ready=".detailed-status", gone=gone, element=".detailed-status")]
        # A remote account's status has no embed render on this instance (its /embed route
        # serves local accounts only): the instance's status page shows it instead.
        return [PageSpec(role="post-page", url=post.url, ready=".detailed-status",
                         gone=gone, element=".detailed-status")]

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        got = responses.get("status.json")
        if got is None:
            return PostData(CaptureStatus.FAILED, "the status API was not fetched")
        if got.status in (401, 403):
            return None  # the instance requires login for its API: the render decides
        if got.status == 404:
            return PostData(CaptureStatus.DELETED, "the API reports no such status (HTTP 404): "
                            "deleted, or not public (followers-only posts answer the same)")
        if got.status == 410:
            return PostData(CaptureStatus.DELETED, "the API reports the status gone (HTTP 410)")
        if got.status == 429:
            return PostData(CaptureStatus.FAILED, "rate limited (HTTP 429)")
        if got.status != 200:
            return PostData(CaptureStatus.FAILED, f"the status API answered HTTP {got.status}")
        try:
            data: Any = json.loads(got.body)
        except ValueError:
            return PostData(CaptureStatus.FAILED, "the status API answer is not JSON")
        if not isinstance(data, dict) or "content" not in data:
            return PostData(CaptureStatus.FAILED, "the status API answered an unexpected shape")
        if str(data.get("id")) != post.post_id.partition("/")[2]:
            return PostData(CaptureStatus.FAILED, "the status API answered for another status")
        return _read_status(post, data)

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail)


def _read_status(post: PostRef, data: dict[str, Any]) -> PostData:
    account = data.get("account") or {}
    acct = str(account.get("acct") or "") or None
    if acct is not None and "@" not in acct:
        acct = f"{acct}@{post.post_id.partition('/')[0]}"
    text = html_text(str(data.get("content") or ""))
    if data.get("spoiler_text"):
        text = f"CW: {data['spoiler_text']}\n\n{text}"
    status, reason = CaptureStatus.LIVE, None
    if data.get("visibility") in ("private", "direct"):  # never answered without login
        status, reason = CaptureStatus.UNAVAILABLE, f"{data['visibility']} status"
    media = tuple(str(m.get("url") or m.get("remote_url")) for m in
                  data.get("media_attachments") or []
                  if isinstance(m, dict) and (m.get("url") or m.get("remote_url")))
    return PostData(status, reason, text=text, author=acct,
                    author_name=account.get("display_name") or None,
                    created_at=data.get("created_at"), media=media)
