"""Link shorteners: one redirect to the post, as t.co (and friends) answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fakeplatform.server import Response

if TYPE_CHECKING:
    from tests.fakeplatform.server import FakePlatform, Handler, Request

#: host -> short code -> where it points (None: the shortener answers 404)
LINKS: dict[str, dict[str, str | None]] = {
    "t.co": {
        "AbC123xyz": "https://twitter.com/NikolPashinyan/status/1310100737619791965",
        "Br0ers9": "https://x.com/LaurenceBroers/status/1310218169743183965?s=20",
        "dead404": None,
    },
    "vm.tiktok.com": {
        "ZMhvqK7aB": "https://www.tiktok.com/@reuters/video/7312345678901234567?_r=1&_t=8abc",
    },
    "fb.watch": {
        "nQ2x7Lz9Ab": "https://www.facebook.com/HarbourFireRescueEx/videos/1234567890123456/",
    },
}


def routes(platform: FakePlatform) -> dict[str, Handler]:
    def shortener(req: Request) -> Response:
        code = req.path.strip("/")
        if platform.post_states.get((req.host, code)) == "ratelimited_once":
            # set_post_state(host, code, "ratelimited_once"): asks for a second, then answers
            del platform.post_states[(req.host, code)]
            return Response(429, b"Rate limit exceeded\n", "text/plain; charset=utf-8",
                            [("Retry-After", "1")])
        target = LINKS.get(req.host, {}).get(code)
        if target is None:
            return Response.html("<h1>Not found</h1>", 404)
        return Response.redirect(target, 301)

    return {host: shortener for host in LINKS}
