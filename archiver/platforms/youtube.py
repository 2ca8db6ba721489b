"""YouTube: video URLs, the oEmbed endpoint and the watch page's player response, and the
embedded player.

Markup publishers use (see PLATFORMS.md): iframes to `youtube.com/embed/<id>` or
`youtube-nocookie.com/embed/<id>` (also protocol-relative, and lazy in `data-src` /
`data-lazy-src` with a `<noscript>` copy), WP Rocket's `div.rll-youtube-player[data-id]`,
`lite-youtube[videoid]`, AMP `amp-youtube[data-videoid]`, legacy flash `<embed src=".../v/<id>">`,
and WordPress `figure.wp-block-embed-youtube` holding a bare URL when its oEmbed failed
(read by discover.py for every platform). Not embeds: the subscribe button
(`div.g-ytsubscribe`, `youtube.com/subscribe_widget`), playlist-only players
(`embed/videoseries?list=`), channel live players (`embed/live_stream?channel=`), links.

What the endpoints answer (from oEmbed consumers' bug reports: Ghost, noembed,
ruby-oembed, YoutubeExplode; not verified live from here):
- `www.youtube.com/oembed?url=<watch URL>&format=json`: 200 JSON (title, author_name,
  author_url `https://www.youtube.com/@handle`, thumbnail_url) for a public or unlisted
  video, *including* age-restricted and region-blocked ones: oEmbed does not check
  playability. 401 Unauthorized when the owner disabled embedding (older reports: also
  for private videos); 403 Forbidden for a private video (in December 2020 it briefly
  answered 200 with the body `Forbidden`); 404 Not Found for a deleted or unknown id;
  400 Bad Request for a malformed URL.
- `www.youtube.com/watch?v=<id>` embeds `ytInitialPlayerResponse`, whose
  `playabilityStatus` says what oEmbed cannot: `OK` (with `playableInEmbed`), `ERROR`
  (removed, unknown id, terminated account), `LOGIN_REQUIRED` (private, or "Sign in to
  confirm your age"), `AGE_VERIFICATION_REQUIRED` / `AGE_CHECK_REQUIRED`, `UNPLAYABLE`
  (region block: "The uploader has not made this video available in your country",
  members-only ...). This is the source yt-dlp reads first. From the EU an anonymous
  request may be redirected to consent.youtube.com: then the page has no player response
  and only oEmbed decides. Region blocks depend on where the capture runs.
- The player (`youtube-nocookie.com/embed/<id>`) shows a cued thumbnail with a large play
  button, or `.ytp-error` ("Video unavailable" + a sub-reason) and marks the player root
  `ytp-embed-error`; `gone_status` classifies that notice when the data decide nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
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
from archiver.platforms.video_common import (
    NoticeRule,
    classify_notice,
    handle_from,
    json_object,
    one_line,
    text_of,
)

OEMBED = "https://www.youtube.com/oembed"
WATCH = "https://www.youtube.com/watch"
EMBED_PAGE = "https://www.youtube-nocookie.com/embed"

_ID = r"(?!videoseries|live_stream)(?P<id>[A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])"
_HOSTS = r"(?:(?:www|m|music)\.)?youtube\.com"
_TAIL = r"(?:[/?#&].*)?$"
_FLAGS = re.IGNORECASE | re.ASCII
_HANDLE = re.compile(r"youtube\.com/@(?P<user>[\w.-]{3,30})", re.IGNORECASE)
_PLAYER_RESPONSE = re.compile(r"ytInitialPlayerResponse\s*=\s*(?=\{)")

GONE_RULES = (
    # a player that failed says nothing about the video: the capture could not tell
    NoticeRule(("an error occurred", "something went wrong", "try again later"),
               CaptureStatus.FAILED, "the player failed"),
    NoticeRule(("private",), CaptureStatus.UNAVAILABLE, "private video"),
    NoticeRule(("age-restricted", "age restricted", "confirm your age",
                "inappropriate for some users"), CaptureStatus.UNAVAILABLE,
               "age-restricted video"),
    NoticeRule(("your country", "your region", "your location", "in your area"),
               CaptureStatus.UNAVAILABLE, "region-blocked where the capture ran"),
    NoticeRule(("playback on other websites", "disabled by the video owner",
                "embedding disabled", "watch this video on youtube"),
               CaptureStatus.UNAVAILABLE, "embedding disabled by the owner"),
    NoticeRule(("members-only", "join this channel"), CaptureStatus.UNAVAILABLE,
               "members-only video"),
    NoticeRule(("terminated",), CaptureStatus.DELETED, "removed: the channel was terminated"),
    NoticeRule(("removed", "no longer available", "does not exist", "isn't available anymore",
                "is not available anymore", "video unavailable", "this video is unavailable"),
               CaptureStatus.DELETED, "deleted or unknown video"),
)


class YouTube(Platform):
    render_restrictions = True
    name: ClassVar[str] = "youtube"
    # re.ASCII: in Unicode mode IGNORECASE folds "\u212a" to "k" and "\u017f" to "s"
    url_patterns = (
        re.compile(rf"^(?:https?:)?//{_HOSTS}/watch/?\?(?:[^#]*&)?v={_ID}", _FLAGS),
        re.compile(rf"^(?:https?:)?//(?:www\.)?youtu\.be/{_ID}{_TAIL}", _FLAGS),
        re.compile(rf"^(?:https?:)?//{_HOSTS}/(?:shorts|live|embed|v|e)/{_ID}{_TAIL}", _FLAGS),
        re.compile(rf"^(?:https?:)?//(?:www\.)?youtube-nocookie\.com/(?:embed|v)/{_ID}{_TAIL}",
                   _FLAGS),
    )
    examples = (
        Example("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"),
        Example("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s&list=PL0123456789ABCDEF",
                "dQw4w9WgXcQ"),
        Example("https://www.youtube.com/watch?feature=share&v=jNQXAC9IVRw", "jNQXAC9IVRw"),
        Example("https://youtu.be/jNQXAC9IVRw?si=Ab1Cd2Ef3Gh4Ij5K&t=10", "jNQXAC9IVRw"),
        Example("https://www.youtube.com/shorts/aqz-KE-bpKQ", "aqz-KE-bpKQ"),
        Example("https://www.youtube.com/live/M7lc1UVf-VE?feature=share", "M7lc1UVf-VE"),
        Example("https://www.youtube.com/embed/M7lc1UVf-VE?rel=0&start=30", "M7lc1UVf-VE"),
        Example("//www.youtube.com/embed/M7lc1UVf-VE", "M7lc1UVf-VE"),
        Example("https://www.youtube-nocookie.com/embed/M7lc1UVf-VE?controls=0", "M7lc1UVf-VE"),
        Example("https://m.youtube.com/watch?v=dQw4w9WgXcQ&pp=ygUEdGVzdA%3D%3D", "dQw4w9WgXcQ"),
        Example("https://music.youtube.com/watch?v=dQw4w9WgXcQ&si=abc", "dQw4w9WgXcQ"),
        Example("https://www.youtube.com/v/dQw4w9WgXcQ?version=3&hl=en_US", "dQw4w9WgXcQ"),
        Example("https://www.youtube.com/embed/videoseries?list=PL0123456789ABCDEF", None),
        Example("https://www.youtube.com/embed/live_stream?channel=UC0123456789abcdefghijkl",
                None),
        Example("https://www.youtube.com/playlist?list=PL0123456789ABCDEF", None),
        Example("https://www.youtube.com/channel/UC0123456789abcdefghijkl", None),
        Example("https://www.youtube.com/@NewsChannel", None),
        Example("https://www.youtube.com/user/NewsChannel", None),
        Example("https://www.youtube.com/subscribe_widget?channelid=UC0123456789abcdefghijkl",
                None),
        Example("https://www.youtube.com/watch?v=tooshort", None),
    )

    # -- discovery -----------------------------------------------------------------------
    embed_markup = (
        EmbedMarkup("iframe", FoundIn.IFRAME, url_attrs=LAZY_SRC_ATTRS),
        # WP Rocket's "replace YouTube iframe by preview image"; a <noscript> iframe follows.
        EmbedMarkup("div", FoundIn.IFRAME, classes=frozenset({"rll-youtube-player"}),
                    url_attrs=("data-src",), id_attrs=("data-id",)),
        EmbedMarkup("lite-youtube", FoundIn.IFRAME, id_attrs=("videoid",)),
        EmbedMarkup("amp-youtube", FoundIn.IFRAME, id_attrs=("data-videoid",)),
        EmbedMarkup("embed", FoundIn.IFRAME, url_attrs=("src",)),  # pre-2015 flash player
    )
    id_pattern = re.compile(r"[A-Za-z0-9_-]{11}")

    # -- identity ------------------------------------------------------------------------
    def canonical_url(self, post_id: str, author: str | None = None) -> str:
        return f"{WATCH}?v={post_id}"

    # -- capture -------------------------------------------------------------------------
    def data_requests(self, post: PostRef) -> list[DataRequest]:
        target = quote(f"{WATCH}?v={post.post_id}", safe="")
        return [
            DataRequest("oembed.json", f"{OEMBED}?url={target}&format=json"),
            DataRequest("watch.html", f"{WATCH}?v={post.post_id}&hl=en&has_verified=1"
                                      "&bpctr=9999999999", media_type="text/html"),
        ]

    def pages(self, post: PostRef) -> list[PageSpec]:
        return [PageSpec(
            role="embed",
            url=f"{EMBED_PAGE}/{post.post_id}?hl=en",
            ready=".html5-video-player:not(.ytp-embed-error) .ytp-large-play-button",
            gone=".ytp-error",
            element=".html5-video-player",
        )]

    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        oembed = responses.get("oembed.json")
        watch = responses.get("watch.html")
        meta = json_object(oembed) if oembed is not None and oembed.status == 200 else None
        player = player_response(watch, post.post_id)
        if player is not None:
            decided = _from_playability(player, oembed)
            if decided is None:
                return _live(meta, player)
            if decided.status is CaptureStatus.UNAVAILABLE and (meta or "videoDetails" in player):
                # gated, not gone: what the video is stays on record
                shown = _live(meta, player)
                return replace(shown, status=decided.status, reason=decided.reason)
            return decided
        if meta is not None and text_of(meta.get("title")):
            return _live(meta, None)
        if any(r is not None and r.status == 429 for r in (oembed, watch)):
            return PostData(CaptureStatus.FAILED, "rate limited (HTTP 429)")
        return _from_oembed_status(oembed)

    def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
        return classify_notice(detail, GONE_RULES, "the player shows the video as unavailable",
                               "player")


def player_response(watch: HttpExchange | None, video_id: str) -> dict[str, Any] | None:
    """`ytInitialPlayerResponse` of a watch page, if it is there and about this video."""
    if watch is None or watch.status != 200:
        return None
    html = watch.body.decode("utf-8", "replace")
    m = _PLAYER_RESPONSE.search(html)
    if m is None:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(html, m.end())
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    details = data.get("videoDetails")
    if isinstance(details, dict) and details.get("videoId") not in (None, video_id):
        return None  # a redirect to another video (or a consent page's stub)
    return data if isinstance(data.get("playabilityStatus"), dict) else None


def _playability_text(status: dict[str, Any]) -> str:
    parts = [str(status.get("reason") or "")]
    screen = ((status.get("errorScreen") or {}).get("playerErrorMessageRenderer") or {})
    sub = screen.get("subreason") or {}
    parts.append(str(sub.get("simpleText") or "".join(
        str(r.get("text", "")) for r in sub.get("runs") or [] if isinstance(r, dict))))
    parts.extend(str(m) for m in status.get("messages") or [])
    return one_line("\n".join(p for p in parts if p))


def _from_playability(player: dict[str, Any], oembed: HttpExchange | None) -> PostData | None:
    """The status the watch page's playabilityStatus gives; None when the video plays."""
    status = player["playabilityStatus"]
    kind = str(status.get("status") or "")
    said = _playability_text(status)
    if kind == "OK":
        if status.get("playableInEmbed") is False or (oembed is not None and oembed.status == 401):
            return PostData(CaptureStatus.UNAVAILABLE,
                            "embedding disabled by the owner (watch page: playable, "
                            "not in embeds)")
        return None
    if kind in ("AGE_VERIFICATION_REQUIRED", "AGE_CHECK_REQUIRED", "CONTENT_CHECK_REQUIRED"):
        return PostData(CaptureStatus.UNAVAILABLE, f"age-restricted video (watch page: {said})")
    if kind in ("ERROR", "LOGIN_REQUIRED", "UNPLAYABLE"):
        rule_status, reason = classify_notice(said, GONE_RULES, f"{kind.lower()} video",
                                              "watch page")
        if kind == "ERROR":
            rule_status = CaptureStatus.DELETED if "private" not in said.lower() \
                else rule_status
        return PostData(rule_status, reason)
    if kind == "LIVE_STREAM_OFFLINE":
        return None  # a scheduled stream or premiere: the video exists
    return PostData(CaptureStatus.FAILED, f"unexpected playability status {kind!r}")


def _from_oembed_status(oembed: HttpExchange | None) -> PostData | None:
    """What oEmbed alone says when it gave no metadata; None when it says nothing definite."""
    if oembed is None:
        return None
    if oembed.status == 200 and oembed.body.strip() == b"Forbidden":
        return PostData(CaptureStatus.UNAVAILABLE, "private video (oEmbed answered 'Forbidden')")
    meaning = {401: (CaptureStatus.UNAVAILABLE, "embedding disabled by the owner, or private "
                                                "(oEmbed 401 Unauthorized)"),
               403: (CaptureStatus.UNAVAILABLE, "private video (oEmbed 403 Forbidden)"),
               404: (CaptureStatus.DELETED, "deleted or unknown video (oEmbed 404 Not Found)")}
    if oembed.status in meaning:
        return PostData(*meaning[oembed.status])
    return None  # 400, 5xx, an HTML error page: the player decides


def _live(meta: dict[str, Any] | None, player: dict[str, Any] | None) -> PostData:
    meta = meta or {}
    details = (player or {}).get("videoDetails") or {}
    micro = ((player or {}).get("microformat") or {}).get("playerMicroformatRenderer") or {}
    thumb = text_of(meta.get("thumbnail_url"))
    return PostData(
        CaptureStatus.LIVE,
        None,
        text=text_of(meta.get("title")) or text_of(details.get("title")),
        author=handle_from(meta.get("author_url"), _HANDLE)
        or handle_from(micro.get("ownerProfileUrl"), _HANDLE),
        author_name=text_of(meta.get("author_name")) or text_of(details.get("author")),
        created_at=text_of(micro.get("publishDate")) or text_of(micro.get("uploadDate")),
        media=(thumb,) if thumb else (),
    )
