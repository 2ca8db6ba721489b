"""Fake news site (news.example.org): the seed article, fixture pages, and bad-input routes.

Files: tests/fixtures/seed/article.html at SEED_PATH, tests/fixtures/articles/<name> at
/articles/<name>, tests/fixtures/site/<name> at /site/<name>. Special routes test what the
archiver must survive: 404, PDF, image, redirect loop, 30 MB page, slow drip, legacy charsets.
"""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tests.fakeplatform.images import media_png
from tests.fakeplatform.server import Handler, Request, Response

if TYPE_CHECKING:
    from tests.fakeplatform.server import FakePlatform

HOST = "news.example.org"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED_PATH = "/2020/09/28/violents-combats-azerbaidjan-armenie/"
DIRECTORIES = {"/articles/": FIXTURES / "articles", "/site/": FIXTURES / "site"}
HUGE_SIZE = 30 * 1024 * 1024
SLOW_SECONDS = 60
NIKOL_URL = "https://twitter.com/NikolPashinyan/status/1310100737619791965?ref_src=twsrc%5Etfw"


def content_type(name: str) -> str:
    """Content-Type from a file name; text types get charset=utf-8."""
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/javascript", "application/json",
                                                  "application/xml", "image/svg+xml"):
        return f"{guessed}; charset=utf-8"
    return guessed


def _file(directory: Path, name: str) -> Path | None:
    """The file `name` inside `directory`, refusing anything that escapes it."""
    if not name or name.startswith("/") or ".." in name.split("/"):
        return None
    base = directory.resolve()
    try:
        path = (base / name).resolve()
        path.relative_to(base)
    except (OSError, ValueError):
        return None
    return path if path.is_file() else None


def pdf_bytes() -> bytes:
    """A small, structurally valid one-page PDF (correct xref offsets)."""
    content = b"BT /F1 24 Tf 72 720 Td (Annual report 2020) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _huge_stream(platform: FakePlatform) -> Iterator[bytes]:
    head = (b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Huge page'
            b"</title></head><body><h1>Huge page</h1>\n")
    tail = b"</body></html>\n"
    line = b"<p>" + b"filler " * 8 + b"</p>\n"  # 64 bytes
    chunk = line * 1024  # 64 KiB
    middle = HUGE_SIZE - len(head) - len(tail)
    yield head
    for _ in range(middle // len(chunk)):
        if platform.stopping.is_set():
            return
        yield chunk
    rest = middle % len(chunk)
    yield line * (rest // len(line)) + b" " * (rest % len(line))
    yield tail


_SLOW_HEAD, _SLOW_TAIL = b"<!DOCTYPE html><title>slow</title><p>", b"</p>\n"
_SLOW_BODY = _SLOW_HEAD + b"." * (SLOW_SECONDS - len(_SLOW_HEAD) - len(_SLOW_TAIL)) + _SLOW_TAIL


def _slow_stream(platform: FakePlatform) -> Iterator[bytes]:
    for index in range(len(_SLOW_BODY)):
        if index and platform.stopping.wait(1.0):  # the one intended delay of the server
            return
        yield _SLOW_BODY[index:index + 1]


def _nikol_blockquote(apostrophe: str) -> str:
    return (
        '<blockquote class="twitter-tweet" data-width="550" data-dnt="true"><p lang="fr" '
        'dir="ltr">Sur décision du Gouvernement, la loi martiale et la mobilisation générale '
        f'sont déclarées en République d{apostrophe}<a href="https://twitter.com/hashtag/'
        'Arm%C3%A9nie?src=hash&amp;ref_src=twsrc%5Etfw">#Arménie</a>. J'
        f"{apostrophe}appelle les personnels attachés aux troupes à se présenter à leurs "
        "commissariats de district.<br><br>Pour la patrie, pour la victoire.</p>&mdash; Nikol "
        f'Pashinyan (@NikolPashinyan) <a href="{NIKOL_URL}">27 septembre 2020</a></blockquote>'
        '<script async src="https://platform.twitter.com/widgets.js" charset="utf-8"></script>'
    )


def legacy_article(slug: str, meta: str, apostrophe: str) -> str:
    """A French article embedding the Nikol post, for the legacy-charset routes."""
    return f"""<!DOCTYPE html>
<html lang="fr-FR">
<head>
{meta}<title>Arménie : la loi martiale est décrétée</title>
<link rel="canonical" href="https://{HOST}/{slug}">
</head>
<body class="post-template-default single single-post">
<header class="site-header"><a href="/">Overt Defence</a></header>
<main><article class="post type-post">
<h1 class="entry-title">Arménie : la loi martiale est décrétée</h1>
<div class="entry-content">
<p>Le gouvernement arménien a décrété la loi martiale et la mobilisation générale après
l{apostrophe}offensive azerbaïdjanaise du 27 septembre. Voici la déclaration du Premier
ministre :</p>
<figure class="wp-block-embed is-type-rich is-provider-twitter wp-block-embed-twitter">
<div class="wp-block-embed__wrapper">
{_nikol_blockquote(apostrophe)}
</div></figure>
<p>Les réservistes ont été appelés à se présenter dans leurs commissariats.</p>
</div></article></main>
</body>
</html>
"""


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response.html(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body><header><a href=\"/\">news.example.org</a></header>\n<main>{body}"
        "</main></body></html>\n", status)


def _listing() -> list[tuple[str, str]]:
    """(path, title) of every article page served, seed first."""
    pages = [(SEED_PATH, "De violents combats alors que l’Azerbaïdjan attaque un territoire "
                         "disputé avec l’Arménie")]
    for prefix, directory in DIRECTORIES.items():
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix in (".html", ".htm") and path.is_file():
                found = re.search(r"<title>(.*?)</title>", path.read_text("utf-8", "replace"),
                                  re.S | re.I)
                title = html.unescape(found.group(1).strip()) if found else path.stem
                pages.append((prefix + path.name, title))
    return pages


def _feed() -> Response:
    items = "".join(
        f"<item><title>{html.escape(title)}</title><link>https://{HOST}{path}</link>"
        f"<guid>https://{HOST}{path}</guid><pubDate>Mon, 28 Sep 2020 09:12:44 +0000</pubDate>"
        "</item>\n" for path, title in _listing())
    rss = ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
           f"<title>news.example.org</title><link>https://{HOST}/</link>"
           f"<description>Test news site</description>\n{items}</channel></rss>\n")
    return Response(200, rss.encode(), "application/rss+xml; charset=utf-8")


def _sitemap() -> Response:
    urls = "".join(f"<url><loc>https://{HOST}{path}</loc></url>\n" for path, _ in _listing())
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
           f'schemas/sitemap/0.9">\n{urls}</urlset>\n')
    return Response(200, xml.encode(), "application/xml; charset=utf-8")


def routes(platform: FakePlatform) -> dict[str, Handler]:
    """The handler for news.example.org."""
    seed = FIXTURES / "seed"

    def news(req: Request) -> Response:
        path = req.path
        if path == SEED_PATH:
            return Response(200, (seed / "article.html").read_bytes(), "text/html; charset=utf-8")
        if path == SEED_PATH.rstrip("/"):
            return Response.redirect(SEED_PATH, 301)
        if path == "/seed/article.txt":
            return Response(200, (seed / "article.txt").read_bytes(), "text/plain; charset=utf-8")
        for prefix, directory in DIRECTORIES.items():
            if path.startswith(prefix):
                found = _file(directory, path[len(prefix):])
                if found is None:
                    break
                return Response(200, found.read_bytes(), content_type(found.name))
        simple = _SIMPLE.get(path)
        if simple is not None:
            return simple()
        if path == "/huge":
            return Response(200, content_type="text/html; charset=utf-8", length=HUGE_SIZE,
                            stream=lambda: _huge_stream(platform))
        if path == "/slow":
            return Response(200, content_type="text/html; charset=utf-8",
                            length=len(_SLOW_BODY), stream=lambda: _slow_stream(platform))
        if path.startswith("/wp-content/uploads/"):
            return Response(200, media_png(path, 640, 360), "image/png")
        return _page("Page not found", "<h1>Page not found</h1><p>Nothing here.</p>", 404)

    return {HOST: news}


def _index() -> Response:
    links = "".join(f'<li><a href="{html.escape(path)}">{html.escape(title)}</a></li>\n'
                    for path, title in _listing())
    return _page("news.example.org", f"<h1>Latest</h1><ul>{links}</ul>")


_SIMPLE = {
    "/": _index,
    "/missing": lambda: _page("Page not found", "<h1>Page not found</h1>", 404),
    "/report.pdf": lambda: Response(200, pdf_bytes(), "application/pdf"),
    "/photo.png": lambda: Response(200, media_png("/photo.png", 640, 360), "image/png"),
    "/loop": lambda: Response.redirect("/loop2", 302),
    "/loop2": lambda: Response.redirect("/loop", 302),
    "/redirect": lambda: Response.redirect(SEED_PATH, 301),
    "/latin1": lambda: Response(
        200, legacy_article("latin1", "", "&#8217;").encode("iso-8859-1"),
        "text/html; charset=iso-8859-1"),
    "/meta-charset": lambda: Response(
        200, legacy_article("meta-charset", '<meta charset="windows-1252">\n', "’")
        .encode("windows-1252"), "text/html"),
    "/feed/": _feed,
    "/feed": lambda: Response.redirect("/feed/", 301),
    "/sitemap.xml": _sitemap,
}
