"""Facebook: URL forms and ids, plugin URLs, the plugin's answers, and its notices."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archiver.models import CaptureStatus, HttpExchange, PostRef
from archiver.platforms.facebook import DATA_NAMES, GONE, READY, Facebook, kind_of
from archiver.platforms.meta_embeds import LOGIN_WALL
from tests.fakeplatform import meta_facebook as fake
from tests.fakeplatform.meta_render import ASSETS

FB = Facebook()
POST_ID = "10160123456789012"
VIDEO_ID = "1234567890123456"


def ref(url: str) -> PostRef:
    found = FB.match_url(url)
    assert found is not None, url
    return found


POST = ref(f"https://www.facebook.com/HarbourCityCouncilEx/posts/{POST_ID}")
VIDEO = ref(f"https://www.facebook.com/HarbourFireRescueEx/videos/{VIDEO_ID}/")


def records() -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in json.loads((ASSETS / "facebook.json").read_text())["posts"]}


def exchange(status: int = 200, body: str | bytes = "", *, final_url: str = "https://www."
             "facebook.com/plugins/post.php", content_type: str = "text/html; charset=utf-8",
             redirects: tuple[str, ...] = ()) -> HttpExchange:
    raw = body.encode() if isinstance(body, str) else body
    return HttpExchange("GET", final_url, final_url, status, (("Content-Type", content_type),),
                        raw, redirects)


def interpret(ex: HttpExchange, post: PostRef = POST) -> Any:
    return FB.interpret(post, {DATA_NAMES[kind_of(post)]: ex})


# -- identity -------------------------------------------------------------------------------
@pytest.mark.parametrize("url, post_id, canonical", [
    (f"https://m.facebook.com/HarbourCityCouncilEx/posts/{POST_ID}/?mibextid=x", POST_ID,
     f"https://www.facebook.com/HarbourCityCouncilEx/posts/{POST_ID}"),
    (f"https://www.facebook.com/permalink.php?story_fbid={POST_ID}&id=100064123456789", POST_ID,
     f"https://www.facebook.com/100064123456789/posts/{POST_ID}"),
    (f"https://www.facebook.com/story.php?story_fbid={POST_ID}", POST_ID,
     f"https://www.facebook.com/permalink.php?story_fbid={POST_ID}"),
    (f"https://www.facebook.com/watch?v={VIDEO_ID}", VIDEO_ID,
     f"https://www.facebook.com/watch/?v={VIDEO_ID}"),
    (f"https://web.facebook.com/HarbourFireRescueEx/videos/quay-street/{VIDEO_ID}", VIDEO_ID,
     f"https://www.facebook.com/HarbourFireRescueEx/videos/{VIDEO_ID}"),
    ("https://www.facebook.com/photo.php?fbid=10160999888777666&set=a.1&type=3",
     "10160999888777666", "https://www.facebook.com/photo/?fbid=10160999888777666"),
    ("https://www.facebook.com/groups/harbourresidents/permalink/2345678901234567/",
     "2345678901234567",
     "https://www.facebook.com/groups/harbourresidents/posts/2345678901234567"),
])
def test_url_forms_and_their_canonical_urls(url: str, post_id: str, canonical: str) -> None:
    found = ref(url)
    assert (found.post_id, found.url) == (post_id, canonical)
    assert FB.match_url(found.url) == found  # the canonical URL maps back to the post


def test_a_pfbid_post_is_known_by_its_path() -> None:
    pfbid = "pfbid0aBcDeFgHiJkLmNoPqRsTuVwXyZ123456789"
    by_page = ref(f"https://www.facebook.com/100064123456789/posts/{pfbid}")
    by_permalink = ref(f"https://www.facebook.com/permalink.php?story_fbid={pfbid}"
                       "&id=100064123456789")
    assert by_page == by_permalink
    assert by_page.post_id == f"100064123456789/posts/{pfbid}"


def test_canonical_url_from_an_id_alone() -> None:
    assert FB.canonical_url(POST_ID, "HarbourCityCouncilEx") == POST.url
    assert FB.canonical_url(POST_ID) == \
        f"https://www.facebook.com/permalink.php?story_fbid={POST_ID}"
    assert FB.canonical_url("Page/posts/pfbid0abc") == "https://www.facebook.com/Page/posts/pfbid0abc"


@pytest.mark.parametrize("url, expected", [
    ("https://www.facebook.com/plugins/post.php?href=https%3A%2F%2Fwww.facebook.com%2F"
     f"HarbourCityCouncilEx%2Fposts%2F{POST_ID}&show_text=true&width=500", POST_ID),
    ("https://www.facebook.com/v17.0/plugins/video.php?app_id=&href=https%3A%2F%2Fwww.facebook"
     f".com%2FHarbourFireRescueEx%2Fvideos%2F{VIDEO_ID}%2F&locale=en_US", VIDEO_ID),
    ("//www.facebook.com/plugins/post.php?href=https%3A%2F%2Fwww.facebook.com%2Fpermalink.php"
     f"%3Fstory_fbid%3D{POST_ID}%26id%3D100064123456789", POST_ID),
    (f"https://www.facebook.com/HarbourCityCouncilEx/posts/{POST_ID}", POST_ID),
    ("https://www.facebook.com/plugins/page.php?href=https%3A%2F%2Fwww.facebook.com%2F"
     "HarbourCityCouncilEx", None),
    ("https://www.facebook.com/plugins/like.php?href=https%3A%2F%2Fwww.facebook.com%2F"
     f"HarbourCityCouncilEx%2Fposts%2F{POST_ID}", None),
    ("https://www.facebook.com/plugins/post.php?width=500", None),
    ("https://www.facebook.com/plugins/post.php?href=https%3A%2F%2Fnews.example.org%2F", None),
])
def test_plugin_urls_show_the_post_their_href_names(url: str, expected: str | None) -> None:
    found = FB.match_embed_url(url)
    assert (found.post_id if found else None) == expected


def test_capture_plan_uses_the_plugin_of_the_posts_kind() -> None:
    (request,) = FB.data_requests(POST)
    assert request.name == "post-plugin.html"
    assert request.url == ("https://www.facebook.com/plugins/post.php?href=https%3A%2F%2Fwww."
                           f"facebook.com%2FHarbourCityCouncilEx%2Fposts%2F{POST_ID}"
                           "&show_text=true&width=500")
    (video,) = FB.data_requests(VIDEO)
    assert video.name == "video-plugin.html"
    assert video.url.startswith("https://www.facebook.com/plugins/video.php?href=")
    assert kind_of(ref(f"https://www.facebook.com/watch/?v={VIDEO_ID}")) == "video"
    assert kind_of(ref("https://www.facebook.com/reel/987654321098765")) == "video"
    assert kind_of(ref("https://www.facebook.com/photo/?fbid=10160999888777666")) == "post"
    embed, post_page = FB.pages(POST)
    assert (embed.url, embed.ready, embed.gone, embed.element) == (request.url, READY, GONE,
                                                                   READY)
    assert (post_page.url, post_page.required) == (POST.url, False)


# -- reading the plugin ---------------------------------------------------------------------
def test_a_live_post_is_read_from_the_plugin() -> None:
    data = interpret(exchange(body=fake.plugin(records()[POST_ID])))
    assert data.status is CaptureStatus.LIVE and data.reason is None
    assert (data.author, data.author_name) == ("HarbourCityCouncilEx", "Harbour City Council")
    assert data.text is not None and data.text.startswith("FLOOD UPDATE 08:50 – Rest centres")
    assert data.text.endswith("\n\nThe embankment road stays closed today.")
    assert data.created_at == "2023-11-04T08:52:00Z"
    assert data.media == ("https://scontent.xx.fbcdn.net/v/t39.30808-6/"
                          f"{POST_ID}_640x420_n.png",)


def test_a_video_and_a_profile_owned_post() -> None:
    data = interpret(exchange(body=fake.plugin(records()[VIDEO_ID])), VIDEO)
    assert (data.status, data.author) == (CaptureStatus.LIVE, "HarbourFireRescueEx")
    private = dict(records()["10160555666777888"], state="live")
    owner = ref("https://www.facebook.com/permalink.php?story_fbid=10160555666777888"
                "&id=100064123456789")
    data = interpret(exchange(body=fake.plugin(private)), owner)
    assert (data.status, data.author, data.author_name) == (CaptureStatus.LIVE,
                                                            "100064123456789", "Jo Resident")


@pytest.mark.parametrize("state, status, reason", [
    # the plugin does not say whether the post was removed or its audience changed
    ("deleted", CaptureStatus.UNAVAILABLE, "removed or not public: This Facebook post is no "
                                           "longer available"),
    ("private", CaptureStatus.UNAVAILABLE, "removed or not public: This content isn't"),
    ("age_gated", CaptureStatus.UNAVAILABLE, "age-restricted: "),
    ("region_blocked", CaptureStatus.UNAVAILABLE, "region-blocked: "),
])
def test_each_notice_has_its_status(state: str, status: CaptureStatus, reason: str) -> None:
    assert interpret(exchange(body=fake.notice(state))) is None  # the render decides
    heading, text = fake.NOTICES[state]
    got_status, got_reason = FB.gone_status(f"{heading}\n{text}")  # [role=alert]'s text
    assert got_status is status and got_reason.startswith(reason)


def test_a_login_wall_is_never_the_post() -> None:
    assert interpret(exchange(body=fake.login(), final_url="https://www.facebook.com/login/"
                              "?next=%2Fplugins%2Fpost.php")) is None
    assert interpret(exchange(body=fake.login(), final_url="https://m.facebook.com/login.php"),
                     ) is None
    assert FB.gone_status("facebook\nLog in to Facebook\nLog in") == (CaptureStatus.UNAVAILABLE,
                                                                       LOGIN_WALL)


@pytest.mark.parametrize("ex, status, reason", [
    (exchange(429), CaptureStatus.FAILED, "rate limited"),
    (exchange(404), CaptureStatus.DELETED, "no such post"),
    (exchange(503), CaptureStatus.FAILED, "HTTP 503"),
    (exchange(200, b"\x89PNG", content_type="image/png"), CaptureStatus.FAILED, "not HTML"),
])
def test_http_answers_that_decide_alone(ex: HttpExchange, status: CaptureStatus,
                                        reason: str) -> None:
    data = interpret(ex)
    assert data.status is status and reason in data.reason


def test_another_posts_plugin_is_a_failure() -> None:
    data = interpret(exchange(body=fake.plugin(records()["10160999888777666"])))
    assert data.status is CaptureStatus.FAILED and "another post" in data.reason


def test_without_a_readable_answer_the_render_decides() -> None:
    assert FB.interpret(POST, {}) is None
    assert interpret(exchange(body="<html><body><div id='u_0_0'></div></body></html>")) is None
    # the answer for the other kind of plugin is not read as this one's
    assert FB.interpret(POST, {"video-plugin.html": exchange(body=fake.plugin(
        records()[POST_ID]))}) is None


@pytest.mark.parametrize("state", ["deleted", "private", "age_gated", "region_blocked"])
def test_gone_status_reads_the_rendered_notice(state: str) -> None:
    heading, text = fake.NOTICES[state]
    status, reason = FB.gone_status(f"{heading}\n{text}")
    assert status is CaptureStatus.UNAVAILABLE
    assert reason.endswith(f"{heading} / {text}")
    assert FB.gone_status("Log in to Facebook\nEmail address or phone number\nLog in") == (
        CaptureStatus.UNAVAILABLE, LOGIN_WALL)
