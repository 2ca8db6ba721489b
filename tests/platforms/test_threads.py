"""Threads: URLs and ids, the embed render's answers, and its notices."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archiver.models import CaptureStatus, HttpExchange
from archiver.platforms.meta_embeds import LOGIN_WALL
from archiver.platforms.threads import DATA_NAME, GONE, READY, Threads
from tests.fakeplatform import meta_render as render

TH = Threads()
CODE = "C0aBcDeFgHi"
POST = TH.match_url(f"https://www.threads.com/@cityfloodwatch_ex/post/{CODE}?xmt=abc")
assert POST is not None
EMBED_URL = f"https://www.threads.net/@cityfloodwatch_ex/post/{CODE}/embed/"
RECORDS = {r["id"]: r for r in json.loads((render.ASSETS / "threads.json").read_text())["posts"]}


def exchange(status: int = 200, body: str | bytes = "", *, final_url: str = EMBED_URL,
             content_type: str = "text/html; charset=utf-8") -> HttpExchange:
    raw = body.encode() if isinstance(body, str) else body
    return HttpExchange("GET", EMBED_URL, final_url, status, (("Content-Type", content_type),),
                        raw)


def interpret(ex: HttpExchange) -> Any:
    return TH.interpret(POST, {DATA_NAME: ex})


# -- identity -------------------------------------------------------------------------------
def test_both_domains_are_one_post_with_one_canonical_url() -> None:
    assert POST.key == ("threads", CODE) and POST.author == "cityfloodwatch_ex"
    assert POST.url == f"https://www.threads.net/@cityfloodwatch_ex/post/{CODE}"
    assert TH.match_url(f"https://threads.net/@cityfloodwatch_ex/post/{CODE}/") == POST
    short = TH.match_url(f"https://www.threads.net/t/{CODE}")
    assert short is not None and short.key == POST.key and short.author is None
    assert short.url == f"https://www.threads.net/t/{CODE}"


def test_the_same_shortcode_on_instagram_is_another_platforms_post() -> None:
    from archiver.platforms import match_url

    instagram = match_url(f"https://www.instagram.com/p/{CODE}/")
    assert instagram is not None and instagram.platform == "instagram"


def test_capture_plan_is_the_embed_render() -> None:
    (request,) = TH.data_requests(POST)
    assert (request.name, request.url, request.media_type) == (DATA_NAME, EMBED_URL, "text/html")
    embed, post_page = TH.pages(POST)
    assert (embed.url, embed.ready, embed.gone, embed.element) == (EMBED_URL, READY, GONE, READY)
    assert (post_page.url, post_page.required) == (POST.url, False)
    short = TH.match_url(f"https://www.threads.net/t/{CODE}")
    assert short is not None
    assert TH.data_requests(short)[0].url == f"https://www.threads.net/t/{CODE}/embed/"


# -- reading the render ---------------------------------------------------------------------
def test_a_live_post_is_read_from_the_render() -> None:
    data = interpret(exchange(body=render.threads_embed(RECORDS[CODE])))
    assert (data.status, data.reason, data.author) == (CaptureStatus.LIVE, None,
                                                       "cityfloodwatch_ex")
    assert data.text == RECORDS[CODE]["text"]
    assert data.created_at == "2023-11-04T10:02:00.000Z"
    assert data.media == (f"https://scontent.cdninstagram.com/v/t51.29350-15/{CODE}_640x480_n.png",)


def test_a_text_only_post_has_no_media() -> None:
    ref = TH.match_url("https://www.threads.net/@harbour.fire_ex/post/C0zYxWvUtSr")
    assert ref is not None and ref.author == "harbour.fire_ex"
    data = TH.interpret(ref, {DATA_NAME: exchange(body=render.threads_embed(
        RECORDS["C0zYxWvUtSr"]))})
    assert (data.status, data.author, data.media) == (CaptureStatus.LIVE, "harbour.fire_ex", ())


@pytest.mark.parametrize("state, status, reason", [
    ("deleted", CaptureStatus.DELETED, "deleted: Post unavailable / This post may have been "
                                       "deleted"),
    ("private", CaptureStatus.UNAVAILABLE, "private: Post unavailable / This profile is private."),
    ("age_gated", CaptureStatus.UNAVAILABLE, "age-restricted: "),
    ("region_blocked", CaptureStatus.UNAVAILABLE, "region-blocked: "),
])
def test_each_notice_has_its_status(state: str, status: CaptureStatus, reason: str) -> None:
    assert interpret(exchange(body=render.threads_unavailable(state))) is None  # render decides
    heading, text = render.THREADS_NOTICES[state]
    got_status, got_reason = TH.gone_status(f"{heading}\n{text}")
    assert got_status is status and got_reason.startswith(reason)


def test_a_login_wall_is_never_the_post() -> None:
    assert interpret(exchange(body=render.threads_login(),
                              final_url="https://www.threads.net/login/?next=%2F")) is None
    assert interpret(exchange(body=render.threads_login())) is None  # the form at the address
    assert TH.gone_status("Log in with your Instagram account\nLog in") == (
        CaptureStatus.UNAVAILABLE, LOGIN_WALL)


@pytest.mark.parametrize("ex, status, reason", [
    (exchange(429), CaptureStatus.FAILED, "rate limited"),
    (exchange(404), CaptureStatus.DELETED, "no such post"),
    (exchange(502), CaptureStatus.FAILED, "HTTP 502"),
])
def test_http_answers_that_decide_alone(ex: HttpExchange, status: CaptureStatus,
                                        reason: str) -> None:
    data = interpret(ex)
    assert data.status is status and reason in data.reason


def test_another_posts_render_is_a_failure() -> None:
    data = interpret(exchange(body=render.threads_embed(RECORDS["C0zYxWvUtSr"])))
    assert data.status is CaptureStatus.FAILED and "another post" in data.reason


def test_a_client_side_render_leaves_the_decision_to_the_browser() -> None:
    shell = ('<!DOCTYPE html><html><body><div id="barcelona-page-layout"></div>'
             '<script src="https://static.cdninstagram.com/rsrc.php/app.js"></script></body></html>')
    assert interpret(exchange(body=shell)) is None
    assert TH.interpret(POST, {}) is None


def test_gone_status_reads_the_rendered_notice() -> None:
    heading, text = render.THREADS_NOTICES["deleted"]
    assert TH.gone_status(f"{heading}\n{text}") == (
        CaptureStatus.DELETED, f"deleted: {heading} / {text}")
    assert TH.gone_status("Log in with your Instagram account\nLog in") == (
        CaptureStatus.UNAVAILABLE, LOGIN_WALL)
    assert TH.gone_status("Post unavailable") == (CaptureStatus.UNAVAILABLE, "Post unavailable")
