"""One loopback HTTPS server answering, by Host header, for the platforms' real host names.

Clients reach it either by mapping the names to 127.0.0.1:<port> (Chromium
`--host-resolver-rules`, see `host_resolver_rules()`), or by using it as an HTTP proxy
(`proxies={"https": "http://127.0.0.1:<port>"}` for requests): a plaintext `CONNECT` to a
served host is answered `200` and the tunnel is served by this same server. A plaintext
request that is not CONNECT is redirected to https. Trust comes from `ca_pem`.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.fakeplatform.ca import make_test_pki
from tests.fakeplatform.images import icon_png

if TYPE_CHECKING:
    from tests.fakeplatform.twitter import TweetStore

logger = logging.getLogger(__name__)

#: Modules of tests/fakeplatform that serve hosts; each has `routes(platform) -> {host: handler}`.
SITE_MODULES: tuple[str, ...] = ("news", "twitter", "shortlinks", "video", "fediverse",
                                 "meta", "forums", "hostile")
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0
MAX_BODY = 1 << 20
_CLIENT_GONE = OSError  # hang-ups, resets, TLS alerts and timeouts are all OSErrors


@dataclass(frozen=True)
class Request:
    """One request as the route handlers see it."""

    method: str
    host: str  # lower case, port stripped
    target: str  # path with query, as sent
    path: str
    query: dict[str, str]  # first value of each parameter
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass
class Response:
    """What a route answers. `stream` (with `length`) sends a body without holding it."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Callable[[], Iterator[bytes]] | None = None
    length: int | None = None

    @classmethod
    def html(cls, text: str, status: int = 200, **kw: Any) -> Response:
        return cls(status, text.encode("utf-8"), "text/html; charset=utf-8", **kw)

    @classmethod
    def text(cls, text: str, status: int = 200, **kw: Any) -> Response:
        return cls(status, text.encode("utf-8"), "text/plain; charset=utf-8", **kw)

    @classmethod
    def redirect(cls, location: str, status: int = 301) -> Response:
        return cls(status, b"", None, [("Location", location)])

    @classmethod
    def stalled(cls, head: bytes, content_type: str, length: int,
                until: threading.Event) -> Response:
        """The first bytes of a body of `length`, then nothing until `until` is set (the
        server stops): a resource that starts loading and never finishes."""
        def body() -> Iterator[bytes]:
            yield head
            until.wait()
        return cls(200, b"", content_type, length=length, stream=body)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class FetchResult:
    """The answer to `FakePlatform.fetch`."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeplatform/1.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)

    def _serve(self) -> None:
        platform = self.server.platform
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(Response.text("bad Content-Length\n", 400))
            return
        body = self.rfile.read(length) if length else b""
        host = _bare_host(self.headers.get("Host", ""))
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute form
            parts = urlsplit(target)
            host = _bare_host(parts.netloc)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        platform._record(self.command, host, target)
        if platform.latency > 0 and platform.stopping.wait(platform.latency):
            return
        try:
            response = platform.dispatch(self._request(host, target, body))
        except Exception:
            logger.exception("fake platform: %s https://%s%s failed", self.command, host, target)
            response = Response.text("Internal Server Error\n", 500)
        self._send(response)

    def _request(self, host: str, target: str, body: bytes) -> Request:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Request(self.command, host, target, parts.path or "/", query, headers, body)

    def _send(self, response: Response) -> None:
        length = response.length if response.stream is not None else len(response.body)
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            if response.stream is not None and length is None:
                self.close_connection = True  # no length: the body ends when we close
            else:
                self.send_header("Content-Length", str(length or 0))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command == "HEAD" or response.status in (204, 304):
                return
            if response.stream is None:
                self.wfile.write(response.body)
                return
            sent = 0
            for chunk in response.stream():
                self.wfile.write(chunk)
                sent += len(chunk)
            if length is not None and sent != length:
                self.close_connection = True
        except _CLIENT_GONE:
            logger.debug("client hung up during %s %s", self.command, self.path)
            self.close_connection = True


def _bare_host(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value.split("]")[0] + "]"
    return value.rsplit(":", 1)[0].rstrip(".") if ":" in value else value.rstrip(".")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], platform: FakePlatform,
                 context: ssl.SSLContext) -> None:
        self.platform = platform
        self.context = context
        self.active: set[socket.socket] = set()
        self.active_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:  # skip the reverse DNS lookup of HTTPServer
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def finish_request(self, request: Any, client_address: Any) -> None:
        sock: socket.socket = request
        sock.settimeout(HANDSHAKE_TIMEOUT)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
            if not first:
                return
            if first != b"\x16" and not self._plaintext(sock):
                return
            tls = self.context.wrap_socket(sock, server_side=True)
        except _CLIENT_GONE as exc:
            logger.debug("fake platform: connection dropped before TLS: %r", exc)
            return
        with self.active_lock:
            self.active.add(tls)
        try:
            _Handler(tls, client_address, self)
        finally:
            with self.active_lock:
                self.active.discard(tls)
            _close(tls)

    def _plaintext(self, sock: socket.socket) -> bool:
        """Answer a plaintext request; True when it was a CONNECT whose tunnel follows."""
        with sock.makefile("rb") as rfile:
            line = rfile.readline(8192).decode("latin-1").strip()
            headers: dict[str, str] = {}
            while True:
                raw = rfile.readline(8192)
                if raw in (b"\r\n", b"\n", b""):
                    break
                name, _, value = raw.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
        method, _, rest = line.partition(" ")
        target = rest.rsplit(" ", 1)[0] if " " in rest else rest
        if method == "CONNECT":
            host = _bare_host(target)
            self.platform._record("CONNECT", host, target)
            if host not in self.platform.hosts and host != "127.0.0.1":
                sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
                return False
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            return True
        parts = urlsplit(target)
        host = _bare_host(parts.netloc or headers.get("host", ""))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not parts.netloc:
            path = target or "/"
        self.platform._record(method, host, path)
        location = f"https://{host}{path}".encode("latin-1", "replace")
        sock.sendall(b"HTTP/1.1 301 Moved Permanently\r\nLocation: " + location
                     + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return False

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("fake platform: error serving %s", client_address, exc_info=True)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class FakePlatform:
    """The running fake: one HTTPS port on 127.0.0.1 for every host in `hosts`."""

    def __init__(self, workdir: Path, port: int = 0, hosts: Sequence[str] = ()) -> None:
        import importlib

        from tests.fakeplatform import twitter  # site modules import Request/Response from here

        self.workdir = Path(workdir)
        self.tweets: TweetStore = twitter.TweetStore.from_fixture()
        self.post_page_mode: str = "render"  # or "login_wall"
        #: seconds every response waits before it is answered: a network round trip and
        #: the server's own time, for benchmarks (0: loopback speed)
        self.latency: float = 0.0
        #: (platform, post_id) -> state set by a test ("deleted", "private", ...)
        self.post_states: dict[tuple[str, str], str] = {}
        #: (host, path with query) -> a response set by a test (feeds, sitemaps, pages)
        self.documents: dict[tuple[str, str], Response] = {}
        self.log: list[tuple[str, str, str]] = []
        self.stopping = threading.Event()
        self._log_lock = threading.Lock()
        self._routes: dict[str, Handler] = {}
        for name in SITE_MODULES:  # each module answers for its own hosts
            module = importlib.import_module(f"tests.fakeplatform.{name}")
            self._routes.update(module.routes(self))
        self.hosts: tuple[str, ...] = tuple(hosts) or tuple(self._routes)
        self.pki = make_test_pki(self.workdir, self.hosts)
        self.ca_pem: Path = self.pki.ca_pem

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.server_pem, self.pki.server_key)
        context.set_alpn_protocols(["http/1.1"])
        self._server = _Server(("127.0.0.1", port), self, context)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"fakeplatform-{self.port}", daemon=True)
        self._thread.start()
        self._closed = False

    # -- routing ------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        """Answer one request: by host, 421 for a host this server does not serve."""
        if not request.host:
            return Response.text("missing Host header\n", 400)
        handler = self._routes.get(request.host) if request.host in self.hosts else None
        if handler is None:
            return Response.text(f"misdirected request: {request.host} is not served here\n",
                                 421)
        document = self.documents.get((request.host, request.target))
        if document is not None:
            return document
        if request.path == "/favicon.ico":
            return Response(200, icon_png(), "image/png", [("Cache-Control", "max-age=86400")])
        return handler(request)

    def _record(self, method: str, host: str, target: str) -> None:
        with self._log_lock:
            self.log.append((method, host, target))

    # -- helpers for tests --------------------------------------------------------------
    def reset_log(self) -> None:
        with self._log_lock:
            self.log.clear()

    def count(self, host: str, path_prefix: str = "/", method: str = "GET") -> int:
        """How many requests for `host` whose path starts with `path_prefix` were served."""
        with self._log_lock:
            return sum(1 for m, h, p in self.log
                       if m == method and h == host and p.startswith(path_prefix))

    def reset(self) -> None:
        """Back to the start state: fixture tweets, rendered post pages, empty log."""
        self.tweets.reset()
        self.post_states.clear()
        self.documents.clear()
        self.post_page_mode = "render"
        self.latency = 0.0
        self.reset_log()

    def set_post_state(self, platform: str, post_id: str, state: str) -> None:
        """Make a post of any non-Twitter platform "deleted", "private", ... at run time."""
        self.post_states[(platform, post_id)] = state

    def serve(self, url: str, body: bytes | str, content_type: str = "text/html; charset=utf-8",
              status: int = 200) -> None:
        """Answer GET `url` (an https URL on a served host) with this body until reset."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.documents[(parts.hostname or "", target)] = Response(status, data, content_type)

    def post_state(self, platform: str, post_id: str, default: str = "live") -> str:
        return self.post_states.get((platform, post_id), default)

    def host_map(self) -> dict[str, str]:
        return {host: f"127.0.0.1:{self.port}" for host in self.hosts}

    def host_resolver_rules(self) -> str:
        """The value for Chromium's `--host-resolver-rules=`."""
        return ", ".join(f"MAP {host} 127.0.0.1:{self.port}" for host in self.hosts)

    def proxy_url(self) -> str:
        """This server as an HTTP proxy (CONNECT to any served host tunnels to it)."""
        return f"http://127.0.0.1:{self.port}"

    def client_context(self) -> ssl.SSLContext:
        """An SSL client context that trusts only the test CA."""
        return ssl.create_default_context(cafile=str(self.ca_pem))

    def fetch(self, url: str, method: str = "GET",
              headers: dict[str, str] | None = None, timeout: float = 10.0) -> FetchResult:
        """Fetch `url` from this server over verified TLS, as if DNS pointed here."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        conn = http.client.HTTPSConnection(host, timeout=timeout, context=self.client_context())
        conn.sock = self.client_context().wrap_socket(raw, server_hostname=host)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return FetchResult(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
        finally:
            conn.close()

    # -- lifecycle ----------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        self._server.shutdown()
        with self._server.active_lock:
            for sock in list(self._server.active):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakePlatform:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def start_fake_platform(workdir: Path, port: int = 0) -> FakePlatform:
    """Generate the test PKI in `workdir` and start serving on 127.0.0.1:`port` (0 = any)."""
    return FakePlatform(workdir, port)
