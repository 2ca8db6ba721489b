"""The guarded proxy in front of a capture's browser context.

Chromium resolves names and opens connections itself, so checking requests from Python
(routes, events) always leaves holes: preconnects, redirects, workers and WebRTC are not
routed, and the name Chromium resolves need not be the one that was checked. Each capture's
browser context is therefore given its own `GuardedProxy` as its HTTP proxy, and every
connection the context makes goes through it:

- `CONNECT host:port` (https, wss, and ws: Chromium tunnels WebSockets) and absolute-URI
  requests for plain http (and ws upgrades, should a client send them that way);
- the host is resolved by the archiver's `Resolver` (host map first, then DNS) once per
  host:port and proxy, every address is checked with `Resolver.check`, and only a checked
  address is connected to: a name cannot resolve one way for the check and another way for
  the connection (DNS rebinding);
- a refused host gets `403` with the reason as body (one that does not resolve: `502`),
  and `"host:port: reason"` (or `"url: reason"` for plain http) is recorded in
  `refusals`; nothing is sent to it;
- the address each host:port was really reached at is kept (`server`), because
  Playwright's `server_addr()` and the HAR's `serverIPAddress` now name this proxy (a
  host:port reached at two of its addresses has none: which answer came from which is not
  known, and a wrong address is worse evidence than none).

Plain http: each client connection carries one request. Its head is parsed strictly (CR
LF line ends only, no NUL, no obs-fold, token header names, one unambiguous body framing:
`Content-Length` or `Transfer-Encoding: chunked`, never both) and forwarded in origin-form
with the `Host` of the URL and `Connection: close` (`Proxy-*` and hop-by-hop headers
dropped); exactly the framed body follows it, nothing else. A client that sends anything
after that (a second request on the same connection) has both connections closed: a
request is never sent to a server it was not checked for. The server's response head is
read the way Chromium reads it (a bare LF ends a line too) and rebuilt with CR LF line ends
and a single `Connection: close`, so that no line hidden from the proxy can tell the
browser to keep the connection; an answer that is not HTTP/1.x (a status below 100
included) is a 502. The rest of the answer goes back as it comes, until either side
closes. A WebSocket upgrade is piped both ways once the server answered `101`. Heads are
bounded (MAX_HEAD, HEAD_TIMEOUT), connecting is bounded by the configured connect timeout;
a tunnel lasts until either side closes it, or the capture ends (`close()`).

The proxy's own answers (a refusal, a server it could not reach) carry `X-Archiver-Guard:
<token>-<n>`, the token being this proxy's secret: `answer(value)` says what such a
response was, so that the evidence does not list it as the server's.

Threading: every proxy of the process runs on one event loop in one background thread
(started on first use, a daemon). A capture's own loop may be blocked for a while (hashing,
writing evidence, a slow callback); the browser's traffic must not wait for it, or pages
would time out for reasons that are ours. DNS lookups run in that loop's own threads, at
most LOOKUPS_PER_PROXY at a time per proxy, so that one page's hanging names hold up no
other capture (the host map and address literals need no lookup, and no thread). Each
capture gets its own listening port on 127.0.0.1, so refusals and addresses are attributed
to the right capture, and `close()` ends every tunnel of that capture. `start()` and
`close()` are awaited from any loop; `close_soon()` closes from any thread without waiting.
A close always wins: one that comes while `start()` is still under way (the caller was
cancelled) closes the listening socket that start opens, and a closed proxy does not start
again. A process forked from this one starts its own loop (and lock) on first use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import secrets
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

from archiver.errors import BlockedAddressError, FetchError
from archiver.net import Resolver

T = TypeVar("T")

#: Longest request or response head (request line or status line plus headers) accepted.
MAX_HEAD = 64 * 1024
#: How long a client may take to send its request head.
HEAD_TIMEOUT = 30.0
_CHUNK = 64 * 1024
#: Request headers that concern this hop only (the `Proxy-*` family is dropped as well).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "te", "trailer", "upgrade"})
#: Request headers the proxy writes itself (from the URL, and the body framing it checked).
_REWRITTEN = frozenset({"host", "content-length", "transfer-encoding"})
#: Response headers that would say whether the browser may reuse its connection.
_CONNECTION_HEADERS = frozenset({b"connection", b"keep-alive", b"proxy-connection"})
#: The header that marks the proxy's own answers.
ANSWER_HEADER = "X-Archiver-Guard"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BTOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: A status below 100 is no answer: Chromium would take "099" or "000" as final (only 1xx
#: is informational to it) while a check for `< 200` here would not, and forward the
#: server's own `Connection: keep-alive`.
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9]{2})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?")
_CHUNKED = -1  # "the body is chunked", where a Content-Length would be
#: Proxy answers remembered (for `answer()`); past this, the oldest are forgotten.
_MAX_ANSWERS = 10_000
#: DNS lookups one proxy has under way at most. A lookup holds a thread until the system's
#: resolver answers or gives up (seconds, for a name whose name server never answers), and
#: the threads serve every proxy of the process: a page that named many such hosts held
#: them all, and every other capture's lookups waited behind it.
LOOKUPS_PER_PROXY = 4
#: Threads for the proxies' DNS lookups (started as needed): 16 proxies at their cap.
_LOOKUP_THREADS = 16 * LOOKUPS_PER_PROXY
#: Refusals a proxy lists (for the manifest); past this, distinct ones are only counted. A
#: page can ask for refused addresses without end (30,000 were seen: 3.9 MB of manifest).
MAX_REFUSALS = 500


# -- the shared background loop ------------------------------------------------------------------
_lock = threading.Lock()
_shared: tuple[int, asyncio.AbstractEventLoop, threading.Thread] | None = None


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: not the loop's, nor one that might
    have held `_lock` at the fork (which would then stay locked for ever)."""
    global _lock, _shared
    _lock = threading.Lock()
    _shared = None


os.register_at_fork(after_in_child=_after_fork_in_child)


def proxy_loop() -> asyncio.AbstractEventLoop:
    """The event loop every proxy of this process runs on (started on first use)."""
    global _shared
    with _lock:
        if _shared is None or _shared[0] != os.getpid() or not _shared[2].is_alive():
            loop = asyncio.new_event_loop()
            # the loop's threads do nothing but the proxies' DNS lookups (not as few as the
            # default's CPUs + 4, which a single proxy at its cap could take most of)
            loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(
                _LOOKUP_THREADS, thread_name_prefix="archiver-proxy-dns"))
            thread = threading.Thread(target=loop.run_forever, name="archiver-proxy",
                                      daemon=True)
            thread.start()
            _shared = (os.getpid(), loop, thread)
        return _shared[1]


async def _on_proxy_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the proxy loop and wait for it from the caller's loop. Cancelling the
    caller does not cancel `coro`: a close that was started always finishes."""
    future = asyncio.run_coroutine_threadsafe(coro, proxy_loop())
    return await asyncio.shield(asyncio.wrap_future(future))


class _Answer(Exception):
    """A request this proxy answers itself (a refusal or an error), contacting no one
    (or no one more: a server that sent no valid answer)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# -- the proxy ------------------------------------------------------------------------------------
class GuardedProxy:
    """One capture's proxy: a listening port on 127.0.0.1 and the tunnels it opened."""

    def __init__(self, resolver: Resolver, *, connect_timeout: float = 10.0) -> None:
        self.resolver = resolver
        self.connect_timeout = connect_timeout
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._lock = threading.Lock()  # the lists below are read from the capture's thread
        #: (host:port, url, reason) -> None, the first MAX_REFUSALS, in order
        self._refusals: dict[tuple[str, str | None, str], None] = {}
        self._unlisted: set[int] = set()  # hashes of the distinct refusals past those
        self._refused_at: dict[str, str] = {}  # host:port -> reason, of every refusal
        #: where each host:port was reached; None once it was reached at two addresses
        self._servers: dict[tuple[str, int], dict[str, Any] | None] = {}
        self._token = secrets.token_hex(16)  # marks this proxy's own answers
        self._answers: dict[int, tuple[int, str]] = {}  # n -> (status, reason)
        self._answered = 0
        # the rest is touched on the proxy loop only
        self._lookups: dict[tuple[str, int], asyncio.Future[list[tuple[str, int]]]] = {}
        self._dns = asyncio.Semaphore(LOOKUPS_PER_PROXY)
        self._handlers: set[asyncio.Task[None]] = set()
        self._transports: set[asyncio.WriteTransport] = set()
        self._closed = False

    @property
    def url(self) -> str:
        """The proxy server to give the browser context."""
        if self.port is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self.port}"

    # -- what it saw (any thread) --------------------------------------------------------------
    def refusals(self) -> list[tuple[str, str | None, str]]:
        """(host:port, url if it was plain http, reason) of each refusal, first seen first:
        the first MAX_REFUSALS (`unlisted_refusals()` counts the rest)."""
        with self._lock:
            return list(self._refusals)

    def unlisted_refusals(self) -> int:
        """How many more distinct refusals there were than `refusals()` lists."""
        with self._lock:
            return len(self._unlisted)

    def refused_at(self, netloc: str) -> str | None:
        """Why host:port was refused, listed or not (None: it was not)."""
        with self._lock:
            return self._refused_at.get(netloc)

    def server(self, host: str, port: int) -> dict[str, Any] | None:
        """{"ipAddress", "port"} this proxy connected to for host:port, or None: never
        connected, or connected to more than one of its addresses (one failed, the next was
        used), when which answer came from where is not known."""
        with self._lock:
            found = self._servers.get((_bare(host), port))
            return dict(found) if found else None

    def answer(self, value: str) -> tuple[int, str] | None:
        """(status, reason) of the proxy's own answer whose `X-Archiver-Guard` header has
        `value`; None for anything else (a server's header, another proxy's, a forgery)."""
        token, _, number = value.strip().rpartition("-")
        if token != self._token or not number.isascii() or not number.isdigit():
            return None
        with self._lock:
            return self._answers.get(int(number))

    @property
    def open_connections(self) -> int:
        """Client and server connections still open (0 once closed)."""
        return len(self._transports)

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port); return the proxy server URL."""
        if self._closed:
            raise RuntimeError("the proxy is closed")
        await _on_proxy_loop(self._start())
        return self.url

    async def close(self) -> None:
        """Stop listening and close every connection and tunnel this proxy opened. Safe to
        call more than once, before `start()` finished, or without it."""
        await _on_proxy_loop(self._close())

    def close_soon(self) -> concurrent.futures.Future[None]:
        """Start `close()` on the proxy's loop from any thread (an event handler, a
        cleanup that cannot wait) and return at once."""
        return asyncio.run_coroutine_threadsafe(self._close(), proxy_loop())

    async def __aenter__(self) -> GuardedProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _start(self) -> None:
        if self._server is not None:
            return
        if self._closed:
            raise RuntimeError("the proxy is closed")
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=MAX_HEAD)
        if self._server is not None or self._closed:  # started or closed meanwhile
            server.close()
            await server.wait_closed()
            if self._closed:
                raise RuntimeError("the proxy was closed while it started")
            return
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        self._closed = True  # a connection accepted meanwhile ends at once; a start too
        if self._server is not None:
            self._server.close()
        for transport in list(self._transports):
            transport.abort()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        for lookup in self._lookups.values():
            if not lookup.done():
                lookup.cancel()

    # -- one client connection ----------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if self._closed:
            writer.transport.abort()
            return
        self._handlers.add(task)
        self._transports.add(writer.transport)
        ends = [writer]  # this connection, and the server's once it is opened
        try:
            try:
                method, target, headers = await asyncio.wait_for(_read_request(reader),
                                                                 HEAD_TIMEOUT)
            except (asyncio.LimitOverrunError, ValueError) as exc:
                raise _Answer(400, f"bad request: {exc}") from exc
            if method == "CONNECT":
                await self._tunnel(target, reader, writer, ends)
            else:
                await self._forward(method, target, headers, reader, writer, ends)
        except _Answer as answer:
            with contextlib.suppress(OSError):
                await _answer(writer, answer.status, answer.reason, self._mark(answer))
        except (OSError, asyncio.IncompleteReadError):
            pass  # either side went away, or the client sent no head in time (an idle
            # connection Chromium opened ahead of need): closed without an answer
        except asyncio.CancelledError:
            pass  # the capture ended (close); ending quietly spares asyncio's log a traceback
        finally:
            if not self._closed:  # the capture goes on: what is buffered is still sent
                for end in ends:  # (a 403's body ...), for up to 5 s
                    end.close()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.gather(*(e.wait_closed() for e in ends),
                                                          return_exceptions=True), 5)
            for end in ends:  # the capture is over: nothing waits for a peer that reads
                end.transport.abort()
                self._transports.discard(end.transport)
            self._handlers.discard(task)

    def _mark(self, answer: _Answer) -> str:
        """The `X-Archiver-Guard` value of one of the proxy's own answers."""
        with self._lock:
            self._answered += 1
            self._answers[self._answered] = (answer.status, answer.reason)
            self._answers.pop(self._answered - _MAX_ANSWERS, None)
            return f"{self._token}-{self._answered}"

    async def _tunnel(self, target: str, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, ends: list[asyncio.StreamWriter]) -> None:
        """CONNECT host:port: a checked connection, then bytes both ways."""
        host, port = _authority(target)
        up_reader, upstream = await self._open(host, port, None, ends)
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        await _splice(reader, writer, up_reader, upstream)

    async def _forward(self, method: str, target: str, headers: list[tuple[str, str]],
                       reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       ends: list[asyncio.StreamWriter]) -> None:
        """One plain-http request in absolute form, forwarded in origin form, and its
        answer; then both connections close."""
        try:
            parts = urlsplit(target)
            port = 80 if parts.port is None else parts.port  # ":0" is port 0, not 80
        except ValueError as exc:
            raise _Answer(400, f"invalid URL {target[:100]!r}: {exc}") from exc
        if parts.scheme not in ("http", "ws") or not parts.hostname:
            raise _Answer(400, f"the proxy takes http:// URLs and CONNECT only, not "
                               f"{target[:100]!r}")
        if not 0 < port < 65536:
            raise _Answer(400, f"invalid port in {target[:100]!r}")
        try:
            length = _body_length(headers)
        except ValueError as exc:
            raise _Answer(400, f"bad request: {exc}") from exc
        upgrade = _is_upgrade(headers) and length == 0
        up_reader, upstream = await self._open(parts.hostname, port, target.split("#")[0],
                                               ends)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        upstream.write(_request_head(method, path, parts.netloc.rpartition("@")[2],
                                     headers, upgrade, length))
        await upstream.drain()
        # the body goes while the answer comes; an upgrade has none, and after a 101 what
        # the client sends belongs to the new protocol
        tasks = [] if upgrade else [asyncio.ensure_future(_request_body(reader, upstream,
                                                                         length))]
        try:
            while True:  # 1xx heads go through (rebuilt), then the final one
                try:
                    status, head = await _read_response_head(up_reader)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        ValueError) as exc:
                    raise _Answer(502, f"{_netloc(parts.hostname, port)} sent no valid "
                                       f"response head ({exc})") from exc
                if status == 101 and not upgrade:
                    raise _Answer(502, f"{_netloc(parts.hostname, port)} switched protocols "
                                       "without being asked to")
                if status == 101 or not 100 <= status < 200:  # not an informational head
                    break
                writer.write(_response_head(head, final=False))
                await writer.drain()
            if status == 101:  # the upgrade: bytes both ways
                writer.write(_response_head(head, final=False))
                await writer.drain()
                await _splice(reader, writer, up_reader, upstream)
                return
            writer.write(_response_head(head, final=True))
            await writer.drain()
            if upgrade:  # refused: what the client sends now is not forwarded either
                tasks.append(asyncio.ensure_future(_request_body(reader, upstream, 0)))
            # the answer ends when the server closes, or when the client does (it was told
            # `Connection: close`: a server that keeps the connection open is not waited
            # for), or when the client sends more than its one request
            tasks.append(asyncio.ensure_future(_pump(up_reader, writer)))
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _open(self, host: str, port: int, url: str | None,
                    ends: list[asyncio.StreamWriter]
                    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to a checked address of host:port (added to `ends`), or _Answer:
        refused (and recorded) or unreachable."""
        try:
            pairs = await self._lookup(_bare(host), port)
            if self._closed:
                raise asyncio.CancelledError
        except FetchError as exc:
            self._refuse(host, port, url, str(exc))
            raise _Answer(403 if isinstance(exc, BlockedAddressError) else 502,
                          str(exc)) from exc
        loop = asyncio.get_running_loop()
        failures = []
        for addr, addr_port in pairs:  # every one of them was checked
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await asyncio.wait_for(loop.sock_connect(sock, (addr, addr_port)),
                                       self.connect_timeout)
                up_reader, upstream = await asyncio.open_connection(sock=sock, limit=MAX_HEAD)
            except (OSError, TimeoutError) as exc:
                sock.close()
                failures.append(f"{_netloc(addr, addr_port)}: {str(exc) or 'timed out'}")
                continue
            except BaseException:
                sock.close()
                raise
            ends.append(upstream)
            self._transports.add(upstream.transport)
            with self._lock:
                key, reached = (_bare(host), port), {"ipAddress": addr, "port": addr_port}
                self._servers[key] = reached if self._servers.get(key, reached) == reached \
                    else None
            return up_reader, upstream
        raise _Answer(502, f"cannot connect to {_netloc(host, port)}: {'; '.join(failures)}")

    async def _lookup(self, host: str, port: int) -> list[tuple[str, int]]:
        """Checked addresses of host:port: one lookup per proxy (so per capture)."""
        key = (host, port)
        if key not in self._lookups:
            self._lookups[key] = asyncio.ensure_future(self._resolve(host, port))
        return await asyncio.shield(self._lookups[key])

    async def _resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        """A host-mapped name or an address is answered here and now; a name only DNS can
        answer waits for one of this proxy's LOOKUPS_PER_PROXY turns, then takes a thread.
        So a page whose names never resolve delays its own capture only: the others'
        lookups, host-mapped or not, do not queue behind its hanging ones."""
        known = self.resolver.resolve_known(host, port)
        if known is not None:
            return known
        async with self._dns:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self.resolver.resolve, host, port)

    def _refuse(self, host: str, port: int, url: str | None, reason: str) -> None:
        entry = (_netloc(_bare(host), port), url, reason)
        with self._lock:
            self._refused_at.setdefault(entry[0], reason)
            if entry in self._refusals:
                return
            if len(self._refusals) < MAX_REFUSALS:
                self._refusals[entry] = None
            else:  # a hash is enough to count it once (and much smaller than the URL)
                self._unlisted.add(hash(entry))


# -- HTTP framing ---------------------------------------------------------------------------------
async def _read_head(reader: asyncio.StreamReader) -> bytes:
    """A request head, up to and including the blank line (at most MAX_HEAD)."""
    return await reader.readuntil(b"\r\n\r\n")


async def _read_request(reader: asyncio.StreamReader
                        ) -> tuple[str, str, list[tuple[str, str]]]:
    """(method, target, headers) of a request head; ValueError for anything but a plain,
    strictly formed HTTP/1.x head (CR LF only, no control bytes, token names, no folding)."""
    head = (await _read_head(reader)).decode("latin-1")
    line, *rest = head[:-4].split("\r\n")
    if _has_controls(line) or line.count(" ") != 2:
        raise ValueError(f"not an HTTP/1.x request line: {line[:100]!r}")
    method, target, version = line.split(" ")
    if version not in ("HTTP/1.1", "HTTP/1.0") or not _TOKEN.fullmatch(method) or not target:
        raise ValueError(f"not an HTTP/1.x request line: {line[:100]!r}")
    headers = []
    for field in rest:
        name, sep, value = field.partition(":")
        if not sep or not _TOKEN.fullmatch(name) or _has_controls(value):
            raise ValueError(f"malformed header line {field[:100]!r}")
        headers.append((name, value.strip(" \t")))
    return method.upper(), target, headers


def _has_controls(text: str) -> bool:
    """Whether `text` has a byte no request line or header value may hold (CR, LF, NUL and
    the other controls; a tab is allowed)."""
    return any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in text)


def _body_length(headers: list[tuple[str, str]]) -> int:
    """The request body's length, or _CHUNKED; ValueError when the framing is ambiguous
    (both headers, differing lengths) or not one this proxy forwards."""
    codings = [c.strip().lower() for n, v in headers if n.lower() == "transfer-encoding"
               for c in v.split(",")]
    lengths = {c.strip() for n, v in headers if n.lower() == "content-length"
               for c in v.split(",")}
    if codings:
        if lengths:
            raise ValueError("both Transfer-Encoding and Content-Length")
        if codings != ["chunked"]:
            raise ValueError(f"unsupported Transfer-Encoding {', '.join(codings)[:100]!r}")
        return _CHUNKED
    if not lengths:
        return 0
    if len(lengths) > 1:
        raise ValueError("conflicting Content-Length values")
    (length,) = lengths
    if not (length.isascii() and length.isdigit()) or len(length) > 18:
        raise ValueError(f"invalid Content-Length {length[:30]!r}")
    return int(length)


def _is_upgrade(headers: list[tuple[str, str]]) -> bool:
    tokens = {t.strip().lower() for n, v in headers if n.lower() == "connection"
              for t in v.split(",")}
    return "upgrade" in tokens and any(n.lower() == "upgrade" for n, _ in headers)


def _request_head(method: str, path: str, netloc: str, headers: list[tuple[str, str]],
                  upgrade: bool, length: int) -> bytes:
    """The origin-form head: `Host` from the URL (whatever the client said), the body
    framing that was checked, and no header for this hop."""
    named = {t.strip().lower() for n, v in headers if n.lower() == "connection"
             for t in v.split(",")}
    kept = [(n, v) for n, v in headers
            if not (n.lower() in _HOP_BY_HOP or n.lower() in named or n.lower() in _REWRITTEN
                    or n.lower().startswith("proxy-"))]
    kept.insert(0, ("Host", netloc))
    if length == _CHUNKED:
        kept.append(("Transfer-Encoding", "chunked"))
    elif length or any(n.lower() == "content-length" for n, _ in headers):
        kept.append(("Content-Length", str(length)))
    if upgrade:
        kept += [("Connection", "Upgrade"),
                 *((n, v) for n, v in headers if n.lower() == "upgrade")]
    else:
        kept.append(("Connection", "close"))
    lines = [f"{method} {path} HTTP/1.1", *(f"{n}: {v}" for n, v in kept)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response_head(reader: asyncio.StreamReader) -> tuple[int, list[bytes]]:
    """(status, lines) of a response head, read as Chromium reads it: a line ends at LF
    (a CR before it is dropped), the head at the first empty line. ValueError for a head
    that is not HTTP/1.x, too long, or has a stray CR or NUL."""
    lines: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\n")
        total += len(line)
        if total > MAX_HEAD:
            raise ValueError(f"a response head over {MAX_HEAD} bytes")
        line = line[:-1].removesuffix(b"\r")
        if not line:
            break
        if b"\r" in line or b"\0" in line:
            raise ValueError("a stray CR or NUL in the response head")
        lines.append(line)
    found = _STATUS_LINE.fullmatch(lines[0]) if lines else None
    if found is None:
        raise ValueError(f"not an HTTP/1.x status line: {(lines or [b''])[0][:100]!r}")
    return int(found.group(1)), lines


def _response_head(lines: list[bytes], *, final: bool) -> bytes:
    """The head rebuilt with CR LF line ends, folded lines joined, lines that are not a
    header dropped. A final answer has `Connection: close` as its only connection header:
    the browser's connection ends with it. (A 1xx or 101 keeps its own.)"""
    fields: list[tuple[bytes, bytes]] = []
    dropped = True
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):  # obs-fold: continues the previous field
            if fields and not dropped:
                fields[-1] = (fields[-1][0], fields[-1][1] + b" " + line.strip(b" \t"))
            continue
        name, sep, value = line.partition(b":")
        name = name.rstrip(b" \t")
        dropped = not sep or not _BTOKEN.fullmatch(name)
        if not dropped:
            fields.append((name, value.strip(b" \t")))
    if final:
        fields = [(n, v) for n, v in fields if n.lower() not in _CONNECTION_HEADERS]
        fields.append((b"Connection", b"close"))
    return b"\r\n".join([lines[0], *(n + b": " + v for n, v in fields), b"", b""])


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str, mark: str) -> None:
    """The proxy's own answer (a refusal or an error), then the connection closes."""
    phrase = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    body = f"refused by the archiver's address guard: {reason}\n".encode()[:4096] \
        if status == 403 else f"{reason}\n".encode()[:4096]
    writer.write(f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 f"{ANSWER_HEADER}: {mark}\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    with contextlib.suppress(OSError):
        await writer.drain()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream."""
    while data := await reader.read(_CHUNK):
        writer.write(data)
        await writer.drain()


async def _request_body(reader: asyncio.StreamReader, upstream: asyncio.StreamWriter,
                        length: int) -> None:
    """Send the request's body, exactly as framed (`length` bytes, or chunks), then wait
    for the client to close. Anything else the client sends (a second request) ends this,
    and so the exchange: it is not sent anywhere. Should the server stop reading, the rest
    of the body is read and dropped."""
    sending = True

    async def send(data: bytes) -> None:
        nonlocal sending
        if sending and not upstream.is_closing():
            try:
                upstream.write(data)
                await upstream.drain()
            except OSError:
                sending = False

    async def copy(count: int) -> None:
        while count:
            data = await reader.read(min(count, _CHUNK))
            if not data:
                raise asyncio.IncompleteReadError(b"", count)
            count -= len(data)
            await send(data)

    if length == _CHUNKED:
        while True:
            size_line = (await reader.readuntil(b"\r\n"))[:-2]
            size_text = size_line.split(b";", 1)[0].strip(b" \t")
            if not re.fullmatch(rb"[0-9A-Fa-f]{1,15}", size_text):
                raise ValueError(f"invalid chunk size {size_line[:30]!r}")
            size = int(size_text, 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers are not forwarded
                await send(b"0\r\n\r\n")
                break
            await send(b"%x\r\n" % size)
            await copy(size)
            if await reader.readexactly(2) != b"\r\n":
                raise ValueError("a chunk not followed by CR LF")
            await send(b"\r\n")
    else:
        await copy(length)
    await reader.read(1)  # the client's end, or the first byte of something not forwarded


async def _splice(a_reader: asyncio.StreamReader, a_writer: asyncio.StreamWriter,
                  b_reader: asyncio.StreamReader, b_writer: asyncio.StreamWriter) -> None:
    """Bytes both ways until either side ends (then the caller closes both)."""
    pumps = [asyncio.ensure_future(_pump(a_reader, b_writer)),
             asyncio.ensure_future(_pump(b_reader, a_writer))]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


def _authority(target: str) -> tuple[str, int]:
    """host:port of a CONNECT request ([v6]:port included); the port is required."""
    try:
        parts = urlsplit(f"//{target}")
        port = parts.port
    except ValueError as exc:
        raise _Answer(400, f"invalid CONNECT target {target[:100]!r}: {exc}") from exc
    if (not parts.hostname or port is None or parts.username is not None or parts.path
            or parts.query or parts.fragment or "?" in target or "#" in target):
        raise _Answer(400, f"CONNECT takes host:port, not {target[:100]!r}")
    if not 0 < port < 65536:
        raise _Answer(400, f"invalid port in CONNECT {target[:100]!r}")
    return parts.hostname, port


def _bare(host: str) -> str:
    return host.strip("[]").lower()


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
