"""Bluesky: post URLs and at:// URIs, getPostThread as data, the embed render's notices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archiver.discover import discover_html
from archiver.models import CaptureStatus, HttpExchange, PostRef
from archiver.platforms.bluesky import Bluesky
from tests.fakeplatform import fediverse_render as render
from tests.fakeplatform.fediverse import bluesky_accounts, bluesky_posts

ARTICLES = Path(__file__).parents[1] / "fixtures" / "articles"
BS = Bluesky()
DID = "did:plc:zslhiqyhbk2atjl2ivo4rqsa"
RKEY = "3lfzhd3pbigzl"
_REF = BS.match_url(f"at://{DID}/app.bsky.feed.post/{RKEY}")
assert _REF is not None
POST: PostRef = _REF


@pytest.mark.parametrize("url, post_id, author", [
    (f"https://bsky.app/profile/{DID}/post/{RKEY}", f"{DID}/{RKEY}", None),
    (f"https://bsky.app/profile/{DID}/post/{RKEY}?ref_src=embed", f"{DID}/{RKEY}", None),
    (f"https://bsky.app/profile/Lena-Hydro.bsky.social/post/{RKEY}/",
     f"lena-hydro.bsky.social/{RKEY}", "lena-hydro.bsky.social"),
    (f"at://lena-hydro.bsky.social/app.bsky.feed.post/{RKEY}", f"lena-hydro.bsky.social/{RKEY}",
     "lena-hydro.bsky.social"),
    ("https://bsky.app/profile/did:web:example.com/post/3k2a", "did:web:example.com/3k2a", None),
])
def test_post_urls(url: str, post_id: str, author: str | None) -> None:
    ref = BS.match_url(url)
    assert ref is not None and (ref.post_id, ref.author) == (post_id, author)
    assert ref.url == f"https://bsky.app/profile/{post_id.replace('/', '/post/')}"


@pytest.mark.parametrize("url", [
    f"https://bsky.app/profile/{DID}", f"https://bsky.app/profile/{DID}/post/{RKEY}/liked-by",
    f"at://{DID}/app.bsky.feed.like/{RKEY}", "https://bsky.app/profile/nodots/post/3k2a",
    f"https://embed.bsky.app/embed/{DID}/app.bsky.feed.post/{RKEY}",  # an embed URL, not a post
])
def test_not_post_urls(url: str) -> None:
    assert BS.match_url(url) is None


def test_embed_render_urls_and_ids_from_markup() -> None:
    ref = BS.match_embed_url(f"https://embed.bsky.app/embed/{DID}/app.bsky.feed.post/{RKEY}"
                             "?id=123&ref_url=https%253A%252F%252Fnews.example.org")
    assert ref is not None and ref.post_id == f"{DID}/{RKEY}"
    named = BS.post_from_id(f"{DID}/{RKEY}", "Lena-Hydro.bsky.social")
    assert named is not None and named.author == "lena-hydro.bsky.social"
    assert named.post_id == f"{DID}/{RKEY}"  # the handle shown never replaces the DID


def test_handles_for_text_remnants() -> None:
    assert BS.handle_pattern is not None
    assert BS.handle_pattern.fullmatch("jay.bsky.team")
    assert not BS.handle_pattern.fullmatch("NikolPashinyan")  # a Twitter handle
    assert not BS.handle_pattern.fullmatch("user@mastodon.social")
    assert not BS.handle_pattern.fullmatch("27.09.2020")


def test_capture_plan() -> None:
    (data,) = BS.data_requests(POST)
    assert data.url == ("https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread"
                        f"?uri=at://{DID}/app.bsky.feed.post/{RKEY}&depth=0")
    (page,) = BS.pages(POST)
    assert page.url == f"https://embed.bsky.app/embed/{DID}/app.bsky.feed.post/{RKEY}"
    assert page.element == page.ready


def answer(status: int, body: Any) -> dict[str, HttpExchange]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {"thread.json": HttpExchange("GET", "https://api/", "https://api/", status,
                                        (("Content-Type", "application/json"),), raw)}


def thread(did: str = DID, rkey: str = RKEY, **account_changes: Any) -> dict[str, Any]:
    account = {**bluesky_accounts()[did], **account_changes}
    return render.bsky_thread(bluesky_posts()[f"{did}/{rkey}"], account)


def test_live_post_is_read() -> None:
    data = BS.interpret(POST, answer(200, thread()))
    assert data.status is CaptureStatus.LIVE and data.reason is None
    assert data.text is not None and data.text.startswith("The Eska crest forecast moved up")
    assert (data.author, data.author_name) == ("lena-hydro.bsky.social", "Lena Marković")
    assert data.created_at == "2024-09-14T07:41:12.384Z"
    assert data.media == (f"https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/"
                          "bafkreiimagegaugechart4fzq2xkdc2a5lq7xhbvng5wznbsnyd4xq@jpeg",)


def test_login_wall_keeps_what_the_api_said() -> None:
    data = BS.interpret(POST, answer(200, thread(labels=["!no-unauthenticated"])))
    assert data.status is CaptureStatus.UNAVAILABLE and "login wall" in (data.reason or "")
    assert data.text is not None and data.author == "lena-hydro.bsky.social"


def test_moderation_labels_hide_the_post() -> None:
    hidden = thread()
    hidden["thread"]["post"]["labels"] = [{"val": "!takedown"}]
    data = BS.interpret(POST, answer(200, hidden))
    assert data.status is CaptureStatus.UNAVAILABLE and "!takedown" in (data.reason or "")


@pytest.mark.parametrize("status, body, expected, reason", [
    (400, {"error": "NotFound", "message": f"Post not found: at://{DID}/app.bsky.feed.post/x"},
     CaptureStatus.DELETED, "no such post"),
    (200, {"thread": {"$type": "app.bsky.feed.defs#notFoundPost", "uri": "at://x",
                      "notFound": True}}, CaptureStatus.DELETED, "not found"),
    (200, render.bsky_blocked(f"at://{DID}/app.bsky.feed.post/{RKEY}", DID),
     CaptureStatus.UNAVAILABLE, "blocked"),
    (400, {"error": "InvalidRequest", "message": "Unable to resolve handle"},
     CaptureStatus.UNAVAILABLE, "no longer resolves"),
    (400, {"error": "AccountTakedown", "message": "Account has been taken down"},
     CaptureStatus.UNAVAILABLE, "account unavailable"),
    (429, b"", CaptureStatus.FAILED, "429"),
    (502, b"<html>Bad gateway</html>", CaptureStatus.FAILED, "not JSON"),
    (500, {"error": "InternalServerError"}, CaptureStatus.FAILED, "HTTP 500"),
    (200, {"thread": {"$type": "app.bsky.feed.defs#surprise"}}, CaptureStatus.FAILED,
     "unexpected thread view"),
    (200, [], CaptureStatus.FAILED, "unexpected shape"),
])
def test_statuses(status: int, body: Any, expected: CaptureStatus, reason: str) -> None:
    data = BS.interpret(POST, answer(status, body))
    assert data.status is expected and reason in (data.reason or "")


def test_an_answer_for_another_post_fails() -> None:
    other = thread("did:plc:xhzi6zs7dm6qoigjzz4tcqa4", "3lcw3cz3r6azu")
    data = BS.interpret(POST, answer(200, other))
    assert data.status is CaptureStatus.FAILED and "another post" in (data.reason or "")


def test_not_fetched_fails() -> None:
    assert BS.interpret(POST, {}).status is CaptureStatus.FAILED


@pytest.mark.parametrize("notice, status, reason", [
    ("Post not found, it may have been deleted.", CaptureStatus.DELETED, "not found"),
    ("The author of this post has requested their posts not be displayed on external sites.",
     CaptureStatus.UNAVAILABLE, "login wall"),
    ("Blocked post", CaptureStatus.UNAVAILABLE, "blocked"),
    ("", CaptureStatus.UNAVAILABLE, "no post"),
])
def test_render_notices(notice: str, status: CaptureStatus, reason: str) -> None:
    got, why = BS.gone_status(notice)
    assert got is status and reason in why


def test_pasted_blockquote_and_text_remnant_keep_what_the_article_shows() -> None:
    page = ARTICLES / "62-bluesky-pasted-blockquotes.html"
    first, by_handle, again, unlinked, remnant = discover_html(page.read_text("utf-8"))
    assert first.post == again.post and first.post is not None
    assert first.post.url == ("https://bsky.app/profile/did:plc:3rtn6oua2ubkbi3qgvxzulum/post/"
                              "3l5hpsfvuhl2a")
    assert (first.author_name, first.date_text, first.date) == (
        "National Weather Service", "July 14, 2024 at 8:02 AM", "2024-07-14")
    assert first.quoted_text is not None and first.quoted_text.startswith("RED WARNING")
    assert by_handle.raw_url == "https://bsky.app/profile/ivohorvat.bsky.social/post/3l5hqa2kc7s2x"
    assert (unlinked.post, unlinked.date) == (None, "2024-07-14")
    assert (remnant.quoted_text, remnant.date) == (
        "Cooling centres open at all libraries until 22:00.", "2024-07-14")
