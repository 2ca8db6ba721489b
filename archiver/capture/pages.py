"""Load one page in a browser context and snapshot it once it shows a concrete signal.

No fixed sleeps: we wait for the platform's "post rendered" or "post gone" selector, then
for the images inside the post, each wait capped by the page's own deadline.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, CDPSession, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from archiver.net import describe_chain, utc_now
from archiver.platforms.base import PageSpec

#: Resolves once the post is shown and settled: "rendered" when an element matching the
#: post's selector is visible and every image inside such elements has loaded, and the
#: page's fonts too (false meanwhile, so the wait goes on); "gone" when no element matches
#: it (the unavailable notice it raced against won). One round trip where the post has
#: settled by the time it shows, instead of one per question.
SETTLED = """sel => {
  const posts = Array.from(document.querySelectorAll(sel));
  if (!posts.length) return 'gone';
  const shown = el => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  if (!posts.some(shown)) return false;
  const loaded = posts.every(el => Array.from(el.querySelectorAll('img'))
    .every(img => img.complete));
  return loaded && document.fonts.status === 'loaded' ? 'rendered' : false;
}"""
#: Of the time left once the post shows, the share its images may take to load: the rest
#: is for the screenshot, the DOM and the text (an image that never loads is noted).
IMAGES_SHARE = 0.5
#: A snapshot of a page taller than this is clipped (a hostile page can be endless).
MAX_SHOT_HEIGHT = 12_000


@dataclass(frozen=True)
class PageResult:
    role: str
    url: str
    signal: str  # rendered | gone | timeout | error
    detail: str | None = None
    final_url: str | None = None
    http_status: int | None = None
    #: address and port the page's server was reached at. Playwright's `server_addr()` is
    #: recorded here; behind the guard's proxy that is the proxy, and the capture replaces
    #: it with the address the proxy connected to (BrowserGuard.server_for)
    server: dict[str, Any] | None = None
    tls: dict[str, Any] | None = None
    screenshot: bytes | None = None
    screenshot_kind: str | None = None  # element | full
    html: str | None = None
    text: str | None = None
    started: str = ""
    elapsed_s: float = 0.0
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> dict[str, Any]:
        return {
            "role": self.role, "url": self.url, "final_url": self.final_url,
            "http_status": self.http_status, "server": self.server, "tls": self.tls,
            "signal": self.signal, "detail": self.detail,
            "screenshot": self.screenshot_kind, "started": self.started,
            "elapsed_s": round(self.elapsed_s, 4), "notes": list(self.notes),
        }


async def render_page(context: BrowserContext, spec: PageSpec, timeout_s: float) -> PageResult:
    """Open `spec.url` in a new page of `context`, wait for a signal, snapshot, close."""
    started, t0 = utc_now(), time.monotonic()
    deadline = t0 + timeout_s

    def remaining_ms() -> float:
        return max(1.0, (deadline - time.monotonic()) * 1000)

    info: dict[str, Any] = {}
    notes: list[str] = []
    try:
        page = await context.new_page()
    except PlaywrightError as exc:
        return PageResult(spec.role, spec.url, "error", f"browser: {str(exc).splitlines()[0]}",
                          started=started)
    page.on("dialog", lambda dialog: dialog.dismiss())
    try:
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")  # so Chromium keeps the certificate chains it saw
        response = await page.goto(spec.url, wait_until="domcontentloaded",
                                   timeout=remaining_ms())
        if response is not None:
            info["final_url"] = response.url
            info["http_status"] = response.status
            info["server"] = dict(await response.server_addr() or {}) or None
            info["tls"] = dict(await response.security_details() or {}) or None
            if info["tls"] is not None:
                info["tls"]["chain"] = await _chain(cdp, response.url)
        with contextlib.suppress(PlaywrightError):  # its events, not needed after this
            await cdp.detach()
        signal, detail = await _wait_signal(page, spec, remaining_ms, notes)
        shot, kind = await _screenshot(page, spec, signal, remaining_ms, notes)
        html = await page.content()
        text = await page.inner_text("body", timeout=remaining_ms())
    except PlaywrightTimeout:
        return PageResult(spec.role, spec.url, "timeout", f"page did not load within "
                          f"{timeout_s:.0f} s", started=started,
                          elapsed_s=time.monotonic() - t0, **info)
    except PlaywrightError as exc:
        return PageResult(spec.role, spec.url, "error", str(exc).splitlines()[0][:500],
                          started=started, elapsed_s=time.monotonic() - t0, **info)
    finally:
        with contextlib.suppress(PlaywrightError):
            await page.close()
    return PageResult(spec.role, spec.url, signal, detail, screenshot=shot, screenshot_kind=kind,
                      html=html, text=text, started=started, elapsed_s=time.monotonic() - t0,
                      notes=tuple(notes), **info)


async def _chain(cdp: CDPSession, url: str) -> list[dict[str, Any]]:
    """The certificate chain Chromium verified for the page's origin."""
    parts = urlsplit(url)
    try:
        got = await cdp.send("Network.getCertificate",
                             {"origin": f"{parts.scheme}://{parts.netloc}"})
    except PlaywrightError:
        return []
    return describe_chain([base64.b64decode(c) for c in got.get("tableNames", [])])


async def _wait_signal(page: Page, spec: PageSpec, remaining_ms: Callable[[], float],
                       notes: list[str]) -> tuple[str, str | None]:
    """Wait for the post or its unavailable notice; once the post shows, for its images and
    the fonts too (a share of the time left: they are noted, not waited for, beyond it)."""
    timeout_ms = remaining_ms()
    try:
        await page.locator(f"{spec.ready}, {spec.gone}").first.wait_for(
            state="visible", timeout=timeout_ms)
    except PlaywrightTimeout:
        return "timeout", f"neither the post nor an unavailable notice appeared within " \
                          f"{timeout_ms / 1000:.0f} s"
    settled = await page.evaluate(SETTLED, spec.ready)  # mostly settled already
    if not settled:
        try:
            settled = await (await page.wait_for_function(
                SETTLED, arg=spec.ready, timeout=remaining_ms() * IMAGES_SHARE)
            ).json_value()
        except PlaywrightTimeout:  # the post shows; an image or a font is still loading
            notes.append("images inside the post had not finished loading")
            return "rendered", None
    if settled == "rendered":
        return "rendered", None
    gone = page.locator(spec.gone).first
    return "gone", (await gone.inner_text(timeout=remaining_ms())).strip()[:500]


async def _screenshot(page: Page, spec: PageSpec, signal: str,
                      remaining_ms: Callable[[], float],
                      notes: list[str]) -> tuple[bytes, str]:
    if signal == "rendered" and spec.element:
        shot = await page.locator(spec.element).first.screenshot(
            type="png", animations="disabled", timeout=remaining_ms())
        return shot, "element"
    height = await page.evaluate("document.documentElement.scrollHeight")
    if isinstance(height, int | float) and height > MAX_SHOT_HEIGHT:
        notes.append(f"page is {int(height)} px tall; screenshot clipped at {MAX_SHOT_HEIGHT}")
        viewport = page.viewport_size or {"width": 1280, "height": 900}
        shot = await page.screenshot(type="png", animations="disabled", timeout=remaining_ms(),
                                     clip={"x": 0, "y": 0, "width": viewport["width"],
                                           "height": MAX_SHOT_HEIGHT}, full_page=True)
    else:
        shot = await page.screenshot(type="png", full_page=True, animations="disabled",
                                     timeout=remaining_ms())
    return shot, "full"
