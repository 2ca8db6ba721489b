"""The fake Instagram, Facebook and Threads: every state answers as the platform does."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.fakeplatform import FakePlatform
from tests.fakeplatform.meta import STATES, MetaPosts

IG_EMBED = "https://www.instagram.com/p/{}/embed/captioned/"
TH_EMBED = "https://www.threads.net/@someone/post/{}/embed/"
FB_PLUGIN = "https://www.facebook.com/plugins/post.php?href={}&show_text=true&width=500"
FB_POST = "https://www.facebook.com/HarbourCityCouncilEx/posts/10160123456789012"


@pytest.fixture
def fake(fake_platform: FakePlatform) -> Iterator[FakePlatform]:
    fake_platform.reset()
    yield fake_platform
    fake_platform.reset()


def text(fake: FakePlatform, url: str) -> tuple[int, str]:
    got = fake.fetch(url)
    return got.status, got.body.decode()


def test_fixture_states_are_known() -> None:
    for name in ("instagram", "facebook", "threads"):
        posts = MetaPosts.from_fixture(name)
        assert {r["state"] for r in posts.records.values()} <= STATES
        assert any(r["state"] == "live" for r in posts.records.values())


def test_live_embeds_carry_the_post(fake: FakePlatform) -> None:
    status, body = text(fake, IG_EMBED.format("CzK3pLqN8xR"))
    assert status == 200 and 'class="UsernameText">cityfloodwatch_ex<' in body
    assert "https://scontent.cdninstagram.com/v/t51.2885-15/CzK3pLqN8xR_640x640_n.png" in body
    status, body = text(fake, FB_PLUGIN.format(quote(FB_POST, safe="")))
    assert status == 200 and 'data-testid="post_message"' in body and "Rest centres" in body
    status, body = text(fake, TH_EMBED.format("C0aBcDeFgHi"))
    assert status == 200 and 'class="TextPostUsername"' in body and "Next high tide" in body


@pytest.mark.parametrize("state", ["deleted", "private", "age_gated", "region_blocked"])
def test_each_state_shows_its_notice_in_every_embed(fake: FakePlatform, state: str) -> None:
    fake.set_post_state("instagram", "CzK3pLqN8xR", state)
    fake.set_post_state("facebook", "10160123456789012", state)
    fake.set_post_state("threads", "C0aBcDeFgHi", state)
    for url, marker in ((IG_EMBED.format("CzK3pLqN8xR"), 'class="EmbedIsBroken"'),
                        (FB_PLUGIN.format(quote(FB_POST, safe="")), 'role="alert"'),
                        (TH_EMBED.format("C0aBcDeFgHi"), 'class="TextPostUnavailable"')):
        status, body = text(fake, url)
        assert status == 200 and marker in body, url
        assert "Rest centres" not in body and "4.21 m" not in body


def test_login_walls_redirect_and_rate_limits_answer_429(fake: FakePlatform) -> None:
    got = fake.fetch(IG_EMBED.format("CLoG1nWaLl0"))
    assert got.status == 302
    assert got.headers["location"].startswith("/accounts/login/?next=%2Fp%2FCLoG1nWaLl0")
    assert 'id="loginForm"' in text(fake, "https://www.instagram.com/accounts/login/")[1]
    fake.set_post_state("facebook", "10160123456789012", "login_wall")
    got = fake.fetch(FB_PLUGIN.format(quote(FB_POST, safe="")))
    assert got.status == 302 and got.headers["location"].startswith("/login/?next=")
    fake.set_post_state("threads", "C0aBcDeFgHi", "ratelimited")
    assert fake.fetch(TH_EMBED.format("C0aBcDeFgHi")).status == 429


def test_unknown_posts_are_deleted_and_post_pages_follow_the_state(fake: FakePlatform) -> None:
    assert 'class="EmbedIsBroken"' in text(fake, IG_EMBED.format("Cunkn0wn123"))[1]
    status, body = text(fake, "https://www.instagram.com/p/CwD3lEt3dPx/")
    assert status == 404 and "Sorry, this page isn&#x27;t available." in body
    status, body = text(fake, FB_POST)
    assert status == 200 and 'role="article"' in body and "Log in" in body
    status, body = text(fake, "https://www.threads.net/@quayside_cafe_ex/post/C0dEl3t3dXy")
    assert status == 404 and "TextPostUnavailable" in body


def test_every_facebook_url_form_reaches_its_post(fake: FakePlatform) -> None:
    for href in ("https://www.facebook.com/permalink.php?story_fbid=10160123456789012&id=1",
                 "https://www.facebook.com/watch/?v=1234567890123456",
                 "https://www.facebook.com/HarbourFireRescueEx/videos/rescue/1234567890123456/",
                 "https://www.facebook.com/photo.php?fbid=10160999888777666&set=a.1",
                 "https://www.facebook.com/HarbourCityCouncilEx/posts/pfbid02Xk7sWqLmN3bVcR8tYh5"
                 "JpQ4eZ1aF6gD9uK2wE3rT7yU8iO0pL1mN2bV3cX"):
        status, body = text(fake, FB_PLUGIN.format(quote(href, safe="")))
        assert status == 200 and 'role="article"' in body, href


def test_mirrors_redirect_to_www_and_assets_are_served(fake: FakePlatform) -> None:
    for url, target in (("https://instagram.com/p/CzK3pLqN8xR/", "https://www.instagram.com/"),
                        ("https://m.facebook.com/x/posts/1", "https://www.facebook.com/"),
                        ("https://threads.com/@a/post/C0aBcDeFgHi", "https://www.threads.com/")):
        got = fake.fetch(url)
        assert got.status == 301 and got.headers["location"].startswith(target)
    for url in ("https://www.instagram.com/embed.js", "https://www.threads.net/embed.js",
                "https://connect.facebook.net/en_US/sdk.js"):
        got = fake.fetch(url)
        assert got.status == 200 and got.headers["content-type"].startswith(
            "application/javascript")
    for url in ("https://scontent.cdninstagram.com/v/t51.2885-19/someone_s150x150.png",
                "https://scontent.xx.fbcdn.net/v/t39.30808-6/1_640x360_n.png"):
        got = fake.fetch(url)
        assert got.status == 200 and got.body.startswith(b"\x89PNG")
