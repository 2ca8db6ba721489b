"""A hostile site (hostile.example): pages that try to hang, flood or exhaust the archiver.

Every HTML page embeds one real post (the seed's Pashinyan tweet) in its served markup, so
a test can check that the archiver finds and captures it whatever the page does to the
browser. Routes:

    /js-loop      an inline script that never returns (the renderer's main thread is busy)
    /dialogs      alert / confirm / prompt on load and every 10 ms, onbeforeunload
    /popups       window.open every 5 ms
    /js-download  a script that clicks a download link; /file.bin is an attachment
    /deep         50,000 nested <div>s around the embed
    /huge-image   an <img> of 12,000 x 12,000 pixels (a small PNG that decodes to 144 MB)
    /big          a 50 MB page (streamed)
    /gzip-bomb    200 MB of zeros, sent gzip-compressed (~200 KB on the wire)
    /endless      an HTML page that never ends (one chunk every 50 ms, forever)
    /stalled-font a page whose web font starts loading and never finishes
"""

from __future__ import annotations

import functools
import struct
import time
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tests.fakeplatform.server import Handler, Request, Response

if TYPE_CHECKING:
    from tests.fakeplatform.server import FakePlatform

HOST = "hostile.example"
TWEET_ID = "1310100737619791965"
BIG_SIZE = 50 * 1024 * 1024
BOMB_SIZE = 200 * 1024 * 1024
EMBED = ('<blockquote class="twitter-tweet"><p lang="fr">Sur décision du Gouvernement, la '
         'loi martiale et la mobilisation générale sont déclarées</p>&mdash; Nikol Pashinyan '
         f'(@NikolPashinyan) <a href="https://twitter.com/NikolPashinyan/status/{TWEET_ID}">'
         "September 27, 2020</a></blockquote>")


def page(title: str, head: str = "", body: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>{head}"
            f"</head><body><article><h1>{title}</h1>{body}{EMBED}</article></body></html>")


PAGES = {
    "/js-loop": page("Loop", "<script>for (;;) {}</script>"),
    "/dialogs": page("Dialogs", "<script>alert('a'); confirm('b'); prompt('c');"
                     "window.onbeforeunload = () => 'stay';"
                     "setInterval(() => alert('again'), 10);</script>"),
    "/popups": page("Popups", "<script>setInterval(() => window.open('/popups', '_blank'),"
                    " 5);</script>"),
    "/js-download": page("Download", body="<script>for (let i = 0; i < 20; i++) {"
                         "const a = document.createElement('a'); a.href = '/file.bin';"
                         "a.download = 'x' + i + '.bin'; document.body.appendChild(a);"
                         "a.click(); }</script>"),
    "/deep": page("Deep", body="<div>" * 50_000 + "deep" + "</div>" * 50_000),
    "/huge-image": page("Huge image", body="<img src='/huge.png' alt='huge'>"),
    "/stalled-font": page("Stalled font", "<style>@font-face { font-family: Stuck; "
                          "src: url(/stuck.woff2); } body { font-family: Stuck, serif; }"
                          "</style>"),
}


@functools.cache
def huge_png(side: int = 12_000) -> bytes:
    """A grey side x side PNG: tiny on the wire, enormous once decoded."""
    row = b"\x00" + b"\x80" * side
    raw = zlib.compressobj(9)
    chunks = [raw.compress(row) for _ in range(side)]
    data = b"".join(chunks) + raw.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


@functools.cache
def gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    block = b"\x00" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(BOMB_SIZE >> 20)]
    return b"".join(parts) + compressor.flush()


BIG_HEAD = b"<!DOCTYPE html><title>big</title><p>"


def _big(platform: FakePlatform) -> Iterator[bytes]:
    yield BIG_HEAD
    block = b"x" * (1 << 20)
    for _ in range(BIG_SIZE >> 20):
        if platform.stopping.is_set():
            return
        yield block


def _endless(platform: FakePlatform) -> Iterator[bytes]:
    yield b"<!DOCTYPE html><title>endless</title>" + EMBED.encode()
    while not platform.stopping.is_set():
        time.sleep(0.05)
        yield b"<p>more</p>\n"


def routes(platform: FakePlatform) -> dict[str, Handler]:
    def site(req: Request) -> Response:
        if req.path in PAGES:
            return Response.html(PAGES[req.path])
        if req.path == "/file.bin":
            return Response(200, b"\x00" * 4096, "application/octet-stream",
                            [("Content-Disposition", "attachment; filename=file.bin")])
        if req.path == "/huge.png":
            return Response(200, huge_png(), "image/png")
        if req.path == "/big":
            return Response(200, b"", "text/html; charset=utf-8", length=BIG_SIZE + len(BIG_HEAD),
                            stream=lambda: _big(platform))
        if req.path == "/gzip-bomb":
            return Response(200, gzip_bomb(), "text/html; charset=utf-8",
                            [("Content-Encoding", "gzip")])
        if req.path == "/stuck.woff2":
            return Response.stalled(b"wOF2", "font/woff2", 40_000, platform.stopping)
        if req.path == "/endless":
            return Response(200, b"", "text/html; charset=utf-8",  # no Content-Length
                            stream=lambda: _endless(platform))
        return Response.html("<!DOCTYPE html><title>404</title>", 404)

    return {HOST: site}
