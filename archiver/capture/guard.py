"""The address guard, for everything the browser fetches.

`requests` connects through `archiver.net.Resolver`, which checks each address before it
connects. Chromium resolves names itself, so every request of a browser context is routed
through `BrowserGuard` first: its host is resolved and checked by the same Resolver (host
map and allowed networks included), and refused requests are aborted before Chromium
sends a byte. After a page loads, the address Chromium actually connected to is checked
again (`server_refusal`), which catches a name that resolved differently the second time.
With a proxy configured the proxy resolves names, and nothing here can see them.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Route
from playwright.async_api import Error as PlaywrightError

from archiver.errors import FetchError
from archiver.net import Resolver

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class BrowserGuard:
    def __init__(self, resolver: Resolver, *, proxied: bool = False) -> None:
        self.resolver = resolver
        self.proxied = proxied
        self.refused: list[str] = []  # "url: reason", for the manifest
        self._verdicts: dict[tuple[str, int], str | None] = {}

    async def install(self, context: BrowserContext) -> None:
        if not self.proxied:
            await context.route("**/*", self._handle)

    async def _handle(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        port = parts.port if parts.port else _DEFAULT_PORTS.get(parts.scheme)
        if port is None or not parts.hostname:  # data:, blob:, about: never reach a host
            await self._continue(route)
            return
        key = (parts.hostname.lower(), port)
        if key not in self._verdicts:
            self._verdicts[key] = await asyncio.to_thread(self._check, *key)
        verdict = self._verdicts[key]
        if verdict is None:
            await self._continue(route)
            return
        self.refused.append(f"{url[:300]}: {verdict}")
        with contextlib.suppress(PlaywrightError):  # the page may have gone meanwhile
            await route.abort("blockedbyclient")

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

    def server_refusal(self, server: dict[str, object] | None, url: str) -> str | None:
        """Why the address the browser connected to for `url` is refused, if it is."""
        if self.proxied or not server or not isinstance(server.get("ipAddress"), str):
            return None
        try:
            self.resolver.check(str(server["ipAddress"]), urlsplit(url).hostname or "")
        except FetchError as exc:
            return f"the browser connected to a refused address: {exc}"
        return None
