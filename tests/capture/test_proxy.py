"""The guarded proxy in front of each capture's browser context (archiver/capture/proxy.py):
its framing and its refusals with a raw client, then through Chromium, and the addresses a
real capture records. Every server here listens on loopback; refused ones on 127.0.0.3."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.capture.guard import BrowserGuard
from archiver.capture.proxy import GuardedProxy, proxy_loop
from archiver.capture.warc import WarcWriter
from archiver.config import Config
from archiver.models import CaptureStatus
from archiver.net import Resolver
from tests.fakeplatform import FakePlatform
from tests.harness import SEED_URL, LoopThread, archive_run

REFUSED = "127.0.0.3"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# -- loopback servers ----------------------------------------------------------------------------
class Server:
    """A TCP server on `host` running `serve(conn, first_bytes)` per connection, recording
    what each connection sent first and when each one ended."""

    def __init__(self, host: str, serve: Callable[[socket.socket, bytes], None]) -> None:
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(0.1)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.serve = serve
        self.seen: list[bytes] = []
        self.closed = 0  # connections whose client end closed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                data = _read_head(conn)
                self.seen.append(data)
                self.serve(conn, data)
            except OSError:
                pass
            finally:
                self.closed += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def http_ok(conn: socket.socket, head: bytes) -> None:
    """Answers with what it was asked (the head it received), keep-alive on purpose."""
    body = head
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n"
                 b"Access-Control-Allow-Origin: *\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    with contextlib.suppress(OSError):  # hold the connection: the proxy must end it
        conn.recv(1)


def http_once(conn: socket.socket, head: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


def echo_upgrade(conn: socket.socket, head: bytes) -> None:
    """A WebSocket endpoint that echoes text frames as "echo:<text>" until the client
    closes (enough of RFC 6455 for short text frames)."""
    key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID.encode()).digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    while True:
        header = conn.recv(2)
        if len(header) < 2 or header[0] & 0x0F == 8:  # closed, or a close frame
            return
        length = header[1] & 0x7F
        mask = conn.recv(4) if header[1] & 0x80 else b"\0\0\0\0"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(conn.recv(length)))
        reply = b"echo:" + payload
        conn.sendall(bytes([0x81, len(reply)]) + reply)


def raw_pipe(conn: socket.socket, head: bytes) -> None:
    """101, then every byte echoed back, until the client closes."""
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade"
                 b"\r\n\r\n")
    while data := conn.recv(4096):
        conn.sendall(data)


@pytest.fixture()
def servers() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(host: str, serve: Callable[[socket.socket, bytes], None] = http_ok) -> Server:
        started.append(Server(host, serve))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.fixture()
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every connect() this process makes (the proxy's included), before it is made."""
    seen: list[tuple[str, int]] = []
    real = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):
            seen.append((str(address[0]), int(address[1])))
        real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def run(coro: Any) -> Any:
    """Run on a private loop (the proxy runs on its own shared loop either way)."""
    return asyncio.run(coro)


async def exchange(proxy: GuardedProxy, request: bytes, *, hold: bool = False
                   ) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    """Send `request` to the proxy; read until it closes (or, with `hold`, the head)."""
    assert proxy.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(request)
    await writer.drain()
    if hold:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10), reader, writer
    got = await asyncio.wait_for(reader.read(), 10)
    return got, reader, writer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# -- the proxy on its own --------------------------------------------------------------------------
@pytest.mark.parametrize("target", [f"{REFUSED}:PORT", "intranet.example:PORT", "[::1]:PORT"])
def test_a_refused_connect_gets_403_before_any_connect(
        target: str, servers: Callable[..., Server], connects: list[tuple[str, int]]) -> None:
    listener = servers(REFUSED)
    target = target.replace("PORT", str(listener.port))
    resolver = Resolver({"intranet.example": f"{REFUSED}:{listener.port}"}, ["127.0.0.1/32"])

    async def go() -> tuple[bytes, GuardedProxy]:
        async with GuardedProxy(resolver) as proxy:
            answer, _, writer = await exchange(
                proxy, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            writer.close()
            return answer, proxy

    answer, proxy = run(go())
    assert status_of(answer) == 403
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Connection: close" in head
    assert body.startswith(b"refused by the archiver's address guard: refused: ")
    assert b"non-public" in body and b"loopback" in body
    assert [c for c in connects if c[0] in (REFUSED, "::1")] == [] and listener.seen == []
    ((netloc, url, reason),) = proxy.refusals()
    assert netloc == target and url is None
    assert "non-public" in reason


def test_a_refused_plain_http_request_is_answered_403_and_recorded_by_url(
        servers: Callable[..., Server], connects: list[tuple[str, int]]) -> None:
    listener = servers(REFUSED)
    url = f"http://{REFUSED}:{listener.port}/latest/meta-data/?x=1"

    async def go() -> tuple[bytes, GuardedProxy]:
        async with GuardedProxy(Resolver({}, ["127.0.0.1/32"])) as proxy:
            answer, _, _ = await exchange(proxy, f"GET {url} HTTP/1.1\r\nHost: {REFUSED}\r\n"
                                                 "Proxy-Connection: keep-alive\r\n\r\n".encode())
            return answer, proxy

    answer, proxy = run(go())
    assert status_of(answer) == 403 and b"non-public" in answer
    assert proxy.refusals() == [(f"{REFUSED}:{listener.port}", url, proxy.refusals()[0][2])]
    assert [c for c in connects if c[0] == REFUSED] == [] and listener.seen == []


def test_plain_http_is_forwarded_once_in_origin_form_without_proxy_headers(
        servers: Callable[..., Server]) -> None:
    origin = servers("127.0.0.1")
    request = (f"POST http://127.0.0.1:{origin.port}/path/x?q=1#frag HTTP/1.1\r\n"
               f"Host: 127.0.0.1:{origin.port}\r\nProxy-Connection: keep-alive\r\n"
               "Proxy-Authorization: Basic c2VjcmV0\r\nConnection: keep-alive, X-Hop\r\n"
               "X-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 5\r\n"
               "User-Agent: test\r\n\r\nhello").encode()

    async def go() -> tuple[bytes, bytes, GuardedProxy]:
        async with GuardedProxy(Resolver({}, ["127.0.0.1/32"])) as proxy:
            head, reader, writer = await exchange(proxy, request, hold=True)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            body = await asyncio.wait_for(reader.readexactly(length), 10)
            writer.close()  # as Chromium does after a `Connection: close` answer ...
            deadline = time.monotonic() + 5
            while origin.closed < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return head, body, proxy

    head, body, proxy = run(go())
    assert origin.closed == 1  # ... which ends the server's connection, kept alive or not
    assert status_of(head) == 200
    assert b"Connection: close" in head and b"keep-alive" not in head.lower()
    (sent,) = origin.seen
    lines = sent.split(b"\r\n")
    assert lines[0] == b"POST /path/x?q=1 HTTP/1.1"
    names = [line.split(b":")[0].lower() for line in lines[1:] if line]
    assert b"proxy-connection" not in names and b"proxy-authorization" not in names
    assert b"x-hop" not in names and b"keep-alive" not in names
    assert b"Connection: close" in lines and b"User-Agent: test" in lines
    assert body == sent  # the origin's answer, whole
    assert proxy.server("127.0.0.1", origin.port) == {"ipAddress": "127.0.0.1",
                                                       "port": origin.port}
    assert proxy.refusals() == []


def test_an_upgrade_in_absolute_form_is_piped_both_ways(servers: Callable[..., Server]) -> None:
    origin = servers("127.0.0.1", raw_pipe)

    async def go() -> bytes:
        async with GuardedProxy(Resolver({}, ["127.0.0.1/32"])) as proxy:
            head, reader, writer = await exchange(
                proxy, f"GET http://127.0.0.1:{origin.port}/ws HTTP/1.1\r\n"
                       f"Host: 127.0.0.1:{origin.port}\r\nConnection: Upgrade\r\n"
                       "Upgrade: test\r\nProxy-Connection: keep-alive\r\n\r\n".encode(),
                hold=True)
            assert status_of(head) == 101
            writer.write(b"ping-1")
            await writer.drain()
            got = await asyncio.wait_for(reader.readexactly(6), 10)
            writer.close()
            return got

    assert run(go()) == b"ping-1"
    (sent,) = origin.seen
    assert b"Connection: Upgrade" in sent and b"Upgrade: test" in sent
    assert b"Proxy-Connection" not in sent


def test_bad_requests_get_400_and_contact_no_one(connects: list[tuple[str, int]]) -> None:
    async def go() -> tuple[list[int], int | None]:
        out = []
        async with GuardedProxy(Resolver({}, ["127.0.0.0/8"])) as proxy:
            for request in (b"CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n",  # no port
                            b"GET /relative HTTP/1.1\r\nHost: a\r\n\r\n",
                            b"GET ftp://127.0.0.1/x HTTP/1.1\r\n\r\n",
                            b"NOT HTTP\r\n\r\n",
                            b"GET http://127.0.0.1:1/ HTTP/1.1\r\n folded\r\n\r\n",
                            b"GET http://127.0.0.1:1/ HTTP/1.1\r\nX: " + b"a" * 70_000):
                answer, _, _ = await exchange(proxy, request)
                out.append(status_of(answer))
        return out, proxy.port

    statuses, port = run(go())
    assert statuses == [400] * 6
    assert set(connects) == {("127.0.0.1", port)}  # the test's own, to the proxy


def test_closing_the_proxy_ends_every_tunnel_and_task(
        servers: Callable[..., Server]) -> None:
    origin = servers("127.0.0.1", raw_pipe)

    async def go() -> tuple[GuardedProxy, bytes, bytes, int]:
        proxy = GuardedProxy(Resolver({}, ["127.0.0.1/32"]))
        await proxy.start()
        head, reader, writer = await exchange(
            proxy, f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n\r\n".encode(), hold=True)
        assert status_of(head) == 200
        writer.write(b"GET / HTTP/1.1\r\n\r\n")  # through the tunnel: the server's 101 ...
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        # ... and a client that sent half a head
        _, idle = await asyncio.open_connection("127.0.0.1", proxy.port)
        idle.write(b"CONNECT 127.0.0.1:1 HTT")
        await idle.drain()
        await asyncio.sleep(0.2)
        during = proxy.open_connections
        await proxy.close()
        rest = await asyncio.wait_for(reader.read(), 5)  # EOF: the tunnel is gone
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.close()
        idle.close()
        return proxy, head, rest, during

    proxy, _, rest, during = run(go())
    assert during == 3 and rest == b""
    assert proxy.open_connections == 0 and proxy._handlers == set()
    deadline = time.monotonic() + 5
    while origin.closed < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert origin.closed == 1  # the server's end was closed too
    pending = asyncio.run_coroutine_threadsafe(_tasks_of_proxy(), proxy_loop()).result(5)
    assert pending == []


async def _tasks_of_proxy() -> list[str]:
    """Tasks on the proxy loop running proxy code (other tests' proxies are closed too)."""
    current = asyncio.current_task()
    return [repr(t) for t in asyncio.all_tasks() if t is not current
            and "proxy.py" in repr(t.get_coro())]


def test_a_lookup_is_made_once_per_host_and_proxy(servers: Callable[..., Server],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    origin = servers("127.0.0.1", http_once)
    calls: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "once.test":
            calls.append(host)
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    async def go() -> list[int]:
        async with GuardedProxy(Resolver({}, ["127.0.0.1/32"])) as proxy:
            answers = await asyncio.gather(*(exchange(
                proxy, f"GET http://once.test:{origin.port}/{i} HTTP/1.1\r\n\r\n".encode())
                for i in range(5)))
            return [status_of(a) for a, _, _ in answers]

    assert run(go()) == [200] * 5
    assert calls == ["once.test"] and len(origin.seen) == 5


def _entry(url: str, status: int, ip: str, port: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "startedDateTime": "2024-05-01T10:00:01.000Z",
        "request": {"method": "GET", "url": url, "headers": []},
        "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                     "headers": [], "content": {"size": 2, "text": "ok"}}}
    if ip:
        entry |= {"serverIPAddress": ip, "_serverPort": port}
    return entry


def test_the_har_names_the_servers_not_the_proxy(servers: Callable[..., Server]) -> None:
    """What Chromium records (the proxy's address) becomes the server's address in the
    HAR, and so in the WARC; the proxy's own 403 becomes an entry without a response; an
    address that is not the proxy's is a breach."""
    origin = servers("127.0.0.2", http_once)
    refused = servers(REFUSED)
    guard = BrowserGuard(Resolver({"site.test": f"127.0.0.2:{origin.port}"}, ["127.0.0.2/32"]))
    blocked = f"http://{REFUSED}:{refused.port}/b"

    async def go() -> None:
        await guard.start()
        assert guard.proxy is not None
        for url in ("http://site.test/a", blocked):
            await exchange(guard.proxy, f"GET {url} HTTP/1.1\r\n\r\n".encode())
        await guard.close()

    run(go())
    assert guard.proxy is not None and guard.proxy.port is not None
    proxy = ("127.0.0.1", guard.proxy.port)
    har = {"log": {"entries": [_entry("http://site.test/a", 200, *proxy),
                               _entry(blocked, 403, *proxy),
                               _entry("https://cached.test/c", 200, "", None),
                               _entry("https://direct.test/d", 200, "10.0.0.9", 443)]}}
    guard.attribute_har(har)
    a, b, c, d = har["log"]["entries"]
    assert (a["serverIPAddress"], a["_serverPort"]) == ("127.0.0.2", origin.port)
    assert "serverIPAddress" not in b and b["response"]["status"] == 0
    assert b["response"]["_failureText"].startswith("refused by the archiver's address guard")
    assert "serverIPAddress" not in c
    assert d["serverIPAddress"] == "10.0.0.9"  # kept: where that answer really came from
    assert guard.breaches == ["https://direct.test/d: the browser connected to 10.0.0.9 "
                              "without the guard's proxy"]
    assert guard.refused == [f"{blocked}: {guard.proxy.refusals()[0][2]}"]
    writer = WarcWriter("cap-proxy", "embed-archiver/test")
    assert writer.add_har(har) == 3  # the refusal is listed in the notes, not as a response
    ips = {r.rec_headers.get_header("WARC-Target-URI"): r.rec_headers.get_header(
        "WARC-IP-Address") for r in ArchiveIterator(io.BytesIO(writer.to_bytes()))
        if r.rec_type == "response"}
    assert ips == {"http://site.test/a": "127.0.0.2", "https://cached.test/c": None,
                   "https://direct.test/d": "10.0.0.9"}


# -- through Chromium ------------------------------------------------------------------------------
def _guarded_page(loop: LoopThread, guard: BrowserGuard, url: str,
                  work: Callable[[Any], Any]) -> Any:
    async def go() -> Any:
        context = await guard.new_context(loop.browser)
        try:
            page = await context.new_page()
            await page.goto(url, wait_until="load")
            return await work(page)
        finally:
            await context.close()
            await guard.close()

    return loop.run(go(), timeout=60)


@pytest.mark.browser
def test_plain_http_and_websockets_work_through_the_proxy_for_allowed_hosts(
        browser_loop: LoopThread, fake_platform: FakePlatform,
        servers: Callable[..., Server]) -> None:
    origin = servers("127.0.0.1")
    ws = servers("127.0.0.1", echo_upgrade)
    fake_platform.serve("https://news.example.org/proxy-allowed", f"""<!doctype html>
<script>
window.got = {{}};
fetch("http://127.0.0.1:{origin.port}/plain?x=1").then(r => r.text())
  .then(t => window.got.http = t.split("\\r\\n")[0]);
const ws = new WebSocket("ws://127.0.0.1:{ws.port}/echo");
ws.onopen = () => ws.send("hello");
ws.onmessage = e => {{ window.got.ws = e.data; ws.close(); }};
</script>""")
    guard = BrowserGuard(Resolver(fake_platform.host_map(), ["127.0.0.1/32"]))

    async def work(page: Any) -> Any:
        await page.wait_for_function("window.got.http && window.got.ws", timeout=15_000)
        return await page.evaluate("window.got")

    got = _guarded_page(browser_loop, guard, "https://news.example.org/proxy-allowed", work)
    assert got == {"http": "GET /plain?x=1 HTTP/1.1", "ws": "echo:hello"}
    assert guard.refused == [] and guard.breaches == []
    assert guard.server_for(f"http://127.0.0.1:{origin.port}/") == {
        "ipAddress": "127.0.0.1", "port": origin.port}
    assert guard.server_for(f"ws://127.0.0.1:{ws.port}/") == {
        "ipAddress": "127.0.0.1", "port": ws.port}


@pytest.mark.browser
def test_a_capture_that_ends_closes_its_open_websocket(
        browser_loop: LoopThread, fake_platform: FakePlatform,
        servers: Callable[..., Server]) -> None:
    ws = servers("127.0.0.1", echo_upgrade)
    fake_platform.serve("https://news.example.org/proxy-open-ws", f"""<!doctype html>
<script>const ws = new WebSocket("ws://127.0.0.1:{ws.port}/hold");
ws.onopen = () => document.title = "open";</script>""")
    guard = BrowserGuard(Resolver(fake_platform.host_map(), ["127.0.0.1/32"]))

    async def work(page: Any) -> int:
        await page.wait_for_function("document.title === 'open'", timeout=15_000)
        assert guard.proxy is not None
        return guard.proxy.open_connections

    during = _guarded_page(browser_loop, guard, "https://news.example.org/proxy-open-ws",
                           work)
    assert guard.proxy is not None
    assert during >= 2 and guard.proxy.open_connections == 0
    deadline = time.monotonic() + 5
    while ws.closed < len(ws.seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ws.seen and ws.closed == len(ws.seen)


@pytest.mark.browser
def test_without_its_proxy_the_context_reaches_nothing(
        browser_loop: LoopThread, fake_platform: FakePlatform,
        servers: Callable[..., Server]) -> None:
    """Chromium does not fall back to connecting by itself when the proxy is gone."""
    target = servers(REFUSED)
    guard = BrowserGuard(Resolver(fake_platform.host_map(), ["127.0.0.0/8"]))

    async def go() -> str:
        context = await guard.new_context(browser_loop.browser)
        try:
            await guard.close()
            page = await context.new_page()
            try:
                await page.goto(f"http://{REFUSED}:{target.port}/direct", timeout=10_000)
            except Exception as exc:  # the error is the point
                return str(exc).splitlines()[0]
            return "loaded"
        finally:
            await context.close()

    error = browser_loop.run(go(), timeout=60)
    assert "ERR_PROXY_CONNECTION_FAILED" in error and target.seen == []


# -- what a real capture records ---------------------------------------------------------------
class Relay:
    """The fake platform again, at 127.0.0.2: a TCP relay, so that the server's address
    differs from the proxy's (127.0.0.1) in the evidence."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.sock = socket.create_server(("127.0.0.2", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            up = socket.create_connection(("127.0.0.1", self.upstream))
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture()
def relayed(fake_platform: FakePlatform, config: Config) -> Iterator[tuple[Config, Relay]]:
    relay = Relay(fake_platform.port)
    network = replace(config.network, host_map={h: f"127.0.0.2:{relay.port}"
                                                for h in fake_platform.hosts})
    yield replace(config, network=network), relay
    relay.close()


def _warc_addresses(path: Any) -> dict[str, set[str]]:
    """WARC-IP-Address of every response record, by whether it came from the browser."""
    out: dict[str, set[str]] = {"all": set(), "missing": set()}
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response":
                continue
            ip = record.rec_headers.get_header("WARC-IP-Address")
            uri = record.rec_headers.get_header("WARC-Target-URI")
            (out["all"] if ip else out["missing"]).add(ip or uri)
    return out


@pytest.mark.browser
def test_the_manifest_and_warc_record_the_real_server_not_the_proxy(
        browser_loop: LoopThread, relayed: tuple[Config, Relay]) -> None:
    config, relay = relayed
    report = archive_run(browser_loop, config, SEED_URL)
    assert report.ok and {c.status for c in report.captures} == {CaptureStatus.LIVE}
    real = {"ipAddress": "127.0.0.2", "port": relay.port}
    for capture in report.captures:
        root = config.storage.data_dir / capture.directory
        manifest = json.loads((root / "manifest.json").read_text())
        pages = manifest["got"]["pages"]
        assert pages and all(p["server"] == real for p in pages), pages
        assert manifest["how"]["guard_breaches"] == []
        assert manifest["how"]["refused_requests"] == []
        addresses = _warc_addresses(root / "traffic.warc.gz")
        assert addresses["all"] == {"127.0.0.2"}, addresses  # never the proxy's 127.0.0.1
    (article,) = report.articles
    manifest = json.loads((config.storage.data_dir / article.directory / "manifest.json")
                          .read_text())
    (page,) = manifest["got"]["pages"]
    assert page["signal"] == "rendered" and page["server"] == real
    assert not any(n.startswith("refused: ") for n in page["notes"])
