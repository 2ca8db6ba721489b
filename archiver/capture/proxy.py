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
  Playwright's `server_addr()` and the HAR's `serverIPAddress` now name this proxy.

Plain http: Chromium reuses a proxy connection for requests to different hosts, so each
client connection carries one request. It is forwarded in origin-form with `Connection:
close` (`Proxy-*` and hop-by-hop headers dropped), the answer goes back with `Connection:
close`, and both connections close when either side does. A WebSocket upgrade is piped
both ways instead. Heads are bounded (MAX_HEAD, HEAD_TIMEOUT), connecting is bounded by
the configured connect timeout; a tunnel lasts until either side closes it, or the
capture ends (`close()`).

Threading: every proxy of the process runs on one event loop in one background thread
(started on first use, a daemon). A capture's own loop may be blocked for a while (hashing,
writing evidence, a slow callback); the browser's traffic must not wait for it, or pages
would time out for reasons that are ours. Each capture gets its own listening port on
127.0.0.1, so refusals and addresses are attributed to the right capture, and `close()`
ends every tunnel of that capture. `start()` and `close()` are awaited from any loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
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


# -- the shared background loop ------------------------------------------------------------------
_lock = threading.Lock()
_shared: tuple[int, asyncio.AbstractEventLoop, threading.Thread] | None = None


def proxy_loop() -> asyncio.AbstractEventLoop:
    """The event loop every proxy of this process runs on (started on first use)."""
    global _shared
    with _lock:
        if _shared is None or _shared[0] != os.getpid() or not _shared[2].is_alive():
            loop = asyncio.new_event_loop()
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
    """A request this proxy answers itself (a refusal or an error), contacting no one."""

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
        self._refusals: list[tuple[str, str | None, str]] = []  # (host:port, url, reason)
        self._servers: dict[tuple[str, int], dict[str, Any]] = {}
        # the rest is touched on the proxy loop only
        self._lookups: dict[tuple[str, int], asyncio.Future[list[tuple[str, int]]]] = {}
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
        """(host:port, url if it was plain http, reason) of each refusal, first seen first."""
        with self._lock:
            return list(self._refusals)

    def server(self, host: str, port: int) -> dict[str, Any] | None:
        """{"ipAddress", "port"} this proxy connected to for host:port, or None."""
        with self._lock:
            found = self._servers.get((_bare(host), port))
            return dict(found) if found else None

    @property
    def open_connections(self) -> int:
        """Client and server connections still open (0 once closed)."""
        return len(self._transports)

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port); return the proxy server URL."""
        await _on_proxy_loop(self._start())
        return self.url

    async def close(self) -> None:
        """Stop listening and close every connection and tunnel this proxy opened."""
        await _on_proxy_loop(self._close())

    async def __aenter__(self) -> GuardedProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=MAX_HEAD)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        self._closed = True  # a connection accepted meanwhile ends at once
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
                await _answer(writer, answer.status, answer.reason)
        except (OSError, asyncio.IncompleteReadError):
            pass  # either side went away, or the client sent no head in time (an idle
            # connection Chromium opened ahead of need): closed without an answer
        except asyncio.CancelledError:
            pass  # the capture ended (close); ending quietly spares asyncio's log a traceback
        finally:
            for end in ends:
                end.close()  # what is buffered is still sent (a 403's body ...)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.gather(*(e.wait_closed() for e in ends),
                                                      return_exceptions=True), 5)
            for end in ends:
                end.transport.abort()
                self._transports.discard(end.transport)
            self._handlers.discard(task)

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
        """One plain-http request in absolute form, forwarded in origin form."""
        parts = urlsplit(target)
        if parts.scheme not in ("http", "ws") or not parts.hostname:
            raise _Answer(400, f"the proxy takes http:// URLs and CONNECT only, not "
                               f"{target[:100]!r}")
        try:
            port = parts.port or 80
        except ValueError as exc:
            raise _Answer(400, f"invalid port in {target[:100]!r}") from exc
        upgrade = _is_upgrade(headers)
        up_reader, upstream = await self._open(parts.hostname, port, target.split("#")[0],
                                               ends)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        upstream.write(_request_head(method, path, parts.netloc.rpartition("@")[2],
                                     headers, upgrade))
        await upstream.drain()
        if upgrade:
            await _splice(reader, writer, up_reader, upstream)
            return
        body = asyncio.ensure_future(_request_body(reader, upstream))
        tasks = [body]
        try:
            while True:  # 1xx heads go through as they are, then the final one
                try:
                    head = await _read_head(up_reader)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    raise _Answer(502, f"{_netloc(parts.hostname, port)} sent no valid "
                                       "response head") from exc
                status = head.split(b" ", 2)[1:2]
                final = not (status and status[0].startswith(b"1") and status[0] != b"101")
                writer.write(_response_head(head) if final else head)
                await writer.drain()
                if final:
                    break
            # the answer ends when the server closes, or when the client does (it was told
            # `Connection: close`: a server that keeps the connection open is not waited for)
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
                self._servers[(_bare(host), port)] = {"ipAddress": addr, "port": addr_port}
            return up_reader, upstream
        raise _Answer(502, f"cannot connect to {_netloc(host, port)}: {'; '.join(failures)}")

    async def _lookup(self, host: str, port: int) -> list[tuple[str, int]]:
        """Checked addresses of host:port: one lookup per proxy (so per capture)."""
        key = (host, port)
        if key not in self._lookups:
            loop = asyncio.get_running_loop()
            self._lookups[key] = asyncio.ensure_future(
                loop.run_in_executor(None, self.resolver.resolve, host, port))
        return await asyncio.shield(self._lookups[key])

    def _refuse(self, host: str, port: int, url: str | None, reason: str) -> None:
        entry = (_netloc(_bare(host), port), url, reason)
        with self._lock:
            if entry not in self._refusals:
                self._refusals.append(entry)


# -- HTTP framing ---------------------------------------------------------------------------------
async def _read_head(reader: asyncio.StreamReader) -> bytes:
    """A request or response head, up to and including the blank line (at most MAX_HEAD)."""
    return await reader.readuntil(b"\r\n\r\n")


async def _read_request(reader: asyncio.StreamReader
                        ) -> tuple[str, str, list[tuple[str, str]]]:
    head = (await _read_head(reader)).decode("latin-1")
    line, *rest = head[:-4].split("\r\n")
    method, target, version = line.split(" ")
    if not version.startswith("HTTP/1.") or not method.isalpha():
        raise ValueError(f"not an HTTP/1.x request line: {line[:100]!r}")
    headers = []
    for field in rest:
        name, sep, value = field.partition(":")
        if not sep or not name or name != name.strip() or field[0] in " \t":
            raise ValueError(f"malformed header line {field[:100]!r}")
        headers.append((name, value.strip()))
    return method.upper(), target, headers


def _is_upgrade(headers: list[tuple[str, str]]) -> bool:
    tokens = {t.strip().lower() for n, v in headers if n.lower() == "connection"
              for t in v.split(",")}
    return "upgrade" in tokens and any(n.lower() == "upgrade" for n, _ in headers)


def _request_head(method: str, path: str, netloc: str, headers: list[tuple[str, str]],
                  upgrade: bool) -> bytes:
    named = {t.strip().lower() for n, v in headers if n.lower() == "connection"
             for t in v.split(",")}
    kept = [(n, v) for n, v in headers
            if not (n.lower() in _HOP_BY_HOP or n.lower() in named
                    or n.lower().startswith("proxy-"))]
    if not any(n.lower() == "host" for n, _ in kept):
        kept.insert(0, ("Host", netloc))
    if upgrade:
        kept += [("Connection", "Upgrade"),
                 *((n, v) for n, v in headers if n.lower() == "upgrade")]
    else:
        kept.append(("Connection", "close"))
    lines = [f"{method} {path} HTTP/1.1", *(f"{n}: {v}" for n, v in kept)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _response_head(head: bytes) -> bytes:
    """The server's head with `Connection: close`: this client connection ends with it."""
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]] + [line for line in lines[1:] if line.split(b":", 1)[0].strip().lower()
                         not in (b"connection", b"keep-alive", b"proxy-connection")]
    return b"\r\n".join([*kept, b"Connection: close", b"", b""])


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    """The proxy's own answer (a refusal or an error), then the connection closes."""
    phrase = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    body = f"refused by the archiver's address guard: {reason}\n".encode()[:4096] \
        if status == 403 else f"{reason}\n".encode()[:4096]
    writer.write(f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    with contextlib.suppress(OSError):
        await writer.drain()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream."""
    while data := await reader.read(_CHUNK):
        writer.write(data)
        await writer.drain()


async def _request_body(reader: asyncio.StreamReader, upstream: asyncio.StreamWriter) -> None:
    """Copy what the client sends after its head (a request body) until the client closes.
    Should the server stop reading, the rest is read and dropped: this ends only with the
    client."""
    sending = True
    while data := await reader.read(_CHUNK):
        if sending and not upstream.is_closing():
            try:
                upstream.write(data)
                await upstream.drain()
            except OSError:
                sending = False


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
    parts = urlsplit(f"//{target}")
    try:
        port = parts.port
    except ValueError as exc:
        raise _Answer(400, f"invalid port in CONNECT {target[:100]!r}") from exc
    if not parts.hostname or port is None or parts.username is not None or parts.path:
        raise _Answer(400, f"CONNECT takes host:port, not {target[:100]!r}")
    return parts.hostname, port


def _bare(host: str) -> str:
    return host.strip("[]").lower()


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
