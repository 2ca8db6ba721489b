"""How a page decides it shows the post, or that the post is gone: pages served by a route
in a context of the session's Chromium (nothing leaves the browser)."""

from __future__ import annotations

import asyncio
import contextlib

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Route

from archiver.capture.pages import PageResult, render_page
from archiver.platforms.base import PageSpec
from tests.harness import LoopThread

ORIGIN = "https://pages.test"
POST = '<article class="post"><p>Martial law is declared.</p></article>'
GONE = '<div class="gone">This post is unavailable.</div>'


def _render(loop: LoopThread, body: str, timeout_s: float = 6,
            stalled: str = "/never") -> PageResult:
    """Serve `body` at ORIGIN/ and render it; requests under `stalled` never finish."""
    async def go() -> PageResult:
        context = await loop.browser.new_context()
        waiting: list[asyncio.Future[None]] = []

        async def serve(route: Route) -> None:
            if route.request.url.startswith(ORIGIN + stalled):
                hold: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                waiting.append(hold)
                await hold  # answered never; released when the test is done
                return
            await route.fulfill(status=200, content_type="text/html", body=body)

        await context.route(f"{ORIGIN}/**", serve)
        try:
            spec = PageSpec(role="embed", url=f"{ORIGIN}/", ready="article.post",
                            gone="div.gone", element="article.post")
            return await render_page(context, spec, timeout_s)
        finally:
            for hold in waiting:
                hold.set_result(None)
            with contextlib.suppress(PlaywrightError):
                await context.close()
    return loop.run(go())


def test_a_post_shown_is_rendered_with_its_element_screenshot(
        browser_loop: LoopThread) -> None:
    result = _render(browser_loop, f"<body>{POST}</body>")
    assert (result.signal, result.screenshot_kind, result.notes) == ("rendered", "element", ())
    assert "Martial law is declared." in (result.text or "")


def test_a_hidden_post_beside_a_visible_notice_is_gone(browser_loop: LoopThread) -> None:
    """Widgets keep a hidden post template when they show the unavailable notice: the
    notice decides, at once, and its text is the reason."""
    body = f'<body><div hidden>{POST}</div>{GONE}</body>'
    result = _render(browser_loop, body, timeout_s=20)
    assert (result.signal, result.detail) == ("gone", "This post is unavailable.")
    assert result.elapsed_s < 10


def test_a_post_inside_a_shadow_root_is_rendered(browser_loop: LoopThread) -> None:
    """Playwright's locators see into open shadow roots; the page's own check does not,
    and must not take that for the post being gone."""
    body = f"""<body><div id="host"></div><script>
      document.getElementById('host').attachShadow({{mode: 'open'}}).innerHTML =
        '{POST}';</script></body>"""
    result = _render(browser_loop, body, timeout_s=20)
    assert (result.signal, result.screenshot_kind) == ("rendered", "element")
    assert result.elapsed_s < 10


def test_a_font_that_never_loads_is_noted_and_the_post_captured(
        browser_loop: LoopThread) -> None:
    body = f"""<head><style>
      @font-face {{ font-family: Slow; src: url(/never/slow.woff2); }}
      .post {{ font-family: Slow, sans-serif; }}</style></head><body>{POST}</body>"""
    result = _render(browser_loop, body, timeout_s=8)
    assert (result.signal, result.screenshot_kind) == ("rendered", "element")
    assert result.notes == ("the page's fonts had not finished loading",)


def test_a_notice_whose_font_never_loads_is_gone_with_a_full_screenshot_and_the_note(
        browser_loop: LoopThread) -> None:
    body = f"""<head><style>
      @font-face {{ font-family: Slow; src: url(/never/slow.woff2); }}
      body {{ font-family: Slow, sans-serif; }}</style></head><body>{GONE}</body>"""
    result = _render(browser_loop, body, timeout_s=8)
    assert (result.signal, result.detail) == ("gone", "This post is unavailable.")
    assert result.screenshot_kind == "full" and result.screenshot
    assert result.notes == ("the page's fonts had not finished loading",)


def test_an_image_that_never_loads_is_counted_in_the_note(browser_loop: LoopThread) -> None:
    """Only the visible post's images count: a hidden template's are not the post's."""
    template = ('<div hidden><article class="post"><img src="/never/a.jpg">'
                '<img src="/never/b.jpg"></article></div>')
    body = (f'<body>{template}<article class="post"><p>Photo:</p>'
            '<img src="/never/photo.jpg" width="40" height="40"></article></body>')
    result = _render(browser_loop, body, timeout_s=8)
    assert (result.signal, result.screenshot_kind) == ("rendered", "element")
    assert result.notes == ("images inside the post had not finished loading (1 of 1)",)
