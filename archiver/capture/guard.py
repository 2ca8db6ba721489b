"""The address guard, for everything the browser fetches.

`requests` connects through `archiver.net.Resolver`, which checks each address before it
connects. Chromium would resolve names and connect by itself, so each capture's browser
context gets its own `GuardedProxy` (archiver/capture/proxy.py) as its proxy, and Chromium
is launched with WebRTC confined to proxied connections (no UDP): the proxy resolves each
host with the same Resolver (host map and allowed networks included), checks the address,
and connects only to the address it checked. A refused host gets a 403 and nothing is sent
to it. This covers what a route in Playwright cannot see: preconnects, redirects Chromium
follows, WebSockets from workers, WebRTC, and a name that resolves differently the second
time (DNS rebinding).

- `refused`: what the proxy refused, for the manifest: `"url: reason"` when the URL is
  known (plain http; a request that failed on a refused tunnel), else `"host:port:
  reason"` (a tunnel's URL is inside TLS, so a preconnect or a WebSocket is named by its
  host and port only). The first MAX_REFUSALS, then `"... and N more, not listed"`.
- `server_for(url)`: the address the proxy really connected to for the URL's host:port.
  Playwright's `server_addr()` and the HAR's `serverIPAddress` name the proxy itself, so
  the manifest and the WARC take the address from here (`attribute_har`).
- `breaches`: refused or unchecked addresses the browser reached anyway. With the proxy,
  only a connection that did not go through it can be one (`attribute_har` lists every
  HAR entry whose address is neither the proxy nor unknown); it should stay empty.
- `server_refusal` checks a page's server address with the same policy.
- The proxy's own answers (its 403 for a refused plain-http request, its 502 for a server it
  could not reach or that sent no valid answer) are marked with a header only this proxy
  can write; `attribute_har` turns each into an entry without a response, so that the
  evidence never lists as a server's answer what the proxy wrote.

Life cycle: the proxy is closed by `close()`, and also as soon as its context closes (or
the browser goes away), and at once when the context could not be made (a cancelled
capture included): a capture that ends on any path leaves no listening port or tunnel
behind, even when its own cleanup did not get to `close()`.

Chromium's own resolver: even behind the proxy, Chromium looked up the host of every request
a page made (not `<link rel=dns-prefetch>` names: none were seen looked up), telling the
system's name server what the page named. A browser started for guarded contexts is given
host-resolver rules under which every lookup fails inside Chromium (`NO_LOOKUP_RULES` in
archiver/capture/browser.py); tests/test_ssrf.py reads Chromium's network log to check that
it sends no DNS query. A refused plain-http request is answered by the proxy's 403, which
the page can read (it names the refused address, which the page chose).

With a configured upstream proxy ([network] proxy) the browser uses that proxy, which
resolves names itself: the guard cannot see or check the addresses, so it does nothing
(`proxied`); chaining the guarded proxy in front of the upstream one is not attempted.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Request

from archiver.capture.browser import BrowserSession
from archiver.capture.proxy import ANSWER_HEADER, MAX_REFUSALS, GuardedProxy
from archiver.config import NetworkConfig
from archiver.errors import FetchError
from archiver.net import Resolver

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
#: URLs kept per refused host:port to name a refusal (a page can ask a refused host often).
_URLS_PER_HOST = 50


class BrowserGuard:
    def __init__(self, resolver: Resolver, *, proxied: bool = False,
                 connect_timeout: float = 10.0) -> None:
        self.resolver = resolver
        self.proxied = proxied
        self.proxy = None if proxied else GuardedProxy(resolver,
                                                       connect_timeout=connect_timeout)
        #: refused addresses the browser reached anyway: "url: reason"
        self.breaches: list[str] = []
        self._failed: dict[str, list[str]] = {}  # host:port -> URLs whose request failed

    @classmethod
    def for_network(cls, resolver: Resolver, network: NetworkConfig) -> BrowserGuard:
        """The guard the network settings call for: none with an upstream proxy."""
        return cls(resolver, proxied=bool(network.proxy),
                   connect_timeout=network.connect_timeout)

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> str | None:
        """Start the proxy; return its URL for the browser context (None when proxied)."""
        if self.proxy is None:
            return None
        if self.proxy.port is None:
            await self.proxy.start()
        return self.proxy.url

    async def close(self) -> None:
        """Close the proxy and every tunnel it holds (after the context closed). Also when
        `start()` was cancelled half-way: the listening port it opens is closed too."""
        if self.proxy is not None:
            await self.proxy.close()

    async def new_context(self, browser: BrowserSession, record_har: Path | None = None
                          ) -> BrowserContext:
        """A fresh browser context whose every connection goes through this guard. The
        proxy closes with the context; if no context is made, it is closed at once."""
        try:
            context = await browser.new_context(record_har=record_har,
                                                proxy=await self.start())
        except BaseException:  # cancelled included: nothing would close the proxy
            if self.proxy is not None:
                self.proxy.close_soon()
            raise
        if self.proxy is not None:  # names the URLs behind refused tunnels (few events)
            proxy = self.proxy
            context.on("requestfailed", self._on_failed)
            # closed, or the browser gone: no tunnel outlives the context, whether or not
            # the caller's cleanup reaches `close()`
            def closed(_: BrowserContext) -> None:
                proxy.close_soon()

            context.on("close", closed)
        return context

    async def __aenter__(self) -> BrowserGuard:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what the proxy saw ---------------------------------------------------------------------
    @property
    def refused(self) -> list[str]:
        """Requests refused before a byte was sent to the host: "url-or-host:port: reason",
        at most MAX_REFUSALS of them, then "... and N more, not listed" if there were more
        (a page can ask for refused addresses without end: the manifest says how many)."""
        if self.proxy is None:
            return []
        out: dict[str, None] = {}  # in order, without repeats (a list scan was quadratic)
        for netloc, url, reason in self.proxy.refusals():
            names = [url] if url else self._failed.get(netloc) or [netloc]
            out.update((f"{name[:300]}: {reason}", None) for name in names)
        listed = list(out)[:MAX_REFUSALS]
        more = len(out) - len(listed) + self.proxy.unlisted_refusals()
        return [*listed, f"... and {more:,} more, not listed"] if more else listed

    def _on_failed(self, request: Request) -> None:
        key = _key(request.url)
        if key is None:
            return
        urls = self._failed.setdefault(_netloc(*key), [])
        if request.url not in urls and len(urls) < _URLS_PER_HOST:
            urls.append(request.url)

    def server_for(self, url: str) -> dict[str, Any] | None:
        """{"ipAddress", "port"} the proxy connected to for `url`'s host:port, or None."""
        key = _key(url)
        if self.proxy is None or key is None:
            return None
        return self.proxy.server(*key)

    def attribute_har(self, har: dict[str, Any] | None) -> None:
        """Give each HAR entry the address its host:port was really reached at.

        Chromium records the proxy's address as `serverIPAddress`; it is replaced by the
        address the proxy connected to for that entry's host:port, or removed when there is
        none. The proxy's own 403 for a refused plain-http request becomes an entry without
        a response (the WARC lists it as such), since no server answered it. An entry with
        any other address did not go through the proxy: that is a breach."""
        if self.proxy is None or har is None:
            return
        for entry in har.get("log", {}).get("entries", []):
            if not isinstance(entry, dict):
                continue
            ip = str(entry.get("serverIPAddress") or "").strip("[]")
            if not ip:
                continue
            url = str((entry.get("request") or {}).get("url", ""))
            if ip != "127.0.0.1" or entry.get("_serverPort") not in (None, self.proxy.port):
                self._breach(url, f"the browser connected to {ip} without the guard's proxy")
                continue
            answered = self._proxy_answer(entry)
            if answered is not None:  # written by the proxy: no server answered this
                status, reason = answered
                entry.pop("serverIPAddress", None)
                entry.pop("_serverPort", None)
                entry["response"] = {"status": 0, "headers": [], "content": {},
                                     "_failureText": (
                    f"refused by the archiver's address guard: {reason}" if status == 403
                    else f"not answered by the server: the archiver's proxy said {status} "
                         f"({reason})")}
                continue
            real = self.server_for(url)
            if real is None:
                entry.pop("serverIPAddress", None)
                entry.pop("_serverPort", None)
                key = _key(url)
                why = self.proxy.refused_at(_netloc(*key)) if key is not None else None
                if why is not None:
                    entry["response"] = {"status": 0, "headers": [], "content": {},
                                         "_failureText": "refused by the archiver's address "
                                                         f"guard: {why}"}
            else:
                entry["serverIPAddress"] = real["ipAddress"]
                entry["_serverPort"] = real["port"]

    def _proxy_answer(self, entry: dict[str, Any]) -> tuple[int, str] | None:
        """(status, reason) if this HAR entry's response is one the proxy wrote itself."""
        assert self.proxy is not None
        response = entry.get("response")
        headers = response.get("headers") if isinstance(response, dict) else None
        for header in headers if isinstance(headers, list) else []:
            if (isinstance(header, dict)
                    and str(header.get("name", "")).lower() == ANSWER_HEADER.lower()):
                return self.proxy.answer(str(header.get("value", "")))
        return None

    def _breach(self, url: str, why: str) -> None:
        entry = f"{url[:300]}: {why}"
        if entry not in self.breaches:
            self.breaches.append(entry)

    def server_refusal(self, server: dict[str, object] | None, url: str) -> str | None:
        """Why the address the browser reached for `url` is refused, if it is."""
        if self.proxied or not server or not isinstance(server.get("ipAddress"), str):
            return None
        try:
            self.resolver.check(str(server["ipAddress"]), urlsplit(url).hostname or "")
        except FetchError as exc:
            return f"the browser connected to a refused address: {exc}"
        return None


def _key(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    with contextlib.suppress(ValueError):
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        return (parts.hostname.lower(), port) if port else None
    return None


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
