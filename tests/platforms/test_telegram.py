"""Telegram: post URLs and ids, the widget page as data, and its notices."""

from __future__ import annotations

import pytest

from archiver.discover import discover_html
from archiver.models import CaptureStatus, HttpExchange, PostRef
from archiver.platforms.telegram import Telegram
from tests.fakeplatform import fediverse_render as render
from tests.fakeplatform.fediverse import fixture, telegram_posts

TG = Telegram()
_REF = TG.match_url("https://t.me/eskafloodwatch/1842")
assert _REF is not None
POST: PostRef = _REF


@pytest.mark.parametrize("url, post_id", [
    ("https://t.me/EskaFloodWatch/1842", "eskafloodwatch/1842"),
    ("http://www.t.me/eskafloodwatch/1842/", "eskafloodwatch/1842"),
    ("//t.me/eskafloodwatch/01842", "eskafloodwatch/1842"),
    ("https://telegram.dog/eskafloodwatch/1842#top", "eskafloodwatch/1842"),
    ("https://t.me/s/eskafloodwatch/1842?before=1900", "eskafloodwatch/1842"),
])
def test_post_urls(url: str, post_id: str) -> None:
    ref = TG.match_url(url)
    assert ref is not None and ref.post_id == post_id
    assert ref.author == "eskafloodwatch"
    assert ref.url == f"https://t.me/{post_id}"


@pytest.mark.parametrize("url", [
    "https://t.me/eskafloodwatch", "https://t.me/eskafloodwatch/1842/1850",
    "https://t.me/addstickers/12345", "https://t.me/abc/12",  # names have 4+ characters
    "https://t.me/durov/43?embed=1&discussion=1&comments_limit=5",
    "https://example.org/eskafloodwatch/1842", "https://oauth.telegram.org/embed/bot",
])
def test_not_posts(url: str) -> None:
    assert TG.match_url(url) is None


def test_ids_from_markup_take_the_channel_as_author() -> None:
    ref = TG.post_from_id(" Durov/43 ")
    assert ref is not None and (ref.post_id, ref.author, ref.url) == (
        "durov/43", "durov", "https://t.me/durov/43")
    assert TG.post_from_id("durov") is None
    assert TG.post_from_id("c/123/4") is None


def test_capture_plan() -> None:
    (data,) = TG.data_requests(POST)
    assert data.url == "https://t.me/eskafloodwatch/1842?embed=1"
    (page,) = TG.pages(POST)
    assert page.url.startswith(data.url) and page.required
    assert ".tgme_widget_message_error" in page.gone
    assert page.element is not None


def widget(body: str, status: int = 200) -> dict[str, HttpExchange]:
    page = render.telegram_page(body).encode()
    return {"widget.html": HttpExchange("GET", "https://t.me/x?embed=1", "https://t.me/x?embed=1",
                                        status, (("Content-Type", "text/html"),), page)}


def live_body(post_id: str = "eskafloodwatch/1842") -> str:
    post = telegram_posts()[post_id]
    channel = fixture("telegram")["channels"][post_id.split("/")[0]]
    return render.telegram_message(post, channel, userpic=True)


def test_live_post_is_read_from_the_widget() -> None:
    data = TG.interpret(POST, widget(live_body()))
    assert data.status is CaptureStatus.LIVE
    assert data.text == ("⚠️ Water level at the Eska bridge gauge: 6.84 m and rising.\n\n"
                         "Evacuation of the lower town begins at 08:00. Follow the orange signs "
                         "to the school on Hill Street.")
    assert (data.author, data.author_name) == ("eskafloodwatch", "Eska Flood Watch")
    assert data.created_at == "2024-09-14T05:32:10+00:00"
    assert data.media == ("https://cdn4.telesco.pe/file/eskafloodwatch-1842-gauge.jpg",)


def test_a_reply_quote_is_not_the_post_text() -> None:
    body = live_body().replace(
        '<div class="tgme_widget_message_author',
        '<a class="tgme_widget_message_reply" href="https://t.me/eskafloodwatch/1800"><div class='
        '"tgme_widget_message_text js-message_reply_text">The older post</div></a>'
        '<div class="tgme_widget_message_author', 1)
    data = TG.interpret(POST, widget(body))
    assert data.text is not None and data.text.startswith("⚠️ Water level")


@pytest.mark.parametrize("state, status, reason", [
    ("deleted", CaptureStatus.DELETED, "Post not found"),
    ("private", CaptureStatus.UNAVAILABLE, "private channel"),
    ("blocked", CaptureStatus.UNAVAILABLE, "blocked"),
    ("login_wall", CaptureStatus.UNAVAILABLE, "Telegram app"),
])
def test_notices(state: str, status: CaptureStatus, reason: str) -> None:
    data = TG.interpret(POST, widget(render.telegram_notice(state, "https://t.me/x/1")))
    assert data.status is status and reason in (data.reason or "")
    # the render's notice means the same when the data could not decide
    assert TG.gone_status(render.TELEGRAM_NOTICES[state])[0] is status


@pytest.mark.parametrize("responses, reason", [
    ({}, "not fetched"),
    (widget("", 429), "429"),
    (widget("", 502), "HTTP 502"),
    (widget("<p>Something else entirely</p>"), "no message"),
])
def test_failures(responses: dict[str, HttpExchange], reason: str) -> None:
    data = TG.interpret(POST, responses)
    assert data.status is CaptureStatus.FAILED and reason in (data.reason or "")


def test_an_answer_for_another_post_fails() -> None:
    data = TG.interpret(POST, widget(live_body("metrotransit_ex/5120")))
    assert data.status is CaptureStatus.FAILED and "another post" in (data.reason or "")


def test_app_only_landing_page_is_unavailable() -> None:
    body = ('<div class="tgme_page"><div class="tgme_page_description">If you have Telegram, '
            'you can view this post right away.</div><div class="tgme_page_action"><a>View in '
            "Telegram</a></div></div>")
    assert TG.interpret(POST, widget(body)).status is CaptureStatus.UNAVAILABLE


def test_unknown_notice_is_unavailable_with_its_text() -> None:
    assert TG.gone_status("  Something odd  ") == (CaptureStatus.UNAVAILABLE, "Something odd")


def test_the_rendered_widget_and_its_script_are_one_embed() -> None:
    # telegram-widget.js inserts the iframe before itself and stays in the page
    page = ('<p>a</p><iframe id="telegram-post-durov-43" src="https://t.me/durov/43?embed=1">'
            '</iframe><script async src="https://telegram.org/js/telegram-widget.js?22" '
            'data-telegram-post="durov/43"></script><p>b</p>'
            '<script async src="https://telegram.org/js/telegram-widget.js?22" '
            'data-telegram-post="durov/43"></script>')
    embeds = discover_html(page)
    assert [(e.found_in.value, e.post.post_id if e.post else None) for e in embeds] == [
        ("iframe", "durov/43"), ("script", "durov/43")]
