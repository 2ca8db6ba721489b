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


#: A notice that leaves the page each time the post is looked for (the page's own check,
#: SETTLED, asks `document.querySelectorAll` for it) and comes back half a second later;
#: `then` runs once, at the first look.
def _swapping(then: str = "") -> str:
    return f"""<body>{GONE}<script>
      const own = Document.prototype.querySelectorAll;
      let looks = 0;
      document.querySelectorAll = function (sel) {{
        if (sel === 'article.post') {{
          const gone = own.call(document, 'div.gone')[0];
          if (gone) {{ gone.remove(); setTimeout(() => document.body.append(gone), 500); }}
          if (++looks === 1) {{ {then} }}
        }}
        return own.call(this, sel);
      }};</script></body>"""


def test_a_page_that_keeps_swapping_the_notice_away_ends_with_that_reason(
        browser_loop: LoopThread) -> None:
    """Neither the post nor the notice stays for a look: after SWAPS looks the page is
    given up with that reason, long before its deadline, and kept as it showed."""
    result = _render(browser_loop, _swapping(), timeout_s=30)
    assert (result.signal, result.detail) == (
        "timeout", "the post and its unavailable notice kept replacing each other")
    assert result.screenshot_kind == "full" and result.screenshot
    assert result.elapsed_s < 15


def test_a_notice_the_post_replaces_is_looked_at_again(browser_loop: LoopThread) -> None:
    """A placeholder notice gone at the first look, the post shown after it: the post."""
    result = _render(browser_loop, _swapping(
        f"setTimeout(() => document.body.insertAdjacentHTML('beforeend', `{POST}`), 200);"),
        timeout_s=30)
    assert (result.signal, result.screenshot_kind) == ("rendered", "element")
    assert "Martial law is declared." in (result.text or "")


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


# -- the post's element screenshot -------------------------------------------------------
#: Pages whose post is screenshotted, and whether the post is clipped from a screenshot of
#: the page (CLIP_BOX: still, wholly in view, nothing cutting it off, measured alike by the
#: page and by DevTools) rather than taken by Playwright's element screenshot. Fractional
#: margins test the rounding.
SHOT_PAGES = {
    "in view": (f'<body style="margin: 10.4px 7.6px">{POST}</body>', True),
    "in view, standards mode": (f'<!doctype html><body style="margin: 3.5px">{POST}</body>',
                                True),
    "scrolled to": ('<!doctype html><body><div style="height: 500px"></div>'
                    f'{POST}<div style="height: 3000px"></div>'
                    '<script>scrollTo(0, 400)</script></body>', True),
    "below the fold": (f'<body><div style="height: 3000px"></div>{POST}</body>', False),
    "wider than the view": ('<body><article class="post" style="width: 3000px">'
                            '<p>Martial law is declared.</p></article></body>', False),
    "beside an animation": ('<head><style>@keyframes spin { to { transform: rotate(1turn) } }'
                            '.spin { width: 20px; height: 20px; background: red;'
                            ' animation: spin 1s linear infinite }</style></head>'
                            f'<body><div class="spin"></div>{POST}</body>', False),
    "sliding in": ('<head><style>@keyframes slide { from { transform: translateX(300px) } }'
                   '.post { width: 300px; animation: slide 20s linear }</style></head>'
                   f'<body>{POST}</body>', False),
    "paused mid-slide": ('<head><style>@keyframes slide { from { transform: translateX(300px) }'
                         ' } .post { width: 300px; animation: slide 20s linear paused }'
                         f'</style></head><body>{POST}</body>', False),
    "cut off by a scrolling column": ('<body><div style="height: 100px; overflow: auto">'
                                      '<div style="height: 80px"></div>'
                                      '<article class="post" style="height: 50px">'
                                      '<p>Martial law is declared.</p></article></div></body>',
                                      False),
    "in a shadow root": ('<body><div id="host"></div><script>document.getElementById("host")'
                         f'.attachShadow({{mode: "open"}}).innerHTML = \'{POST}\';</script></body>',
                         False),
    "in a shadow root, before one outside": (
        '<body><div id="host"></div><article class="post" style="width: 200px"><p>Outside.'
        '</p></article><script>document.getElementById("host").attachShadow({mode: "open"})'
        f'.innerHTML = \'{POST}\';</script></body>', True),  # Playwright takes the outside one too
    "measuring falsely": ('<body><script>Element.prototype.getBoundingClientRect = '
                          'function () { return new DOMRect(0, 0, 5, 5); };</script>'
                          f'{POST}</body>', False),
    "after a hidden template": (f'<body><div hidden>{POST}</div>'
                                '<article class="post" style="margin-top: 33.3px; width: 411.5px">'
                                '<p>The visible one.</p></article></body>', True),
}


def _element_screenshot(loop: LoopThread, body: str) -> bytes:
    """Playwright's own element screenshot of the visible post on the page `body`."""
    async def go() -> bytes:
        context = await loop.browser.new_context()
        try:
            await context.route(f"{ORIGIN}/**", lambda route: route.fulfill(
                status=200, content_type="text/html", body=body))
            page = await context.new_page()
            await page.goto(f"{ORIGIN}/")
            post = page.locator("article.post").filter(visible=True).first
            return await post.screenshot(type="png", animations="disabled")
        finally:
            with contextlib.suppress(PlaywrightError):
                await context.close()
    return loop.run(go())


def test_the_post_screenshot_has_the_pixels_of_playwrights_element_screenshot(
        browser_loop: LoopThread) -> None:
    """Where the post is still and wholly in view, it is clipped from a screenshot of the
    page (a fraction of the work: bench/throughput.py), and the clip is recorded; elsewhere
    Playwright's element screenshot takes it. Either way the image is the one Playwright's
    element screenshot makes, byte for byte."""
    for name, (body, clipped) in SHOT_PAGES.items():
        result = _render(browser_loop, body)
        assert (result.signal, result.screenshot_kind) == ("rendered", "element"), name
        assert (result.clip is not None) is clipped, name
        assert result.describe()["clip"] == result.clip, name
        assert result.screenshot == _element_screenshot(browser_loop, body), name


def test_the_clip_is_the_posts_box_rounded_outward(browser_loop: LoopThread) -> None:
    result = _render(browser_loop, SHOT_PAGES["in view"][0])
    assert result.clip is not None and result.screenshot
    # the body's margins are 10.4 and 7.6 px: the box starts at the pixel holding them
    assert (result.clip["x"], result.clip["y"]) == (7, 10)
    shot = result.screenshot
    width, height = int.from_bytes(shot[16:20], "big"), int.from_bytes(shot[20:24], "big")
    scale = browser_loop.browser.config.device_scale_factor
    assert (width, height) == (round(result.clip["width"] * scale),
                               round(result.clip["height"] * scale))


def test_a_post_its_page_moves_after_the_clip_was_measured_is_taken_again(
        browser_loop: LoopThread) -> None:
    """Motion driven by a script, not by an animation, shows only in the check after the
    screenshot (the page's second measure of the post): the clip is dropped, and
    Playwright's element screenshot takes the post where it now is."""
    moving = ('<body style="margin: 8px"><script>let measured = 0;'
              'const own = document.getAnimations.bind(document);'
              'document.getAnimations = () => { if (++measured === 2) document.querySelector('
              '"article.post").style.marginLeft = "40px"; return own(); };</script>'
              f'{POST}</body>')
    moved = ('<body style="margin: 8px"><article class="post" style="margin-left: 40px">'
             '<p>Martial law is declared.</p></article></body>')
    result = _render(browser_loop, moving)
    assert (result.signal, result.screenshot_kind, result.clip) == ("rendered", "element", None)
    assert result.screenshot == _element_screenshot(browser_loop, moved)
    assert result.screenshot != _element_screenshot(browser_loop, moving)


def test_a_post_that_did_not_settle_is_taken_by_playwrights_element_screenshot(
        browser_loop: LoopThread) -> None:
    """A photo still loading may yet move the post: no clip then."""
    body = ('<body><article class="post"><p>Photo:</p>'
            '<img src="/never/photo.jpg" width="40" height="40"></article></body>')
    result = _render(browser_loop, body, timeout_s=8)
    assert result.notes and result.clip is None
    assert result.screenshot_kind == "element" and result.screenshot
