"""HTTP for everything the archiver fetches with `requests`.

One seam decides where a connection goes: `Resolver`. It applies the configured host map
(the same map the browser gets as host-resolver rules), refuses addresses that are not
public unless configuration allows their network, and connects to the address it checked,
so a name cannot resolve one way for the check and another way for the connection. It
also remembers which address each host was reached at, for the manifest.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import ssl as ssl_module
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from bs4.dammit import UnicodeDammit
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from archiver import __version__
from archiver.config import NetworkConfig
from archiver.errors import (
    BlockedAddressError,
    ConfigError,
    FetchError,
    HTTPStatusError,
    NotHTMLError,
    TooLargeError,
)
from archiver.models import HttpExchange

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: Endpoints that hand out credentials or control a cloud host. Refused even when a network
#: that contains them is allowed: allowing 169.254.0.0/16 or fd00::/8 for a lab must not
#: open them. (168.63.129.16 is a public address, but only ever the Azure host's agent.)
_METADATA: dict[IPAddress, str] = {ipaddress.ip_address(a): why for a, why in {
    "169.254.169.254": "the cloud metadata endpoint (AWS, GCP, Azure, OpenStack ...)",
    "169.254.170.2": "the AWS ECS task metadata endpoint",
    "169.254.170.23": "the AWS EKS Pod Identity Agent (credentials)",
    "fd00:ec2::23": "the AWS EKS Pod Identity Agent over IPv6 (credentials)",
    "fd00:ec2::254": "the AWS IPv6 metadata endpoint",
    "169.254.0.23": "the Tencent Cloud metadata endpoint",
    "100.100.100.200": "the Alibaba Cloud metadata endpoint",
    "192.0.0.192": "the Oracle Cloud metadata endpoint",
    "168.63.129.16": "the Azure host agent (WireServer)",
}.items()}
#: Non-public ranges that `ipaddress` does not name or (on some Python versions) calls
#: global, checked before its own flags so that the verdict does not depend on the version.
_NAMED_RANGES: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why) for net, why in (
        ("0.0.0.0/8", "'this network', which reaches the local host"),
        ("100.64.0.0/10", "shared address space, used by carrier-grade NAT"),
        ("192.0.0.0/24", "IETF protocol assignments, not globally routable"),
        ("255.255.255.255/32", "broadcast"),
        ("::/128", "unspecified, which reaches the local host"),
        ("::/96", "IPv4-compatible IPv6, deprecated"),
        ("64:ff9b:1::/48", "the local-use NAT64 prefix"),
        ("fc00::/7", "IPv6 unique-local, private"),
        ("fec0::/10", "IPv6 site-local, deprecated private"),
    ))
#: Single addresses inside a named range that IANA lists as globally reachable: anycast
#: services (Port Control Protocol, TURN), public as `ipaddress` from 3.11.10 / 3.12.4 says.
_PUBLIC_IN_NAMED = frozenset(ipaddress.ip_address(a) for a in (
    "192.0.0.9",  # Port Control Protocol anycast (RFC 7723)
    "192.0.0.10",  # Traversal Using Relays around NAT anycast (RFC 8155)
))
DEFAULT_USER_AGENT = f"embed-archiver/{__version__} (archives embedded social-media posts)"
_ENCODING_DER = 2  # ssl._ssl.ENCODING_DER, for the (private before 3.13) Certificate objects
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Resolver:
    """Host map, address policy and a record of where each host was reached."""

    def __init__(self, host_map: dict[str, str] | None = None,
                 allow_networks: Iterable[str] = ()) -> None:
        self.host_map: dict[str, tuple[str, int | None]] = {}
        for host, target in (host_map or {}).items():
            self.host_map[host.lower().rstrip(".")] = _parse_target(host, target)
        try:
            self.allowed = tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)
        except ValueError as exc:
            raise ConfigError(f"[network] allow_networks: {exc}") from exc
        self._seen: dict[str, str] = {}
        self._tls: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def mapped(self, host: str) -> tuple[str, int | None] | None:
        """The host-map entry for `host` (exact name first, then `*.suffix` wildcards)."""
        host = host.lower().rstrip(".")
        if host in self.host_map:
            return self.host_map[host]
        parts = host.split(".")
        for i in range(1, len(parts)):
            wild = "*." + ".".join(parts[i:])
            if wild in self.host_map:
                return self.host_map[wild]
        return None

    def check(self, ip: str, host: str) -> None:
        """Refuse an address that is not public, unless its network is allowed.

        IPv4 carried inside IPv6 (mapped, NAT64, 6to4, Teredo) is judged as that IPv4
        address, the allowed networks included: a connection there reaches the IPv4
        address, so allowing 2002::/16 or ::ffff:0:0/96 must not let 10.0.0.1 or 127.0.0.1
        through (allow the IPv4 network instead). An IPv6 zone id (`%eth0`) is ignored.
        Cloud metadata endpoints are refused even when an allowed network contains them.
        Raises BlockedAddressError saying what was refused and why.
        """
        try:
            outer: IPAddress = ipaddress.ip_address(ip.strip("[]").split("%")[0])
        except ValueError as exc:
            raise BlockedAddressError(f"refused: {host} resolves to {ip!r}, which is not an "
                                      "IP address", url=host) from exc
        addr = _embedded_ipv4(outer) or outer
        shown = str(outer) if addr is outer else f"{outer} (IPv4 {addr} inside IPv6)"
        literal = host.strip("[]").split("%")[0].lower() == str(outer)
        subject = f"{shown} is" if literal else f"{host} resolves to {shown},"
        if addr in _METADATA:
            raise BlockedAddressError(
                f"refused: {subject} {_METADATA[addr]}, a non-public endpoint that is refused "
                "whatever [network] allow_networks says", url=host)
        if any(addr in net for net in self.allowed if addr.version == net.version):
            return
        why = non_public_reason(addr)
        if why is not None:
            raise BlockedAddressError(
                f"refused: {subject} a non-public address ({why}); allow its network in "
                "[network] allow_networks to permit it", url=host)

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        """Checked (address, port) pairs to connect to for host:port, in order."""
        pairs = self.resolve_known(host, port)
        if pairs is not None:
            return pairs
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchError(f"cannot resolve host {host}: {exc.strerror}", url=host) from exc
        except (OSError, UnicodeError, ValueError) as exc:  # bad IDNA label, NUL byte ...
            raise FetchError(f"cannot resolve host {host!r}: {exc}", url=host) from exc
        return self._checked([(str(info[4][0]), port) for info in infos], host)

    def resolve_known(self, host: str, port: int) -> list[tuple[str, int]] | None:
        """`resolve` for a host-mapped name or an address literal, which need no DNS query
        and never block; None for a name only DNS can answer. (The guarded proxy answers
        these at once, without waiting for a lookup thread.)"""
        if not host.strip("[]."):
            raise BlockedAddressError("refused: a URL without a host name", url=host)
        entry = self.mapped(host)
        if entry is not None:
            addr, mport = entry
            return self._checked([(addr, mport or port)], host)
        if (literal := _literal_address(host)) is not None:
            return self._checked([(literal, port)], host)
        return None

    def _checked(self, pairs: list[tuple[str, int]], host: str) -> list[tuple[str, int]]:
        for addr, _ in pairs:  # every address must pass: a mixed answer is refused whole
            self.check(addr, host)
        return pairs

    def record_tls(self, host: str, version: str | None, chain: list[bytes]) -> None:
        with self._lock:
            self._tls[host.lower()] = {"protocol": version, "chain": chain}

    def tls(self, host: str) -> dict[str, Any] | None:
        """The TLS version and verified chain (DER) of the last connection to `host`."""
        with self._lock:
            return self._tls.get(host.lower())

    def record(self, host: str, ip: str) -> None:
        with self._lock:
            self._seen[host.lower()] = ip

    def seen(self, host: str) -> str | None:
        with self._lock:
            return self._seen.get(host.lower())


def _literal_address(host: str) -> str | None:
    """The address `host` spells, in any form the system reads, or None for a name.

    Covers what urllib3 hands over as is and browsers normalise: 127.1, 0x7f000001,
    2130706433, 0177.0.0.1 (as the system's inet_aton reads them, so the check sees what a
    connection would reach), a trailing dot, brackets, and an IPv6 zone id (`%25eth0`).
    No DNS query is made."""
    bare = host.strip("[]").rstrip(".").replace("%25", "%", 1)
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(bare, None, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return None
    return str(infos[0][4][0]) if infos else None


def _embedded_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo client)."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return None
    inner = addr.ipv4_mapped or addr.sixtofour or (addr.teredo or (None, None))[1]
    if inner is None and addr in _NAT64:
        inner = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return inner


def non_public_reason(addr: IPAddress) -> str | None:
    """Why `addr` is not a public unicast address ("loopback", "private" ...), or None."""
    if addr.is_loopback:
        return "loopback"
    if addr in _PUBLIC_IN_NAMED:
        return None
    for net, why in _NAMED_RANGES:
        if addr.version == net.version and addr in net:
            return why
    for flag, why in (("is_link_local", "link-local"),
                      ("is_multicast", "multicast"), ("is_reserved", "reserved"),
                      ("is_private", "private")):
        if getattr(addr, flag, False):
            return why
    return None if addr.is_global else "not globally routable"


def _parse_target(host: str, target: str) -> tuple[str, int | None]:
    """'1.2.3.4', '1.2.3.4:8443', '[::1]:8443' or '::1' -> (address, port or None)."""
    text = target.strip()
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or None
    elif text.count(":") == 1:
        addr, _, port_text = text.partition(":")
        port = port_text or None
    else:
        addr, port = text, None
    try:
        ipaddress.ip_address(addr)
        number = int(port) if port is not None else None
        if number is not None and not 0 < number < 65536:
            raise ValueError(f"port {number}")
    except ValueError as exc:
        raise ConfigError(f"[network] host_map: {host} = {target!r} is not an address "
                          f"with an optional port ({exc})") from exc
    return addr, number


class _GuardedConnectionMixin:
    resolver: Resolver
    _dns_host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    host: str

    def _new_conn(self) -> socket.socket:
        if getattr(self, "_tunnel_host", None):  # talking to a configured proxy: trusted
            return super()._new_conn()  # type: ignore[misc, no-any-return]
        last: OSError | None = None
        for addr, port in self.resolver.resolve(self._dns_host, self.port):
            try:
                sock = socket.create_connection((addr, port), self.timeout,
                                                source_address=self.source_address)
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc
            except OSError as exc:
                last = exc
                continue
            for opt in self.socket_options or ():
                sock.setsockopt(*opt)
            self.resolver.record(self._dns_host, addr)
            return sock
        raise NewConnectionError(self, f"cannot connect to {self.host}: {last}")  # type: ignore[arg-type]


class _TLSRecordingMixin(_GuardedConnectionMixin):
    """Remembers the certificate chain the server presented, as verified."""

    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        sslobj = getattr(self.sock, "_sslobj", None)
        try:  # public as SSLSocket.get_verified_chain() from Python 3.13
            chain = sslobj.get_verified_chain() if sslobj is not None else []
            ders = [c.public_bytes(_ENCODING_DER) for c in chain]
        except (AttributeError, ValueError, ssl_module.SSLError):
            ders = []
        version = self.sock.version() if hasattr(self.sock, "version") else None
        self.resolver.record_tls(self._dns_host, version, ders)


def describe_chain(ders: list[bytes]) -> list[dict[str, Any]]:
    """Subject, issuer, validity and SHA-256 of each certificate, with its PEM."""
    out = []
    for der in ders:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            continue
        out.append({
            "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "sha256": hashlib.sha256(der).hexdigest(),
            "pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        })
    return out


def _pool_classes(resolver: Resolver) -> dict[str, type[Any]]:
    http_conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection),
                     {"resolver": resolver})
    https_conn = type("GuardedHTTPSConnection", (_TLSRecordingMixin, HTTPSConnection),
                      {"resolver": resolver})
    return {
        "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections go through a `Resolver`."""

    def __init__(self, resolver: Resolver, **kwargs: Any) -> None:
        self.resolver = resolver
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.resolver)


class Http:
    """A configured requests session plus the resolver that routes it (one per thread)."""

    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        self.resolver = Resolver(config.host_map, config.allow_networks)
        self.session = requests.Session()
        self.session.max_redirects = config.max_redirects
        self.session.headers["User-Agent"] = config.user_agent or DEFAULT_USER_AGENT
        adapter = GuardedAdapter(self.resolver, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if config.ca_bundle:
            self.session.verify = config.ca_bundle
        if config.proxy:
            self.session.proxies = {"http": config.proxy, "https": config.proxy}
        self.session.trust_env = False  # configuration, not stray variables, decides routing

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, *, accept: str = "*/*", max_bytes: int | None = None,
            follow_redirects: bool = True) -> HttpExchange:
        """GET `url`, following redirects, and return the exchange with the whole body.

        Raises FetchError (or a subclass) when no response could be read; an HTTP error
        status is returned, not raised, so callers can store it as evidence.
        """
        return self._send("GET", url, {"Accept": accept}, None, max_bytes, follow_redirects)

    def post(self, url: str, body: bytes, content_type: str, accept: str, *,
             max_bytes: int | None = None) -> HttpExchange:
        """POST `body` to `url`; same errors, cap and address guard as `get`.

        Redirects are returned, not followed: following would turn the POST into a GET.
        """
        return self._send("POST", url, {"Content-Type": content_type, "Accept": accept},
                          body, max_bytes, False)

    def _send(self, method: str, url: str, headers: dict[str, str], data: bytes | None,
              max_bytes: int | None, follow_redirects: bool) -> HttpExchange:
        cap = max_bytes or self.config.max_bytes
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url!r}", url=url)
        started, t0 = utc_now(), time.monotonic()
        try:
            resp = self.session.request(method, url, data=data, stream=True, headers=headers,
                                        allow_redirects=follow_redirects,
                                        timeout=(self.config.connect_timeout,
                                                 self.config.read_timeout))
            try:
                body = self._read_capped(resp, cap, url, t0)
            finally:
                resp.close()
        except requests.TooManyRedirects as exc:
            raise FetchError(f"redirect loop or more than {self.config.max_redirects} redirects "
                             f"from {url}", url=url) from exc
        except requests.exceptions.SSLError as exc:
            raise FetchError(f"TLS verification failed for {parts.hostname}: {_root(exc)}",
                             url=url) from exc
        except requests.Timeout as exc:
            raise FetchError(f"timed out fetching {url}", url=url) from exc
        except requests.ConnectionError as exc:
            raise FetchError(f"cannot connect to {parts.hostname}: {_root(exc)}", url=url) from exc
        except requests.RequestException as exc:
            raise FetchError(f"request for {url} failed: {_root(exc)}", url=url) from exc
        final_host = urlsplit(resp.url).hostname or ""
        return HttpExchange(
            method=method, url=url, final_url=resp.url, status=resp.status_code,
            headers=tuple((k, v) for k, v in resp.raw.headers.items()),
            body=body, redirects=tuple(r.url for r in resp.history),
            peer_ip=self.resolver.seen(final_host), started=started,
            elapsed_s=time.monotonic() - t0,
            request_headers=tuple((k, str(v)) for k, v in resp.request.headers.items()),
            tls=self._tls_of(final_host, resp.url),
            http_version={10: "HTTP/1.0", 11: "HTTP/1.1"}.get(resp.raw.version, "HTTP/1.1"),
        )

    def _tls_of(self, host: str, url: str) -> dict[str, Any] | None:
        if not url.startswith("https:"):
            return None
        seen = self.resolver.tls(host)
        if seen is None:
            return None
        return {"protocol": seen["protocol"], "chain": describe_chain(seen["chain"])}

    @staticmethod
    def _read1(resp: requests.Response, url: str) -> bytes:
        """What has arrived of the body (decoded), b"" at its end; FetchError on a fault."""
        try:
            return bytes(resp.raw.read1(65536, decode_content=True))
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise FetchError(f"timed out fetching {url}", url=url) from exc
        except urllib3.exceptions.DecodeError as exc:
            raise FetchError(f"{url}: the body could not be decoded ({_root(exc)})",
                             url=url) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchError(f"the connection broke while reading {url}: {_root(exc)}",
                             url=url) from exc

    def _read_capped(self, resp: requests.Response, cap: int, url: str, t0: float) -> bytes:
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > cap:
            raise TooLargeError(f"{url} is {int(length):,} bytes, over the {cap:,}-byte cap",
                                url=url)
        deadline = t0 + self.config.connect_timeout + 3 * self.config.read_timeout
        chunks: list[bytes] = []
        total = 0
        # read1 returns what has arrived (iter_content would wait for 64 KB, so a server
        # dripping a byte at a time would never reach the deadline check)
        while chunk := self._read1(resp, url):
            total += len(chunk)
            if total > cap:
                raise TooLargeError(f"{url} exceeded the {cap:,}-byte cap", url=url)
            if time.monotonic() > deadline:
                raise FetchError(f"{url} is too slow: body not complete within "
                                 f"{deadline - t0:.0f} s", url=url)
            chunks.append(chunk)
        return b"".join(chunks)


def _root(exc: BaseException) -> str:
    """The innermost cause's message: what actually went wrong, in one line."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        nxt = seen.__cause__ or seen.__context__
        assert nxt is not None
        seen = nxt
    if isinstance(seen, BlockedAddressError):
        return str(seen)
    text = str(seen) or type(seen).__name__
    return text.split("\n")[0][:300]


def decode_document(exchange: HttpExchange) -> tuple[str, str]:
    """(text, kind) of an article response; kind is 'html' or 'text'.

    Raises HTTPStatusError for an error status and NotHTMLError for other media types.
    """
    if exchange.status >= 400:
        raise HTTPStatusError(f"{exchange.final_url} answered HTTP {exchange.status}",
                              url=exchange.final_url, status=exchange.status)
    ctype = exchange.content_type
    if ctype and ctype not in HTML_TYPES | TEXT_TYPES:
        raise NotHTMLError(f"{exchange.final_url} is not an HTML page ({ctype})",
                           url=exchange.final_url, status=exchange.status)
    declared = None
    for part in (exchange.header("content-type") or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            declared = value.strip("\"' ")
    kind = "text" if ctype in TEXT_TYPES else "html"
    dammit = UnicodeDammit(exchange.body, known_definite_encodings=[declared] if declared else [],
                           is_html=kind == "html")
    if dammit.unicode_markup is None:
        raise NotHTMLError(f"{exchange.final_url}: cannot decode the body as text",
                           url=exchange.final_url)
    return dammit.unicode_markup, kind


class HttpPool:
    """One `Http` per thread (requests sessions are not shared across threads)."""

    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        #: for checks made outside requests (the browser's navigations)
        self.resolver = Resolver(config.host_map, config.allow_networks)
        self._local = threading.local()
        self._all: list[Http] = []
        self._lock = threading.Lock()

    def get(self) -> Http:
        http: Http | None = getattr(self._local, "http", None)
        if http is None:
            http = Http(self.config)
            self._local.http = http
            with self._lock:
                self._all.append(http)
        return http

    def close(self) -> None:
        with self._lock:
            for http in self._all:
                http.close()
            self._all.clear()
