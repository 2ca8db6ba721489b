"""Load one page in a browser context and snapshot it once it shows a concrete signal.

No fixed sleeps: we wait for the platform's "post rendered" or "post gone" selector, then,
once the post shows, for its images and the page's fonts, for a share of the time left
(what has not loaded by then is noted, and the post is captured as it shows).
"""

from __future__ import annotations

import base64
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, CDPSession, FloatRect, Locator, Page
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
#: The box of the post's element `sel` in viewport pixels, where the post can be clipped
#: from a screenshot of the page as it stands, for the pixels Playwright's element
#: screenshot would take with a good deal more work (it waits for the element to hold still
#: over animation frames, scrolls it into view and measures it over several round trips):
#: nothing on the page animating or paused mid-animation (the screenshot finishes such
#: animations, which may move the post), whole-pixel scroll offsets and no pinch zoom (the
#: box is rounded as Playwright rounds an element's), and no ancestor that scrolls, clips or
#: contains paint cutting part of it off (Playwright would scroll that ancestor). Else null,
#: as on any doubt or exception, and Playwright's element screenshot takes the post. The
#: element is the first visible match by Playwright's test of visible; one in a shadow root
#: is not found here. The page's scripts could mislead this check, so the box is compared
#: with the one DevTools measures for Playwright's own match (`_clip_box`).
CLIP_BOX = """sel => { try {
  if (document.getAnimations().some(a => a.playState !== 'finished' && a.playState !== 'idle'))
    return null;
  const vv = window.visualViewport;
  if (scrollX % 1 || scrollY % 1 || (vv && (vv.scale !== 1 || vv.offsetLeft || vv.offsetTop)))
    return null;
  const el = Array.from(document.querySelectorAll(sel)).find(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && el.checkVisibility()
      && getComputedStyle(el).visibility === 'visible'; });
  if (!el) return null;
  const r = el.getBoundingClientRect();
  for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement;
       a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.clipPath !== 'none') return null;
    if (s.overflowX === 'visible' && s.overflowY === 'visible' && !/paint|strict|content/
        .test(s.contain)) continue;
    const c = a.getBoundingClientRect();
    const left = c.left + a.clientLeft, top = c.top + a.clientTop;
    if (r.left < left || r.top < top || r.right > left + a.clientWidth
        || r.bottom > top + a.clientHeight) return null;
  }
  return {x: r.x, y: r.y, width: r.width, height: r.height};
} catch (e) { return null; } }"""
#: How far, in CSS pixels, the page's own measure of the post's box may differ from
#: DevTools' (which keeps layout units of 1/64 px) and still be the same box.
SAME_BOX_PX = 0.05
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
    #: where the element screenshot was clipped from a screenshot of the page (viewport
    #: pixels); None when Playwright's element screenshot took it (see CLIP_BOX)
    clip: FloatRect | None = None
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
            "screenshot": self.screenshot_kind, "clip": self.clip, "started": self.started,
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
        shot, kind, clip = await _screenshot(page, spec, signal, remaining_ms, notes)
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
                      clip=clip, html=html, text=text, started=started,
                      elapsed_s=time.monotonic() - t0, notes=tuple(notes), **info)


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
                      notes: list[str]) -> tuple[bytes, str, FloatRect | None]:
    if signal == "rendered" and spec.element:
        post = page.locator(spec.element).filter(visible=True).first
        if not notes:  # the post settled: clip it from the page if that is the same
            clip = await _clip_box(page, post, spec.element, remaining_ms)
            if clip is not None:
                box, seen = clip
                shot = await page.screenshot(type="png", animations="disabled", clip=box,
                                             timeout=remaining_ms())
                with contextlib.suppress(PlaywrightError):
                    if await page.evaluate(CLIP_BOX, spec.element) == seen:  # it held still
                        return shot, "element", box
        shot = await post.screenshot(type="png", animations="disabled", timeout=remaining_ms())
        return shot, "element", None
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
    return shot, "full", None


async def _clip_box(page: Page, post: Locator, selector: str,
                    remaining_ms: Callable[[], float]
                    ) -> tuple[FloatRect, dict[str, float]] | None:
    """(the clip, the page's measure it came from) when `CLIP_BOX` finds the post clippable,
    DevTools measures the same box for Playwright's match, and the box, rounded outward as
    Playwright rounds an element's (`helper.enclosingIntRect`), lies wholly in the
    viewport; else None, and Playwright's element screenshot takes the post."""
    viewport = page.viewport_size
    try:
        seen = await page.evaluate(CLIP_BOX, selector)
        if not isinstance(seen, dict) or viewport is None:
            return None
        found = await post.bounding_box(timeout=remaining_ms())
    except PlaywrightError:
        return None
    if found is None or any(abs(found[k] - seen.get(k, math.inf)) > SAME_BOX_PX
                            for k in ("x", "y", "width", "height")):
        return None  # another element than Playwright's, or the page's measure is not true
    x, y = math.floor(found["x"] + 1e-3), math.floor(found["y"] + 1e-3)
    right = math.ceil(found["x"] + found["width"] - 1e-3)
    bottom = math.ceil(found["y"] + found["height"] - 1e-3)
    if x < 0 or y < 0 or right > viewport["width"] or bottom > viewport["height"] \
            or right <= x or bottom <= y:
        return None
    return FloatRect(x=x, y=y, width=right - x, height=bottom - y), seen
