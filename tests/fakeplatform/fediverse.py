"""Fake Telegram, Bluesky and Mastodon: the routes the archiver and Chromium request.

Hosts: t.me (widget pages `/<channel>/<id>?embed=1`, comments widget, post and channel
pages), telegram.me (301 to t.me), telegram.org (telegram-widget.js), oauth.telegram.org
(the login button's frame), cdn4.telesco.pe (images); public.api.bsky.app
(getPostThread), embed.bsky.app (the embed app and embed.js), cdn.bsky.app (images),
bsky.app (post and profile pages); the Mastodon instances of the fixture (mastodon.social,
infosec.exchange: API, embed and status pages, sign-in, embed.js) and their media hosts.

Records come from tests/fixtures/fediverse/{telegram,bluesky,mastodon}.json; each post's
state is `platform.post_state(<platform>, <post key>, <fixture state>)`, so a test can flip
any post at run time with `set_post_state` (keys: `channel/id`, `<did>/<rkey>`,
`<host>/<status id>`). Rendering is in fediverse_render.py.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from tests.fakeplatform import fediverse_render as render
from tests.fakeplatform.images import avatar_png, media_png
from tests.fakeplatform.server import Handler, Request, Response

if TYPE_CHECKING:
    from tests.fakeplatform.server import FakePlatform

JSON_TYPE = "application/json; charset=utf-8"
JS_TYPE = "application/javascript; charset=utf-8"
NO_STORE = ("Cache-Control", "no-store")
CORS = ("Access-Control-Allow-Origin", "*")
IMAGE_HEADERS = [("Cache-Control", "max-age=604800"), CORS]


@cache
def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((render.ASSETS / f"{name}.json").read_text("utf-8"))
    return data


def _json(data: Any, status: int = 200, *extra: tuple[str, str]) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False).encode(), JSON_TYPE,
                    [NO_STORE, CORS, *extra])


def _png(body: bytes) -> Response:
    return Response(200, body, "image/png", list(IMAGE_HEADERS))


# -- Telegram --------------------------------------------------------------------------------
@cache
def telegram_posts() -> dict[str, dict[str, Any]]:
    return {p["id"].lower(): p for p in fixture("telegram")["posts"]}


def telegram_routes(platform: FakePlatform) -> dict[str, Handler]:
    channels: dict[str, dict[str, Any]] = fixture("telegram")["channels"]
    photos = {p["file"]: p for post in telegram_posts().values() for p in post["photos"]}

    def widget(key: str, req: Request) -> Response:
        post = telegram_posts().get(key)
        state = platform.post_state("telegram", key, post.get("state", "live")) \
            if post else "deleted"
        if post is None or state != "live":
            body = render.telegram_notice(state, f"https://t.me/{key}")
        else:
            body = render.telegram_message(post, channels[key.split("/")[0]],
                                           req.query.get("userpic") != "false")
        return Response.html(render.telegram_page(body), headers=[NO_STORE])

    def tme(req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if parts[:1] == ["s"]:
            parts = parts[1:]
        if len(parts) == 2 and parts[1].isdigit():
            key = f"{parts[0].lower()}/{int(parts[1])}"
            if req.query.get("embed") == "1":
                if req.query.get("discussion") == "1":
                    return Response.html(render.telegram_page(render.telegram_discussion(key)))
                return widget(key, req)
            frame = (f'<iframe src="https://t.me/{key}?embed=1" width="100%" height="360" '
                     'frameborder="0"></iframe>')
            return Response.html(render.telegram_page(frame, f"Telegram: View @{parts[0]}"))
        if len(parts) == 1 and parts[0].lower() in channels:
            title = channels[parts[0].lower()]["title"]
            return Response.html(render.telegram_page(
                f'<div class="tgme_page_title">{title}</div>', f"Telegram: Contact @{parts[0]}"))
        return Response.html(render.telegram_page("<p>Page not found</p>"), 404)

    def telegram_org(req: Request) -> Response:
        if req.path == "/js/telegram-widget.js":
            return Response(200, render.asset("telegram-widget.js").encode(), JS_TYPE,
                            [("Cache-Control", "max-age=3600")])
        return Response.html("<h1>Telegram</h1>", 404)

    def oauth(req: Request) -> Response:
        return Response.html('<!DOCTYPE html><button style="background:#54a9eb;color:#fff;'
                             'border:0;border-radius:20px;padding:9px 21px;font:500 16px sans-'
                             'serif">Log in with Telegram</button>')

    def telesco(req: Request) -> Response:
        name = req.path.rsplit("/", 1)[-1]
        if name.startswith("avatar-"):
            return _png(avatar_png(name, 160))
        photo = photos.get(name)
        if photo is None:
            return Response(404, b"", None)
        return _png(media_png(name, photo["width"], photo["height"]))

    return {
        "t.me": tme,
        "telegram.me": lambda req: Response.redirect("https://t.me" + req.target, 301),
        "telegram.org": telegram_org,
        "oauth.telegram.org": oauth,
        "cdn4.telesco.pe": telesco,
    }


# -- Bluesky ---------------------------------------------------------------------------------
_AT_URI = re.compile(r"^at://(?P<who>[^/]+)/app\.bsky\.feed\.post/(?P<rkey>[A-Za-z0-9._~:-]+)$")
_EMBED_PATH = re.compile(r"^/embed/[^/]+/app\.bsky\.feed\.post/[A-Za-z0-9._~:-]+/?$")


@cache
def bluesky_accounts() -> dict[str, dict[str, Any]]:
    """By DID and by handle (lower case)."""
    out: dict[str, dict[str, Any]] = {}
    for account in fixture("bluesky")["accounts"]:
        out[account["did"]] = out[account["handle"].lower()] = account
    return out


@cache
def bluesky_posts() -> dict[str, dict[str, Any]]:
    return {f"{p['did']}/{p['rkey']}": p for p in fixture("bluesky")["posts"]}


def bluesky_routes(platform: FakePlatform) -> dict[str, Handler]:
    images = {i["cid"]: i for p in bluesky_posts().values() for i in p["images"]}

    def thread(req: Request) -> Response:
        found = _AT_URI.match(req.query.get("uri", ""))
        if found is None:
            return _json({"error": "InvalidRequest", "message": "Error: uri must be a valid "
                          "at-uri"}, 400)
        who, rkey = found["who"], found["rkey"]
        account = bluesky_accounts().get(who if who.startswith("did:") else who.lower())
        if account is None and not who.startswith("did:"):
            return _json({"error": "InvalidRequest", "message": "Unable to resolve handle"},
                         400)
        key = f"{account['did'] if account else who}/{rkey}"
        post = bluesky_posts().get(key)
        state = platform.post_state("bluesky", key, post.get("state", "live")) \
            if post else "deleted"
        uri = f"at://{who}/app.bsky.feed.post/{rkey}"
        if post is None or account is None or state == "deleted":
            return _json({"error": "NotFound", "message": f"Post not found: {uri}"}, 400)
        if state == "blocked":
            return _json(render.bsky_blocked(uri, account["did"]))
        if state in ("login_wall", "private"):
            account = {**account, "labels": [*account.get("labels", []), "!no-unauthenticated"]}
        return _json(render.bsky_thread(post, account))

    def api(req: Request) -> Response:
        if req.path == "/xrpc/app.bsky.feed.getPostThread":
            return thread(req)
        return _json({"error": "MethodNotImplemented", "message": "Method Not Implemented"},
                     501)

    def embed(req: Request) -> Response:
        if req.path == "/static/embed.js":
            return Response(200, render.asset("bluesky-embed.js").encode(), JS_TYPE,
                            [("Cache-Control", "max-age=3600")])
        if _EMBED_PATH.match(req.path):
            return Response.html(render.asset("bluesky-embed.html"), headers=[NO_STORE])
        return Response.html("<!DOCTYPE html><p>Not found</p>", 404)

    def cdn(req: Request) -> Response:
        parts = req.path.split("/")  # /img/<kind>/plain/<did>/<cid>@jpeg
        if len(parts) != 6 or parts[1] != "img":
            return Response(404, b"", None)
        cid = parts[5].split("@")[0]
        if parts[2] == "avatar":
            return _png(avatar_png(cid, 128))
        image = images.get(cid)
        if image is None:
            return Response(404, b"", None)
        return _png(media_png(cid, image["width"], image["height"]))

    def app(req: Request) -> Response:
        found = re.match(r"^/profile/([^/]+)(?:/post/([^/]+))?/?$", req.path)
        if found is None:
            return Response.html(render.bsky_simple_page("Bluesky", "Social media as it "
                                                         "should be."))
        account = bluesky_accounts().get(found[1] if found[1].startswith("did:")
                                         else found[1].lower())
        if account is None:
            return Response.html(render.bsky_simple_page("Bluesky", "Profile not found"))
        post = bluesky_posts().get(f"{account['did']}/{found[2]}") if found[2] else None
        text = post["text"] if post else f"@{account['handle']} on Bluesky"
        return Response.html(render.bsky_simple_page(
            f"{account['displayName']} (@{account['handle']})", text))

    return {"public.api.bsky.app": api, "embed.bsky.app": embed, "cdn.bsky.app": cdn,
            "bsky.app": app}


# -- Mastodon --------------------------------------------------------------------------------
_STATUS_PATH = re.compile(r"^/(?:@(?P<user>[^/@]+)(?:@(?P<domain>[^/]+))?|users/(?P<uuser>[^/]+)"
                          r"/statuses)/(?P<id>\d+)(?P<embed>/embed)?/?$")


@cache
def mastodon_statuses() -> dict[str, dict[str, Any]]:
    return {f"{s['host']}/{s['id']}": s for s in fixture("mastodon")["statuses"]}


@cache
def mastodon_accounts() -> dict[str, dict[str, Any]]:
    return {f"{a['host']}/{a['username'].lower()}": a for a in fixture("mastodon")["accounts"]}


def mastodon_routes(platform: FakePlatform) -> dict[str, Handler]:
    instances: dict[str, dict[str, Any]] = fixture("mastodon")["instances"]
    routes: dict[str, Handler] = {}
    for host, info in instances.items():
        routes[host] = _instance(platform, host, info["media"])
        routes[info["media"]] = _media_host(host)
    return routes


def _instance(platform: FakePlatform, host: str, media_host: str) -> Handler:
    def lookup(number: str) -> tuple[dict[str, Any] | None, str]:
        key = f"{host}/{number}"
        status = mastodon_statuses().get(key)
        state = platform.post_state("mastodon", key, status.get("state", "live")) \
            if status else "deleted"
        return status, state

    def api_status(number: str) -> Response:
        status, state = lookup(number)
        if state in ("login_wall", "api_login"):
            return _json({"error": "This API requires an authenticated user"}, 401)
        if status is None or state != "live":
            return _json({"error": "Record not found"}, 404)
        account = mastodon_accounts()[f"{host}/{status['username'].lower()}"]
        return _json(render.mastodon_status(host, media_host, status, account))

    def status_page(found: re.Match[str]) -> Response:
        status, state = lookup(found["id"])
        user = (found["user"] or found["uuser"] or "").lower()
        remote = found["domain"] is not None and found["domain"].lower() != host
        if state == "login_wall":
            return Response.redirect(f"https://{host}/auth/sign_in", 302)
        if status is None or state not in ("live", "api_login") or remote \
                or user != status["username"].lower():
            # a status of another account, a followers-only or deleted one: all 404 alike;
            # and /embed serves local accounts only
            return Response.html(render.mastodon_error(host, 404), 404, headers=[NO_STORE])
        account = mastodon_accounts()[f"{host}/{status['username'].lower()}"]
        data = render.mastodon_status(host, media_host, status, account)
        page = render.mastodon_embed if found["embed"] else render.mastodon_status_page
        return Response.html(page(host, data), headers=[NO_STORE])

    def instance(req: Request) -> Response:
        api = re.match(r"^/api/v1/statuses/(\d+)$", req.path)
        if api:
            return api_status(api[1])
        if req.path == "/embed.js":
            return Response(200, render.asset("mastodon-embed.js").encode(), JS_TYPE,
                            [("Cache-Control", "max-age=3600")])
        if req.path == "/auth/sign_in":
            return Response.html(render.mastodon_sign_in(host))
        found = _STATUS_PATH.match(req.path)
        if found:
            return status_page(found)
        user = re.match(r"^/@([^/@]+)/?$", req.path)
        if user and f"{host}/{user[1].lower()}" in mastodon_accounts():
            account = mastodon_accounts()[f"{host}/{user[1].lower()}"]
            return Response.html(render.mastodon_page(host, account["display_name"], (
                f'<div class="page-header">{render.e(account["display_name"])} '
                f"(@{render.e(account['username'])}@{host})</div>")))
        return Response.html(render.mastodon_error(host, 404), 404)

    return instance


def _media_host(host: str) -> Handler:
    sizes = {m["file"]: (m["width"], m["height"]) for s in mastodon_statuses().values()
             if s["host"] == host for m in s["media"]}

    def media(req: Request) -> Response:
        name = req.path.rsplit("/", 1)[-1]
        if req.path.startswith("/accounts/avatars/"):
            return _png(avatar_png(req.path, 120))
        if req.path.startswith("/media_attachments/") and name in sizes:
            width, height = sizes[name]
            if "/small/" in req.path:
                width, height = 640, round(640 * height / width)
            return _png(media_png(f"{host}/{name}", width, height))
        return Response(404, b"", None)

    return media


def routes(platform: FakePlatform) -> dict[str, Handler]:
    """Handlers by host for Telegram, Bluesky and every Mastodon instance of the fixture."""
    return {**telegram_routes(platform), **bluesky_routes(platform),
            **mastodon_routes(platform)}
