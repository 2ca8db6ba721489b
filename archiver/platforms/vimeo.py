"""Vimeo: video URLs (with the privacy hash of unlisted videos), oEmbed, and the player.

Markup publishers use: iframes to `player.vimeo.com/video/<id>` (often `?h=<hash>` for an
unlisted video, `&badge=0&autopause=0`), lazy `data-src` copies, AMP `amp-vimeo
[data-videoid]`, player.js's `div[data-vimeo-id]` / `div[data-vimeo-url]`, and WordPress
`figure.wp-block-embed-vimeo` with a bare URL (read by discover.py). Not embeds: showcase
(album), channel, group, user and live-event pages or their players.

An unlisted video plays only with its hash (`vimeo.com/<id>/<hash>`, player `?h=<hash>`);
the hash is kept in the post's URL, so oEmbed and the player are asked with it.

What the endpoints answer (Vimeo's oEmbed and privacy help pages, consumers' reports; not
verified live from here):
- `vimeo.com/api/oembed.json?url=<video URL>`: 200 JSON (title, author_name, author_url
  `https://vimeo.com/<user>`, upload_date, thumbnail_url, video_id) for a public or
  embeddable video. For domain-level privacy ("embed on specific domains") or a
  password-protected video it is a *truncated* 200 without title or owner, with
  `domain_status_code: 403`. 403 when embedding is disabled. 404 when the video does not
  exist, is private, or is unlisted and asked without its hash: 404 cannot tell deleted
  from private, so then the player decides.
- The player (`player.vimeo.com/video/<id>`) shows the poster, title, byline and a play
  button, or a "Sorry" notice: "This video does not exist.", "Because of its privacy
  settings, this video cannot be played here." (domain privacy, private, unlisted without
  hash), a login wall for private or mature content, or a regional-availability notice.
  Vimeo answers those pages with HTTP 403 / 404 (yt-dlp keys on the privacy sentence).
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

OEMBED = "https://vimeo.com/api/oembed.json"
PLAYER = "https://player.vimeo.com/video"

_ID = r"(?P<id>\d{1,12})"
_HASH = r"(?P<hash>[0-9a-f]{6,20})"
#: re.ASCII: in Unicode mode `\d` takes other scripts' digits (an id "٢٠" is no video's, and
#: its URL is not ASCII), and IGNORECASE folds "\u212a" to "k".
_FLAGS = re.IGNORECASE | re.ASCII
_OWNER = re.compile(r"vimeo\.com/(?P<user>(?!\d+(?:$|[/?#]))[\w-]{2,64})/?$", re.IGNORECASE)
_VIDEO_PATH = re.compile(
    rf"^(?:https?:)?//(?:www\.)?vimeo\.com/(?:(?:channels/[\w-]+|groups/[\w-]+/videos|"
    rf"album/\d+/video|showcase/\d+/video)/)?{_ID}(?:/{_HASH})?/?(?:[?#].*)?$", _FLAGS)
_PLAYER_URL = re.compile(
    rf"^(?:https?:)?//player\.vimeo\.com/video/{_ID}(?:/{_HASH})?/?"
    r"(?:\?(?:[^#]*&)?h=(?P<qhash>[0-9a-f]{6,20})[^#]*|[?#].*)?$", _FLAGS)

GONE_RULES = (
    # a player that failed says nothing about the video: the capture could not tell
    NoticeRule(("an error occurred", "something went wrong", "try again later"),
               CaptureStatus.FAILED, "the player failed"),
    NoticeRule(("does not exist", "doesn't exist", "has been removed", "was deleted",
                "could not be found", "couldn't be found"), CaptureStatus.DELETED,
               "deleted or unknown video"),
    NoticeRule(("mature", "age-restricted", "age restricted", "confirm your age"),
               CaptureStatus.UNAVAILABLE, "age-restricted video"),
    NoticeRule(("your country", "your region", "your location", "not available in"),
               CaptureStatus.UNAVAILABLE, "region-blocked where the capture ran"),
    NoticeRule(("privacy settings",), CaptureStatus.UNAVAILABLE,
               "private, unlisted or embeddable only on chosen sites"),
    NoticeRule(("private", "password", "log in", "sign in"), CaptureStatus.UNAVAILABLE,
               "private video"),
    NoticeRule(("embedding", "cannot be played here"), CaptureStatus.UNAVAILABLE,
               "embedding disabled by the owner"),
)


class Vimeo(Platform):
    render_restrictions = True
    name: ClassVar[str] = "vimeo"
    url_patterns = (_VIDEO_PATH, _PLAYER_URL)
    examples = (
        Example("https://vimeo.com/76979871", "76979871"),
        Example("https://www.vimeo.com/76979871?share=copy", "76979871"),
        Example("https://vimeo.com/channels/staffpicks/76979871", "76979871"),
        Example("https://vimeo.com/groups/shortfilms/videos/76979871", "76979871"),
        Example("https://vimeo.com/showcase/7008490/video/76979871", "76979871"),
        Example("https://vimeo.com/824804225/9e2c1f0abc", "824804225"),
        Example("https://player.vimeo.com/video/76979871", "76979871"),
        Example("https://player.vimeo.com/video/824804225?h=9e2c1f0abc&badge=0&autopause=0",
                "824804225"),
        Example("//player.vimeo.com/video/76979871?title=0&byline=0", "76979871"),
        Example("https://vimeo.com/channels/staffpicks", None),
        Example("https://vimeo.com/showcase/7008490", None),
        Example("https://vimeo.com/user12345678", None),
        Example("https://vimeo.com/76979871/likes", None),
        Example("https://vimeo.com/event/1234567/embed", None),
        Example("https://vimeo.com/api/oembed.json?url=https%3A%2F%2Fvimeo.com%2F76979871", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
        EmbedMarkup("amp-vimeo", FoundIn.IFRAME, id_attrs=("data-videoid",)),
        # player.js: <div data-vimeo-id="..."> or <div data-vimeo-url="..."> becomes an iframe
        EmbedMarkup("div", FoundIn.IFRAME, url_attrs=("data-vimeo-url",),
                    id_attrs=("data-vimeo-id",)),
    )
    id_pattern = re.compile(r"\d{1,12}", re.ASCII)

    # -- identity ------------------------------------------------------------------------
    def match_url(self, url: str) -> PostRef | None:
        for pattern in self.url_patterns:
            m = pattern.match(url.strip())
            if m:
                groups = m.groupdict()
                privacy_hash = groups.get("hash") or groups.get("qhash")
                ref = PostRef(self.name, m.group("id"), self.canonical_url(m.group("id")))
                if privacy_hash:  # an unlisted video is reachable only with its hash
                    ref = PostRef(self.name, ref.post_id,
                                  f"{ref.url}/{privacy_hash.lower()}")
                return ref
        return None

    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        return f"https://vimeo.com/{post_id}"

    @staticmethod
    def privacy_hash(post: PostRef) -> str | None:
        m = _VIDEO_PATH.match(post.url)
        return m.group("hash") if m else None

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        return [DataRequest("oembed.json", f"{OEMBED}?url={quote(post.url, safe='')}")]

    def pages(self, post: PostRef) -> list[PageSpec]:
        privacy_hash = self.privacy_hash(post)
        query = f"?h={privacy_hash}&dnt=1" if privacy_hash else "?dnt=1"
        return [PageSpec(
            role="embed",
            url=f"{PLAYER}/{post.post_id}{query}",
            ready=".player .vp-preview",
            gone=".vp-error-message, .exception_wrapper",
            element=".player",
        )]

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        oembed = responses.get("oembed.json")
        if oembed is None:
            return None  # not fetched: the player decides
        if oembed.status == 429:
            return PostData(CaptureStatus.FAILED, "rate limited (HTTP 429)")
        if oembed.status == 403:
            return PostData(CaptureStatus.UNAVAILABLE, "embedding disabled by the owner "
                                                       "(oEmbed 403 Forbidden)")
        data = json_object(oembed) if oembed.status == 200 else None
        if data is None:
            return None  # 404 (deleted or private: cannot tell), 5xx, not JSON
        if str(data.get("video_id", post.post_id)) != post.post_id:
            return PostData(CaptureStatus.FAILED, "oEmbed answered for another video id")
        if data.get("domain_status_code") == 403 or not text_of(data.get("title")):
            return PostData(CaptureStatus.UNAVAILABLE,
                            "embeddable only on chosen sites, or password-protected "
                            "(oEmbed: truncated answer, domain_status_code 403)")
        thumb = text_of(data.get("thumbnail_url"))
        return PostData(
            CaptureStatus.LIVE,
            None,
            text=text_of(data.get("title")),
            author=handle_from(data.get("author_url"), _OWNER),
            author_name=text_of(data.get("author_name")),
            created_at=text_of(data.get("upload_date")),
            media=(thumb,) if thumb else (),
        )

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail, GONE_RULES, "the player shows the video as unavailable",
                               "player")
