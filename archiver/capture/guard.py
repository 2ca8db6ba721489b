"""The address guard, for everything the browser fetches.

`requests` connects through `archiver.net.Resolver`, which checks each address before it
connects. Chromium resolves names itself, so every request of a browser context is routed
through `BrowserGuard` first: its host is resolved and checked by the same Resolver (host
map and allowed networks included), and refused requests are aborted before Chromium
sends a byte. WebSockets opened by a page are checked the same way before they connect.

What the route cannot stop is watched instead, and listed in `breaches`: the address
Chromium actually connected to for every response (a name that resolved differently the
second time: DNS rebinding), and every redirect Chromium followed (Playwright does not
route redirects). `server_refusal` applies the same check to the page a capture loaded.
Known holes, which only a guarded proxy in front of Chromium closes: redirects and
rebinding are seen after the fact; Chromium preconnects to a frame's or page's origin when
a navigation starts, before the route aborts it; WebSockets from workers and WebRTC are
not routed. With a proxy configured the proxy resolves names, and nothing here can see
them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Request, Response, Route, WebSocketRoute
from playwright.async_api import Error as PlaywrightError

from archiver.errors import FetchError
from archiver.net import Resolver

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class BrowserGuard:
    def __init__(self, resolver: Resolver, *, proxied: bool = False) -> None:
        self.resolver = resolver
        self.proxied = proxied
        #: requests aborted before Chromium sent a byte: "url: reason", for the manifest
        self.refused: list[str] = []
        #: refused addresses the browser reached anyway (redirects, rebinding): "url: reason"
        self.breaches: list[str] = []
        self._verdicts: dict[tuple[str, int], str | None] = {}
        self._watchers: set[asyncio.Task[None]] = set()

    async def install(self, context: BrowserContext) -> None:
        if self.proxied:
            return
        await context.route("**/*", self._handle)
        await context.route_web_socket("**/*", self._handle_web_socket)
        context.on("request", lambda request: self._watch(self._on_request(request)))
        context.on("response", lambda response: self._watch(self._on_response(response)))

    async def drain(self) -> None:
        """Wait for the after-the-fact checks of the responses seen so far."""
        while self._watchers:
            await asyncio.gather(*list(self._watchers), return_exceptions=True)

    # -- before a byte is sent ---------------------------------------------------------------
    async def _handle(self, route: Route) -> None:
        url = route.request.url
        verdict = await self._verdict(url)
        if verdict is None:
            await self._continue(route)
            return
        self.refused.append(f"{url[:300]}: {verdict}")
        with contextlib.suppress(PlaywrightError):  # the page may have gone meanwhile
            await route.abort("blockedbyclient")

    async def _handle_web_socket(self, ws: WebSocketRoute) -> None:
        verdict = await self._verdict(ws.url)
        if verdict is None:
            ws.connect_to_server()
            return
        self.refused.append(f"{ws.url[:300]}: {verdict}")
        with contextlib.suppress(PlaywrightError):  # never connected: the page sees a close
            await ws.close(code=1008, reason="refused by the archiver's address guard")

    async def _verdict(self, url: str) -> str | None:
        """Why a request for `url` is refused, or None when it may go ahead."""
        parts = urlsplit(url)
        if not parts.hostname:  # data:, blob:, about: never reach a host
            return None
        try:
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            return f"refused: {url[:100]!r} has an invalid port"
        if port is None:
            return f"refused: the {parts.scheme}: scheme is not checked by the address guard"
        key = (parts.hostname.lower(), port)
        if key not in self._verdicts:
            self._verdicts[key] = await asyncio.to_thread(self._check, *key)
        return self._verdicts[key]

    def _check(self, host: str, port: int) -> str | None:
        try:
            self.resolver.resolve(host, port)
        except FetchError as exc:
            return str(exc)
        return None

    @staticmethod
    async def _continue(route: Route) -> None:
        with contextlib.suppress(PlaywrightError):  # the page may have gone meanwhile
            await route.continue_()

    # -- after the fact: what the route cannot stop ------------------------------------------
    def _watch(self, check: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(check)
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _on_request(self, request: Request) -> None:
        if request.redirected_from is None:
            return
        verdict = await self._verdict(request.url)
        if verdict is not None:
            self._breach(request.url, "the browser followed a redirect to a refused address "
                                      f"(redirects are not routed through the guard): {verdict}")

    async def _on_response(self, response: Response) -> None:
        try:
            server = await response.server_addr()
        except PlaywrightError:  # the context closed meanwhile
            return
        why = self.server_refusal(dict(server) if server else None, response.url)
        if why is not None:
            self._breach(response.url, why)

    def _breach(self, url: str, why: str) -> None:
        entry = f"{url[:300]}: {why}"
        if entry not in self.breaches:
            self.breaches.append(entry)

    def server_refusal(self, server: dict[str, object] | None, url: str) -> str | None:
        """Why the address the browser connected to for `url` is refused, if it is."""
        if self.proxied or not server or not isinstance(server.get("ipAddress"), str):
            return None
        try:
            self.resolver.check(str(server["ipAddress"]), urlsplit(url).hostname or "")
        except FetchError as exc:
            return f"the browser connected to a refused address: {exc}"
        return None
