"""Fake YouTube, Vimeo and TikTok: fixture videos, their oEmbed endpoints and players.

Records are tests/fixtures/video/<platform>.json; each has a `state` (live, deleted, private,
age_restricted, region_blocked, embedding_disabled), which a test overrides at run time with
`fake.set_post_state("youtube", video_id, "private")`. An id without a record is a deleted
video. Hosts: www.youtube.com (oEmbed, watch page, embed), youtube.com / m.youtube.com
(301 to www), youtu.be (303 to the watch page), www.youtube-nocookie.com (embed), i.ytimg.com
(thumbnails), yt3.ggpht.com (channel avatars); vimeo.com (oEmbed), player.vimeo.com (player),
i.vimeocdn.com (posters, portraits); www.tiktok.com (oEmbed, embed/v2, embed.js),
tiktok.com / m.tiktok.com (301 to www), p16-sign-va.tiktokcdn.com (posters, avatars).

How each state answers (what the real endpoints are believed to answer; see the platform
modules' docstrings): YouTube oEmbed 200 for live, age-restricted and region-blocked videos,
401 when embedding is disabled, 403 private, 404 deleted; Vimeo oEmbed 200 (live, and the
age / region gated, which it does not see), 403 embedding disabled, 404 deleted or private,
404 for an unlisted video asked without its hash; TikTok oEmbed 200 live, else 400.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.platforms.tiktok import TikTok
from archiver.platforms.vimeo import Vimeo
from archiver.platforms.youtube import YouTube
from tests.fakeplatform.images import avatar_png, media_png
from tests.fakeplatform.server import Handler, Request, Response
from tests.fakeplatform.video_render import (
    ASSETS,
    TIKTOK_EMBED_JS,
    esc,
    tiktok_oembed,
    tiktok_player,
    vimeo_oembed,
    vimeo_player,
    youtube_oembed,
    youtube_player,
    youtube_watch,
)

if TYPE_CHECKING:
    from tests.fakeplatform.server import FakePlatform

PLATFORMS = ("youtube", "vimeo", "tiktok")
STATES = frozenset({"live", "deleted", "private", "age_restricted", "region_blocked",
                    "embedding_disabled"})
JSON_TYPE = "application/json; charset=utf-8"
NO_STORE = ("Cache-Control", "no-store")
IMAGE_CACHE = ("Cache-Control", "public, max-age=86400")

_YT_EMBED = re.compile(r"^/embed/(?P<id>[A-Za-z0-9_-]{11})$")
_YT_THUMB = re.compile(r"^/vi(?:_webp)?/(?P<id>[A-Za-z0-9_-]{11})/(?P<name>\w+)\.(?:jpg|webp)$")
_YT_SIZES = {"maxresdefault": (1280, 720), "sddefault": (640, 480), "hqdefault": (480, 360),
             "mqdefault": (320, 180), "default": (120, 90)}
_VIMEO_PLAYER = re.compile(r"^/video/(?P<id>\d{1,12})/?$")
_VIMEO_SIZE = re.compile(r"_(?P<w>\d{2,4})x(?P<h>\d{2,4})$")
_TIKTOK_PLAYER = re.compile(r"^/(?:embed(?:/v2)?|player/v1)/(?P<id>\d{15,21})/?$")


class VideoStore:
    """Read-only fixture records, by platform and id (states change through the fake)."""

    def __init__(self, directory: Path = ASSETS) -> None:
        self._records: dict[str, dict[str, dict[str, Any]]] = {}
        for name in PLATFORMS:
            data = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
            for record in data["videos"]:
                if record["state"] not in STATES:
                    raise ValueError(f"{name} {record['id']}: unknown state {record['state']!r}")
            self._records[name] = {str(r["id"]): r for r in data["videos"]}

    def get(self, platform: str, video_id: str) -> dict[str, Any] | None:
        record = self._records[platform].get(video_id)
        return copy.deepcopy(record) if record is not None else None

    def ids(self, platform: str, state: str | None = None) -> list[str]:
        return [i for i, r in self._records[platform].items() if state in (None, r["state"])]


STORE = VideoStore()


def _json(data: dict[str, Any], status: int = 200) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False).encode(), JSON_TYPE, [NO_STORE])


def _not_found_page(site: str) -> Response:
    return Response.html(f"<!DOCTYPE html><title>404 Not Found</title><h1>{esc(site)}</h1>"
                         "<p>This page isn't available.</p>", 404)


def _script(source: str) -> Response:
    return Response(200, source.encode(), "application/javascript; charset=utf-8",
                    [("Cache-Control", "max-age=3600")])


def _image(body: bytes) -> Response:
    return Response(200, body, "image/png", [IMAGE_CACHE, ("Access-Control-Allow-Origin", "*")])


def routes(platform: FakePlatform) -> dict[str, Handler]:
    """Handlers by host for YouTube, Vimeo and TikTok."""

    def lookup(name: str, video_id: str) -> tuple[dict[str, Any] | None, str]:
        record = STORE.get(name, video_id)
        state = platform.post_state(name, video_id, record["state"] if record else "deleted")
        return (record if state in STATES else None), state

    # -- YouTube -------------------------------------------------------------------------
    def youtube_host(req: Request) -> Response:
        if req.path == "/oembed":
            ref = YouTube().match_url(req.query.get("url", ""))
            if ref is None or req.query.get("format", "json") != "json":
                return Response(400, b"Bad Request", "text/html; charset=utf-8")
            record, state = lookup("youtube", ref.post_id)
            if record is None or state == "deleted":
                return Response(404, b"Not Found", "text/html; charset=utf-8")
            if state == "private":
                return Response(403, b"Forbidden", "text/html; charset=utf-8")
            if state == "embedding_disabled":
                return Response(401, b"Unauthorized", "text/html; charset=utf-8")
            return _json(youtube_oembed(record))
        if req.path in ("/iframe_api", "/player_api"):
            return _script("window.YT = window.YT || {loaded: 1};\n")
        if req.path == "/watch":
            video_id = req.query.get("v", "")
            record, state = lookup("youtube", video_id)
            return Response.html(youtube_watch(record, state, video_id), headers=[NO_STORE])
        return youtube_embed(req)

    def youtube_embed(req: Request) -> Response:
        m = _YT_EMBED.match(req.path)
        if m is None:
            return _not_found_page("YouTube")
        record, state = lookup("youtube", m.group("id"))
        return Response.html(youtube_player(record, state, m.group("id")), headers=[NO_STORE])

    def to_www_youtube(req: Request) -> Response:
        return Response.redirect("https://www.youtube.com" + req.target, 301)

    def youtu_be(req: Request) -> Response:
        video_id = req.path.strip("/")
        return Response.redirect(f"https://www.youtube.com/watch?v={video_id}"
                                 "&feature=youtu.be", 303)

    def ytimg(req: Request) -> Response:
        m = _YT_THUMB.match(req.path)
        if m is None:
            return Response(404, b"", None)
        width, height = _YT_SIZES.get(m.group("name"), (480, 360))
        return _image(media_png(f"yt:{m.group('id')}", width, height))

    def ggpht(req: Request) -> Response:
        return _image(avatar_png(req.path.split("=")[0], 88))

    # -- Vimeo ---------------------------------------------------------------------------
    def vimeo_host(req: Request) -> Response:
        if req.path not in ("/api/oembed.json", "/api/oembed"):
            return _not_found_page("Vimeo")
        ref = Vimeo().match_url(req.query.get("url", ""))
        if ref is None:
            return Response(404, b"404 Not Found", "text/html; charset=utf-8")
        record, state = lookup("vimeo", ref.post_id)
        if record is not None and record.get("hash") \
                and Vimeo.privacy_hash(ref) != record["hash"]:
            state = "private"  # an unlisted video asked without its hash
        if record is None or state in ("deleted", "private"):
            return Response(404, b"404 Not Found", "text/html; charset=utf-8")
        if state == "embedding_disabled":
            return Response(403, b"403 Forbidden", "text/html; charset=utf-8")
        return _json(vimeo_oembed(record))

    def vimeo_player_host(req: Request) -> Response:
        if req.path == "/api/player.js":
            return _script("window.Vimeo = window.Vimeo || {};\n")
        m = _VIMEO_PLAYER.match(req.path)
        if m is None:
            return _not_found_page("Vimeo")
        record, state = lookup("vimeo", m.group("id"))
        if record is not None and record.get("hash") and req.query.get("h") != record["hash"]:
            state = "private"
        if record is None:
            state = "deleted"
        page = vimeo_player(record or {}, state)
        status = 200 if state == "live" else 404 if state == "deleted" else 403
        return Response.html(page, status, headers=[NO_STORE])

    def vimeocdn(req: Request) -> Response:
        if req.path.startswith("/portrait/"):
            return _image(avatar_png(req.path, 72))
        size = _VIMEO_SIZE.search(req.path)
        width, height = (int(size["w"]), int(size["h"])) if size else (640, 360)
        base = _VIMEO_SIZE.sub("", req.path)
        return _image(media_png(f"vm:{base}", min(width, 1920), min(height, 1080)))

    # -- TikTok --------------------------------------------------------------------------
    def tiktok_host(req: Request) -> Response:
        if req.path == "/oembed":
            ref = TikTok().match_url(req.query.get("url", ""))
            record, state = lookup("tiktok", ref.post_id) if ref else (None, "deleted")
            if record is None or state != "live":
                return _json({"code": 400, "message": "Something went wrong", "data": {}}, 400)
            return _json(tiktok_oembed(record))
        if req.path == "/embed.js":
            return _script(TIKTOK_EMBED_JS)
        m = _TIKTOK_PLAYER.match(req.path)
        if m is None:
            return _not_found_page("TikTok")
        record, state = lookup("tiktok", m.group("id"))
        return Response.html(tiktok_player(record, state), headers=[NO_STORE])

    def to_www_tiktok(req: Request) -> Response:
        return Response.redirect("https://www.tiktok.com" + req.target, 301)

    def tiktokcdn(req: Request) -> Response:
        if "-avt-" in req.path:
            return _image(avatar_png(req.path, 100))
        return _image(media_png(f"tt:{req.path}", 360, 640))

    return {
        "www.youtube.com": youtube_host,
        "youtube.com": to_www_youtube,
        "m.youtube.com": to_www_youtube,
        "youtu.be": youtu_be,
        "www.youtube-nocookie.com": youtube_embed,
        "i.ytimg.com": ytimg,
        "yt3.ggpht.com": ggpht,
        "vimeo.com": vimeo_host,
        "player.vimeo.com": vimeo_player_host,
        "i.vimeocdn.com": vimeocdn,
        "www.tiktok.com": tiktok_host,
        "tiktok.com": to_www_tiktok,
        "m.tiktok.com": to_www_tiktok,
        "p16-sign-va.tiktokcdn.com": tiktokcdn,
    }
