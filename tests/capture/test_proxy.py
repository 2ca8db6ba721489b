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
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.capture.guard import BrowserGuard
from archiver.capture.proxy import (
    LOOKUPS_PER_PROXY,
    MAX_REFUSALS,
    GuardedProxy,
    proxy_loop,
)
from archiver.capture.warc import WarcWriter
from archiver.config import Config
from archiver.errors import FetchError
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


class HangingDNS(Resolver):
    """A resolver whose DNS is a table: a `*.slow.test` lookup hangs until `release` is
    set and then fails; `dns.test` is 127.0.0.1; nothing is ever queried."""

    def __init__(self, host_map: dict[str, str], release: threading.Event) -> None:
        super().__init__(host_map, ["127.0.0.1/32"])
        self.release = release
        self.hanging = 0
        self.most = 0  # lookups hanging at once, at most
        self._count = threading.Lock()

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        if host.endswith(".slow.test"):
            with self._count:
                self.hanging += 1
                self.most = max(self.most, self.hanging)
            try:
                self.release.wait(30)
            finally:
                with self._count:
                    self.hanging -= 1
            raise FetchError(f"cannot resolve host {host}: timed out", url=host)
        if host == "dns.test":
            return [("127.0.0.1", port)]
        return super().resolve(host, port)


def test_a_capture_whose_lookups_hang_holds_up_no_other(
        servers: Callable[..., Server]) -> None:
    """One page names 48 hosts whose DNS never answers (more than the shared lookup
    threads ever were); another capture's CONNECTs, to a host-mapped name and to one
    looked up by DNS, are answered at once all the same."""
    origin = servers("127.0.0.1")
    release = threading.Event()
    hostile = HangingDNS({}, release)
    other = HangingDNS({"mapped.test": f"127.0.0.1:{origin.port}"}, release)

    async def connect(proxy: GuardedProxy, target: str) -> tuple[bytes, float]:
        assert proxy.port is not None
        t0 = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        try:
            writer.write(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            return head, time.monotonic() - t0
        finally:
            writer.close()

    async def go() -> list[tuple[bytes, float]]:
        async with GuardedProxy(hostile) as slow, GuardedProxy(other) as proxy:
            waiting = [await asyncio.open_connection("127.0.0.1", slow.port)
                       for _ in range(48)]
            for i, (_, writer) in enumerate(waiting):
                writer.write(f"CONNECT h{i}.slow.test:443 HTTP/1.1\r\n\r\n".encode())
            deadline = time.monotonic() + 5
            while hostile.hanging < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # time for more of them to take a thread
            try:
                return [await connect(proxy, f"mapped.test:{origin.port}"),
                        await connect(proxy, f"dns.test:{origin.port}")]
            finally:
                release.set()
                for _, writer in waiting:
                    writer.close()

    try:
        answers = run(go())
    finally:
        release.set()
    assert [status_of(head) for head, _ in answers] == [200, 200]
    assert all(took < 2 for _, took in answers), answers
    assert hostile.most == LOOKUPS_PER_PROXY  # the hostile page's own lookups, a few at once


def test_a_host_reached_at_two_addresses_has_no_single_server(
        servers: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    """multi.test has two addresses; the first answers once, then is gone, and the next
    connection uses the second. Which entry came from which is not known: the proxy names
    neither, rather than the last one for all of them."""
    first = servers("127.0.0.2", http_once)
    second = socket.create_server(("127.0.0.4", first.port))  # same port, the 2nd address
    second.settimeout(5)
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "multi.test" and not kwargs.get("flags", 0) & socket.AI_NUMERICHOST:
            return [*real("127.0.0.2", *args, **kwargs), *real("127.0.0.4", *args, **kwargs)]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def answer_once() -> None:
        conn, _ = second.accept()
        with conn:
            _read_head(conn)
            http_once(conn, b"")

    async def go() -> tuple[list[int], Any, Any]:
        async with GuardedProxy(Resolver({}, ["127.0.0.0/8"])) as proxy:
            url = f"http://multi.test:{first.port}/"
            one, _, _ = await exchange(proxy, f"GET {url}1 HTTP/1.1\r\n\r\n".encode())
            after_one = proxy.server("multi.test", first.port)
            first.close()  # the first address stops answering
            serving = asyncio.get_running_loop().run_in_executor(None, answer_once)
            two, _, _ = await exchange(proxy, f"GET {url}2 HTTP/1.1\r\n\r\n".encode())
            await serving
            return [status_of(one), status_of(two)], after_one, proxy.server(
                "multi.test", first.port)

    try:
        statuses, after_one, after_two = run(go())
    finally:
        second.close()
    assert statuses == [200, 200]
    assert after_one == {"ipAddress": "127.0.0.2", "port": first.port}
    assert after_two is None


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


def test_refusals_past_the_cap_are_counted_not_listed(servers: Callable[..., Server]) -> None:
    """A page can ask for refused addresses without end: the first MAX_REFUSALS are listed
    (in order, each once), the distinct ones after that are counted, and the manifest's
    list ends with how many more there were."""
    refused = servers(REFUSED)
    guard = BrowserGuard(Resolver({}, ["127.0.0.1/32"]))
    urls = [f"http://{REFUSED}:{refused.port}/{i}" for i in range(MAX_REFUSALS + 40)]

    async def go() -> None:
        await guard.start()
        assert guard.proxy is not None
        for batch in range(0, len(urls), 60):
            await asyncio.gather(*(exchange(guard.proxy, f"GET {u} HTTP/1.1\r\n\r\n".encode())
                                   for u in urls[batch:batch + 60]))
        for url in (urls[0], urls[-1]):  # asked again: not a new refusal
            await exchange(guard.proxy, f"GET {url} HTTP/1.1\r\n\r\n".encode())
        await guard.close()

    run(go())
    assert guard.proxy is not None and refused.seen == []
    listed = guard.proxy.refusals()
    assert len(listed) == MAX_REFUSALS and len(set(listed)) == MAX_REFUSALS
    assert guard.proxy.unlisted_refusals() == 40
    assert len(guard.refused) == MAX_REFUSALS + 1
    assert guard.refused[-1] == "... and 40 more, not listed"
    assert all(": refused: " in line for line in guard.refused[:-1])


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
class Relay(Server):
    """The fake platform again, at 127.0.0.2: a TCP relay, so that the server's address
    differs from the proxy's (127.0.0.1) in the evidence."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        super().__init__("127.0.0.2", lambda conn, head: None)

    def _one(self, conn: socket.socket) -> None:  # bytes both ways, TLS unread
        up = socket.create_connection(("127.0.0.1", self.upstream))
        back = threading.Thread(target=self._pump, args=(up, conn), daemon=True)
        back.start()
        self._pump(conn, up)
        back.join(10)
        conn.close()
        up.close()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


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
        assert manifest["how"]["address_guard"] == "guarded proxy"
        addresses = _warc_addresses(root / "traffic.warc.gz")
        assert addresses["all"] == {"127.0.0.2"}, addresses  # never the proxy's 127.0.0.1
    (article,) = report.articles
    manifest = json.loads((config.storage.data_dir / article.directory / "manifest.json")
                          .read_text())
    (page,) = manifest["got"]["pages"]
    assert page["signal"] == "rendered" and page["server"] == real
    assert not any(n.startswith("refused: ") for n in page["notes"])


# -- framing: one request per client connection, an answer head the browser reads as we do ------
def recording(answer: bytes, rest: list[bytes]) -> Callable[[socket.socket, bytes], None]:
    """Sends `answer`, then records every further byte the connection brings, until the
    proxy closes it (`rest`: one entry per connection)."""
    def serve(conn: socket.socket, head: bytes) -> None:
        conn.sendall(answer)
        got = b""
        with contextlib.suppress(OSError):
            while data := conn.recv(4096):
                got += data
        rest.append(got)

    return serve


def answering(answer: bytes) -> Callable[[socket.socket, bytes], None]:
    """Sends `answer` and closes."""
    def serve(conn: socket.socket, head: bytes) -> None:
        conn.sendall(answer)

    return serve


def as_chromium_reads(data: bytes) -> list[tuple[bytes, list[tuple[bytes, bytes]]]]:
    """The response heads at the start of `data` as Chromium finds them (a line ends at LF,
    a CR before it dropped; a head at the first empty line), up to the first final one:
    (status line, [(lower-case name, value)])."""
    heads = []
    rest = data
    while rest:
        end = min((i for i in (rest.find(b"\n\n"), rest.find(b"\n\r\n")) if i >= 0),
                  default=-1)
        if end < 0:
            break
        head, rest = rest[:end], rest[end:].lstrip(b"\r\n")
        lines = [line.removesuffix(b"\r") for line in head.split(b"\n")]
        fields = [(n.strip().lower(), v.strip()) for n, _, v in
                  (line.partition(b":") for line in lines[1:]) if _]
        heads.append((lines[0], fields))
        status = lines[0].split(b" ")[1:2]
        if not status or not status[0].startswith(b"1"):
            break
    return heads


def test_what_follows_the_request_is_sent_nowhere(servers: Callable[..., Server]) -> None:
    """A second request on the same client connection (here: to a refused address) is not
    written into the first server's connection; the exchange ends instead."""
    rest: list[bytes] = []
    origin = servers("127.0.0.1", recording(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", rest))
    second = f"GET http://{REFUSED}:80/admin HTTP/1.1\r\nHost: {REFUSED}\r\n\r\n"

    async def go() -> bytes:
        async with GuardedProxy(Resolver({}, ["127.0.0.1/32"])) as proxy:
            answer, _, writer = await exchange(proxy, (
                f"POST http://127.0.0.1:{origin.port}/one HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{origin.port}\r\nContent-Length: 5\r\n\r\nhello"
                + second).encode())
            writer.close()
            deadline = time.monotonic() + 5
            while not rest and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return answer

    run(go())
    (first,) = origin.seen
    received = first + b"".join(rest)  # everything the server's connection brought
    assert received.endswith(b"\r\n\r\nhello") and b"/admin" not in received, received


def get_through_a_proxy(origin: Server) -> bytes:
    """What a client gets for `GET /` of `origin` (on 127.0.0.1) through a fresh proxy."""

    async def go() -> bytes:
        async with GuardedProxy(Resolver({}, ["127.0.0.1/32"])) as proxy:
            got, _, _ = await exchange(
                proxy, f"GET http://127.0.0.1:{origin.port}/ HTTP/1.1\r\n\r\n".encode())
            return got

    return run(go())


@pytest.mark.parametrize("answer", [
    # a bare LF hides a line from a CR LF parser; Chromium reads it as a header
    b"HTTP/1.1 200 OK\r\nX-A: 1\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    # a head with bare LFs only
    b"HTTP/1.1 200 OK\nConnection: keep-alive\nContent-Length: 2\n\nok",
    # a 1xx whose end a CR LF parser misses, with the real head inside it
    b"HTTP/1.1 100 Continue\r\nX-A: 1\n\nHTTP/1.1 200 OK\nConnection: keep-alive\r\n"
    b"Content-Length: 2\r\n\r\nok",
    # folded lines, and a name with blanks before its colon
    b"HTTP/1.1 200 OK\r\nX-A: 1\r\n Connection: keep-alive\r\nConnection : keep-alive\r\n"
    b"Content-Length: 2\r\n\r\nok",
], ids=["hidden-line", "bare-lf", "1xx", "folded"])
def test_the_browser_reads_connection_close_in_every_answer_head(
        answer: bytes, servers: Callable[..., Server]) -> None:
    origin = servers("127.0.0.1", answering(answer))
    got = get_through_a_proxy(origin)
    heads = as_chromium_reads(got)
    status, fields = heads[-1]
    assert status == b"HTTP/1.1 200 OK", got
    assert [v.lower() for n, v in fields if n in (b"connection", b"proxy-connection",
                                                  b"keep-alive")] == [b"close"], got
    head = got.partition(b"\r\n\r\n")[0]
    assert b"\n" not in head.replace(b"\r\n", b""), got  # CR LF only: nothing hidden
    assert got.endswith(b"\r\n\r\nok")


def test_an_answer_that_is_not_http_is_a_502(servers: Callable[..., Server]) -> None:
    origin = servers("127.0.0.1", answering(b"SSH-2.0-OpenSSH\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"))
    got = get_through_a_proxy(origin)
    assert status_of(got) == 502 and b"no valid response head" in got


@pytest.mark.parametrize("status", [b"099", b"000"])
def test_a_status_below_100_is_a_502(status: bytes, servers: Callable[..., Server]) -> None:
    """Chromium takes a status under 100 as the final answer (only 1xx is informational
    to it): forwarded as a 1xx with the server's keep-alive, the connection was reused
    and the server's next head answered a request the server never saw."""
    origin = servers("127.0.0.1", answering(
        b"HTTP/1.1 " + status + b" x\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"))
    got = get_through_a_proxy(origin)
    assert status_of(got) == 502 and b"no valid response head" in got, got
    assert b"keep-alive" not in got and b"forged" not in got, got


@pytest.mark.parametrize("fields", [
    "Content-Length: 5\r\nTransfer-Encoding: chunked",
    "Transfer-Encoding: chunked\r\nContent-Length: 5",
    "Content-Length: 5\r\nContent-Length: 6",
    "Content-Length: 5, 6",
    "Content-Length: +5",
    "Content-Length: \u00b2",  # a digit to str.isdigit
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: identity",
    "X-A: 1\nInjected: 1",  # a bare LF inside a header line
    "X-A: 1\rInjected: 1",
    "X-A: 1\x00",
    "Host : 127.0.0.1",  # blanks before the colon
    "X A: 1",
], ids=["cl-te", "te-cl", "two-cl", "cl-list", "cl-plus", "cl-unicode", "te-gzip",
        "te-identity", "bare-lf", "bare-cr", "nul", "name-blank", "name-space"])
def test_ambiguous_requests_get_400_and_contact_no_one(
        fields: str, connects: list[tuple[str, int]]) -> None:
    async def go() -> tuple[bytes, int | None]:
        async with GuardedProxy(Resolver({}, ["127.0.0.0/8"])) as proxy:
            got, _, _ = await exchange(proxy, (
                f"POST http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n{fields}\r\n\r\n"
                "hello").encode("latin-1"))
            return got, proxy.port

    got, port = run(go())
    assert status_of(got) == 400, got
    assert set(connects) == {("127.0.0.1", port)}


@pytest.mark.parametrize("body, sent", [
    (b"Content-Length: 5\r\n\r\nhelloGET /smuggled HTTP/1.1\r\n\r\n", b"hello"),
    (b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"
     b"GET /smuggled HTTP/1.1\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
], ids=["sized", "chunked"])
def test_exactly_the_framed_body_is_forwarded(body: bytes, sent: bytes,
                                              servers: Callable[..., Server]) -> None:
    rest: list[bytes] = []
    origin = servers("127.0.0.1", recording(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", rest))

    async def go() -> bytes:
        async with GuardedProxy(Resolver({}, ["127.0.0.1/32"])) as proxy:
            got, _, writer = await exchange(
                proxy, f"POST http://127.0.0.1:{origin.port}/ HTTP/1.1\r\n".encode() + body)
            writer.close()
            deadline = time.monotonic() + 5
            while not rest and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return got

    run(go())
    (head,) = origin.seen
    head, _, early = head.partition(b"\r\n\r\n")
    assert early + b"".join(rest) == sent
    framing = [line for line in head.split(b"\r\n")[1:]
               if line.split(b":")[0].lower() in (b"content-length", b"transfer-encoding")]
    assert framing == ([b"Content-Length: 5"] if sent == b"hello"
                       else [b"Transfer-Encoding: chunked"])


def test_the_host_header_is_the_urls(servers: Callable[..., Server]) -> None:
    """RFC 9112 3.2.2: a proxy replaces the Host of an absolute-form request with the URL's
    authority. The server is reached for the URL's host, so it is told that host."""
    origin = servers("127.0.0.1", http_once)

    async def go() -> None:
        async with GuardedProxy(Resolver({}, ["127.0.0.1/32"])) as proxy:
            await exchange(proxy, f"GET http://127.0.0.1:{origin.port}/ HTTP/1.1\r\n"
                                  "Host: metadata.google.internal\r\nhost: other\r\n\r\n"
                                  .encode())

    run(go())
    (head,) = origin.seen
    hosts = [line for line in head.split(b"\r\n") if line.lower().startswith(b"host:")]
    assert hosts == [f"Host: 127.0.0.1:{origin.port}".encode()]


@pytest.mark.parametrize("request_line", [
    "CONNECT [127.0.0.1]:443", "CONNECT [::1:443", "CONNECT 127.0.0.1:0",
    "CONNECT 127.0.0.1:443?x", "CONNECT 127.0.0.1:443#x", "CONNECT user@127.0.0.1:443",
    "GET http://[127.0.0.1]/", "GET http://[::1/", "GET http://127.0.0.1:0/",
    "GET http://127.0.0.1:65536/",
])
def test_odd_targets_get_400_and_contact_no_one(
        request_line: str, connects: list[tuple[str, int]]) -> None:
    async def go() -> tuple[bytes, int | None]:
        async with GuardedProxy(Resolver({}, ["127.0.0.0/8", "::1/128"])) as proxy:
            got, _, _ = await exchange(proxy, f"{request_line} HTTP/1.1\r\n\r\n".encode())
            return got, proxy.port

    got, port = run(go())
    assert got and status_of(got) == 400, got
    assert set(connects) == {("127.0.0.1", port)}


@pytest.mark.parametrize("target", [
    "[::ffff:127.0.0.1]:443", "[::ffff:7f00:1]:443", "0:443", "0.0.0.0:443", "127.1.:443",
    "0x7f.1:80", "2130706433:80", "[::1%25lo]:80", "[0:0:0:0:0:0:0:1]:80", "[::]:80",
    "[fe80::1%25eth0]:80", "[::127.0.0.1]:80", "169.254.169.254.:80",
])
def test_every_spelling_of_a_refused_address_gets_403(
        target: str, connects: list[tuple[str, int]]) -> None:
    async def go() -> tuple[bytes, int | None]:
        async with GuardedProxy(Resolver({}, [])) as proxy:
            got, _, _ = await exchange(proxy, f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
            return got, proxy.port

    got, port = run(go())
    assert status_of(got) == 403 and b"non-public" in got, got
    assert set(connects) == {("127.0.0.1", port)}


# -- the proxy's own answers are not the servers' -------------------------------------------------
def _har_entry_of(url: str, answer: bytes, proxy_port: int) -> dict[str, Any]:
    """The HAR entry Chromium would write for `answer` (what came back through the proxy)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    entry = _entry(url, int(lines[0].split(" ")[1]), "127.0.0.1", proxy_port)
    entry["response"]["headers"] = [{"name": n, "value": v.strip()} for n, _, v in
                                    (line.partition(":") for line in lines[1:])]
    entry["response"]["content"] = {"size": len(body), "text": body.decode("latin-1")}
    return entry


def test_the_proxys_own_answers_are_not_recorded_as_the_servers(
        servers: Callable[..., Server]) -> None:
    """A 502 the proxy wrote (a closed port; a server that sent no HTTP) would be archived as
    that server's response, even with the server's address; it is a failed request. A server
    that copies the marker header is not believed."""
    garbage = servers("127.0.0.2", answering(b"not http\r\n\r\n"))
    ok = servers("127.0.0.2", answering(b"HTTP/1.1 200 OK\r\nX-Archiver-Guard: 0123-1\r\n"
                                        b"Content-Length: 2\r\n\r\nok"))
    with socket.create_server(("127.0.0.2", 0)) as closed:
        closed_port = closed.getsockname()[1]
    guard = BrowserGuard(Resolver({}, ["127.0.0.2/32"]))
    urls = [f"http://127.0.0.2:{closed_port}/gone", f"http://127.0.0.2:{garbage.port}/bad",
            f"http://127.0.0.2:{ok.port}/ok"]

    async def go() -> list[bytes]:
        await guard.start()
        assert guard.proxy is not None
        out = []
        for url in urls:
            got, _, _ = await exchange(guard.proxy, f"GET {url} HTTP/1.1\r\n\r\n".encode())
            out.append(got)
        await guard.close()
        return out

    answers = run(go())
    assert [status_of(a) for a in answers] == [502, 502, 200]
    assert guard.proxy is not None and guard.proxy.port is not None
    har = {"log": {"entries": [_har_entry_of(u, a, guard.proxy.port)
                               for u, a in zip(urls, answers, strict=True)]}}
    guard.attribute_har(har)
    gone, bad, good = har["log"]["entries"]
    for entry in (gone, bad):
        assert entry["response"]["status"] == 0, entry
        assert "not answered by the server" in entry["response"]["_failureText"]
        assert "serverIPAddress" not in entry
    assert "connect" in gone["response"]["_failureText"]
    assert good["response"]["status"] == 200
    assert (good["serverIPAddress"], good["_serverPort"]) == ("127.0.0.2", ok.port)
    writer = WarcWriter("cap-answers", "embed-archiver/test")
    writer.add_har(har)
    uris = {r.rec_headers.get_header("WARC-Target-URI")
            for r in ArchiveIterator(io.BytesIO(writer.to_bytes())) if r.rec_type == "response"}
    assert uris == {urls[2]}


# -- life cycle ------------------------------------------------------------------------------------
def _listening(port: int | None) -> bool:
    if port is None:
        return False
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def _settled(proxy: GuardedProxy) -> None:
    """Wait until whatever the proxy's loop has under way for `proxy` is done."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if asyncio.run_coroutine_threadsafe(_tasks_of_proxy(), proxy_loop()).result(5) == []:
            return
        time.sleep(0.02)


def test_a_start_cancelled_half_way_leaves_no_listening_port() -> None:
    """A capture cancelled while its proxy starts (a timeout, a shutdown): the start goes on
    in the proxy's loop, and the capture's `close()` must still close what it opens."""
    guard = BrowserGuard(Resolver())
    release = threading.Event()

    async def go() -> None:
        proxy_loop().call_soon_threadsafe(release.wait, 10)  # hold the proxy's loop ...
        task = asyncio.ensure_future(guard.start())
        await asyncio.sleep(0.05)  # ... while the start is handed over
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        closing = asyncio.ensure_future(guard.close())
        await asyncio.sleep(0.05)
        release.set()  # the start runs now, then the close
        await closing

    try:
        run(go())
    finally:
        release.set()
    assert guard.proxy is not None
    _settled(guard.proxy)
    assert not _listening(guard.proxy.port)
    with pytest.raises(RuntimeError):  # and a closed proxy does not start again
        run(guard.proxy.start())


class _NoContext:
    """A browser whose new_context fails (or is cancelled) after the proxy started."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.proxy: str | None = None

    async def new_context(self, record_har: Any = None, proxy: str | None = None) -> Any:
        self.proxy = proxy
        raise self.exc


@pytest.mark.parametrize("exc", [asyncio.CancelledError(), RuntimeError("browser gone")],
                         ids=["cancelled", "error"])
def test_a_context_that_is_not_made_leaves_no_proxy(exc: BaseException) -> None:
    """archiver/capture/article.py closes the guard only on Browser/Playwright errors: a
    cancelled or otherwise failed new_context must not leave the proxy listening."""
    guard = BrowserGuard(Resolver())
    browser = _NoContext(exc)

    async def go() -> None:
        with contextlib.suppress(type(exc)):
            await guard.new_context(browser)  # type: ignore[arg-type]

    run(go())
    assert browser.proxy is not None and guard.proxy is not None
    _settled(guard.proxy)
    assert not _listening(guard.proxy.port)


def test_a_forked_child_starts_its_own_proxy_loop() -> None:
    """A thread holding the module's lock at the fork would leave it locked in the child
    for ever; the child gets a fresh lock and loop."""
    import archiver.capture.proxy as proxy_module

    parent_loop = proxy_loop()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with proxy_module._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    held.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: a proxy must start and close within seconds
        code = 1
        try:
            signal.alarm(10)
            loop = proxy_loop()

            async def child() -> None:
                async with GuardedProxy(Resolver()) as proxy:
                    assert _listening(proxy.port)

            asyncio.run(child())
            code = 0 if loop is not parent_loop else 2
        finally:
            os._exit(code)
    release.set()
    holder.join(5)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# -- life cycle and framing, through Chromium ----------------------------------------------------
@pytest.mark.browser
def test_a_server_cannot_make_the_browser_reuse_its_proxy_connection(
        browser_loop: LoopThread, fake_platform: FakePlatform,
        servers: Callable[..., Server]) -> None:
    """A line the proxy does not see as one (ended by a bare LF) but Chromium does said
    `Connection: keep-alive` ahead of the proxy's `close`: Chromium kept the connection and
    sent its next request (absolute form, Proxy-* headers and all) down it, straight into
    the first server's connection. Each request must have its own checked connection."""
    later: list[bytes] = []

    def sneaky(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\n"
                     b"Connection: keep-alive\r\nAccess-Control-Allow-Origin: *\r\n"
                     b"Content-Length: 5\r\n\r\nfirst")
        while nxt := _read_head(conn):  # anything more on this connection
            later.append(nxt)
            conn.sendall(b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n"
                         b"Content-Length: 6\r\n\r\nforged")

    origin = servers("127.0.0.1", sneaky)
    fake_platform.serve("https://news.example.org/proxy-reuse", f"""<!doctype html><script>
window.got = [];
const base = "http://127.0.0.1:{origin.port}";
fetch(base + "/one").then(r => r.text()).then(t => {{ window.got.push(t);
  return fetch(base + "/two"); }}).then(r => r.text()).then(t => window.got.push(t),
  () => window.got.push("error"));
</script>""")
    guard = BrowserGuard(Resolver(fake_platform.host_map(), ["127.0.0.1/32"]))

    async def work(page: Any) -> Any:
        await page.wait_for_function("window.got.length == 2", timeout=15_000)
        return await page.evaluate("window.got")

    got = _guarded_page(browser_loop, guard, "https://news.example.org/proxy-reuse", work)
    assert later == [] and got == ["first", "first"]
    assert [h.split(b" ")[1] for h in origin.seen] == [b"/one", b"/two"]  # two connections


@pytest.mark.browser
def test_closing_the_context_closes_its_proxy(browser_loop: LoopThread,
                                              fake_platform: FakePlatform,
                                              servers: Callable[..., Server]) -> None:
    """The capture's cleanup may not reach `guard.close()` (cancelled while the context
    closes): the context's end closes the proxy and its tunnels by itself."""
    ws = servers("127.0.0.1", echo_upgrade)
    fake_platform.serve("https://news.example.org/proxy-context-close", f"""<!doctype html>
<script>const ws = new WebSocket("ws://127.0.0.1:{ws.port}/hold");
ws.onopen = () => document.title = "open";</script>""")
    guard = BrowserGuard(Resolver(fake_platform.host_map(), ["127.0.0.1/32"]))

    async def go() -> int:
        context = await guard.new_context(browser_loop.browser)
        page = await context.new_page()
        await page.goto("https://news.example.org/proxy-context-close")
        await page.wait_for_function("document.title === 'open'", timeout=15_000)
        assert guard.proxy is not None
        during = guard.proxy.open_connections
        await context.close()  # and no guard.close()
        return during

    during = browser_loop.run(go(), timeout=60)
    assert guard.proxy is not None and during >= 2
    deadline = time.monotonic() + 5
    while _listening(guard.proxy.port) and time.monotonic() < deadline:
        time.sleep(0.05)
    _settled(guard.proxy)
    assert not _listening(guard.proxy.port) and guard.proxy.open_connections == 0


def test_with_an_upstream_proxy_the_manifest_says_the_guard_is_off(
        browser_loop: LoopThread, fake_platform: FakePlatform, config: Config) -> None:
    """A configured `[network] proxy` resolves names where the guard cannot see them: the
    browser (its own, launched with that proxy and no name to look up but the proxy's) and
    requests go through it, and every manifest says that no address guard ran."""
    from archiver.pipeline import archive_async

    upstream = replace(config, network=replace(config.network, host_map={},
                                               proxy=fake_platform.proxy_url()))
    report = browser_loop.run(archive_async([SEED_URL], upstream))  # a browser of its own
    assert report.ok and {c.status for c in report.captures} == {CaptureStatus.LIVE}
    for capture in report.captures:
        assert capture.directory is not None
        manifest = json.loads((upstream.storage.data_dir / capture.directory
                               / "manifest.json").read_text())
        assert manifest["how"]["address_guard"] == (
            f"off: upstream proxy 127.0.0.1:{fake_platform.port}")
