"""The article as Chromium renders it: DOM after scripts ran, and a screenshot.

Embed scripts (widgets.js and friends) turn pasted markup into iframes and inject embeds
the HTML never carried. We wait for the load event, then for the network to go quiet,
capped by `article_settle`, since no single element says "all embeds are in".
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Response
from playwright.async_api import TimeoutError as PlaywrightTimeout

from archiver.capture.browser import BrowserSession
from archiver.capture.guard import BrowserGuard
from archiver.capture.pages import MAX_SHOT_HEIGHT, PageResult, wait_for_fonts
from archiver.errors import BrowserError
from archiver.net import utc_now


async def render_article(browser: BrowserSession, url: str, timeout_s: float,
                         settle_s: float, guard: BrowserGuard | None = None) -> PageResult:
    """Load `url` in a fresh context; return its rendered DOM, text and a screenshot.

    With `guard`, the context goes through the guard's proxy, which is closed with it."""
    started, t0 = utc_now(), time.monotonic()
    notes: list[str] = []
    try:
        context = await (guard.new_context(browser) if guard else browser.new_context())
    except (BrowserError, PlaywrightError) as exc:
        if guard is not None:
            await guard.close()
        return PageResult("article", url, "error", str(exc).splitlines()[0], started=started)
    try:
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.dismiss())
        response = await page.goto(url, wait_until="domcontentloaded",
                                   timeout=timeout_s * 1000)
        try:  # a resource that never finishes (a stalled font, a tracker) holds "load" off
            await page.wait_for_load_state(
                "load", timeout=max(1.0, t0 + timeout_s - time.monotonic()) * 1000)
        except PlaywrightTimeout:
            notes.append(f"page still loading after {timeout_s:.0f} s; taken as it was")
        try:
            await page.wait_for_load_state("networkidle", timeout=settle_s * 1000)
        except PlaywrightTimeout:
            notes.append(f"network still busy after {settle_s:.0f} s; DOM taken as it was")
        await wait_for_fonts(page, settle_s * 1000, notes)
        height = await page.evaluate("document.documentElement.scrollHeight")
        clip = None
        if isinstance(height, int | float) and height > MAX_SHOT_HEIGHT:
            notes.append(f"page is {int(height)} px tall; screenshot clipped")
            width = (page.viewport_size or {"width": 1280})["width"]
            clip = {"x": 0, "y": 0, "width": width, "height": MAX_SHOT_HEIGHT}
        shot = await page.screenshot(type="png", full_page=True, clip=clip,  # type: ignore[arg-type]
                                     animations="disabled", timeout=timeout_s * 1000)
        return PageResult(
            "article", url, "rendered", None,
            final_url=response.url if response else page.url,
            http_status=response.status if response else None,
            server=await _server(response, guard),
            screenshot=shot, screenshot_kind="full", html=await page.content(),
            text=await page.inner_text("body"), started=started,
            elapsed_s=time.monotonic() - t0,
            notes=tuple(notes) + tuple(f"refused: {r}" for r in (guard.refused if guard else ())))
    except PlaywrightTimeout:
        return PageResult("article", url, "timeout", f"article did not load within "
                          f"{timeout_s:.0f} s", started=started, elapsed_s=time.monotonic() - t0)
    except PlaywrightError as exc:
        return PageResult("article", url, "error", str(exc).splitlines()[0][:500],
                          started=started, elapsed_s=time.monotonic() - t0)
    finally:
        with contextlib.suppress(PlaywrightError):
            await context.close()
        if guard is not None:
            await guard.close()


async def _server(response: Response | None, guard: BrowserGuard | None
                  ) -> dict[str, Any] | None:
    """The address the page came from: the guard's proxy knows it (Playwright would name
    the proxy); without a guard, Playwright's."""
    if response is None:
        return None
    if guard is not None and guard.proxy is not None:
        return guard.server_for(response.url)
    return dict(await response.server_addr() or {}) or None
