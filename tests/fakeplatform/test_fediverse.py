"""The fake Telegram, Bluesky and Mastodon answer like the real hosts, and obey post states."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fakeplatform import FakePlatform

DID = "did:plc:zslhiqyhbk2atjl2ivo4rqsa"
THREAD = "https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread?depth=0&uri="
MASTO = "113135720304567811"


@pytest.fixture
def fake(fake_platform: FakePlatform) -> Iterator[FakePlatform]:
    fake_platform.reset()
    yield fake_platform
    fake_platform.reset()


def test_every_host_is_served_and_certified(fake: FakePlatform) -> None:
    for host in ("t.me", "telegram.me", "telegram.org", "oauth.telegram.org", "cdn4.telesco.pe",
                 "bsky.app", "embed.bsky.app", "public.api.bsky.app", "cdn.bsky.app",
                 "mastodon.social", "files.mastodon.social", "infosec.exchange",
                 "media.infosec.exchange"):
        assert host in fake.hosts


def test_telegram_widget_and_its_states(fake: FakePlatform) -> None:
    live = fake.fetch("https://t.me/EskaFloodWatch/1842?embed=1&userpic=true")
    assert live.status == 200 and b'data-post="eskafloodwatch/1842"' in live.body
    assert b"tgme_widget_message_user_photo" in live.body
    assert b'class="tgme_widget_message_user"' not in fake.fetch(
        "https://t.me/eskafloodwatch/1842?embed=1&userpic=false").body
    fake.set_post_state("telegram", "eskafloodwatch/1842", "deleted")
    gone = fake.fetch("https://t.me/eskafloodwatch/1842?embed=1")
    assert b'class="tgme_widget_message_error">Post not found' in gone.body
    assert b"Channel is private" in fake.fetch("https://t.me/closedchannel_ex/77?embed=1").body
    assert b"Post not found" in fake.fetch("https://t.me/nobody_here/1?embed=1").body
    comments = fake.fetch("https://t.me/eskafloodwatch/1860?embed=1&discussion=1")
    assert b"tgme_widget_discussion" in comments.body


def test_telegram_scripts_redirects_and_images(fake: FakePlatform) -> None:
    script = fake.fetch("https://telegram.org/js/telegram-widget.js?22")
    assert script.headers["content-type"].startswith("application/javascript")
    assert b"insertBefore(iframe, el)" in script.body
    moved = fake.fetch("https://telegram.me/eskafloodwatch/1842")
    assert (moved.status, moved.headers["location"]) == (
        301, "https://t.me/eskafloodwatch/1842")
    photo = fake.fetch("https://cdn4.telesco.pe/file/eskafloodwatch-1842-gauge.jpg")
    assert photo.status == 200 and photo.body.startswith(b"\x89PNG")


def test_bluesky_thread_by_handle_or_did_and_states(fake: FakePlatform) -> None:
    by_handle = fake.fetch(f"{THREAD}at://lena-hydro.bsky.social/app.bsky.feed.post/"
                           "3lfzhd3pbigzl")
    by_did = fake.fetch(f"{THREAD}at%3A%2F%2F{DID}%2Fapp.bsky.feed.post%2F3lfzhd3pbigzl")
    assert by_handle.status == by_did.status == 200
    assert by_handle.headers["access-control-allow-origin"] == "*"
    post = json.loads(by_did.body)["thread"]["post"]
    assert post["author"]["handle"] == "lena-hydro.bsky.social"
    assert post["embed"]["images"][0]["thumb"].startswith("https://cdn.bsky.app/img/")
    fake.set_post_state("bluesky", f"{DID}/3lfzhd3pbigzl", "blocked")
    assert json.loads(fake.fetch(f"{THREAD}at://{DID}/app.bsky.feed.post/3lfzhd3pbigzl").body)[
        "thread"]["$type"] == "app.bsky.feed.defs#blockedPost"
    fake.set_post_state("bluesky", f"{DID}/3lfzhd3pbigzl", "login_wall")
    author = json.loads(fake.fetch(f"{THREAD}at://{DID}/app.bsky.feed.post/3lfzhd3pbigzl")
                        .body)["thread"]["post"]["author"]
    assert [label["val"] for label in author["labels"]] == ["!no-unauthenticated"]
    deleted = fake.fetch(f"{THREAD}at://{DID}/app.bsky.feed.post/3lex52cjrpo6a")
    assert deleted.status == 400 and json.loads(deleted.body)["error"] == "NotFound"
    unknown = fake.fetch(f"{THREAD}at://nobody.example/app.bsky.feed.post/3lex52cjrpo6a")
    assert json.loads(unknown.body)["message"] == "Unable to resolve handle"


def test_bluesky_embed_app_script_and_images(fake: FakePlatform) -> None:
    page = fake.fetch(f"https://embed.bsky.app/embed/{DID}/app.bsky.feed.post/3lfzhd3pbigzl"
                      "?id=1")
    assert page.status == 200 and b'<div id="app">' in page.body
    assert b"public.api.bsky.app" in page.body
    assert b"data-bluesky-uri" in fake.fetch("https://embed.bsky.app/static/embed.js").body
    avatar = fake.fetch(f"https://cdn.bsky.app/img/avatar/plain/{DID}/"
                        "bafkreiavatarlena7a2yqf4xw2yyoh3o5m6lq7xhbvng5wznbsnyd4xq@jpeg")
    assert avatar.body.startswith(b"\x89PNG")
    assert fake.fetch(f"https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/nothing@jpeg"
                      ).status == 404


def test_mastodon_api_and_pages_follow_the_state(fake: FakePlatform) -> None:
    api = f"https://mastodon.social/api/v1/statuses/{MASTO}"
    embed = f"https://mastodon.social/@eskafloodwatch/{MASTO}/embed"
    assert json.loads(fake.fetch(api).body)["account"]["acct"] == "eskafloodwatch"
    page = fake.fetch(embed)
    assert page.status == 200 and b'class="detailed-status' in page.body
    assert b"detailed-status" in fake.fetch(f"https://mastodon.social/@eskafloodwatch/{MASTO}"
                                            ).body
    fake.set_post_state("mastodon", f"mastodon.social/{MASTO}", "private")
    assert fake.fetch(api).status == 404 and fake.fetch(embed).status == 404
    fake.set_post_state("mastodon", f"mastodon.social/{MASTO}", "login_wall")
    assert fake.fetch(api).status == 401
    wall = fake.fetch(embed)
    assert (wall.status, wall.headers["location"]) == (
        302, "https://mastodon.social/auth/sign_in")
    assert b'action="/auth/sign_in"' in fake.fetch(wall.headers["location"]).body
    fake.set_post_state("mastodon", f"mastodon.social/{MASTO}", "api_login")
    assert fake.fetch(api).status == 401 and fake.fetch(embed).status == 200


def test_mastodon_embeds_serve_local_accounts_only(fake: FakePlatform) -> None:
    assert fake.fetch(f"https://mastodon.social/@someoneelse/{MASTO}/embed").status == 404
    assert fake.fetch(f"https://mastodon.social/@eskafloodwatch@infosec.exchange/{MASTO}"
                      "/embed").status == 404
    assert fake.fetch(f"https://mastodon.social/users/eskafloodwatch/statuses/{MASTO}/embed"
                      ).status == 200
    assert b"Record not found" in fake.fetch(
        "https://infosec.exchange/api/v1/statuses/113136998877665522").body
    media = json.loads(fake.fetch(f"https://mastodon.social/api/v1/statuses/{MASTO}").body)[
        "media_attachments"][0]
    image = fake.fetch(media["url"])
    assert image.status == 200 and image.body.startswith(b"\x89PNG")
    assert b"mastodon-embed" in fake.fetch("https://infosec.exchange/embed.js").body
