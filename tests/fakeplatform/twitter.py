"""Fake Twitter / X: a mutable tweet store and the routes the archiver and Chromium request.

Hosts: cdn.syndication.twimg.com (tweet-result JSON), publish.twitter.com and publish.x.com
(oEmbed), platform.twitter.com (embed page and widgets.js), x.com (post pages),
twitter.com / www / mobile / www.x.com (301 to x.com), pbs.twimg.com and abs.twimg.com
(images; pbs.twimg.com/media/stalled* starts and never finishes). Rendering is in
twitter_render.py; page assets live in tests/fixtures/twitter/.
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.platforms.twitter import syndication_token
from tests.fakeplatform.images import avatar_png, icon_png, media_png
from tests.fakeplatform.server import Handler, Request, Response
from tests.fakeplatform.twitter_render import (
    ASSETS,
    ICONS,
    asset,
    card_html,
    oembed,
    tweet_result,
    x_page,
)

if TYPE_CHECKING:
    from tests.fakeplatform.server import FakePlatform

FIXTURE = ASSETS / "tweets.json"
STATES = frozenset({"live", "deleted", "protected", "suspended", "ratelimited",
                    "ratelimited_once"})
SUSPENDED_TEXT = "This Post is from a suspended account. Learn more"
JSON_TYPE = "application/json;charset=utf-8"
NO_STORE = ("Cache-Control", "no-store")

_STATUS_PATH = re.compile(r"^/(?:(?P<user>\w{1,15})|i(?:/web)?)/status(?:es)?/(?P<id>\d{1,20})"
                          r"(?:/.*)?$", re.IGNORECASE)
_STATUS_URL = re.compile(r"^https?://(?:(?:www|mobile)\.)?(?:twitter|x)\.com/(?:#!/)?"
                         r"(?:\w{1,15}|i(?:/web)?)/status(?:es)?/(?P<id>\d{1,20})(?:[/?#].*)?$",
                         re.IGNORECASE)


class TweetStore:
    """Thread-safe, mutable tweet records keyed by id (a copy of the fixture to start)."""

    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self._lock = threading.RLock()
        self._initial = [copy.deepcopy(r) for r in records]
        self._records: dict[str, dict[str, Any]] = {}
        self.reset()

    @classmethod
    def from_fixture(cls, path: Path = FIXTURE) -> TweetStore:
        return cls(json.loads(path.read_text(encoding="utf-8"))["tweets"])

    def reset(self) -> None:
        """Back to the records the store was created with."""
        with self._lock:
            self._records = {}
            for record in self._initial:
                self.put(record)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._records)

    def get(self, tweet_id: str) -> dict[str, Any] | None:
        """A copy of the record, or None."""
        with self._lock:
            record = self._records.get(str(tweet_id))
            return copy.deepcopy(record) if record is not None else None

    def put(self, record: dict[str, Any]) -> None:
        """Add or replace a record (needs id, text, user.screen_name and user.name)."""
        record = copy.deepcopy(record)
        record["id"] = str(record["id"])
        if not record["id"].isdigit():
            raise ValueError(f"tweet id must be digits: {record['id']!r}")
        record.setdefault("state", "live")
        if record["state"] not in STATES:
            raise ValueError(f"unknown state {record['state']!r}")
        if not isinstance(record.get("text"), str):
            raise ValueError("a tweet record needs a 'text' string")
        screen_name = record["user"]["screen_name"]
        digest = hashlib.sha256(screen_name.encode()).hexdigest()
        record["user"].setdefault("id_str", str(int(digest[:15], 16)))
        record["user"].setdefault("profile_image_url_https", "https://pbs.twimg.com/profile_images/"
                                  f"{record['user']['id_str']}/avatar_normal.png")
        record.setdefault("created_at", _snowflake_iso(record["id"]))
        record.setdefault("lang", "en")
        record.setdefault("media", [])
        record.setdefault("edits", [])
        with self._lock:
            self._records[record["id"]] = record

    def _update(self, tweet_id: str, **changes: Any) -> None:
        with self._lock:
            if str(tweet_id) not in self._records:
                raise KeyError(tweet_id)
            self._records[str(tweet_id)].update(changes)

    def set_state(self, tweet_id: str, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; one of {sorted(STATES)}")
        self._update(tweet_id, state=state)

    def delete(self, tweet_id: str) -> None:
        """The author deleted it (the record is kept, so `set_state(id, "live")` undoes it)."""
        self.set_state(tweet_id, "deleted")

    def edit(self, tweet_id: str, new_text: str) -> None:
        """The author edited it: new text at the same id, isEdited true, old text kept."""
        with self._lock:
            record = self._records[str(tweet_id)]
            record["edits"].append(record["text"])
            record["text"] = new_text


def _snowflake_iso(tweet_id: str) -> str:
    ms = (int(tweet_id) >> 22) + 1288834974657
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def routes(platform: FakePlatform) -> dict[str, Handler]:
    """Handlers by host for everything Twitter / X."""
    store = platform.tweets

    def syndication(req: Request) -> Response:
        if req.path != "/tweet-result":
            return Response(404, b"", None)
        tweet_id = req.query.get("id", "")
        if not tweet_id.isdigit() or req.query.get("token") != syndication_token(tweet_id):
            return Response(400, b"", None, [("Access-Control-Allow-Origin", "*")])
        record = store.get(tweet_id)
        headers = [("Access-Control-Allow-Origin", "*"), NO_STORE]
        state = record["state"] if record else "deleted"
        if state in ("deleted", "protected"):
            return Response(404, b"", None, headers)
        if state == "ratelimited":
            return Response(429, b"Rate limit exceeded\n", "text/plain; charset=utf-8",
                            [*headers, ("Retry-After", "60")])
        if state == "ratelimited_once":  # asks for one second, then answers
            store.set_state(tweet_id, "live")
            return Response(429, b"Rate limit exceeded\n", "text/plain; charset=utf-8",
                            [*headers, ("Retry-After", "1")])
        if state == "suspended":
            data: dict[str, Any] = {"__typename": "TweetTombstone", "tombstone": {
                "text": {"text": SUSPENDED_TEXT, "entities": [], "rtl": False}}}
        else:
            assert record is not None
            data = tweet_result(record)
        return Response(200, json.dumps(data, ensure_ascii=False).encode(), JSON_TYPE, headers)

    def oembed_route(req: Request) -> Response:
        if req.path not in ("/oembed", "/oembed.json"):
            return Response(404, b"", None)
        match = _STATUS_URL.match(req.query.get("url", ""))
        record = store.get(match.group("id")) if match else None
        state = record["state"] if record else "deleted"
        errors = {"deleted": (404, "No status found with that ID."),
                  "protected": (403, "Sorry, you are not authorized to see this status."),
                  "suspended": (403, "Sorry, you are not authorized to see this status."),
                  "ratelimited": (429, "Rate limit exceeded.")}
        if state in errors:
            status, message = errors[state]
            body = json.dumps({"errors": [{"message": message}]}).encode()
            extra = [("Retry-After", "60")] if status == 429 else []
            return Response(status, body, JSON_TYPE, [NO_STORE, *extra])
        assert record is not None
        return Response(200, json.dumps(oembed(record, req.query), ensure_ascii=False).encode(),
                        JSON_TYPE, [NO_STORE])

    def platform_host(req: Request) -> Response:
        record = store.get(req.query.get("id", "")) if req.path == "/embed/Tweet.html" else None
        if record is not None and record.get("page") == "loop":  # a hostile embed page
            return Response.html("<!DOCTYPE html><title>X</title><script>for (;;) {}</script>",
                                 headers=[NO_STORE])
        if req.path == "/embed/Tweet.html":
            page = (asset("embed.html").replace("{{card_css}}", asset("card.css"))
                    .replace("{{icons}}", json.dumps(ICONS)))
            return Response.html(page, headers=[NO_STORE])
        if req.path == "/widgets.js":
            return Response(200, asset("widgets.js").encode(),
                            "application/javascript; charset=utf-8",
                            [("Cache-Control", "max-age=1800")])
        return Response.html("<!DOCTYPE html><title>404</title><p>Not found</p>", 404)

    def x_host(req: Request) -> Response:
        match = _STATUS_PATH.match(req.path)
        if match:
            return _post_page(platform, store.get(match.group("id")))
        if req.path.startswith("/i/flow/login") or req.path in ("/", "/home", "/login"):
            return Response.html(x_page("Log in to X", _LOGIN_WALL, "Log in to X / X"))
        return Response.html(x_page("X", _NOT_FOUND, "Page not found / X"))

    def to_x(req: Request) -> Response:
        return Response.redirect("https://x.com" + req.target, 301)

    def pbs(req: Request) -> Response:
        if req.path.startswith("/media/stalled"):
            return Response.stalled(media_png("/media/stalled.png")[:64], "image/png",
                                    100_000, platform.stopping)  # a stuck CDN node
        if req.path.startswith("/profile_images/"):
            body = avatar_png(req.path)
        elif req.path.startswith("/media/"):
            body = media_png(req.path)
        else:
            return Response(404, b"", None)
        return Response(200, body, "image/png", [("Cache-Control", "max-age=604800"),
                                                 ("Access-Control-Allow-Origin", "*")])

    def abs_host(req: Request) -> Response:
        if req.path.startswith("/favicons/"):
            return Response(200, icon_png(), "image/png", [("Cache-Control", "max-age=86400")])
        if req.path.endswith(".js"):
            return Response(200, b"/* fake */\n", "application/javascript; charset=utf-8")
        return Response(404, b"", None)

    return {
        "cdn.syndication.twimg.com": syndication,
        "publish.twitter.com": oembed_route,
        "publish.x.com": oembed_route,
        "platform.twitter.com": platform_host,
        "x.com": x_host,
        "twitter.com": to_x,
        "www.twitter.com": to_x,
        "mobile.twitter.com": to_x,
        "www.x.com": to_x,
        "pbs.twimg.com": pbs,
        "abs.twimg.com": abs_host,
    }


_LOGIN_WALL = ('<div data-testid="login-wall" class="x-login"><form action="/i/flow/login" '
               'method="get"><h2>Log in to X</h2><p>See what\u2019s happening in the world '
               'right now.</p><button type="submit">Log in</button></form></div>')
_NOT_FOUND = ('<div data-testid="error-detail" class="x-error">Hmm...this page doesn\u2019t exist.'
              " Try searching for something else.</div>")
_GONE = {
    "protected": ('<div data-testid="emptyState" class="x-empty"><h2>These posts are protected'
                  "</h2><p>Only approved followers can see this account\u2019s posts.</p></div>"),
    "suspended": ('<div data-testid="emptyState" class="x-empty"><h2>Account suspended</h2>'
                  "<p>X suspends accounts which violate the X Rules.</p></div>"),
    "ratelimited": ('<div class="x-error" role="alert">Something went wrong. Try reloading.'
                    "<br><button>Retry</button></div>"),
}


def _post_page(platform: FakePlatform, record: dict[str, Any] | None) -> Response:
    headers = [NO_STORE]
    if platform.post_page_mode == "login_wall":
        return Response.html(x_page("Post", _LOGIN_WALL, "X"), headers=headers)
    state = record["state"] if record else "deleted"
    if record is None or state == "deleted":
        return Response.html(x_page("Post", _NOT_FOUND, "Page not found / X"), headers=headers)
    if state != "live":
        return Response.html(x_page("Post", _GONE[state], "X"), headers=headers)
    user, text = record["user"], record["text"]
    title = f'{user["name"]} on X: "{text}" / X'
    meta = (f'<meta property="og:title" content="{html.escape(user["name"])} on X">\n'
            f'<meta property="og:description" content="{html.escape(text)}">\n'
            f'<meta property="og:url" content="https://x.com/{user["screen_name"]}/status/'
            f'{record["id"]}">\n<meta property="og:site_name" content="X (formerly Twitter)">')
    return Response.html(x_page("Post", card_html(record), title, meta), headers=headers)
