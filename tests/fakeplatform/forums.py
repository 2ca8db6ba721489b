"""Fake Reddit and LinkedIn: fixture posts whose state tests can flip, and the routes the
archiver and Chromium request.

Reddit hosts: www.reddit.com (listing JSON `/comments/<id>/.json`, oEmbed `/oembed`, post
pages; `/comments/<id>/` 301s to the permalink), old.reddit.com (the same), reddit.com /
new / np (301 to www), redd.it (301 to `/comments/<id>/`), embed.reddit.com (embed render,
`widgets.js`; `/comments/<id>/` without a subreddit is the not-found shell, and the
subreddit in the path is not checked, as other tools report of the real one),
www.redditmedia.com (301 to embed.reddit.com path for path), embed.redditmedia.com (the
old `platform.js`), i.redd.it / preview.redd.it / styles.redditmedia.com /
www.redditstatic.com (images).

LinkedIn hosts: www.linkedin.com (embed render `/embed/feed/update/urn:li:<kind>:<id>`,
guest post pages `/feed/update/...` and `/posts/...`, sign-in walls elsewhere),
linkedin.com (301 to www), media.licdn.com (images).

A post's state is its fixture's `state` unless a test set another with
`fake.set_post_state("reddit" | "linkedin", post_id, state)`; `fake.reset()` undoes that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.fakeplatform.forums_render import (
    ASSETS,
    asset,
    linkedin_embed_page,
    linkedin_post_page,
    reddit_embed_page,
    reddit_listing,
    reddit_oembed,
    reddit_permalink,
    reddit_post_page,
)
from tests.fakeplatform.images import avatar_png, media_png
from tests.fakeplatform.server import Response

if TYPE_CHECKING:
    from tests.fakeplatform.server import FakePlatform, Handler, Request

REDDIT_STATES = frozenset({"live", "deleted", "removed", "private_subreddit", "quarantined",
                           "banned", "ratelimited", "blocked"})
LINKEDIN_STATES = frozenset({"live", "deleted", "private", "login_wall"})
JSON_TYPE = "application/json; charset=UTF-8"
NO_STORE = ("Cache-Control", "private, s-maxage=0, max-age=0, must-revalidate, no-store")
IMAGE_CACHE = ("Cache-Control", "max-age=604800")

_ID = r"[a-z0-9]{1,13}"
_POST_PATH = re.compile(rf"^/(?:(?:r|user|u)/[\w-]+/)?comments/(?P<id>{_ID})(?P<rest>/[^?]*)?$",
                        re.IGNORECASE)
_LOCATED = re.compile(rf"^/(?:r|user|u)/[\w-]+/comments/(?P<id>{_ID})(?:/.*)?$", re.IGNORECASE)
_URN = re.compile(r"urn(?::|%3A)li(?::|%3A)(?:activity|share|ugcPost)(?::|%3A)(\d{15,20})",
                  re.IGNORECASE)
_POSTS_SLUG = re.compile(r"^/posts/[^/]*-(?:activity|ugcPost|share)-(\d{15,20})", re.IGNORECASE)


def _load(name: str) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = json.loads((ASSETS / name).read_text("utf-8"))["posts"]
    return posts


class PostIndex:
    """Fixture posts of one platform by every number or id they answer to (read-only)."""

    def __init__(self, platform: str, records: Iterable[dict[str, Any]], keys: tuple[str, ...],
                 states: frozenset[str]) -> None:
        self.platform = platform
        self.states = states
        self._by_key: dict[str, dict[str, Any]] = {}
        for record in records:
            if record["state"] not in states:
                raise ValueError(f"{platform} {record['id']}: unknown state {record['state']!r}")
            for key in keys:
                self._by_key[str(record[key]).lower()] = record

    def get(self, key: str) -> dict[str, Any] | None:
        return self._by_key.get(key.lower())

    def state(self, fake: FakePlatform, record: dict[str, Any] | None, asked: str) -> str:
        """The state a test set (for the id asked or the record's own id), else the fixture's."""
        if record is None:
            return fake.post_state(self.platform, asked, "missing")
        default = fake.post_state(self.platform, record["id"], record["state"])
        return fake.post_state(self.platform, asked, default)


def _json(data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
          ) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False).encode(), JSON_TYPE,
                    [NO_STORE, *(headers or [])])


def _png(body: bytes) -> Response:
    return Response(200, body, "image/png", [IMAGE_CACHE, ("Access-Control-Allow-Origin", "*")])


# -- Reddit ----------------------------------------------------------------------------------
_REDDIT_ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "private_subreddit": (403, {"reason": "private", "message": "Forbidden", "error": 403}),
    "quarantined": (403, {"quarantine_message_html": "<p>This community is quarantined.</p>",
                          "reason": "quarantined", "quarantine_message":
                          "This community is quarantined.", "message": "Forbidden",
                          "error": 403}),
    "banned": (404, {"reason": "banned", "message": "Not Found", "error": 404}),
    "missing": (404, {"message": "Not Found", "error": 404}),
}
_BLOCKED = ("<!DOCTYPE html><html><head><title>Blocked</title></head><body><h1>whoa there, "
            "pardner!</h1><p>Your request has been blocked due to a network policy.</p></body>"
            "</html>")


def reddit_routes(fake: FakePlatform) -> dict[str, Handler]:
    posts = PostIndex("reddit", _load("reddit.json"), ("id",), REDDIT_STATES)

    def listing(post_id: str) -> Response:
        record = posts.get(post_id)
        state = posts.state(fake, record, post_id)
        if state == "ratelimited":
            return _json({"message": "Too Many Requests", "error": 429}, 429,
                         [("Retry-After", "60")])
        if state == "blocked":
            return Response.html(_BLOCKED, 403)
        if record is None or state in _REDDIT_ERRORS:
            status, body = _REDDIT_ERRORS[state if state in _REDDIT_ERRORS else "missing"]
            return _json(body, status)
        return _json(reddit_listing(record, state))

    def oembed(req: Request) -> Response:
        m = _POST_PATH.match(urlsplit(req.query.get("url", "")).path)
        record = posts.get(m["id"]) if m else None
        state = posts.state(fake, record, m["id"] if m else "")
        if state == "ratelimited":
            return _json({"message": "Too Many Requests", "error": 429}, 429)
        if record is None or state != "live":
            return _json({"message": "Not Found", "error": 404}, 404)
        return _json(reddit_oembed(record))

    def www(req: Request) -> Response:
        path = req.path
        if path in ("/oembed", "/oembed/"):
            return oembed(req)
        if path.endswith(".json"):
            m = _POST_PATH.match(path[: -len(".json")].rstrip("/") + "/")
            return listing(m["id"]) if m else _json({"message": "Not Found", "error": 404}, 404)
        m = _POST_PATH.match(path)
        record = posts.get(m["id"]) if m else None
        if m and record is not None and not _LOCATED.match(path):  # /comments/<id>/
            return Response.redirect(f"https://www.reddit.com{reddit_permalink(record)}", 301)
        if path.startswith("/gallery/") and (record := posts.get(path.split("/")[2])):
            return Response.redirect(f"https://www.reddit.com{reddit_permalink(record)}", 301)
        if m:
            state = posts.state(fake, record, m["id"])
            return Response.html(reddit_post_page(record, state),
                                 200 if record else 404, headers=[NO_STORE])
        return Response.html(reddit_post_page(None, "missing"), 404)

    def embed(req: Request) -> Response:
        if req.path == "/widgets.js":
            return Response(200, asset("reddit-widgets.js").encode(),
                            "application/javascript; charset=utf-8", [IMAGE_CACHE])
        m = _LOCATED.match(req.path)  # the subreddit is not checked; the id selects the post
        record = posts.get(m["id"]) if m else None
        state = posts.state(fake, record, m["id"]) if m else "missing"
        return Response.html(reddit_embed_page(record, state), headers=[NO_STORE])

    def to_www(req: Request) -> Response:
        return Response.redirect("https://www.reddit.com" + req.target, 301)

    def redd_it(req: Request) -> Response:
        return Response.redirect(f"https://www.reddit.com/comments/{req.path.strip('/')}/", 301)

    def redditmedia(req: Request) -> Response:
        return Response.redirect("https://embed.reddit.com" + req.target, 301)

    def old_platform_js(req: Request) -> Response:
        if req.path != "/widgets/platform.js":
            return Response(404, b"", None)
        return Response(200, asset("reddit-platform.js").encode(),
                        "application/javascript; charset=utf-8", [IMAGE_CACHE])

    def media(req: Request) -> Response:
        return _png(media_png(req.path, 1200, 675))

    def icons(req: Request) -> Response:
        if req.path.endswith(".js"):  # www.redditstatic.com/comment-embed.js (retired)
            return Response(200, b"/* fake */\n", "application/javascript; charset=utf-8")
        return _png(avatar_png(req.path, 64))

    return {
        "www.reddit.com": www, "old.reddit.com": www, "reddit.com": to_www,
        "new.reddit.com": to_www, "np.reddit.com": to_www, "redd.it": redd_it,
        "embed.reddit.com": embed, "www.redditmedia.com": redditmedia,
        "embed.redditmedia.com": old_platform_js, "i.redd.it": media, "preview.redd.it": media,
        "styles.redditmedia.com": icons, "www.redditstatic.com": icons,
    }


# -- LinkedIn --------------------------------------------------------------------------------
def linkedin_routes(fake: FakePlatform) -> dict[str, Handler]:
    posts = PostIndex("linkedin", _load("linkedin.json"), ("id", "activity"), LINKEDIN_STATES)

    def lookup(number: str) -> tuple[dict[str, Any] | None, str]:
        record = posts.get(number)
        state = posts.state(fake, record, number)
        if record is not None and record["activity"] != record["id"]:
            state = fake.post_state("linkedin", record["activity"], state)
        return record, state

    def www(req: Request) -> Response:
        path = req.path
        urn = _URN.search(path) if path.startswith(("/embed/feed/update/", "/feed/update/")) \
            else None
        if urn and path.startswith("/embed/"):
            record, state = lookup(urn.group(1))
            return Response.html(linkedin_embed_page(record, state), headers=[NO_STORE])
        number = urn.group(1) if urn else (m.group(1) if (m := _POSTS_SLUG.match(path)) else None)
        if number:
            record, state = lookup(number)
            return Response.html(linkedin_post_page(record, state), 200 if record else 404,
                                 headers=[NO_STORE])
        # profiles, companies, share dialogs ...: a guest sees the sign-in wall
        return Response.html(linkedin_post_page(None, "login_wall"), headers=[NO_STORE])

    def to_www(req: Request) -> Response:
        return Response.redirect("https://www.linkedin.com" + req.target, 301)

    def licdn(req: Request) -> Response:
        if "displayphoto" in req.path or "company-logo" in req.path:
            return _png(avatar_png(req.path, 100))
        return _png(media_png(req.path, 800, 450))

    return {"www.linkedin.com": www, "linkedin.com": to_www, "media.licdn.com": licdn}


def routes(fake: FakePlatform) -> dict[str, Handler]:
    """Handlers by host for Reddit and LinkedIn."""
    return {**reddit_routes(fake), **linkedin_routes(fake)}
