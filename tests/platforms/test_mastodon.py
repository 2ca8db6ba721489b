"""Mastodon: status URLs on any instance, the status API as data, the instance's notices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archiver.discover import discover_html
from archiver.models import CaptureStatus, HttpExchange, PostRef
from archiver.platforms import match_url
from archiver.platforms.mastodon import Mastodon
from tests.fakeplatform import fediverse_render as render
from tests.fakeplatform.fediverse import mastodon_accounts, mastodon_statuses

ARTICLES = Path(__file__).parents[1] / "fixtures" / "articles"
MA = Mastodon()
STATUS_ID = "113135720304567811"
_REF = MA.match_url(f"https://mastodon.social/@eskafloodwatch/{STATUS_ID}")
assert _REF is not None
POST: PostRef = _REF


@pytest.mark.parametrize("url, post_id, author, canonical", [
    ("https://mastodon.social/@eskafloodwatch/113135720304567811/embed",
     "mastodon.social/113135720304567811", "eskafloodwatch@mastodon.social",
     "https://mastodon.social/@eskafloodwatch/113135720304567811"),
    ("https://infosec.exchange/@eskafloodwatch@mastodon.social/113135720999999999",
     "infosec.exchange/113135720999999999", "eskafloodwatch@mastodon.social",
     "https://infosec.exchange/@eskafloodwatch@mastodon.social/113135720999999999"),
    ("https://Mastodon.Social/users/eskafloodwatch/statuses/113135720304567811/",
     "mastodon.social/113135720304567811", "eskafloodwatch@mastodon.social",
     "https://mastodon.social/@eskafloodwatch/113135720304567811"),
    ("https://mastodon.social/web/@eskafloodwatch/113135720304567811",
     "mastodon.social/113135720304567811", "eskafloodwatch@mastodon.social",
     "https://mastodon.social/@eskafloodwatch/113135720304567811"),
    ("https://social.example.coop/web/statuses/9", "social.example.coop/9", None,
     "https://social.example.coop/web/statuses/9"),
    ("https://a.b.example/@first.last/12?lang=en#x", "a.b.example/12", "first.last@a.b.example",
     "https://a.b.example/@first.last/12"),
])
def test_status_urls_on_any_instance(url: str, post_id: str, author: str | None,
                                     canonical: str) -> None:
    ref = MA.match_url(url)
    assert ref is not None and (ref.post_id, ref.author, ref.url) == (post_id, author, canonical)
    assert MA.match_url(ref.url) == ref


@pytest.mark.parametrize("url", [
    "https://mastodon.social/@eskafloodwatch", "https://mastodon.social/@eskafloodwatch/media",
    "https://mastodon.social/@eskafloodwatch/abc", "https://localhost/@me/12",
    "https://mastodon.social/tags/EskaFlood/12", "mastodon.social/@a/12",
    "https://www.threads.net/@zuck/3412345678901234567",
    "https://m.youtube.com/@channel/12", "https://x.com/@jack/20",
])
def test_not_statuses(url: str) -> None:
    assert MA.match_url(url) is None


def test_threads_and_tiktok_posts_are_never_mastodon() -> None:
    for url in ("https://www.threads.net/@zuck/post/C8ezV2SvPQy",
                "https://www.tiktok.com/@scout2015/video/6718335390845095173",
                "https://medium.com/@ev/the-long-read-3d5f1a0c2b7e"):
        assert MA.match_url(url) is None
        ref = match_url(url)
        assert ref is None or ref.platform != "mastodon"


def test_only_embed_renders_count_in_iframes() -> None:
    assert MA.match_embed_url("https://video.example.org/@channel/4821") is None
    ref = MA.match_embed_url("https://hachyderm.io/users/kris/statuses/12/embed")
    assert ref is not None and (ref.post_id, ref.author) == ("hachyderm.io/12",
                                                             "kris@hachyderm.io")


def test_capture_plan_of_a_local_account() -> None:
    (data,) = MA.data_requests(POST)
    assert data.url == f"https://mastodon.social/api/v1/statuses/{STATUS_ID}"
    (page,) = MA.pages(POST)
    assert (page.role, page.url) == ("embed",
                                     f"https://mastodon.social/@eskafloodwatch/{STATUS_ID}/embed")
    assert ".dialog__message" in page.gone and "sign_in" in page.gone


def test_capture_plan_of_a_remote_account_uses_the_status_page() -> None:
    ref = MA.match_url("https://infosec.exchange/@eskafloodwatch@mastodon.social/1139")
    assert ref is not None
    (page,) = MA.pages(ref)
    assert (page.role, page.url, page.required) == (
        "post-page", "https://infosec.exchange/@eskafloodwatch@mastodon.social/1139", True)


def answer(status: int, body: Any = b"") -> dict[str, HttpExchange]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {"status.json": HttpExchange("GET", "https://api/", "https://api/", status,
                                        (("Content-Type", "application/json"),), raw)}


def status_json(key: str = f"mastodon.social/{STATUS_ID}") -> dict[str, Any]:
    status = mastodon_statuses()[key]
    account = mastodon_accounts()[f"{status['host']}/{status['username']}"]
    media = {"mastodon.social": "files.mastodon.social",
             "infosec.exchange": "media.infosec.exchange"}[status["host"]]
    return render.mastodon_status(status["host"], media, status, account)


def test_live_status_is_read() -> None:
    data = MA.interpret(POST, answer(200, status_json()))
    assert data is not None and data.status is CaptureStatus.LIVE
    assert data.text == ("Sandbag points are open at the fire station and at the Hill Street "
                         "school. Bring a shovel if you have one.\n\n#EskaFlood")
    assert (data.author, data.author_name) == ("eskafloodwatch@mastodon.social",
                                               "Eska Flood Watch")
    assert data.created_at == "2024-09-14T06:02:41.000Z"
    assert data.media == ("https://files.mastodon.social/media_attachments/files/113/135/720/"
                          "304/567/811/original/sandbags.png",)


def test_remote_account_and_content_warning() -> None:
    body = status_json() | {"spoiler_text": "flood photos"}
    body["account"] = body["account"] | {"acct": "eskafloodwatch@floods.example"}
    data = MA.interpret(POST, answer(200, body))
    assert data is not None and data.author == "eskafloodwatch@floods.example"
    assert data.text is not None and data.text.startswith("CW: flood photos\n\n")


@pytest.mark.parametrize("status, body, expected, reason", [
    (404, {"error": "Record not found"}, CaptureStatus.DELETED, "not public"),
    (410, {"error": "Gone"}, CaptureStatus.DELETED, "410"),
    (429, {"error": "Too many requests"}, CaptureStatus.FAILED, "429"),
    (503, {"error": "Remote data could not be fetched"}, CaptureStatus.FAILED, "HTTP 503"),
    (200, b"<html>maintenance</html>", CaptureStatus.FAILED, "not JSON"),
    (200, {"error": "odd"}, CaptureStatus.FAILED, "unexpected shape"),
])
def test_statuses(status: int, body: Any, expected: CaptureStatus, reason: str) -> None:
    data = MA.interpret(POST, answer(status, body))
    assert data is not None and data.status is expected and reason in (data.reason or "")


@pytest.mark.parametrize("status", [401, 403])
def test_an_api_behind_login_leaves_the_decision_to_the_render(status: int) -> None:
    assert MA.interpret(POST, answer(status, {"error": "This API requires an authenticated "
                                                       "user"})) is None


def test_followers_only_visibility_is_unavailable() -> None:
    data = MA.interpret(POST, answer(200, status_json() | {"visibility": "private"}))
    assert data is not None and data.status is CaptureStatus.UNAVAILABLE


def test_an_answer_for_another_status_fails() -> None:
    other = status_json("infosec.exchange/113137100000000033")
    data = MA.interpret(POST, answer(200, other))
    assert data is not None and data.status is CaptureStatus.FAILED


def test_not_fetched_fails() -> None:
    data = MA.interpret(POST, {})
    assert data is not None and data.status is CaptureStatus.FAILED


@pytest.mark.parametrize("code, status, reason", [
    (404, CaptureStatus.DELETED, "followers-only"),
    (410, CaptureStatus.DELETED, "suspended"),
    (403, CaptureStatus.UNAVAILABLE, "not public"),
])
def test_error_pages(code: int, status: CaptureStatus, reason: str) -> None:
    got, why = MA.gone_status(render.MASTODON_ERRORS[code])
    assert got is status and reason in why


def test_sign_in_form_is_a_login_wall() -> None:
    got, why = MA.gone_status("Log in to mastodon.social E-mail address Password Log in")
    assert got is CaptureStatus.UNAVAILABLE and why.startswith("login wall")


def test_a_bare_link_in_running_text_or_a_look_alike_iframe_is_not_an_embed() -> None:
    page = ARTICLES / "64-mastodon-embeds.html"
    embeds = discover_html(page.read_text("utf-8"))
    assert [e.element for e in embeds] == ["blockquote.mastodon-embed", "iframe.mastodon-embed",
                                           "iframe", "blockquote.mastodon-embed"]
    assert all("exampletechweekly" not in (e.raw_url or "") for e in embeds)
    assert embeds[0].raw_url == ("https://mastodon.social/@andres_ex/112180406142695845/embed")
