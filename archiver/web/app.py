"""`archiver serve`: a read-only web view and JSON API over the archive.

Security model:
- **Read only.** No route changes the archive; the only POSTs are log in and log out
  (a cookie). Everything shown comes from the index and the capture directories.
- **Tokens.** Every page, file and API route needs a token (`archiver token create`; only
  its hash is stored), sent as `Authorization: Bearer …` or kept in an HttpOnly,
  SameSite=Strict cookie by the login form; `[web] open_access = true` lifts that.
  Listens on 127.0.0.1 unless told otherwise.
- **Nothing archived runs as the app.** Pages carry no script at all and a CSP
  (`default-src 'none'`) that forbids any; text from posts and articles is escaped by the
  templates. Archived HTML, WARCs and other non-image files are only ever downloads
  (`Content-Disposition: attachment`, `nosniff`, and a `sandbox` CSP in case a browser
  renders them anyway). Images are served as images, with the same headers.
- **Files are named by the index.** A file route serves only a name the index lists for
  that capture (or the capture's seal files), resolved inside the data directory.
"""

import contextlib
import ipaddress
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.background import BackgroundTask

from archiver import __version__
from archiver.config import Config
from archiver.errors import ArchiverError
from archiver.export import export
from archiver.web.data import STATUSES, Filters, NotFound, WebData
from archiver.web.models import (
    ArticleDetail,
    ArticleList,
    CaptureDetail,
    CaptureDiff,
    CaptureList,
    PostDetail,
    PostList,
    SearchResult,
)
from archiver.web.tokens import check_token

HERE = Path(__file__).resolve().parent
COOKIE = "archiver_token"
CSP = ("default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
FILE_CSP = "default-src 'none'; img-src 'self'; sandbox"
PLATFORMS = ("twitter", "instagram", "facebook", "threads", "tiktok", "youtube", "vimeo",
             "telegram", "bluesky", "mastodon", "reddit", "linkedin")


class Unauthorized(Exception):
    pass


def filters(q: str = "", platform: str = "", status: str = "", author: str = "",
            date_from: Annotated[str, Query(alias="from")] = "",
            date_to: Annotated[str, Query(alias="to")] = "") -> Filters:
    """The search filters of a request's query string."""
    return Filters(q, platform, status, author, date_from, date_to)


def capture_filters(status: str = "", author: str = "",
                    date_from: Annotated[str, Query(alias="from")] = "",
                    date_to: Annotated[str, Query(alias="to")] = "") -> Filters:
    """The filters of a list of captures: its status, its post's author, its start date."""
    return Filters(status=status, author=author, date_from=date_from, date_to=date_to)


PageNo = Annotated[int, Query(ge=1, le=100_000)]
HtmlPageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]
ArticleId = Annotated[int, PathParam(ge=1, le=2**62)]
#: exports build and sign a file per request: at most this many at once
EXPORTS_AT_ONCE = 2
SearchFilters = Annotated[Filters, Depends(filters)]
CaptureFilters = Annotated[Filters, Depends(capture_filters)]


def create_app(config: Config) -> FastAPI:
    data = WebData(config)
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(("html",), default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(version=__version__, platforms=PLATFORMS, statuses=STATUSES,
                       open_access=config.web.open_access,
                       tsa_configured=bool(config.evidence.tsa_urls))
    env.filters["short"] = lambda iso: (iso or "")[:19].replace("T", " ")
    env.filters["size"] = _size
    env.globals["link"] = link
    env.globals["capture_path"] = capture_path
    exporting = threading.BoundedSemaphore(EXPORTS_AT_ONCE)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        data.close()

    app = FastAPI(title="Embed archiver", version=__version__, lifespan=lifespan,
                  description="Read-only access to archived social-media posts, their "
                  "captures and the verification of each capture. Every route needs "
                  "`Authorization: Bearer <token>` (`archiver token create`) unless the "
                  "archive is configured open.",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                      ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def reader(request: Request) -> None:
        if config.web.open_access:
            return
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else \
            request.cookies.get(COOKIE)
        if not check_token(data.index, token):
            raise Unauthorized()

    Reader = Depends(reader)

    def page(request: Request, template: str, status: int = 200, **context: Any
             ) -> HTMLResponse:
        body = env.get_template(template).render(request=request, path=request.url.path,
                                                 **context)
        return HTMLResponse(body, status_code=status)

    def api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, _: Unauthorized) -> Response:
        message = "a valid token is required (archiver token create)"
        if api(request):
            return JSONResponse({"detail": message}, 401,
                                headers={"WWW-Authenticate": "Bearer"})
        return page(request, "login.html", 401, message=message,
                    next=request.url.path if request.method == "GET" else "/")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if api(request):
            return JSONResponse({"detail": str(exc)}, 404)
        return page(request, "error.html", 404, title="Not found", message=str(exc))

    @app.exception_handler(ValueError)
    async def bad_request(request: Request, exc: ValueError) -> Response:
        if api(request):
            return JSONResponse({"detail": str(exc)}, 400)
        return page(request, "error.html", 400, title="Bad request", message=str(exc))

    @app.exception_handler(ArchiverError)
    async def failed(request: Request, exc: ArchiverError) -> Response:
        if api(request):
            return JSONResponse({"detail": str(exc)}, 500)
        return page(request, "error.html", 500, title="Error", message=str(exc))

    size = config.web.page_size

    # -- JSON API ------------------------------------------------------------------------
    @app.get("/api/v1/search", dependencies=[Reader], tags=["api"])
    def api_search(f: SearchFilters, page: PageNo = 1) -> SearchResult:
        """Search posts by text, handle, URL, platform, status and capture date. A post or
        article URL in `q` (any form: x.com or twitter.com, mobile, tracking parameters)
        is resolved and named in `redirect` (`posts` is then empty)."""
        return data.search(f, page, size)

    @app.get("/api/v1/posts", dependencies=[Reader], tags=["api"])
    def api_posts(f: SearchFilters, page: PageNo = 1) -> PostList:
        return data.posts(f, page, size)

    @app.get("/api/v1/posts/{platform}/{post_id:path}", dependencies=[Reader], tags=["api"])
    def api_post(platform: str, post_id: str, verify: bool = True, page: PageNo = 1
                  ) -> PostDetail:
        """A post, its timeline and a page of its captures (10, newest first), each
        verified now unless verify=false."""
        return data.post(platform, post_id, verify, page)

    @app.get("/api/v1/captures", dependencies=[Reader], tags=["api"])
    def api_captures(f: CaptureFilters, page: PageNo = 1) -> CaptureList:
        """Captures, newest first: of a status, of one author's posts (author), started
        in a date range (from, to: YYYY-MM-DD, UTC)."""
        return data.captures(page, size, f)

    @app.get("/api/v1/captures/{capture_id}", dependencies=[Reader], tags=["api"])
    def api_capture(capture_id: str, verify: bool = True) -> CaptureDetail:
        return data.capture(capture_id, verify)

    @app.get("/api/v1/articles", dependencies=[Reader], tags=["api"])
    def api_articles(page: PageNo = 1, q: str = "") -> ArticleList:
        return data.articles(page, size, q)

    @app.get("/api/v1/articles/{article_id}", dependencies=[Reader], tags=["api"])
    def api_article(article_id: ArticleId) -> ArticleDetail:
        return data.article(article_id)

    @app.get("/api/v1/diff", dependencies=[Reader], tags=["api"])
    def api_diff(a: str, b: str) -> CaptureDiff:
        """Text (word by word) and field differences between two captures of a post."""
        return data.diff(a, b)

    # -- files ---------------------------------------------------------------------------
    @app.get("/captures/{capture_id}/files/{name:path}", dependencies=[Reader],
             include_in_schema=False)
    def artifact(capture_id: str, name: str) -> Response:
        path, media = data.artifact_path(capture_id, name)
        headers = {"Content-Security-Policy": FILE_CSP}
        if media.split(";")[0].strip() in ("image/png", "image/jpeg", "image/webp",
                                          "image/gif"):
            return FileResponse(path, media_type=media, headers=headers,
                                content_disposition_type="inline", filename=path.name)
        return FileResponse(path, media_type="application/octet-stream", headers=headers,
                            filename=f"{capture_id}-{name.replace('/', '_')}")

    def exported(capture_id: str, fmt: str, suffix: str) -> Response:
        data.exportable(capture_id)  # 404 for an unknown id, or one that stored nothing
        if not exporting.acquire(blocking=False):
            raise HTTPException(503, "other exports are being built; try again shortly",
                                headers={"Retry-After": "5"})
        tmp = Path(tempfile.mkdtemp(prefix="archiver-export-"))
        out = tmp / f"{capture_id}.{suffix}"
        try:
            export(config, capture_id, fmt, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            exporting.release()
        return FileResponse(out, media_type="application/zip", filename=out.name,
                            headers={"Content-Security-Policy": FILE_CSP},
                            background=BackgroundTask(shutil.rmtree, tmp, True))

    @app.get("/captures/{capture_id}/export.wacz", dependencies=[Reader],
             include_in_schema=False)
    def wacz(capture_id: str) -> Response:
        return exported(capture_id, "wacz", "wacz")

    @app.get("/captures/{capture_id}/bundle.zip", dependencies=[Reader],
             include_in_schema=False)
    def bundle(capture_id: str) -> Response:
        return exported(capture_id, "zip", "zip")

    # -- pages ---------------------------------------------------------------------------
    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:
        return page(request, "login.html", message=None, next=_local(next))

    @app.post("/login", include_in_schema=False)
    def login(request: Request, token: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/") -> Response:
        if not check_token(data.index, token.strip()):
            return page(request, "login.html", 401, message="that token is not valid",
                        next=_local(next))
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict",
                            secure=config.web.secure_cookies or request.url.scheme == "https",
                            path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/", dependencies=[Reader], include_in_schema=False)
    def home(request: Request) -> Response:
        return page(request, "home.html", captures=data.captures(1, 10),
                    changes=data.changes(10), posts=data.posts(Filters(), 1, 1),
                    articles=data.articles(1, 1), f=Filters())

    @app.get("/search", dependencies=[Reader], include_in_schema=False)
    def search(request: Request, f: SearchFilters, page_no: HtmlPageNo = 1) -> Response:
        found = data.search(f, page_no, size)
        if found.redirect:
            return RedirectResponse(found.redirect, status_code=303)
        return page(request, "posts.html", found=found.posts, f=f, message=found.message,
                    title="Search")

    @app.get("/posts", dependencies=[Reader], include_in_schema=False)
    def posts(request: Request, f: SearchFilters, page_no: HtmlPageNo = 1) -> Response:
        return page(request, "posts.html", found=data.posts(f, page_no, size), f=f,
                    message=None, title="Posts")

    @app.get("/posts/{platform}/{post_id:path}", dependencies=[Reader],
             include_in_schema=False)
    def post(request: Request, platform: str, post_id: str, page_no: HtmlPageNo = 1
             ) -> Response:
        return page(request, "post.html", d=data.post(platform, post_id, page=page_no))

    @app.get("/captures", dependencies=[Reader], include_in_schema=False)
    def captures(request: Request, f: CaptureFilters, page_no: HtmlPageNo = 1) -> Response:
        return page(request, "captures.html", found=data.captures(page_no, size, f),
                    f=f)

    @app.get("/captures/{capture_id}", dependencies=[Reader], include_in_schema=False)
    def capture(request: Request, capture_id: str) -> Response:
        return page(request, "capture.html", c=data.capture(capture_id))

    @app.get("/articles", dependencies=[Reader], include_in_schema=False)
    def articles(request: Request, q: str = "", page_no: HtmlPageNo = 1) -> Response:
        return page(request, "articles.html", found=data.articles(page_no, size, q), q=q)

    @app.get("/articles/{article_id}", dependencies=[Reader], include_in_schema=False)
    def article(request: Request, article_id: ArticleId) -> Response:
        return page(request, "article.html", d=data.article(article_id))

    @app.get("/diff", dependencies=[Reader], include_in_schema=False)
    def diff(request: Request, a: str, b: str) -> Response:
        return page(request, "diff.html", d=data.diff(a, b))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if api(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code)
        return page(request, "error.html", exc.status_code, title=str(exc.status_code),
                    message=str(exc.detail))

    return app


def link(url: str | None, label: str | None = None) -> Markup:
    """An external link for a URL taken from archived data: only http(s) URLs become
    links (a `javascript:` or `data:` URL in a manifest is shown as text)."""
    text = escape(label if label is not None else (url or ""))
    if not url or urlsplit(url).scheme.lower() not in ("http", "https"):
        return Markup(text)
    return Markup(f'<a href="{escape(url)}" rel="noreferrer noopener">{text}</a>')


def capture_path(capture_id: str) -> str:
    return f"/captures/{quote(str(capture_id), safe='')}"


def _local(target: str) -> str:
    """Only paths of this site (no scheme, no host, no //) are followed after logging in."""
    return target if target.startswith("/") and not target.startswith("//") \
        and "\\" not in target else "/"


def _size(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(config: Config, host: str, port: int) -> None:
    """Run the web view until interrupted (uvicorn)."""
    import uvicorn

    app = create_app(config)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=True,
                server_header=False, proxy_headers=False)
