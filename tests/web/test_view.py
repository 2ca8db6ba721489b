"""The web view in real Chromium (the session's browser) against `archiver serve`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.async_api import Page

from tests.harness import SEED_IDS, LoopThread
from tests.web.conftest import HOSTILE_ARTICLE, HOSTILE_ID, HOSTILE_TEXT, Server

pytestmark = pytest.mark.browser
T = TypeVar("T")
SEARCH = f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}?s=20&t=Zk3aQ1ur-abcdEFgh"


def in_browser(loop: LoopThread, server: Server, work: Callable[[Page], Awaitable[T]],
               width: int = 1280, height: int = 900, token: bool = True) -> T:
    async def run() -> T:
        context = await loop.browser.new_context()
        try:
            if token:
                await context.set_extra_http_headers(
                    {"Authorization": f"Bearer {server.token}"})
            page = await context.new_page()
            await page.set_viewport_size({"width": width, "height": height})
            return await work(page)
        finally:
            await context.close()

    return loop.run(run())


def test_search_by_tracking_url_reaches_a_verified_post(browser_loop: LoopThread,
                                                        server: Server) -> None:
    async def work(page: Page) -> dict[str, Any]:
        await page.goto(server.base + "/")
        await page.locator("main form.filters input[name=q]").fill(SEARCH)
        await page.locator("main form.filters button[type=submit]").click()
        await page.wait_for_load_state()
        shot = page.locator("article.capture .shots img").first
        await shot.wait_for(state="visible")
        return {
            "url": page.url,
            "heading": await page.locator("h1").first.inner_text(),
            "loaded": await shot.evaluate("img => img.complete && img.naturalWidth > 100"),
            "box": await shot.bounding_box(),
            "verified": await page.locator("article.capture .verify").first.get_attribute(
                "data-verified"),
            "text": await page.locator("blockquote.post-text").first.inner_text(),
        }

    seen = in_browser(browser_loop, server, work)
    assert seen["url"] == f"{server.base}/posts/twitter/{SEED_IDS[0]}"
    assert "@NikolPashinyan" in seen["heading"]
    assert seen["loaded"] is True and seen["box"]["width"] > 200 and seen["box"]["height"] > 100
    assert seen["verified"] == "ok"
    assert "loi martiale" in seen["text"]


def test_verification_turns_red_when_a_byte_changes(browser_loop: LoopThread,
                                                    server: Server) -> None:
    capture = server.get(f"/api/v1/posts/twitter/{SEED_IDS[1]}?verify=false").json()[
        "captures"][0]
    target = server.archive.data_dir / capture["directory"] / "embed.txt"
    original = target.read_bytes()

    async def state(page: Page) -> tuple[str | None, str]:
        await page.goto(f"{server.base}/posts/twitter/{SEED_IDS[1]}")
        box = page.locator("article.capture .verify").first
        return await box.get_attribute("data-verified"), await box.inner_text()

    assert in_browser(browser_loop, server, state)[0] == "ok"
    try:
        target.write_bytes(original[:-1] + bytes([original[-1] ^ 0x01]))
        verdict, text = in_browser(browser_loop, server, state)
        assert verdict == "failed"
        assert "embed.txt" in text and "Verification failed" in text
    finally:
        target.write_bytes(original)
    assert in_browser(browser_loop, server, state)[0] == "ok"


def test_hostile_text_is_shown_as_text_and_nothing_runs(browser_loop: LoopThread,
                                                        server: Server) -> None:
    async def work(page: Page) -> dict[str, Any]:
        dialogs: list[str] = []
        page.on("dialog", lambda d: dialogs.append(d.message))
        await page.goto(f"{server.base}/posts/twitter/{HOSTILE_ID}")
        post = {"text": await page.locator("blockquote.post-text").first.inner_text(),
                "planted": await page.locator("blockquote.post-text script, "
                                              "blockquote.post-text img").count(),
                "xss": await page.evaluate("() => window.__xss === undefined ? null : "
                                           "String(window.__xss)")}
        href = f"/search?q={HOSTILE_ARTICLE}"
        await page.goto(server.base + href)
        return {**post, "article_title": await page.locator("h1").first.inner_text(),
                "article_xss": await page.evaluate("() => window.__xss === undefined ? null : "
                                                   "String(window.__xss)"),
                "dialogs": dialogs,
                "scripts": await page.locator("script").count()}

    seen = in_browser(browser_loop, server, work)
    assert '<script>window.__xss = "script"</script>' in seen["text"]
    assert "onerror=" in seen["text"]
    assert seen["planted"] == 0 and seen["xss"] is None
    assert seen["article_title"].startswith("<script>window.__xss = 'title'</script>")
    assert seen["article_xss"] is None and seen["dialogs"] == [] and seen["scripts"] == 0
    page = server.get(f"/posts/twitter/{HOSTILE_ID}")
    assert "script-src" not in page.headers["Content-Security-Policy"]  # none allowed
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert HOSTILE_TEXT not in page.text  # never raw in the HTML


def test_archived_html_is_downloaded_not_rendered(browser_loop: LoopThread,
                                                  server: Server) -> None:
    capture = server.get(f"/api/v1/posts/twitter/{HOSTILE_ID}?verify=false").json()[
        "captures"][0]
    href = next(a["href"] for a in capture["artifacts"] if a["name"] == "embed.html")

    async def work(page: Page) -> tuple[str, str]:
        try:
            await page.goto(server.base + href)
        except Exception as exc:  # Chromium starts a download instead of a page
            return "refused", str(exc).splitlines()[0]
        return "rendered", await page.content()

    outcome, detail = in_browser(browser_loop, server, work)
    assert outcome == "refused" and "Download" in detail, detail


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_pages_fit_laptop_and_phone_widths(browser_loop: LoopThread, server: Server,
                                           tmp_path: Path, width: int, height: int) -> None:
    article = server.get("/api/v1/articles").json()["items"][-1]["href"]
    paths = ["/", "/posts", f"/posts/twitter/{SEED_IDS[0]}", article, "/captures",
             "/articles"]

    async def work(page: Page) -> dict[str, int]:
        overflow = {}
        for path in paths:
            await page.goto(server.base + path)
            overflow[path] = await page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth")
            await page.screenshot(path=str(tmp_path / f"{len(overflow)}-{width}.png"),
                                  full_page=True)
        return overflow

    overflow = in_browser(browser_loop, server, work, width, height)
    assert all(v <= 0 for v in overflow.values()), overflow


def test_without_a_token_the_browser_gets_the_login_page(browser_loop: LoopThread,
                                                         server: Server) -> None:
    async def work(page: Page) -> tuple[int, str, str]:
        answer = await page.goto(f"{server.base}/posts/twitter/{SEED_IDS[0]}")
        assert answer is not None
        status = answer.status
        login = await page.locator("h1").inner_text()
        await page.locator("input[name=token]").fill(server.token)
        await page.locator("main button[type=submit]").click()
        await page.wait_for_load_state()
        return status, login, await page.locator("h1").first.inner_text()

    status, login, after = in_browser(browser_loop, server, work, token=False)
    assert status == 401 and login == "Log in"
    assert "@NikolPashinyan" in after  # back on the page asked for
