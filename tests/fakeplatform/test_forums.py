"""The fake Reddit and LinkedIn answer like the real hosts, and follow states set at run time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.fakeplatform import FakePlatform

SQUARE = "1fs0k7q"
COUNCIL_SHARE, COUNCIL_ACTIVITY = "7246061437948930876", "7246061439036443934"


@pytest.fixture
def fake(fake_platform: FakePlatform) -> Iterator[FakePlatform]:
    fake_platform.reset()
    yield fake_platform
    fake_platform.reset()


def test_listing_json_is_shaped_like_reddits(fake: FakePlatform) -> None:
    answer = fake.fetch(f"https://www.reddit.com/comments/{SQUARE}/.json?raw_json=1")
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/json")
    post, comments = json.loads(answer.body)
    assert post["kind"] == comments["kind"] == "Listing"
    (child,) = post["data"]["children"]
    data = child["data"]
    assert child["kind"] == "t3" and data["name"] == f"t3_{SQUARE}"
    assert (data["subreddit"], data["author"], data["removed_by_category"]) == (
        "europe", "ValleyWatch", None)
    assert data["url_overridden_by_dest"].startswith("https://i.redd.it/")
    assert [c["kind"] for c in comments["data"]["children"]] == ["t1", "t1"]
    # the permalink form answers the same
    again = fake.fetch(f"https://old.reddit.com{data['permalink']}.json")
    assert json.loads(again.body)[0]["data"]["children"][0]["data"]["id"] == SQUARE


@pytest.mark.parametrize("state, status, check", [
    ("deleted", 200, lambda d: d[0]["data"]["children"][0]["data"]["author"] == "[deleted]"),
    ("removed", 200, lambda d: d[0]["data"]["children"][0]["data"]["selftext"] == "[removed]"),
    ("private_subreddit", 403, lambda d: d["reason"] == "private"),
    ("quarantined", 403, lambda d: d["reason"] == "quarantined"),
    ("banned", 404, lambda d: d["reason"] == "banned"),
    ("ratelimited", 429, lambda d: d["error"] == 429),
])
def test_reddit_states(fake: FakePlatform, state: str, status: int, check) -> None:  # type: ignore[no-untyped-def]
    fake.set_post_state("reddit", SQUARE, state)
    answer = fake.fetch(f"https://www.reddit.com/comments/{SQUARE}/.json")
    assert answer.status == status and check(json.loads(answer.body))


def test_reddit_redirects_and_embed(fake: FakePlatform) -> None:
    short = fake.fetch(f"https://redd.it/{SQUARE}")
    assert (short.status, short.headers["location"]) == (
        301, f"https://www.reddit.com/comments/{SQUARE}/")
    bare = fake.fetch(f"https://www.reddit.com/comments/{SQUARE}/")
    assert bare.headers["location"].startswith(f"https://www.reddit.com/r/europe/comments/{SQUARE}/")
    legacy = fake.fetch(f"https://www.redditmedia.com/r/europe/comments/{SQUARE}/x/?embed=true")
    assert legacy.headers["location"] == (f"https://embed.reddit.com/r/europe/comments/{SQUARE}"
                                          "/x/?embed=true")
    card = fake.fetch(f"https://embed.reddit.com/r/anything/comments/{SQUARE}/").body.decode()
    assert f'<shreddit-post id="t3_{SQUARE}"' in card
    shell = fake.fetch(f"https://embed.reddit.com/comments/{SQUARE}/").body.decode()
    assert 'data-testid="page-not-found"' in shell and "<shreddit-post" not in shell
    oembed = fake.fetch("https://www.reddit.com/oembed?url=" + quote(
        f"https://www.reddit.com/r/europe/comments/{SQUARE}/", safe=""))
    assert 'class="reddit-embed-bq"' in json.loads(oembed.body)["html"]
    fake.set_post_state("reddit", SQUARE, "deleted")
    gone = fake.fetch(f"https://embed.reddit.com/r/europe/comments/{SQUARE}/").body.decode()
    assert "deleted by the person who originally posted it" in gone


def test_linkedin_answers_for_both_urns_of_a_post(fake: FakePlatform) -> None:
    for urn in (f"urn:li:share:{COUNCIL_SHARE}", f"urn:li:activity:{COUNCIL_ACTIVITY}"):
        page = fake.fetch(f"https://www.linkedin.com/embed/feed/update/{urn}").body.decode()
        assert f'data-activity-urn="urn:li:activity:{COUNCIL_ACTIVITY}"' in page
        assert 'data-test-id="main-feed-activity-embed-card__commentary"' in page
    fake.set_post_state("linkedin", COUNCIL_ACTIVITY, "login_wall")
    walled = fake.fetch(f"https://www.linkedin.com/embed/feed/update/urn:li:share:{COUNCIL_SHARE}")
    assert "Sign in to view this post" in walled.body.decode()
    missing = fake.fetch("https://www.linkedin.com/embed/feed/update/urn:li:share:"
                         "7000000000000000000").body.decode()
    assert "This post cannot be displayed" in missing
    assert fake.fetch("https://media.licdn.com/dms/image/v2/x/feedshare-shrink_800/0/1"
                      ).headers["content-type"] == "image/png"
