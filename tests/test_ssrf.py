"""SSRF: every way of naming an address the policy refuses, against the code paths users run
(`Http.get` and its redirects, `check_navigation`, and the browser behind `BrowserGuard`).

Nothing here leaves loopback, even when the code under test is wrong:
- `socket.getaddrinfo` is a table (`dns`): names resolve only to what a test says, numeric
  hosts are parsed by the real resolver with AI_NUMERICHOST, and nothing is ever queried;
- `socket.socket.connect` records every connection the archiver's Python side makes and
  refuses, before connecting, any address outside loopback (`connects`);
- the browser's every connection goes through the guard's proxy, which runs in this process:
  the connect spy sees (and refuses outside loopback) each connection a page causes, and
  one to anything but the fake platform or the test's allowed listener is a leak. Before a
  page that asks for refused addresses is loaded, `visit` checks that the context really
  goes through the proxy, so a broken setup fails before Chromium could connect itself.
"Refused before any byte is sent" is checked directly: the connect spy saw no connection,
and recording listeners on the refused loopback addresses (127.0.0.3, ::1) saw none.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from archiver.capture.browser import (
    SHELL_CANDIDATES,
    SYSTEM_CANDIDATES,
    BrowserSession,
    find_browser,
)
from archiver.capture.guard import BrowserGuard
from archiver.capture.post import check_navigation
from archiver.config import Config, NetworkConfig
from archiver.errors import BlockedAddressError, FetchError
from archiver.net import Http, Resolver
from tests.fakeplatform import FakePlatform
from tests.fakeplatform.server import Response
from tests.harness import LoopThread, make_config

PAGE_HOST = "news.example.org"
REFUSED_V4 = "127.0.0.3"  # a loopback address outside the one allowed (127.0.0.1/32)


# -- the loopback-only harness -------------------------------------------------------------------
def _is_loopback(host: str) -> bool:
    addr = ipaddress.ip_address(host.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


@dataclass
class Net:
    """What the archiver's Python side resolved and connected to during one test."""

    names: dict[str, list[list[str]]] = field(default_factory=dict)  # name -> answers in turn
    lookups: list[str] = field(default_factory=list)
    connects: list[tuple[str, int]] = field(default_factory=list)

    def answer(self, name: str, *answers: list[str]) -> None:
        """`name` resolves to answers[0], then answers[1] ... (the last one repeats)."""
        self.names[name] = list(answers)


@pytest.fixture(autouse=True)
def net(monkeypatch: pytest.MonkeyPatch) -> Net:
    state = Net()
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                    flags: int = 0) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        answers = state.names.get(str(name).lower().rstrip("."))
        if answers is None or flags & socket.AI_NUMERICHOST:
            # numeric hosts only: a name not in the table never resolves, and is never sent
            return real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        state.lookups.append(str(name))
        current = answers.pop(0) if len(answers) > 1 else answers[0]
        return [info for a in current for info in real_getaddrinfo(
            a, port, family, type, proto, flags | socket.AI_NUMERICHOST)]

    def spy(address: Any) -> None:
        if isinstance(address, tuple):
            state.connects.append((str(address[0]), int(address[1])))
            if not _is_loopback(str(address[0])):
                raise OSError(errno.ENETUNREACH, f"test harness: no traffic to {address[0]}")

    def connect(sock: socket.socket, address: Any) -> None:
        spy(address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        spy(address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return state


class Listener:
    """A TCP (and UDP) listener on a loopback address that records every connection and
    datagram, answering TCP with a small HTTP 200."""

    def __init__(self, host: str, port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.tcp = socket.socket(family, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((host, port))
        self.tcp.listen(32)
        self.tcp.settimeout(0.1)
        self.port: int = self.tcp.getsockname()[1]
        self.udp = socket.socket(family, socket.SOCK_DGRAM)
        self.udp.bind((host, self.port))
        self.udp.settimeout(0.1)
        self.host = host
        self.seen: list[bytes] = []  # first bytes of each TCP connection ("" if none came)
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True),
                         threading.Thread(target=self._receive, daemon=True)]
        for thread in self._threads:
            thread.start()

    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                self.seen.append(data)
                with contextlib.suppress(OSError):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: 8\r\nConnection: close\r\n\r\nlistener")

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                self.datagrams.append(self.udp.recvfrom(2048)[0])
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        self.tcp.close()
        self.udp.close()


@pytest.fixture()
def listeners() -> Iterator[Callable[..., Listener]]:
    started: list[Listener] = []

    def start(host: str, port: int = 0) -> Listener:
        started.append(Listener(host, port))
        return started[-1]

    yield start
    for listener in started:
        listener.close()


# -- the forms --------------------------------------------------------------------------------
def ipv4_forms(address: str, port: int) -> dict[str, str]:
    """Netlocs that all name `address`:`port`, as browsers, urllib3 and getaddrinfo read them."""
    a = ipaddress.IPv4Address(address)
    n, o = int(a), a.packed
    client = (~n) & 0xFFFFFFFF  # Teredo carries the client address inverted
    forms = {
        "dotted": address,
        "short": f"{o[0]}.{n & 0xFFFFFF}",  # 127.1 form
        "hex": hex(n),
        "HEX": "0X" + format(n, "X"),
        "decimal": str(n),
        "octal-dotted": f"0{o[0]:o}.{o[1]}.{o[2]}.{o[3]}",
        "octal-whole": "0" + format(n, "o"),
        "hex-dotted": ".".join(hex(b) for b in o),
        "zero-padded": ".".join(f"{b:03d}" for b in o),
        "trailing-dot": f"{address}.",
        "userinfo": f"evil.example@{address}",
        "mapped": f"[::ffff:{address}]",
        "mapped-hex": f"[::ffff:{n >> 16:x}:{n & 0xFFFF:x}]",
        "mapped-long": f"[0:0:0:0:0:ffff:{n >> 16:x}:{n & 0xFFFF:x}]",
        "ipv4-compatible": f"[::{address}]",
        "nat64": f"[64:ff9b::{address}]",
        "6to4": f"[2002:{n >> 16:x}:{n & 0xFFFF:x}::]",
        "teredo": f"[2001:0:4136:e378:8000:63bf:{client >> 16:x}:{client & 0xFFFF:x}]",
    }
    return {label: f"{host}:{port}" for label, host in forms.items()}


#: ipv4_forms that are IPv6 addresses other than ::ffff:0:0/96 (they do not reach loopback)
CARRIED_IN_IPV6 = ("ipv4-compatible", "nat64", "6to4", "teredo")


def ipv6_loopback_forms(port: int) -> dict[str, str]:
    return {label: f"[{host}]:{port}" for label, host in {
        "short": "::1", "long": "0:0:0:0:0:0:0:1", "padded": "0000::0001",
        "zone": "::1%25lo"}.items()}


#: Non-loopback addresses the policy refuses (nothing listens: the connect spy would refuse
#: and record any attempt), with a word the refusal must give as its reason.
OTHER_REFUSED = {
    "10.0.0.1": "private", "172.16.5.4": "private", "192.168.1.1": "private",
    "169.254.169.254": "metadata", "169.254.170.2": "metadata", "100.100.100.200": "metadata",
    "[fd00:ec2::254]": "metadata", "192.0.0.192": "metadata", "168.63.129.16": "Azure",
    "[::ffff:169.254.169.254]": "metadata", "169.254.1.1": "link-local",
    "100.64.0.1": "carrier-grade NAT", "0.0.0.0": "local host", "[::]": "local host",
    "224.0.0.1": "multicast", "[ff02::1]": "multicast", "255.255.255.255": "broadcast",
    "240.0.0.1": "reserved", "[fd00::1]": "unique-local", "[fe80::1]": "link-local",
    "[fe80::1%25eth0]": "link-local", "[fec0::1]": "site-local",
    "[64:ff9b::a00:1]": "private", "[64:ff9b:1::a00:1]": "NAT64",
    "[2002:a00:1::]": "private", "[::ffff:10.0.0.1]": "private",
}


def _refused(exc: pytest.ExceptionInfo[BaseException], *words: str) -> None:
    """The refusal names what was refused and why."""
    assert exc.type is BlockedAddressError, exc.value
    text = str(exc.value)
    assert text.startswith("refused: ") and "non-public" in text, text
    for word in words:
        assert word in text, (word, text)


# -- requests: literal forms ------------------------------------------------------------------
@pytest.fixture()
def on_127_0_0_1(listeners: Callable[..., Listener]) -> Listener:
    return listeners("127.0.0.1")


@pytest.fixture()
def on_v6_loopback(listeners: Callable[..., Listener]) -> Listener:
    return listeners("::1")


@pytest.mark.parametrize("label", list(ipv4_forms("127.0.0.1", 1)))
def test_every_form_of_127_0_0_1_is_refused_before_connect(
        label: str, on_127_0_0_1: Listener, net: Net) -> None:
    netloc = ipv4_forms("127.0.0.1", on_127_0_0_1.port)[label]
    with pytest.raises(FetchError) as exc:
        Http(NetworkConfig()).get(f"http://{netloc}/ssrf")
    _refused(exc, "127.0.0.1")
    assert net.connects == [] and on_127_0_0_1.seen == []


@pytest.mark.parametrize("label", list(ipv6_loopback_forms(1)))
def test_every_form_of_ipv6_loopback_is_refused_before_connect(
        label: str, on_v6_loopback: Listener, net: Net) -> None:
    netloc = ipv6_loopback_forms(on_v6_loopback.port)[label]
    with pytest.raises(FetchError) as exc:
        Http(NetworkConfig()).get(f"http://{netloc}/ssrf")
    _refused(exc, "::1", "loopback")
    assert net.connects == [] and on_v6_loopback.seen == []


@pytest.mark.parametrize("host, why", list(OTHER_REFUSED.items()))
def test_private_link_local_multicast_and_metadata_addresses_are_refused(
        host: str, why: str, net: Net) -> None:
    with pytest.raises(FetchError) as exc:
        Http(NetworkConfig()).get(f"http://{host}/latest/meta-data/")
    _refused(exc, why)
    assert net.connects == []


def test_metadata_stays_refused_even_inside_an_allowed_network(net: Net) -> None:
    http = Http(replace(NetworkConfig(), allow_networks=("169.254.0.0/16", "fd00::/8",
                                                           "100.64.0.0/10")))
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
                "http://100.100.100.200/latest/meta-data/"):
        with pytest.raises(BlockedAddressError, match=r"whatever \[network\] allow_networks"):
            http.get(url)
    assert net.connects == []


def test_a_loopback_listener_is_reachable_when_allowed(on_127_0_0_1: Listener,
                                                       net: Net) -> None:
    """The control: the harness does see a connection when the policy lets one through."""
    http = Http(replace(NetworkConfig(), allow_networks=("127.0.0.1/32",)))
    got = http.get(f"http://0x7f000001:{on_127_0_0_1.port}/ok")
    assert got.status == 200 and got.body == b"listener"
    assert net.connects == [("127.0.0.1", on_127_0_0_1.port)] and len(on_127_0_0_1.seen) == 1


# -- requests: names --------------------------------------------------------------------------
NAMES = {  # name -> (its answer, a word of the refusal)
    "intranet.test": (["10.0.0.5"], "private"),
    "metadata.google.internal": (["169.254.169.254"], "metadata"),
    "loop.test": (["127.0.0.3"], "loopback"),
    "localhost": (["127.0.0.1", "::1"], "loopback"),
    "ula.test": (["fd00::1"], "unique-local"),
    "mapped.test": (["::ffff:10.0.0.1"], "private"),
    "nat64.test": (["64:ff9b::a9fe:a9fe"], "metadata"),
    "compat.test": (["::7f00:1"], "IPv4-compatible"),
    "mixed.test": (["93.184.216.34", "10.1.2.3"], "10.1.2.3"),  # refused whole, public first
}


@pytest.mark.parametrize("name", list(NAMES))
def test_names_that_resolve_to_refused_addresses_are_refused(name: str, net: Net) -> None:
    answer, why = NAMES[name]
    net.answer(name, answer)
    with pytest.raises(FetchError) as exc:
        Http(NetworkConfig()).get(f"https://{name}/")
    _refused(exc, name, why)
    assert net.lookups == [name] and net.connects == []


def test_unicode_and_empty_hosts_are_refused_without_connecting(net: Net) -> None:
    http = Http(NetworkConfig())
    for url in ("http://１２７.０.０.１/", "http://xn--/", "http://./"):
        with pytest.raises(FetchError):
            http.get(url)
    with pytest.raises(BlockedAddressError, match="without a host"):
        Resolver().resolve("", 80)
    assert net.connects == []


# -- requests: redirects ----------------------------------------------------------------------
@pytest.fixture()
def guarded_net(net_config: NetworkConfig) -> NetworkConfig:
    """The fake platform's settings with only its own address allowed: 127.0.0.3 is refused."""
    return replace(net_config, allow_networks=("127.0.0.1/32",))


def _redirect(fake: FakePlatform, name: str, location: str, status: int = 302) -> str:
    fake.documents[(PAGE_HOST, f"/ssrf/{name}")] = Response.redirect(location, status)
    return f"https://{PAGE_HOST}/ssrf/{name}"


@pytest.fixture()
def refused_v4(listeners: Callable[..., Listener]) -> Listener:
    return listeners(REFUSED_V4)


def _redirect_targets(v4: Listener, v6: Listener) -> dict[str, str]:
    targets = {f"127.0.0.3 {k}": f"http://{v}/leak" for k, v in
               ipv4_forms(REFUSED_V4, v4.port).items()}
    targets.update({f"::1 {k}": f"http://{v}/leak" for k, v in
                    ipv6_loopback_forms(v6.port).items()})
    targets.update({
        "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "metadata-v6": "http://[fd00:ec2::254]/latest/meta-data/",
        "alibaba": "http://100.100.100.200/latest/meta-data/",
        "ula": "http://[fd00::1]/", "private": "https://10.0.0.1/",
        "name": f"http://loop.test:{v4.port}/leak", "https-name": "https://intranet.test/",
        "relative-scheme": f"//{REFUSED_V4}:{v4.port}/leak",
    })
    return targets


def test_redirects_into_refused_addresses_are_refused_before_connect(
        fake_platform: FakePlatform, guarded_net: NetworkConfig, refused_v4: Listener,
        on_v6_loopback: Listener, net: Net) -> None:
    net.answer("loop.test", [REFUSED_V4])
    net.answer("intranet.test", ["10.0.0.5"])
    http = Http(guarded_net)
    targets = _redirect_targets(refused_v4, on_v6_loopback)
    for status in (301, 302, 303, 307, 308):
        for i, (label, location) in enumerate(targets.items()):
            url = _redirect(fake_platform, f"{status}-{i}", location, status)
            with pytest.raises(BlockedAddressError) as exc:
                http.get(url)
            assert "non-public" in str(exc.value), (label, exc.value)
    assert refused_v4.seen == [] and on_v6_loopback.seen == []
    assert set(net.connects) == {("127.0.0.1", fake_platform.port)}
    assert fake_platform.count(PAGE_HOST, "/ssrf/") == 5 * len(targets)  # every hop was served


def test_a_redirect_to_an_allowed_address_is_followed(
        fake_platform: FakePlatform, guarded_net: NetworkConfig, on_127_0_0_1: Listener,
        net: Net) -> None:
    """The control: the same redirect into the allowed network reaches the listener."""
    url = _redirect(fake_platform, "ok", f"http://127.1:{on_127_0_0_1.port}/ok")
    got = Http(guarded_net).get(url)
    assert got.body == b"listener" and got.redirects == (url,)
    assert len(on_127_0_0_1.seen) == 1 and b"GET /ok " in on_127_0_0_1.seen[0]


# -- requests: DNS rebinding ------------------------------------------------------------------
@pytest.fixture()
def rebinding(listeners: Callable[..., Listener]) -> tuple[Listener, Listener]:
    """An allowed listener on 127.0.0.2 and a refused one on 127.0.0.3, on the same port."""
    allowed = listeners("127.0.0.2")
    return allowed, listeners(REFUSED_V4, allowed.port)


def test_rebinding_connects_to_the_checked_address_only(
        rebinding: tuple[Listener, Listener], net: Net) -> None:
    allowed, refused = rebinding
    net.answer("rebind.test", ["127.0.0.2"], [REFUSED_V4])  # the second answer is refused
    http = Http(replace(NetworkConfig(), allow_networks=("127.0.0.2/32",)))
    got = http.get(f"http://rebind.test:{allowed.port}/first")
    assert got.body == b"listener" and got.peer_ip == "127.0.0.2"
    # the listener closes each connection, so the next request looks the name up again
    with pytest.raises(BlockedAddressError, match=r"rebind\.test resolves to 127\.0\.0\.3"):
        http.get(f"http://rebind.test:{allowed.port}/second")
    assert net.lookups.count("rebind.test") == 2
    assert [c[0] for c in net.connects] == ["127.0.0.2"]
    assert len(allowed.seen) == 1 and refused.seen == []


def test_rebinding_the_other_way_is_refused_at_once(
        rebinding: tuple[Listener, Listener], net: Net) -> None:
    allowed, refused = rebinding
    net.answer("rebind.test", [REFUSED_V4], ["127.0.0.2"])
    http = Http(replace(NetworkConfig(), allow_networks=("127.0.0.2/32",)))
    with pytest.raises(BlockedAddressError):
        http.get(f"http://rebind.test:{allowed.port}/")
    assert net.connects == [] and allowed.seen == refused.seen == []


def test_an_answer_mixing_allowed_and_refused_addresses_is_refused_whole(
        rebinding: tuple[Listener, Listener], net: Net) -> None:
    allowed, refused = rebinding
    net.answer("both.test", ["127.0.0.2", REFUSED_V4])
    http = Http(replace(NetworkConfig(), allow_networks=("127.0.0.2/32",)))
    with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.3"):
        http.get(f"http://both.test:{allowed.port}/")
    assert net.connects == [] and allowed.seen == refused.seen == []


# -- check_navigation (the browser's page loads) ----------------------------------------------
@pytest.mark.parametrize("label", list(ipv4_forms(REFUSED_V4, 1)) + list(ipv6_loopback_forms(1))
                         + ["metadata", "metadata-v6", "name"])
def test_navigation_to_any_form_is_refused(label: str, guarded_net: NetworkConfig,
                                           net: Net) -> None:
    net.answer("loop.test", [REFUSED_V4])
    netloc = {**ipv4_forms(REFUSED_V4, 8443), **ipv6_loopback_forms(8443),
              "metadata": "169.254.169.254", "metadata-v6": "[fd00:ec2::254]",
              "name": "loop.test"}[label]
    with pytest.raises(BlockedAddressError):
        check_navigation(Http(guarded_net), f"https://{netloc}/status/1")
    assert net.connects == []


# -- the browser ------------------------------------------------------------------------------
@dataclass
class Visit:
    guard: BrowserGuard
    leaks: list[tuple[str, int]]  # connections the proxy made to anything but allowed ones
    server: dict[str, Any] | None  # where the proxy reached the page's host
    playwright_server: dict[str, Any] | None  # what Playwright says: the proxy itself
    probed: Any = None  # what `probe` gave on the page at the end


def visit(loop: LoopThread, fake: FakePlatform, resolver: Resolver, url: str, net: Net, *,
          refusals: int = 0, settle: float = 0.4,
          allowed: frozenset[tuple[str, int]] = frozenset(), probe: str | None = None) -> Visit:
    """Load `url` in a fresh guarded context; wait for `refusals` entries in `refused`;
    evaluate `probe` (JavaScript) on the page at the end."""
    guard = BrowserGuard(resolver)
    before = len(net.connects)

    async def run() -> tuple[dict[str, Any] | None, dict[str, Any] | None, Any]:
        context = await guard.new_context(loop.browser)
        try:
            page = await context.new_page()
            # the safety net: the context goes through the proxy, or nothing is loaded
            await page.goto(f"https://{PAGE_HOST}/ssrf-preflight", wait_until="load")
            assert guard.server_for(f"https://{PAGE_HOST}/") is not None, "not proxied"
            response = await page.goto(url, wait_until="load")
            deadline = time.monotonic() + 8
            while len(guard.refused) < refusals and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(settle)  # time for a stray connection to show
            assert response is not None
            said = await response.server_addr()
            probed = await page.evaluate(probe) if probe else None
            return guard.server_for(response.url), dict(said) if said else None, probed
        finally:
            await context.close()
            await guard.close()

    fake.serve(f"https://{PAGE_HOST}/ssrf-preflight", "<!doctype html><title>ok</title>")
    server, said, probed = loop.run(run(), timeout=60)
    ok = {("127.0.0.1", fake.port), *allowed}
    return Visit(guard, [c for c in net.connects[before:] if c not in ok], server, said, probed)


def _guard_resolver(fake: FakePlatform, *allow: str, **extra: str) -> Resolver:
    return Resolver(fake.host_map() | extra, ["127.0.0.1/32", *allow])


def _refused_markers(guard: BrowserGuard) -> set[str]:
    """The `ssrf-<marker>` first path segments of the refused requests."""
    paths = (urlsplit(entry.split(": ", 1)[0]).path for entry in guard.refused)
    return {p.split("/")[1].removeprefix("ssrf-") for p in paths if p.startswith("/ssrf-")}


def _refused_hosts(guard: BrowserGuard) -> set[tuple[Any, int]]:
    """(address or name, port) of every refused request or tunnel."""
    out = set()
    for entry in guard.refused:
        where = entry.split(": ", 1)[0]
        parts = urlsplit(where if "://" in where else f"//{where}")
        host = parts.hostname or ""
        port = parts.port or {"https": 443, "wss": 443}.get(parts.scheme, 80)
        with contextlib.suppress(ValueError):
            out.add((ipaddress.ip_address(host), port))
            continue
        out.add((host, port))
    return out


def _address_of(netloc: str) -> tuple[Any, int]:
    """What the browser connects to for a netloc, as an address (Chromium normalises every
    IPv4 spelling; IPv6 forms stay IPv6)."""
    host, _, port = netloc.rpartition(":")
    bare = host.rpartition("@")[2].strip("[]").replace("%25", "%").rstrip(".")
    return ipaddress.ip_address(_literal(bare)), int(port)


def _literal(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return str(socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)[0][4][0])


def test_the_browser_refuses_every_form_before_connecting(
        browser_loop: LoopThread, fake_platform: FakePlatform, refused_v4: Listener,
        on_v6_loopback: Listener, net: Net) -> None:
    """img, fetch, XHR, CSS, beacon and WebSocket requests to each form are refused by the
    proxy, and recorded; neither refused listener sees a connection."""
    targets = {f"v4-{k}": v for k, v in ipv4_forms(REFUSED_V4, refused_v4.port).items()}
    targets |= {f"v6-{k}": v for k, v in ipv6_loopback_forms(on_v6_loopback.port).items()
                if k != "zone"}  # Chromium does not take zone ids in URLs
    secure = {"metadata": "169.254.169.254", "metadata-v6": "[fd00:ec2::254]",
              "alibaba": "100.100.100.200", "private": "10.0.0.1",
              "name": "cdn.syndication.twimg.com"}  # the guard's resolver says 127.0.0.3
    tags = []
    for label, netloc in targets.items():
        # Chromium blocks plain http on an https page unless it goes to loopback
        scheme = "https" if label.removeprefix("v4-") in CARRIED_IN_IPV6 else "http"
        tags += [f'<img src="{scheme}://{netloc}/ssrf-{label}-img">',
                 f'<script>fetch("https://{netloc}/ssrf-{label}-fetch").catch(() => 0)</script>']
    for label, netloc in secure.items():
        tags += [f'<img src="https://{netloc}/ssrf-{label}-img/latest/meta-data/">',
                 f'<script>fetch("https://{netloc}/ssrf-{label}-fetch/latest/meta-data/")'
                 '.catch(() => 0)</script>']
    netloc = refused_v4.netloc()
    extra = {"xhr": f'<script>const x = new XMLHttpRequest(); x.open("GET", '
                    f'"http://{netloc}/ssrf-xhr"); x.send()</script>',
             "css": f'<link rel="stylesheet" href="http://{netloc}/ssrf-css">',
             "beacon": f'<script>navigator.sendBeacon("http://{netloc}/ssrf-beacon", "x")'
                       '</script>',
             "ws": f'<script>new WebSocket("ws://{netloc}/ssrf-ws")</script>',
             "ws6": f'<script>new WebSocket("ws://{on_v6_loopback.netloc()}/ssrf-ws6")</script>'}
    html = "<!doctype html><title>ssrf</title>" + "".join(tags) + "".join(extra.values())
    fake_platform.serve(f"https://{PAGE_HOST}/ssrf-page", html)
    resolver = _guard_resolver(fake_platform,
                               **{"cdn.syndication.twimg.com": f"{REFUSED_V4}:443"})
    # plain http is refused per URL; a tunnel (https, ws) is refused per host:port, and
    # named by URL when the request that needed it failed (not WebSockets)
    markers = {f"{label}-{kind}" for label in [*targets, *secure] for kind in ("img", "fetch")
               if label != "v4-userinfo"}  # Chromium itself never sends credentials in a URL
    markers |= {"xhr", "css", "beacon"}
    hosts = {_address_of(v) for v in targets.values()} | {
        (ipaddress.ip_address(h.strip("[]")), 443) for h in secure.values() if h[0] != "c"} | {
        ("cdn.syndication.twimg.com", 443), _address_of(on_v6_loopback.netloc())}
    seen = visit(browser_loop, fake_platform, resolver, f"https://{PAGE_HOST}/ssrf-page", net,
                 refusals=len(markers))
    assert seen.leaks == [] and seen.guard.breaches == []
    assert hosts - _refused_hosts(seen.guard) == set(), seen.guard.refused
    assert markers - _refused_markers(seen.guard) == set(), seen.guard.refused
    assert refused_v4.seen == [] and on_v6_loopback.seen == []
    assert all("non-public" in entry for entry in seen.guard.refused)
    assert seen.server == {"ipAddress": "127.0.0.1", "port": fake_platform.port}  # loaded


def test_frames_to_refused_addresses_are_refused_by_the_proxy(
        browser_loop: LoopThread, fake_platform: FakePlatform, refused_v4: Listener,
        on_v6_loopback: Listener, net: Net) -> None:
    """Frames are refused: not even a preconnect reaches them. (Top-level navigations are
    refused by check_navigation before the browser is asked.)"""
    frames = {"frame-127.3": f"http://127.3:{refused_v4.port}",
              "frame-hex": f"http://0x7f000003:{refused_v4.port}",
              "frame-v6": f"http://{on_v6_loopback.netloc()}",
              "frame-https": f"https://{REFUSED_V4}:{refused_v4.port}"}
    html = "".join(f'<iframe src="{base}/ssrf-{label}"></iframe>' for label, base in
                   frames.items())
    fake_platform.serve(f"https://{PAGE_HOST}/ssrf-frames", html)
    seen = visit(browser_loop, fake_platform, _guard_resolver(fake_platform),
                 f"https://{PAGE_HOST}/ssrf-frames", net, refusals=len(frames))
    assert seen.leaks == []
    assert set(frames) <= _refused_markers(seen.guard), seen.guard.refused
    assert refused_v4.seen == [] and on_v6_loopback.seen == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_redirect_the_browser_follows_into_a_refused_address_is_refused(
        scheme: str, browser_loop: LoopThread, fake_platform: FakePlatform,
        refused_v4: Listener, net: Net) -> None:
    """Chromium follows redirects itself; the hop to the refused address still has to go
    through the proxy, which refuses it and records it (by URL)."""
    target = f"{scheme}://{refused_v4.netloc()}/ssrf-{scheme}-redirect"
    hops = {kind: _redirect(fake_platform, f"{scheme}-{kind}", target)
            for kind in ("img", "fetch")}
    html = (f'<img src="{hops["img"]}"><script>fetch("{hops["fetch"]}").catch(() => 0)'
            "</script>")
    fake_platform.serve(f"https://{PAGE_HOST}/ssrf-redirect-{scheme}", html)
    seen = visit(browser_loop, fake_platform, _guard_resolver(fake_platform),
                 f"https://{PAGE_HOST}/ssrf-redirect-{scheme}", net, refusals=1)
    assert fake_platform.count(PAGE_HOST, f"/ssrf/{scheme}-") >= 2  # the allowed hops
    assert refused_v4.seen == [] and seen.leaks == [] and seen.guard.breaches == []
    assert any(entry.startswith(f"{target}: refused: ") and "non-public" in entry
               for entry in seen.guard.refused), seen.guard.refused


def test_the_browser_can_only_reach_the_address_the_guard_checked(
        browser_loop: LoopThread, fake_platform: FakePlatform,
        rebinding: tuple[Listener, Listener], net: Net) -> None:
    """DNS rebinding in the browser: the first lookup of rebind.test says 127.0.0.2
    (allowed), every later one 127.0.0.3 (refused). Chromium never resolves the name: the
    proxy looks it up once for the capture, checks it, and connects to that address only,
    however many connections the page opens. The manifest's server is that address, not the
    proxy's (which is all Playwright knows)."""
    allowed, refused = rebinding
    net.answer("rebind.test", ["127.0.0.2"], [REFUSED_V4])
    fake_platform.serve(f"https://{PAGE_HOST}/ssrf-rebind", "".join(
        f'<img src="https://rebind.test:{allowed.port}/ssrf-rebind-{i}.png">' for i in range(4)))
    resolver = _guard_resolver(fake_platform, "127.0.0.2/32")
    seen = visit(browser_loop, fake_platform, resolver, f"https://{PAGE_HOST}/ssrf-rebind",
                 net, settle=1.0, allowed=frozenset({("127.0.0.2", allowed.port)}))
    assert seen.leaks == [] and seen.guard.refused == [] and seen.guard.breaches == []
    assert net.lookups.count("rebind.test") == 1
    assert len(allowed.seen) >= 1 and refused.seen == []  # TLS hellos: it is no HTTPS server
    assert ("127.0.0.2", allowed.port) in net.connects
    assert seen.guard.server_for(f"https://rebind.test:{allowed.port}/x") == {
        "ipAddress": "127.0.0.2", "port": allowed.port}
    assert seen.server == {"ipAddress": "127.0.0.1", "port": fake_platform.port}
    assert seen.playwright_server is not None  # Playwright names the proxy ...
    assert seen.guard.proxy is not None
    assert seen.playwright_server["port"] == seen.guard.proxy.port  # ... never recorded
    # the next capture looks the name up again: now it is refused, and nothing is sent
    again = visit(browser_loop, fake_platform, resolver, f"https://{PAGE_HOST}/ssrf-rebind",
                  net, refusals=1, settle=1.0)
    assert again.leaks == [] and refused.seen == []
    assert any("rebind.test resolves to 127.0.0.3" in e for e in again.guard.refused)


KNOWN_GAPS = {
    # What a route in Playwright could not stop, and the guarded proxy now does; each one
    # reached the refused listener before the proxy (tests/test_ssrf.py history).
    # Chromium preconnects to a frame's or a page's origin when the navigation starts:
    # the preconnect goes to the proxy, which refuses the tunnel.
    "navigation-preconnect": lambda p: f'<iframe src="https://127.0.0.3:{p}/gap"></iframe>',
    # Chromium follows redirects itself: the next hop goes through the proxy.
    "redirect": lambda p: "REDIRECT",
    # WebSockets from workers: every WebSocket of the context is tunnelled.
    "websocket-in-worker": lambda p: (
        '<script>new Worker(URL.createObjectURL(new Blob([`new WebSocket('
        f'"ws://127.0.0.3:{p}/gap")`])))</script>'),
    # WebRTC's STUN/TURN traffic is not HTTP: Chromium is launched with WebRTC confined to
    # proxied connections (no UDP), so the STUN binding request is never sent. The page
    # keeps the candidates it gathers (WEBRTC_GATHERED).
    "webrtc": lambda p: (
        '<script>const pc = new RTCPeerConnection({iceServers: [{urls: '
        f'"stun:127.0.0.3:{p}"}}]}}); window.gathered = [];'
        " pc.onicecandidate = e => e.candidate && gathered.push(e.candidate.candidate);"
        ' pc.createDataChannel("x"); pc.createOffer().then('
        "o => pc.setLocalDescription(o))</script>"),
    # WebRTC told (by a remote description) to reach a peer at a refused address: the TCP
    # candidate is tried through the proxy (refused there), the UDP one not at all.
    "webrtc-remote-candidates": lambda p: (
        "<script>(async () => { const a = new RTCPeerConnection(); a.createDataChannel('x');"
        " const offer = await a.createOffer(); await a.setLocalDescription(offer);"
        " const b = new RTCPeerConnection(); await b.setRemoteDescription(offer);"
        " await b.setLocalDescription(await b.createAnswer());"
        f" for (const c of ['candidate:1 1 tcp 2122260223 127.0.0.3 {p} typ host tcptype "
        f"passive', 'candidate:2 1 udp 2122260223 127.0.0.3 {p} typ host'])"
        " await b.addIceCandidate({candidate: c, sdpMid: '0', sdpMLineIndex: 0})"
        ".catch(() => 0); })()</script>"),
    # WebTransport is HTTP/3 over UDP (QUIC): a proxied context does not send it.
    "webtransport": lambda p: (
        f'<script>try {{ new WebTransport("https://127.0.0.3:{p}/gap").ready.catch(() => 0)'
        " } catch (e) {}</script>"),
}


#: The webrtc page's gathering, once over: without the switches the browser offers a local
#: address of its own as a candidate, under an mDNS name (a .local name it announces by
#: multicast on the local network), and sends STUN from it.
WEBRTC_GATHERED = "pc.iceGatheringState === 'complete' ? gathered : 'still gathering'"


@pytest.mark.parametrize("gap", list(KNOWN_GAPS))
def test_known_browser_gaps(gap: str, browser_loop: LoopThread, fake_platform: FakePlatform,
                            refused_v4: Listener, net: Net) -> None:
    """What the route-level guard could not stop: nothing reaches the refused listener
    (neither a connection nor a datagram), and what went to the proxy is recorded."""
    html = KNOWN_GAPS[gap](refused_v4.port)
    if html == "REDIRECT":
        hop = _redirect(fake_platform, "gap", f"http://{refused_v4.netloc()}/gap")
        html = f'<script>fetch("{hop}").catch(() => 0)</script>'
    fake_platform.serve(f"https://{PAGE_HOST}/ssrf-gap-{gap}", html)
    proxied = gap not in ("webrtc", "webtransport")
    seen = visit(browser_loop, fake_platform, _guard_resolver(fake_platform),
                 f"https://{PAGE_HOST}/ssrf-gap-{gap}", net, refusals=int(proxied), settle=1.0,
                 probe=WEBRTC_GATHERED if gap == "webrtc" else None)
    assert seen.leaks == [] and seen.guard.breaches == []
    assert refused_v4.seen == [] and refused_v4.datagrams == []
    if gap == "webrtc":
        assert seen.probed == []  # no candidate of its own: no local address, no mDNS name
    if proxied:
        assert any(e.split(": ", 1)[0] in (f"{REFUSED_V4}:{refused_v4.port}",
                                           f"http://{refused_v4.netloc()}/gap",
                                           f"https://{refused_v4.netloc()}/gap")
                   for e in seen.guard.refused), seen.guard.refused


def _other_chromium(config: Config) -> str:
    """The other kind of Chromium than the one the configuration finds (full browser or
    headless shell); the test is skipped when this machine has only one kind."""
    found_path, _ = find_browser(config.browser)
    shell = any(n in Path(found_path).name for n in ("headless-shell", "headless_shell"))
    found = [p for n in (SYSTEM_CANDIDATES if shell else SHELL_CANDIDATES)
             if (p := shutil.which(n))]
    if not found:
        pytest.skip(f"only one kind of Chromium here ({found_path})")
    return found[0]


@pytest.fixture(scope="module")
def other_browser_loop(browser_loop: LoopThread, fake_platform: FakePlatform,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopThread]:
    """The other kind of Chromium than the session's: the full browser if the session runs
    a headless shell (the default), else a headless shell. Each knows only one of the
    switches that keep WebRTC off UDP, and users may run either."""
    cfg = make_config(fake_platform.host_map(), fake_platform.ca_pem,
                      tmp_path_factory.mktemp("other-browser"))
    other = _other_chromium(cfg)
    assert browser_loop.browser.info is not None and \
        browser_loop.browser.info.executable != other
    loop = LoopThread(replace(cfg, browser=replace(cfg.browser, executable=other)))
    yield loop
    loop.close()


@pytest.mark.parametrize("gap", ["webrtc", "webrtc-remote-candidates", "webtransport"])
def test_udp_gaps_stay_closed_in_the_other_chromium(
        gap: str, other_browser_loop: LoopThread, fake_platform: FakePlatform,
        refused_v4: Listener, net: Net) -> None:
    """WebRTC and WebTransport send UDP of their own, past any proxy: no datagram, in the
    full browser and in the headless shell alike."""
    fake_platform.serve(f"https://{PAGE_HOST}/ssrf-other-{gap}", KNOWN_GAPS[gap](
        refused_v4.port))
    proxied = gap == "webrtc-remote-candidates"  # its TCP candidate goes to the proxy
    seen = visit(other_browser_loop, fake_platform, _guard_resolver(fake_platform),
                 f"https://{PAGE_HOST}/ssrf-other-{gap}", net, refusals=int(proxied),
                 settle=1.0, probe=WEBRTC_GATHERED if gap == "webrtc" else None)
    assert seen.leaks == [] and seen.guard.breaches == []
    assert refused_v4.seen == [] and refused_v4.datagrams == []
    if gap == "webrtc":
        assert seen.probed == []
    if proxied:  # the page's WebRTC did run in this browser
        assert any(e.startswith(f"{REFUSED_V4}:{refused_v4.port}")
                   for e in seen.guard.refused), seen.guard.refused


def _netns_refusal() -> str | None:
    """Why this machine cannot give a process a network namespace of its own, or None."""
    if sys.platform != "linux" or not (shutil.which("unshare") and shutil.which("ip")):
        return "needs Linux with unshare(1) and ip(8)"
    probe = subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"],
                           capture_output=True, text=True, timeout=30)
    return None if probe.returncode == 0 else f"no network namespace: {probe.stderr.strip()}"


@pytest.mark.parametrize("which", ["session", "other"])
def test_webrtc_sends_nothing_on_a_real_link(which: str, browser_loop: LoopThread,
                                             fake_platform: FakePlatform,
                                             tmp_path: Path) -> None:
    """The tests above watch loopback only; WebRTC's own UDP (mDNS announcements of a local
    name, STUN) would go out on the machine's network. In a network namespace of its own
    with one contained link (tests/netns.py), a page's peer connection gathers nothing, and
    nothing Chromium sends reaches the link: no STUN to the page's server on it, no mDNS.
    Without the WebRTC switches both go out. What remains is the kernel's report that
    Chromium's mDNS listener joined and left its multicast group (224.0.0.251); it sends
    nothing there."""
    refusal = _netns_refusal()
    if refusal:
        pytest.skip(refusal)
    if which == "session":
        assert browser_loop.browser.info is not None
        executable = browser_loop.browser.info.executable
    else:
        executable = _other_chromium(make_config(fake_platform.host_map(),
                                                 fake_platform.ca_pem, tmp_path))
    run = subprocess.run(["unshare", "--net", sys.executable, "-m", "tests.netns", executable],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["control"], "the watch saw nothing on the link; it would miss anything else"
    assert seen["gathered"] == [], seen
    assert seen["sent"] == [], seen
    assert set(seen["igmp"]) <= {"join 224.0.0.251", "leave 224.0.0.251"}, seen


def test_an_alt_svc_for_http3_sends_no_datagram(
        browser_loop: LoopThread, fake_platform: FakePlatform, refused_v4: Listener,
        net: Net) -> None:
    """A server may say its origin is also served over HTTP/3 (QUIC, UDP) at another address:
    a proxied context must not take it up (and QUIC is off)."""
    alt = f'h3="{REFUSED_V4}:{refused_v4.port}"; ma=86400, h3=":{refused_v4.port}"'
    fake_platform.documents[(PAGE_HOST, "/ssrf-alt-svc")] = Response.html(
        "<!doctype html><script>for (let i = 0; i < 5; i++) setTimeout(() => "
        "fetch('/ssrf-alt-svc-again?' + i).catch(() => 0), 100 * i)</script>",
        headers=[("Alt-Svc", alt)])
    for i in range(5):
        fake_platform.documents[(PAGE_HOST, f"/ssrf-alt-svc-again?{i}")] = Response.text(
            "again", headers=[("Alt-Svc", alt)])
    seen = visit(browser_loop, fake_platform, _guard_resolver(fake_platform),
                 f"https://{PAGE_HOST}/ssrf-alt-svc", net, settle=1.0)
    assert fake_platform.count(PAGE_HOST, "/ssrf-alt-svc-again") >= 1
    assert refused_v4.datagrams == [] and refused_v4.seen == [] and seen.leaks == []


def test_certificate_fetches_go_through_the_proxy(
        browser_loop: LoopThread, fake_platform: FakePlatform, refused_v4: Listener,
        net: Net, tmp_path: Path) -> None:
    """A server's certificate names where its issuer (and OCSP) can be fetched; Chromium
    fetches that itself, outside any page. The URL points at a refused address: the fetch
    goes to the proxy and is refused there."""
    now = datetime.now(UTC)
    issuer_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    where = f"http://{REFUSED_V4}:{refused_v4.port}"
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aia.test")]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not sent")]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=9))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("aia.test")]), False)
            .add_extension(x509.AuthorityInformationAccess([
                x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                       x509.UniformResourceIdentifier(f"{where}/ssrf-aia.crt")),
                x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                       x509.UniformResourceIdentifier(f"{where}/ssrf-ocsp"))]),
                False)
            .sign(issuer_key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    port, stop = server.getsockname()[1], threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with contextlib.suppress(OSError), tls.wrap_socket(conn, server_side=True) as s:
                s.settimeout(1)
                s.recv(100)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    fake_platform.serve(f"https://{PAGE_HOST}/ssrf-aia",
                        f'<img src="https://aia.test:{port}/x.png">'
                        f'<iframe src="https://aia.test:{port}/frame"></iframe>')
    try:
        seen = visit(browser_loop, fake_platform,
                     _guard_resolver(fake_platform, **{"aia.test": f"127.0.0.1:{port}"}),
                     f"https://{PAGE_HOST}/ssrf-aia", net, refusals=1, settle=1.0,
                     allowed=frozenset({("127.0.0.1", port)}))
    finally:
        stop.set()
        thread.join(2)
        server.close()
    assert seen.leaks == [] and refused_v4.seen == [] and seen.guard.breaches == []
    assert any(e.startswith(f"{where}/ssrf-") for e in seen.guard.refused), seen.guard.refused


def _netlog_lookups(path: Path) -> tuple[list[str], list[str]]:
    """(what Chromium's host resolver was asked for, names it sent DNS queries for)."""
    text = path.read_text().rstrip()
    if not text.endswith("}"):  # not finished: the events so far
        text = text.rstrip(",") + "]}"
    log = json.loads(text)
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    asked, queried = [], []
    for event in log["events"]:
        params = event.get("params") or {}
        kind = names.get(event["type"], "")
        if kind == "HOST_RESOLVER_MANAGER_REQUEST" and "host" in params:
            asked.append(str(params["host"]))
        elif kind.startswith("DNS_TRANSACTION") and ("hostname" in params or "qname" in params):
            queried.append(str(params.get("hostname") or params.get("qname")))
    return asked, queried


@pytest.mark.parametrize("kind", ["default", "other"])
def test_the_browser_looks_up_no_name_itself(
        kind: str, fake_platform: FakePlatform, config: Config, refused_v4: Listener,
        net: Net, tmp_path: Path) -> None:
    """Behind the proxy, Chromium still resolved the host of every request a page made, and
    a few names of its own at start (update.googleapis.com, accounts.google.com): DNS
    queries to the system's name server, for names the guard refuses too, though Chromium
    never connected to the answers. Its network log must show no DNS query, and no lookup
    of anything but the proxy. (The page's names end in .localhost, which Chromium answers
    itself: even before the fix, no query for them left this machine.)"""
    log = tmp_path / "netlog.json"
    browser_config = replace(config.browser, extra_args=(
        *config.browser.extra_args, f"--log-net-log={log}"))
    if kind == "other":  # the full browser beside the headless shell, or the reverse
        browser_config = replace(browser_config, executable=_other_chromium(config))
    names = [f"{kind}.lookup.localhost" for kind in
             ("img", "fetch", "frame", "ws", "preconnect", "prefetch", "link")]
    fake_platform.serve(f"https://{PAGE_HOST}/ssrf-lookups", f"""<!doctype html>
<link rel="preconnect" href="https://{names[4]}/"><link rel="dns-prefetch" href="//{names[5]}">
<a href="https://{names[6]}/">x</a><img src="https://{names[0]}/ssrf-lookup.png">
<iframe src="https://{names[2]}/ssrf-lookup"></iframe>
<script>fetch("https://{names[1]}/ssrf-lookup").catch(() => 0);
new WebSocket("wss://{names[3]}/ssrf-lookup");</script>""")
    resolver = _guard_resolver(fake_platform, **{n: REFUSED_V4 for n in names})

    async def go() -> BrowserGuard:
        async with BrowserSession(browser_config, config.network) as browser:
            guard = BrowserGuard(resolver)
            context = await guard.new_context(browser)
            try:
                page = await context.new_page()
                await page.goto(f"https://{PAGE_HOST}/ssrf-lookups", wait_until="load")
                deadline = time.monotonic() + 8
                while len(guard.refused) < 4 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
            finally:
                await context.close()
                await guard.close()
            return guard

    guard = asyncio.run(go())
    assert len(guard.refused) >= 4, guard.refused  # the page's requests reached the proxy
    asked, queried = _netlog_lookups(log)
    assert queried == []
    assert [h for h in asked if urlsplit(h).hostname not in ("~notfound", "127.0.0.1")] == []
    assert refused_v4.seen == [] and net.connects == [
        c for c in net.connects if c[0] == "127.0.0.1"]
