"""Fake Instagram, Facebook and Threads: post records with states, and the routes that the
archiver and Chromium request.

Hosts: www.instagram.com (the /embed/captioned/ render, post pages, embed.js, login),
instagram.com and m.instagram.com (301 to www), scontent.cdninstagram.com (images, also
Threads'); www.facebook.com (plugins/post.php and video.php, post pages, login),
facebook.com, m., web. and mbasic. (301 to www), scontent.xx.fbcdn.net (images),
connect.facebook.net (sdk.js); www.threads.net and www.threads.com (the /embed/ render,
post pages, embed.js, login), threads.net and threads.com (301 to www).

A post's state is its fixture's `state` (tests/fixtures/meta/<platform>.json), or what a
test set with `FakePlatform.set_post_state(platform, post_id, state)`: live, deleted,
private, age_gated, region_blocked (the platform's notice instead of the post), login_wall
(a redirect to the login page), ratelimited (HTTP 429). Unknown posts are deleted.
Rendering is in meta_render.py (Instagram, Threads) and meta_facebook.py.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tests.fakeplatform import meta_facebook as fb
from tests.fakeplatform import meta_render as render
from tests.fakeplatform.images import avatar_png, media_png
from tests.fakeplatform.server import Handler, Request, Response

if TYPE_CHECKING:
    from tests.fakeplatform.server import FakePlatform

STATES = frozenset({"live", "deleted", "private", "age_gated", "region_blocked", "login_wall",
                    "ratelimited"})
NO_STORE = ("Cache-Control", "no-store")
JS_TYPE = "application/javascript; charset=utf-8"
RATE_LIMITED = ("<!DOCTYPE html><title>Error</title><p>Please wait a few minutes before you "
                "try again.</p>")

_IG_POST = re.compile(r"^/(?:[\w.]{1,30}/)?(?:p|reels?|tv)/(?P<code>[\w-]{5,48})/?"
                      r"(?P<embed>embed(?:/captioned)?/?)?$")
_THREADS_POST = re.compile(r"^/(?:@[\w.]{1,30}/)?(?:post|t)/(?P<code>[\w-]{5,48})/?"
                           r"(?P<embed>embed/?)?$")
_FB_ID = re.compile(r"(?:story_fbid=|[?&]fbid=|[?&]v=|/posts/|/videos/(?:[^/?#]+/)?|/reel/"
                    r"|/photos/(?:(?:a|pcb|pb)\.[\d.]+/)?|/permalink/)"
                    r"(?P<id>\d{5,25}|pfbid[A-Za-z0-9]+)")
_FB_PLUGIN = re.compile(r"^/(?:v\d+\.\d+/)?plugins/(?:post|video)\.php$")
_SIZE = re.compile(r"_(\d{2,4})x(\d{2,4})_n\.png$")


class MetaPosts:
    """One platform's post records (read-only), and their state for a running fake."""

    def __init__(self, name: str, records: list[dict[str, Any]]) -> None:
        self.name = name
        self.records = {str(r["id"]): r for r in records}
        for record in records:
            if record["state"] not in STATES:
                raise ValueError(f"{name} {record['id']}: unknown state {record['state']!r}")

    @classmethod
    def from_fixture(cls, name: str) -> MetaPosts:
        data = json.loads((render.ASSETS / f"{name}.json").read_text(encoding="utf-8"))
        return cls(name, data["posts"])

    def get(self, post_id: str) -> dict[str, Any] | None:
        return self.records.get(post_id)

    def find(self, token: str) -> str:
        """The post id a URL's id token stands for (a pfbid is the end of a path id)."""
        if token.startswith("pfbid"):
            return next((i for i in self.records if i.endswith("/" + token)), token)
        return token

    def state(self, platform: FakePlatform, post_id: str) -> str:
        record = self.get(post_id)
        state = platform.post_state(self.name, post_id, record["state"] if record else "deleted")
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; one of {sorted(STATES)}")
        return state


def _html(text: str, status: int = 200) -> Response:
    return Response.html(text, status, headers=[NO_STORE])


def _asset(name: str) -> Response:
    return Response(200, (render.ASSETS / name).read_bytes(), JS_TYPE,
                    [("Cache-Control", "max-age=1200")])


def _to_login(path: str, target: str) -> Response:
    return Response(302, b"", None, [("Location", f"{path}?next={quote(target, safe='')}"),
                                     NO_STORE])


def _image(req: Request, avatar_marker: str) -> Response:
    if not req.path.endswith(".png"):
        return Response(404, b"", None)
    if avatar_marker in req.path:
        body = avatar_png(req.path, 150)
    else:
        size = _SIZE.search(req.path)
        width, height = (min(1600, int(size[1])), min(1600, int(size[2]))) if size else (640, 640)
        body = media_png(req.path, width, height)
    return Response(200, body, "image/png", [("Cache-Control", "max-age=604800"),
                                             ("Access-Control-Allow-Origin", "*")])


def _to_www(req: Request) -> Response:
    base = ".".join(req.host.split(".")[-2:])  # m.facebook.com -> www.facebook.com
    return Response.redirect(f"https://www.{base}{req.target}", 301)


def routes(platform: FakePlatform) -> dict[str, Handler]:
    """Handlers by host for Instagram, Facebook and Threads."""
    ig, fbp, th = (MetaPosts.from_fixture(n) for n in ("instagram", "facebook", "threads"))

    def instagram(req: Request) -> Response:
        if req.path == "/embed.js":
            return _asset("instagram-embed.js")
        if req.path.startswith("/accounts/login"):
            return _html(render.instagram_login())
        m = _IG_POST.match(req.path)
        if m is None:
            return _html(render.instagram_post_page(None, "deleted"), 404)
        code = m["code"]
        state, record = ig.state(platform, code), ig.get(code)
        if state == "login_wall":
            return _to_login("/accounts/login/", req.target)
        if state == "ratelimited":
            return _html(RATE_LIMITED, 429)
        if m["embed"]:  # the embed answers 200 with its notice, as the real one does
            return _html(render.instagram_embed(record) if record and state == "live"
                         else render.instagram_broken(state))
        return _html(render.instagram_post_page(record, state),
                     404 if state == "deleted" else 200)

    def facebook(req: Request) -> Response:
        if req.path.startswith(("/login", "/login.php")):
            return _html(fb.login())
        plugin = _FB_PLUGIN.match(req.path)
        found = _FB_ID.search(req.query.get("href", "") if plugin else req.target)
        if found is None:
            return _html(fb.notice("deleted")) if plugin else _html(
                fb.post_page(None, "deleted"), 404)
        post_id = fbp.find(found["id"])
        state, record = fbp.state(platform, post_id), fbp.get(post_id)
        if state == "login_wall":
            return _to_login("/login/", req.target)
        if state == "ratelimited":
            return _html(RATE_LIMITED, 429)
        if plugin:
            return _html(fb.plugin(record) if record and state == "live" else fb.notice(state))
        return _html(fb.post_page(record, state), 404 if state == "deleted" else 200)

    def threads(req: Request) -> Response:
        if req.path == "/embed.js":
            return _asset("threads-embed.js")
        if req.path.startswith("/login"):
            return _html(render.threads_login())
        m = _THREADS_POST.match(req.path)
        if m is None:
            return _html(render.threads_post_page(None, "deleted"), 404)
        code = m["code"]
        state, record = th.state(platform, code), th.get(code)
        if state == "login_wall":
            return _to_login("/login/", req.target)
        if state == "ratelimited":
            return _html(RATE_LIMITED, 429)
        if m["embed"]:
            return _html(render.threads_embed(record) if record and state == "live"
                         else render.threads_unavailable(state))
        return _html(render.threads_post_page(record, state), 404 if state == "deleted" else 200)

    def connect(req: Request) -> Response:
        return _asset("facebook-sdk.js") if req.path.endswith("/sdk.js") else Response(
            404, b"", None)

    return {
        "www.instagram.com": instagram,
        "instagram.com": _to_www,
        "m.instagram.com": _to_www,
        "scontent.cdninstagram.com": lambda req: _image(req, "t51.2885-19/"),
        "www.facebook.com": facebook,
        "facebook.com": _to_www,
        "m.facebook.com": _to_www,
        "web.facebook.com": _to_www,
        "mbasic.facebook.com": _to_www,
        "scontent.xx.fbcdn.net": lambda req: _image(req, "t39.30808-1/"),
        "connect.facebook.net": connect,
        "www.threads.net": threads,
        "www.threads.com": threads,
        "threads.net": _to_www,
        "threads.com": _to_www,
    }
