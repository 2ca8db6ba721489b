"""How the fake video platforms render a record: oEmbed JSON, YouTube's watch page player
response, and the three embedded players (live, or the platform's "unavailable" notice).

Pure functions of a record from tests/fixtures/video/<platform>.json and its current state
(live, deleted, private, age_restricted, region_blocked, embedding_disabled). Stylesheets
are tests/fixtures/video/<platform>.css. A player shows its post only once its images have
loaded (`data-reveal`), as the real players reveal their UI after fetching the thumbnail.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parents[1] / "fixtures" / "video"

_REVEAL = """<script>(function () {
  var root = document.querySelector("[data-reveal]");
  if (!root) return;
  var urls = JSON.parse(root.getAttribute("data-reveal")), left = urls.length;
  function done() { if (--left <= 0) root.hidden = false; }
  if (!left) { root.hidden = false; return; }
  urls.forEach(function (u) { var i = new Image(); i.onload = i.onerror = done; i.src = u; });
})();</script>"""


@lru_cache(maxsize=8)
def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def key(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:20]


def esc(value: Any) -> str:
    return html.escape(str(value))


def _page(title: str, css: str, body: str, lang: str = "en") -> str:
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{asset(css)}</style></head>\n"
            f"<body>{body}\n{_REVEAL}</body></html>\n")


# -- YouTube ---------------------------------------------------------------------------
YT_NOTICES = {
    "deleted": ("Video unavailable", "This video has been removed by the uploader"),
    "unknown": ("Video unavailable", "This video is unavailable"),
    "private": ("Video unavailable", "This video is private"),
    "age_restricted": ("Video unavailable", "This video is age-restricted and only available "
                                            "on YouTube. Learn more"),
    "region_blocked": ("Video unavailable", "The uploader has not made this video available "
                                            "in your country"),
    "embedding_disabled": ("Video unavailable", "Playback on other websites has been disabled "
                                                "by the video owner."),
}
_YT_PLAY = ("M66.52,7.74c-0.78-2.93-2.49-5.41-5.42-6.19C55.79,.13,34,0,34,0S12.21,.13,6.9,1.55"
            "C3.97,2.33,2.27,4.81,1.48,7.74C0.06,13.05,0,24,0,24s0.06,10.95,1.48,16.26c0.78,2.93,"
            "2.49,5.41,5.42,6.19C12.21,47.87,34,48,34,48s21.79-0.13,27.1-1.55c2.93-0.78,4.64-3.26,"
            "5.42-6.19C67.94,34.95,68,24,68,24S67.94,13.05,66.52,7.74z")
_YT_LOGO = ('<svg viewBox="0 0 104 20" aria-hidden="true"><path fill="#f00" d="M27.97 3.12C27.6 '
            "1.89 26.64.93 25.42.6 23.2 0 14.29 0 14.29 0S5.38 0 3.16.6C1.94.93.98 1.89.6 3.12 0 "
            "5.34 0 10 0 10s0 4.66.6 6.88c.37 1.23 1.33 2.19 2.56 2.52C5.38 20 14.29 20 14.29 20s"
            "8.91 0 11.13-.6c1.22-.33 2.18-1.29 2.55-2.52.6-2.22.6-6.88.6-6.88s0-4.66-.6-6.88z\"/>"
            '<path fill="#fff" d="M11.43 14.29 18.85 10l-7.42-4.29z"/><text x="32" y="15.5" '
            'fill="#fff" font-size="15" font-weight="700" font-family="Arial">YouTube</text></svg>')


def yt_thumb(video_id: str, size: str = "hqdefault") -> str:
    return f"https://i.ytimg.com/vi/{video_id}/{size}.jpg"


def yt_avatar(rec: dict[str, Any]) -> str:
    return f"https://yt3.ggpht.com/ytc/{key('yt', rec['handle'])}=s68-c-k-c0x00ffffff-no-rj"


def youtube_oembed(rec: dict[str, Any]) -> dict[str, Any]:
    vid = rec["id"]
    return {
        "title": rec["title"], "author_name": rec["channel"],
        "author_url": f"https://www.youtube.com/@{rec['handle']}", "type": "video",
        "height": 113, "width": 200, "version": "1.0", "provider_name": "YouTube",
        "provider_url": "https://www.youtube.com/", "thumbnail_height": 360,
        "thumbnail_width": 480, "thumbnail_url": yt_thumb(vid),
        "html": f'<iframe width="200" height="113" src="https://www.youtube.com/embed/{vid}'
                '?feature=oembed" frameborder="0" allow="accelerometer; autoplay; clipboard-'
                'write; encrypted-media; gyroscope; picture-in-picture; web-share" referrer'
                f'policy="strict-origin-when-cross-origin" allowfullscreen title="'
                f'{esc(rec["title"])}"></iframe>',
    }


def youtube_player_response(rec: dict[str, Any] | None, state: str, video_id: str
                            ) -> dict[str, Any]:
    """`ytInitialPlayerResponse` as the watch page carries it, for each state."""
    def error_screen(reason: str, sub: str) -> dict[str, Any]:
        return {"playerErrorMessageRenderer": {"reason": {"simpleText": reason},
                                               "subreason": {"runs": [{"text": sub}]}}}
    if rec is None or state == "deleted":
        reason, sub = YT_NOTICES["deleted" if rec else "unknown"]
        return {"playabilityStatus": {"status": "ERROR", "reason": reason,
                                      "errorScreen": error_screen(reason, sub)}}
    if state == "private":
        return {"playabilityStatus": {"status": "LOGIN_REQUIRED", "reason": "Private video",
                                      "messages": ["If the owner of this video has granted "
                                                   "you access, please sign in."]}}
    status: dict[str, Any] = {"status": "OK", "playableInEmbed": state != "embedding_disabled"}
    if state == "age_restricted":
        status = {"status": "LOGIN_REQUIRED", "reason": "Sign in to confirm your age",
                  "messages": ["This video may be inappropriate for some users."],
                  "desktopLegacyAgeGateReason": 1}
    elif state == "region_blocked":
        reason, sub = YT_NOTICES["region_blocked"]
        status = {"status": "UNPLAYABLE", "reason": reason,
                  "errorScreen": error_screen(reason, sub)}
    return {
        "playabilityStatus": status,
        "videoDetails": {"videoId": video_id, "title": rec["title"],
                         "lengthSeconds": str(rec.get("duration", 60)),
                         "channelId": rec["channel_id"], "author": rec["channel"],
                         "shortDescription": rec.get("description", ""), "isPrivate": False,
                         "viewCount": str(rec.get("views", 12873))},
        "microformat": {"playerMicroformatRenderer": {
            "ownerProfileUrl": f"http://www.youtube.com/@{rec['handle']}",
            "externalChannelId": rec["channel_id"], "ownerChannelName": rec["channel"],
            "publishDate": f"{rec['published']}T06:00:12-07:00",
            "uploadDate": f"{rec['published']}T06:00:12-07:00"}},
    }


def youtube_watch(rec: dict[str, Any] | None, state: str, video_id: str) -> str:
    """A (much smaller) watch page: its title and the inline player response."""
    title = f"{rec['title']} - YouTube" if rec and state != "deleted" else "YouTube"
    player = json.dumps(youtube_player_response(rec, state, video_id), ensure_ascii=False)
    player = player.replace("</", "<\\/")  # safe inside <script>, as YouTube escapes it
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}'
            f'</title><link rel="canonical" href="https://www.youtube.com/watch?v={video_id}">'
            f"</head><body><div id=\"watch7-content\"></div><script nonce=\"n\">var "
            f"ytInitialPlayerResponse = {player};var meta = "
            "document.createElement('meta');</script></body></html>\n")


def youtube_player(rec: dict[str, Any] | None, state: str, video_id: str) -> str:
    if rec is None or state != "live":
        reason, sub = YT_NOTICES[state if rec else "unknown"]
        link = "" if state not in ("age_restricted", "embedding_disabled") else (
            f'<br><a href="https://www.youtube.com/watch?v={video_id}" target="_blank">'
            "Watch on YouTube</a>")
        body = ('<div id="player"><div class="html5-video-player ytp-embed ytp-embed-error" '
                'id="movie_player" aria-label="YouTube Video Player"><div class="ytp-error" '
                'role="alert" data-layer="4"><div class="ytp-error-content"><div class="ytp-'
                'error-icon-container"><svg viewBox="0 0 48 48"><path d="M24 4a20 20 0 1 0 0 '
                '40 20 20 0 0 0 0-40zm2 30h-4v-4h4v4zm0-8h-4V14h4v12z"/></svg></div><div '
                'class="ytp-error-content-wrap"><div class="ytp-error-content-wrap-reason">'
                f'<span>{esc(reason)}</span></div><div class="ytp-error-content-wrap-subreason">'
                f"<span>{esc(sub)}</span>{link}</div></div></div></div></div></div>")
        return _page("YouTube", "youtube.css", body)
    thumb, avatar = yt_thumb(video_id, "maxresdefault"), yt_avatar(rec)
    watch = f"https://www.youtube.com/watch?v={video_id}"
    channel = f"https://www.youtube.com/channel/{rec['channel_id']}"
    body = (
        '<div id="player"><div class="html5-video-player ytp-transparent ytp-embed '
        'ytp-title-enable-channel-logo unstarted-mode ytp-large-width-mode" id="movie_player" '
        'tabindex="-1" aria-label="YouTube Video Player">'
        '<div class="html5-video-container" data-layer="0"><video class="video-stream '
        'html5-main-video" tabindex="-1"></video></div>'
        '<div class="ytp-gradient-top" data-layer="1"></div>'
        '<div class="ytp-chrome-top" data-layer="1">'
        f'<a class="ytp-title-channel-logo" href="{channel}" target="_blank" aria-label="Photo '
        f'image of {esc(rec["channel"])}" style="background-image: url(&quot;{avatar}&quot;);">'
        f'</a><div class="ytp-title"><a class="ytp-title-link" target="_blank" href="{watch}">'
        f'{esc(rec["title"])}</a><a class="ytp-title-channel-name" target="_blank" '
        f'href="{channel}">{esc(rec["channel"])}</a></div>'
        '<div class="ytp-chrome-top-buttons"><button class="ytp-button ytp-watch-later-button">'
        '<svg viewBox="0 0 36 36"><path fill="#fff" d="M18 8a10 10 0 1 0 0 20 10 10 0 0 0 0-20z'
        'm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm1-13h-2v6l5 3 1-1.6-4-2.4z"/></svg>Watch later'
        '</button><button class="ytp-button ytp-share-button"><svg viewBox="0 0 36 36"><path '
        'fill="#fff" d="M21 13v-4l7 7-7 7v-4c-5 0-8.5 1.6-11 5 1-5 4-10 11-11z"/></svg>Share'
        "</button></div></div>"
        f'<div class="ytp-cued-thumbnail-overlay" data-layer="4" hidden '
        f"data-reveal='{json.dumps([thumb, avatar])}'>"
        f'<div class="ytp-cued-thumbnail-overlay-image" style="background-image: url(&quot;'
        f'{thumb}&quot;);"></div><button class="ytp-large-play-button ytp-button" '
        f'aria-label="Play"><svg height="100%" version="1.1" viewBox="0 0 68 48" width="100%">'
        f'<path class="ytp-large-play-button-bg" d="{_YT_PLAY}"></path><path d="M 45,24 27,14 '
        '27,34" fill="#fff"></path></svg></button>'
        f'<a class="ytp-watermark" target="_blank" href="{watch}" aria-label="Watch on YouTube">'
        f"Watch on {_YT_LOGO}</a></div></div></div>")
    return _page(f"{rec['title']} - YouTube", "youtube.css", body)


# -- Vimeo -----------------------------------------------------------------------------
VIMEO_NOTICES = {
    "deleted": "This video does not exist.",
    "private": "Because of its privacy settings, this video cannot be played here.",
    "embedding_disabled": "Because of its privacy settings, this video cannot be played here.",
    "age_restricted": "This video has been rated mature. Log in to Vimeo to confirm your age.",
    "region_blocked": "This video is not available in your country.",
}


def vimeo_images(rec: dict[str, Any]) -> tuple[str, str, str]:
    """(oEmbed thumbnail, player poster, owner portrait) URLs."""
    base = f"https://i.vimeocdn.com/video/{int(rec['id']) * 7 % 10**10}-{key('vm', rec['id'])}"
    return (f"{base}-d_295x166", f"{base}-d_1280x720",
            f"https://i.vimeocdn.com/portrait/{key('vmp', rec['user'])}-d_72x72")


def vimeo_oembed(rec: dict[str, Any], truncated: bool = False) -> dict[str, Any]:
    vid = int(rec["id"])
    thumb = vimeo_images(rec)[0]
    src = f"https://player.vimeo.com/video/{vid}" + (f"?h={rec['hash']}&amp;app_id=122963"
                                                    if rec.get("hash") else "?app_id=122963")
    common = {"type": "video", "version": "1.0", "provider_name": "Vimeo",
              "provider_url": "https://vimeo.com/", "width": 640, "height": 360,
              "html": f'<iframe src="{src}" width="640" height="360" frameborder="0" '
                      'allow="autoplay; fullscreen; picture-in-picture; clipboard-write" '
                      'title=""></iframe>',
              "video_id": vid, "uri": f"/videos/{vid}"}
    if truncated:
        return {**common, "domain_status_code": 403}
    return {**common, "title": rec["title"], "author_name": rec["owner"],
            "author_url": f"https://vimeo.com/{rec['user']}", "is_plus": "0",
            "account_type": "basic", "duration": rec.get("duration", 60),
            "description": rec.get("description", ""), "thumbnail_url": thumb,
            "thumbnail_width": 295, "thumbnail_height": 166,
            "thumbnail_url_with_play_button": "https://i.vimeocdn.com/filter/overlay?src0="
                                              f"{thumb}&src1=http%3A%2F%2Ff.vimeocdn.com%2Fp%2F"
                                              "images%2Fcrawler_play.png",
            "upload_date": rec["upload_date"], "domain_status_code": 200}


def vimeo_player(rec: dict[str, Any], state: str) -> str:
    if state != "live":
        body = ('<div class="vp-error-message" role="alert"><div class="vp-error-content">'
                '<h1 class="vp-error-title">Sorry</h1><p class="vp-error-text">'
                f"{esc(VIMEO_NOTICES[state])}</p></div></div>")
        return _page("Vimeo", "vimeo.css", body)
    _, poster, portrait = vimeo_images(rec)
    url = f"https://vimeo.com/{rec['id']}"
    box = '<div class="box"><svg viewBox="0 0 20 20"><path d="{}"/></svg></div>'
    body = (
        '<div id="player" class="player" data-player="true">'
        '<div class="vp-video-wrapper"><div class="vp-video"><div class="vp-telecine">'
        '<video preload="none"></video></div></div>'
        f"<div class=\"vp-preview\" hidden data-thumb=\"{poster}\" data-reveal='"
        f"{json.dumps([poster, portrait])}' style=\"background-image: url(&quot;{poster}&quot;)"
        ';"></div></div>'
        '<div class="vp-title"><header class="vp-title-header"><div class="vp-portrait">'
        f'<img src="{portrait}" alt=""></div><div class="vp-title-text">'
        f'<h1 class="vp-title-title"><a href="{url}" target="_blank">{esc(rec["title"])}</a>'
        f'</h1><div class="vp-byline"><span>from</span> <a href="https://vimeo.com/'
        f'{rec["user"]}" target="_blank">{esc(rec["owner"])}</a></div></div></header></div>'
        '<div class="vp-sidedock">'
        + box.format("M10 17l-1.2-1C4.4 12 1.5 9.4 1.5 6.2 1.5 3.6 3.5 1.6 6 1.6c1.5 0 3 .7 "
                     "4 1.8 1-1.1 2.5-1.8 4-1.8 2.5 0 4.5 2 4.5 4.6 0 3.2-2.9 5.8-7.3 9.8z")
        + box.format("M10 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16zm1 8.6V5H9v6.4l4.5 2.7 1-1.6z")
        + box.format("M14 3l5 5-5 5V9.5C8 9.5 5 11 3 15c.5-5 3.5-9 11-9.5z")
        + '</div><div class="vp-controls"><button class="play rounded-box state-paused" '
        'aria-label="Play"><svg viewBox="0 0 20 20"><path d="M4 2l14 8-14 8z"/></svg></button>'
        '<div class="vp-progress"><div class="bar"></div></div><div class="vp-logo">vimeo'
        "</div></div></div>")
    return _page(f"{rec['title']} from {rec['owner']} on Vimeo", "vimeo.css", body)


# -- TikTok ----------------------------------------------------------------------------
TIKTOK_NOTICES = {
    "deleted": "Video unavailable because it was deleted",
    "private": "This video is private",
    "age_restricted": "This video may not be appropriate for some users. Log in to confirm "
                      "your age.",
    "region_blocked": "This video is not available in your region",
    "embedding_disabled": "The creator has turned off embedding for this video",
    "unknown": "",
}


def tiktok_images(rec: dict[str, Any]) -> tuple[str, str]:
    """(poster, avatar) URLs on the signed CDN host."""
    sig = f"x-expires=1727280000&x-signature={key('sig', rec['id'])}"
    return (f"https://p16-sign-va.tiktokcdn.com/obj/tos-maliva-p-0068/{key('tp', rec['id'])}"
            f"~tplv-photomode-zoomcover:720:1280.jpeg?{sig}",
            f"https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/{key('ta', rec['handle'])}"
            f"~c5_100x100.jpeg?{sig}")


def _caption_html(caption: str) -> str:
    return re.sub(r"#(\w+)", lambda m: f'<a title="{m.group(1)}" target="_blank" href="https://'
                  f'www.tiktok.com/tag/{m.group(1)}?refer=embed">#{m.group(1)}</a>',
                  esc(caption))


def tiktok_blockquote(rec: dict[str, Any]) -> str:
    handle, vid = rec["handle"], rec["id"]
    return (f'<blockquote class="tiktok-embed" cite="https://www.tiktok.com/@{handle}/video/'
            f'{vid}" data-video-id="{vid}" data-embed-from="oembed" style="max-width:605px; '
            f'min-width:325px;"> <section> <a target="_blank" title="@{handle}" href="https://'
            f'www.tiktok.com/@{handle}?refer=embed">@{handle}</a> <p>'
            f'{_caption_html(rec["caption"])}</p> <a target="_blank" title="♬ {esc(rec["sound"])}'
            f'" href="https://www.tiktok.com/music/{key("snd", rec["sound"])}?refer=embed">♬ '
            f'{esc(rec["sound"])}</a> </section> </blockquote> <script async '
            'src="https://www.tiktok.com/embed.js"></script>')


def tiktok_oembed(rec: dict[str, Any]) -> dict[str, Any]:
    poster, _ = tiktok_images(rec)
    return {"version": "1.0", "type": "video", "title": rec["caption"],
            "author_url": f"https://www.tiktok.com/@{rec['handle']}", "author_name": rec["name"],
            "width": "100%", "height": "100%", "html": tiktok_blockquote(rec),
            "thumbnail_width": 720, "thumbnail_height": 1280, "thumbnail_url": poster,
            "provider_url": "https://www.tiktok.com", "provider_name": "TikTok",
            "author_unique_id": rec["handle"], "embed_product_id": rec["id"],
            "embed_type": "video"}


_TT_HEART = ('<svg viewBox="0 0 24 24" width="16" height="16" fill="#fe2c55"><path d="M12 '
             "21.3l-1.4-1.3C5.4 15.4 2 12.3 2 8.5 2 5.4 4.4 3 7.5 3c1.7 0 3.4.8 4.5 2.1C13.1 3.8 "
             '14.8 3 16.5 3 19.6 3 22 5.4 22 8.5c0 3.8-3.4 6.9-8.6 11.5z"/></svg>')
_TT_BUBBLE = ('<svg viewBox="0 0 24 24" width="16" height="16" fill="#161823"><path d="M12 3C6.5 '
              "3 2 6.8 2 11.5c0 2.6 1.4 4.9 3.6 6.5L5 21.5l4.2-2.3c.9.2 1.8.3 2.8.3 5.5 0 10-3.8 "
              '10-8.5S17.5 3 12 3z"/></svg>')


def _compact(n: int) -> str:
    return f"{n / 1000:.1f}K".replace(".0K", "K") if n >= 1000 else str(n)


def tiktok_player(rec: dict[str, Any] | None, state: str) -> str:
    if rec is None or state != "live":
        desc = TIKTOK_NOTICES[state if rec else "unknown"]
        body = ('<div id="app"><div class="css-1wrhn5c-DivErrorContainer e1ehs1hd0">'
                '<p class="css-j2a19r-PErrorTitle e1ehs1hd1">Video currently unavailable</p>'
                + (f'<p class="css-1v7g8n4-PErrorDesc e1ehs1hd2">{esc(desc)}</p>' if desc else "")
                + '<a href="https://www.tiktok.com/?refer=embed" target="_blank">Watch more '
                "on TikTok</a></div></div>")
        return _page("TikTok", "tiktok.css", body, "en-US")
    poster, avatar = tiktok_images(rec)
    profile = f"https://www.tiktok.com/@{rec['handle']}?refer=embed"
    body = (
        f"<div id=\"app\"><div class=\"css-1i5l3wb-DivEmbedContainer eitm1ls0\" hidden "
        f"data-reveal='{json.dumps([poster, avatar])}'>"
        '<div class="css-7l2x3b-DivHeaderContainer eitm1ls1">'
        f'<a class="css-1c4f8sf-AAvatar eitm1ls2" href="{profile}" target="_blank">'
        f'<img src="{avatar}" alt="{esc(rec["handle"])}"></a>'
        '<div class="css-9ymw5e-DivUserInfo eitm1ls3">'
        f'<a class="css-2bu7qn-AUniqueId eitm1ls4" href="{profile}" target="_blank">'
        f'{esc(rec["handle"])}</a><p class="css-1xyzrsf-PNickname eitm1ls5">{esc(rec["name"])}'
        f'</p></div><a class="css-ocbmd4-AFollowButton eitm1ls6" href="{profile}" '
        'target="_blank">Follow</a></div>'
        '<div class="css-1qp5gj2-DivVideoContainer eitm1ls7">'
        f'<img class="css-1r4bg1d-ImgPoster eitm1ls8" src="{poster}" alt="">'
        '<div class="css-q1bwae-DivPlayIcon eitm1ls9"><svg viewBox="0 0 48 48"><path d="M16 '
        '10.5v27c0 1.2 1.3 1.9 2.3 1.3l21-13.5c.9-.6.9-2 0-2.6l-21-13.5c-1-.6-2.3.1-2.3 '
        '1.3z"/></svg></div><div class="css-1lbbr9q-DivWatermark eitm1ls10">TikTok</div></div>'
        f'<div class="css-1w3qg0i-DivDescription eitm1ls11"><p>{_caption_html(rec["caption"])}'
        f'</p><a class="css-g6z8x4-AMusic eitm1ls12" href="https://www.tiktok.com/music/'
        f'{key("snd", rec["sound"])}?refer=embed" target="_blank">♬ {esc(rec["sound"])}</a>'
        '</div><div class="css-1o3ddsd-DivFooter eitm1ls13">'
        f'<span>{_TT_HEART} {_compact(rec.get("likes", 0))}</span>'
        f'<span>{_TT_BUBBLE} {_compact(rec.get("comments", 0))}</span>'
        f'<a href="https://www.tiktok.com/@{rec["handle"]}/video/{rec["id"]}?refer=embed" '
        'target="_blank">Watch on TikTok</a></div></div></div>')
    return _page(f"{rec['name']} on TikTok", "tiktok.css", body, "en-US")


#: embed.js: each pasted blockquote becomes the v2 embed iframe, as TikTok's script does.
TIKTOK_EMBED_JS = """(function () {
  document.querySelectorAll("blockquote.tiktok-embed[data-video-id]").forEach(function (q) {
    var f = document.createElement("iframe");
    f.src = "https://www.tiktok.com/embed/v2/" + q.getAttribute("data-video-id") +
      "?lang=en-US&referrer=" + encodeURIComponent(location.href);
    f.setAttribute("data-id", q.getAttribute("data-video-id"));
    f.style.cssText = "width:100%;height:740px;display:block;visibility:unset;max-height:740px;";
    f.setAttribute("allow", "encrypted-media;");
    q.replaceChildren(f);
  });
})();
"""
