"""Instagram: URLs and ids, the captioned embed's answers, and its notices."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archiver.models import CaptureStatus, HttpExchange
from archiver.platforms.instagram import DATA_NAME, GONE, READY, Instagram
from archiver.platforms.meta_embeds import LOGIN_WALL, classify_notice
from tests.fakeplatform import meta_render as render

IG = Instagram()
CODE = "CzK3pLqN8xR"
POST = IG.match_url(f"https://www.instagram.com/p/{CODE}/")
assert POST is not None
EMBED_URL = f"https://www.instagram.com/p/{CODE}/embed/captioned/"
RECORDS = {r["id"]: r for r in json.loads((render.ASSETS / "instagram.json").read_text())["posts"]}


def exchange(status: int = 200, body: str | bytes = "", *, final_url: str = EMBED_URL,
             content_type: str = "text/html; charset=utf-8",
             redirects: tuple[str, ...] = ()) -> HttpExchange:
    raw = body.encode() if isinstance(body, str) else body
    return HttpExchange("GET", EMBED_URL, final_url, status,
                        (("Content-Type", content_type),), raw, redirects)


def interpret(ex: HttpExchange) -> Any:
    return IG.interpret(POST, {DATA_NAME: ex})


# -- identity -------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    f"https://www.instagram.com/reel/{CODE}/?igsh=abc",
    f"https://instagram.com/tv/{CODE}",
    f"https://www.instagram.com/cityfloodwatch_ex/p/{CODE}/",
    f"https://www.ddinstagram.com/p/{CODE}/",
    f"https://d.ddinstagram.com/p/{CODE}/",
    f"https://www.kkinstagram.com/reel/{CODE}/",
    f"http://instagr.am/p/{CODE}/",
    f"//www.instagram.com/p/{CODE}/embed/",
])
def test_every_form_is_one_post_with_one_canonical_url(url: str) -> None:
    ref = IG.match_url(url)
    assert ref is not None and ref.key == ("instagram", CODE)
    assert ref.url == f"https://www.instagram.com/p/{CODE}/"


def test_the_handle_is_never_part_of_the_canonical_url() -> None:
    assert IG.canonical_url(CODE, "cityfloodwatch_ex") == f"https://www.instagram.com/p/{CODE}/"
    ref = IG.post_from_id(CODE, "cityfloodwatch_ex")
    assert ref is not None and ref.author == "cityfloodwatch_ex"


@pytest.mark.parametrize("raw", ["", "abc", "CzK3p LqN8xR", "../../etc", "C" * 60])
def test_ids_from_markup_are_checked(raw: str) -> None:
    assert IG.post_from_id(raw) is None


def test_capture_plan_is_the_captioned_embed() -> None:
    (request,) = IG.data_requests(POST)
    assert (request.name, request.url, request.media_type) == (DATA_NAME, EMBED_URL, "text/html")
    embed, post_page = IG.pages(POST)
    assert (embed.url, embed.ready, embed.gone, embed.required) == (EMBED_URL, READY, GONE, True)
    assert embed.element == "div.Embed"
    assert (post_page.url, post_page.required) == (POST.url, False)


# -- reading the embed ----------------------------------------------------------------------
def test_a_live_post_is_read_from_the_embed() -> None:
    data = interpret(exchange(body=render.instagram_embed(RECORDS[CODE])))
    assert data.status is CaptureStatus.LIVE and data.reason is None
    assert data.author == "cityfloodwatch_ex"
    assert data.text is not None and data.text.startswith("River level at the Old Bridge gauge")
    assert data.text.endswith("Please keep away from the water’s edge. #HarbourCity #flood")
    assert "\n\n" in data.text and "View all" not in data.text
    assert not data.text.startswith("cityfloodwatch_ex")
    assert data.created_at == "2023-11-04T07:42:10.000Z"
    assert data.media == (f"https://scontent.cdninstagram.com/v/t51.2885-15/{CODE}_640x640_n.png",)


def test_a_reel_is_read_too() -> None:
    reel = RECORDS["Cy7Hn2WqL0a"]
    ref = IG.match_url("https://www.instagram.com/reel/Cy7Hn2WqL0a/")
    assert ref is not None
    data = IG.interpret(ref, {DATA_NAME: exchange(body=render.instagram_embed(reel))})
    assert (data.status, data.author) == (CaptureStatus.LIVE, "harbourfire_ex")


@pytest.mark.parametrize("state, status, reason", [
    ("deleted", CaptureStatus.DELETED, "deleted: The link to this photo or video may be broken"),
    ("private", CaptureStatus.UNAVAILABLE, "private: This account is private."),
    ("age_gated", CaptureStatus.UNAVAILABLE, "age-restricted: This post is age-restricted."),
    ("region_blocked", CaptureStatus.UNAVAILABLE, "region-blocked: This content isn't available"),
])
def test_each_notice_has_its_status(state: str, status: CaptureStatus, reason: str) -> None:
    # in the raw answer the notice decides nothing (Instagram has answered clients without
    # JavaScript with it): the render shows it, and gone_status reads it there
    assert interpret(exchange(body=render.instagram_broken(state))) is None
    got_status, got_reason = IG.gone_status(render.IG_NOTICES[state])
    assert got_status is status and got_reason.startswith(reason)


def test_a_login_wall_is_never_the_post() -> None:
    login = f"https://www.instagram.com/accounts/login/?next=%2Fp%2F{CODE}%2Fembed%2Fcaptioned%2F"
    assert interpret(exchange(body=render.instagram_login(), final_url=login,
                              redirects=(EMBED_URL,))) is None
    assert interpret(exchange(body=render.instagram_login())) is None  # a form at the address
    # what the render's gone selector (form#loginForm) shows
    assert IG.gone_status("Instagram\nPhone number, username, or email\nPassword\nLog in") == (
        CaptureStatus.UNAVAILABLE, LOGIN_WALL)


@pytest.mark.parametrize("ex, status, reason", [
    (exchange(429, "Please wait a few minutes"), CaptureStatus.FAILED, "rate limited (HTTP 429"),
    (exchange(404, "<h2>Sorry</h2>"), CaptureStatus.DELETED, "no such post"),
    (exchange(500, "oops"), CaptureStatus.FAILED, "HTTP 500"),
    (exchange(200, b"{}", content_type="application/json"), CaptureStatus.FAILED, "not HTML"),
])
def test_http_answers_that_decide_alone(ex: HttpExchange, status: CaptureStatus,
                                        reason: str) -> None:
    data = interpret(ex)
    assert data.status is status and reason in data.reason


def test_another_posts_embed_is_a_failure() -> None:
    other = render.instagram_embed(RECORDS["BXq2LmVhS7t"])
    data = interpret(exchange(body=other))
    assert data.status is CaptureStatus.FAILED and "another post" in data.reason


@pytest.mark.parametrize("responses", [
    {},  # the endpoint could not be fetched: the error is in the manifest
    {DATA_NAME: exchange(body="<html><body><div id='react-root'></div></body></html>")},
    {DATA_NAME: exchange(body="<div class='Embed' data-media-type='GraphImage'></div>")},
])
def test_without_a_readable_answer_the_render_decides(responses: dict[str, HttpExchange]) -> None:
    assert IG.interpret(POST, responses) is None


# -- the render's notices -------------------------------------------------------------------
@pytest.mark.parametrize("detail, status, label", [
    (render.IG_NOTICES["deleted"], CaptureStatus.DELETED, "deleted"),
    (render.IG_NOTICES["private"], CaptureStatus.UNAVAILABLE, "private"),
    (render.IG_NOTICES["age_gated"], CaptureStatus.UNAVAILABLE, "age-restricted"),
    (render.IG_NOTICES["region_blocked"], CaptureStatus.UNAVAILABLE, "region-blocked"),
    ("Phone number, username, or email\nPassword\nLog in", CaptureStatus.UNAVAILABLE,
     LOGIN_WALL),
    ("Something we have never seen", CaptureStatus.UNAVAILABLE, "Something we have never seen"),
    ("", CaptureStatus.UNAVAILABLE, "the platform shows the post as unavailable"),
])
def test_gone_status_classifies_the_notice(detail: str, status: CaptureStatus,
                                           label: str) -> None:
    got_status, reason = IG.gone_status(detail)
    assert got_status is status and reason.startswith(label)
    assert (got_status, reason) == classify_notice(detail)
