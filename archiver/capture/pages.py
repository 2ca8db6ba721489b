"""Load one page in a browser context and snapshot it once it shows a concrete signal.

No fixed sleeps: we wait for the platform's "post rendered" or "post gone" selector, then,
once the post shows, for its images and the page's fonts, for a share of the time left
(what has not loaded by then is noted, and the post is captured as it shows).
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

#: JavaScript: `posts`, the elements matching the post's selector `sel` that are visible
#: (a box, and not visibility: hidden: what Playwright calls visible).
_VISIBLE_POSTS = """
  const posts = Array.from(document.querySelectorAll(sel)).filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; });
  const images = posts.flatMap(el => Array.from(el.querySelectorAll('img')));
  const fontsLoaded = document.fonts.status === 'loaded';"""
#: Resolves once the post is shown and settled: "rendered" when an element matching the
#: post's selector is visible and every image inside such elements has loaded, and the
#: page's fonts too (false meanwhile, so the wait goes on); "hidden" when no such element
#: is visible in the document (the unavailable notice may be what showed, or the post is
#: where this cannot look, as in a shadow root: Playwright's locators decide). One round
#: trip where the post has settled by the time it shows, instead of one per question.
SETTLED = "sel => {" + _VISIBLE_POSTS + """
  if (!posts.length) return 'hidden';
  return images.every(img => img.complete) && fontsLoaded ? 'rendered' : false;
}"""
#: What a post that did not settle in time was still loading: {images, of, fonts}.
UNSETTLED = "sel => {" + _VISIBLE_POSTS + """
  return {images: images.filter(img => !img.complete).length, of: images.length,
          fonts: !fontsLoaded};
}"""
#: The box to clip from the page for the post's element screenshot, where that gives the
#: same pixels as Playwright's element screenshot for a fraction of its work (which waits
#: for the element to hold still over animation frames, scrolls it into view and measures
#: it over several round trips): {x, y, width, height} in viewport pixels, rounded outward
#: as Playwright rounds them, when the first visible match lies wholly in the viewport and
#: nothing on the page is animating; else null (not found here, e.g. in a shadow root;
#: partly out of view; or moving), and Playwright's element screenshot takes it.
STILL_BOX = """sel => {
  const el = Array.from(document.querySelectorAll(sel)).find(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; });
  if (!el || document.getAnimations().some(a => a.playState === 'running')) return null;
  const r = el.getBoundingClientRect();
  const x = Math.floor(r.x + 1e-3), y = Math.floor(r.y + 1e-3);
  const x2 = Math.ceil(r.right - 1e-3), y2 = Math.ceil(r.bottom - 1e-3);
  if (x < 0 || y < 0 || x2 > innerWidth || y2 > innerHeight) return null;
  return {x, y, width: x2 - x, height: y2 - y};
}"""
#: Of the time left once the post shows, the share its images may take to load: the rest
#: is for the screenshot, the DOM and the text (an image that never loads is noted).
IMAGES_SHARE = 0.5
#: How often a page may swap the post and its notice while we look before we give up.
SWAPS = 3
FONTS_NOTE = "the page's fonts had not finished loading"
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
    either = page.locator(f"{spec.ready}, {spec.gone}").filter(visible=True).first
    total_ms = remaining_ms()
    for _ in range(SWAPS):
        try:
            await either.wait_for(state="visible", timeout=remaining_ms())
        except PlaywrightTimeout:
            return "timeout", f"neither the post nor an unavailable notice appeared " \
                              f"within {total_ms / 1000:.0f} s"
        settled = await page.evaluate(SETTLED, spec.ready)  # mostly settled already
        if settled is False:  # the post shows; its images or the fonts are still loading
            try:
                settled = await (await page.wait_for_function(
                    SETTLED, arg=spec.ready, timeout=remaining_ms() * IMAGES_SHARE)
                ).json_value()
            except PlaywrightTimeout:
                notes.append(await _unsettled(page, spec))
                return "rendered", None
        if settled == "rendered":
            return "rendered", None
        gone = page.locator(spec.gone).filter(visible=True).first
        if await gone.count():
            return "gone", (await gone.inner_text(timeout=remaining_ms())).strip()[:500]
        if await page.locator(spec.ready).filter(visible=True).count():
            # where the check cannot look (a shadow root): the fonts at least
            await wait_for_fonts(page, remaining_ms() * IMAGES_SHARE, notes)
            return "rendered", None
        # neither shows any more: the page replaced one with the other; look again
    return "timeout", "the post and its unavailable notice kept replacing each other"


async def wait_for_fonts(page: Page, timeout_ms: float, notes: list[str]) -> None:
    """Wait up to `timeout_ms` for the page's web fonts (screenshots do not wait for them:
    `browser.driver_env`); note them if they have not loaded by then."""
    try:
        await page.wait_for_function("document.fonts.status === 'loaded'",
                                     timeout=timeout_ms)
    except PlaywrightTimeout:
        notes.append(FONTS_NOTE)


async def _unsettled(page: Page, spec: PageSpec) -> str:
    """The note for a post captured before it settled: what it was still loading."""
    try:
        state = await page.evaluate(UNSETTLED, spec.ready)
    except PlaywrightError:
        state = {}
    parts = []
    if state.get("images"):
        parts.append(f"images inside the post had not finished loading "
                     f"({state['images']} of {state['of']})")
    if state.get("fonts"):
        parts.append(FONTS_NOTE)
    return "; ".join(parts) or "the post had not finished loading"


async def _screenshot(page: Page, spec: PageSpec, signal: str,
                      remaining_ms: Callable[[], float],
                      notes: list[str]) -> tuple[bytes, str]:
    if signal == "rendered" and spec.element:
        box = await page.evaluate(STILL_BOX, spec.element)
        if box:
            shot = await page.screenshot(type="png", animations="disabled", clip=box,
                                         timeout=remaining_ms())
        else:
            shot = await page.locator(spec.element).filter(visible=True).first.screenshot(
                type="png", animations="disabled", timeout=remaining_ms())
        return shot, "element"
    if signal == "gone":  # the notice's page, as it reads: its fonts too
        await wait_for_fonts(page, remaining_ms() * IMAGES_SHARE, notes)
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
