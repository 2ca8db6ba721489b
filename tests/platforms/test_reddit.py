"""Reddit: identity (ids, canonical URLs, comment permalinks), what the capture asks for,
reading the listing JSON for every status, and discovery of each markup form."""

from __future__ import annotations

import json

import pytest

from archiver.discover import discover_html
from archiver.models import CaptureStatus, FoundIn, HttpExchange
from archiver.platforms.reddit import GONE, READY, Reddit, removal

RD = Reddit()
SUB_URL = "https://www.reddit.com/r/europe/comments/1fs0k7q/"


def ref(url: str):  # type: ignore[no-untyped-def]
    post = RD.match_url(url)
    assert post is not None, url
    return post


# -- identity -----------------------------------------------------------------------------
@pytest.mark.parametrize("url, canonical, author", [
    ("https://www.reddit.com/r/europe/comments/1FS0K7Q/floodwater/", SUB_URL, None),
    ("https://old.reddit.com/r/europe/comments/1fs0k7q/floodwater/?sort=top", SUB_URL, None),
    ("//np.reddit.com/r/europe/comments/1fs0k7q", SUB_URL, None),
    ("https://embed.reddit.com/r/europe/comments/1fs0k7q/x/?embed=true", SUB_URL, None),
    ("https://www.redditmedia.com/r/europe/comments/1fs0k7q/x/?embed=true", SUB_URL, None),
    ("https://www.reddit.com/r/europe/comments/1fs0k7q/floodwater/lpa1x2c/", SUB_URL, None),
    ("https://www.reddit.com/r/europe/comments/1fs0k7q/comment/lpa1x2c/?context=3", SUB_URL,
     None),
    ("https://redd.it/1fs0k7q", "https://www.reddit.com/comments/1fs0k7q/", None),
    ("https://www.reddit.com/gallery/1fs0k7q", "https://www.reddit.com/comments/1fs0k7q/", None),
    ("https://www.reddit.com/u/ValleyWatch/comments/1fr9z2a/levels/",
     "https://www.reddit.com/user/ValleyWatch/comments/1fr9z2a/", "ValleyWatch"),
])
def test_canonical_url_keeps_where_the_post_is(url: str, canonical: str,
                                               author: str | None) -> None:
    post = ref(url)
    assert (post.platform, post.url, post.author) == ("reddit", canonical, author)
    assert RD.match_url(post.url) == post


def test_a_comment_permalink_is_archived_as_its_post() -> None:
    comment = ref("https://www.reddit.com/r/europe/comments/1fs0k7q/floodwater/lpa1x2c/")
    assert comment.key == ref(SUB_URL).key == ("reddit", "1fs0k7q")


def test_canonical_url_from_an_id_alone() -> None:
    assert RD.canonical_url("1fs0k7q") == "https://www.reddit.com/comments/1fs0k7q/"
    assert RD.canonical_url("1fs0k7q", "ValleyWatch") == "https://www.reddit.com/comments/1fs0k7q/"
    assert RD.post_from_id("1FS0K7Q") == RD.match_url("https://redd.it/1fs0k7q")
    assert RD.post_from_id("not-base36!") is None


# -- what a capture asks for ----------------------------------------------------------------
def test_data_requests_are_the_listing_json_and_oembed() -> None:
    names = {r.name: r.url for r in RD.data_requests(ref(SUB_URL))}
    assert names == {
        "post.json": "https://www.reddit.com/comments/1fs0k7q/.json?raw_json=1&limit=100",
        "oembed.json": "https://www.reddit.com/oembed?url=https%3A%2F%2Fwww.reddit.com%2Fr%2F"
                       "europe%2Fcomments%2F1fs0k7q%2F",
    }


@pytest.mark.parametrize("url, embed", [
    (SUB_URL, "https://embed.reddit.com/r/europe/comments/1fs0k7q/"),
    ("https://www.reddit.com/user/ValleyWatch/comments/1fr9z2a/",
     "https://embed.reddit.com/user/ValleyWatch/comments/1fr9z2a/"),
    ("https://redd.it/1fs0k7q", "https://embed.reddit.com/r/all/comments/1fs0k7q/"),
])
def test_the_embed_render_needs_a_location(url: str, embed: str) -> None:
    embed_page, post_page = RD.pages(ref(url))
    assert embed_page.url.startswith(embed + "?embed=true")
    assert (embed_page.role, embed_page.required, embed_page.element) == ("embed", True, READY)
    assert (post_page.role, post_page.required, post_page.url) == ("post-page", False,
                                                                    ref(url).url)
    assert embed_page.gone == post_page.gone == GONE


# -- reading the listing JSON ---------------------------------------------------------------
def exchange(status: int, body: object = b"") -> HttpExchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpExchange("GET", "https://www.reddit.com/", "https://www.reddit.com/", status, (),
                        raw)


def t3(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": "1fs0k7q", "subreddit": "europe", "title": "Floodwater reached the square",
        "selftext": "Photo taken at 9am.", "author": "ValleyWatch", "created_utc": 1727592480.0,
        "removed_by_category": None, "post_hint": "image",
        "url_overridden_by_dest": "https://i.redd.it/x7k2m9qv3frd1.png",
        "url": "https://i.redd.it/x7k2m9qv3frd1.png",
    }
    data.update(changes)
    return data


def listing(data: dict[str, object] | None = None, kind: str = "t3") -> list[object]:
    children = [] if data is None else [{"kind": kind, "data": data}]
    return [{"kind": "Listing", "data": {"children": children}},
            {"kind": "Listing", "data": {"children": []}}]


def interpret(post_json: HttpExchange | None, oembed: HttpExchange | None = None):  # type: ignore[no-untyped-def]
    responses = {"oembed.json": oembed or exchange(200, {})}
    if post_json is not None:
        responses["post.json"] = post_json
    return RD.interpret(ref(SUB_URL), responses)


def test_a_live_post_is_read() -> None:
    data = interpret(exchange(200, listing(t3())))
    assert data is not None and data.status is CaptureStatus.LIVE
    assert data.text == "Floodwater reached the square\n\nPhoto taken at 9am."
    assert (data.author, data.created_at) == ("ValleyWatch", "2024-09-29T06:48:00Z")
    assert data.media == ("https://i.redd.it/x7k2m9qv3frd1.png",)


def test_gallery_and_video_media_are_listed() -> None:
    data = interpret(exchange(200, listing(t3(
        post_hint=None, url="https://www.reddit.com/gallery/1fs0k7q",
        url_overridden_by_dest="https://www.reddit.com/gallery/1fs0k7q",
        media_metadata={"a1": {"s": {"u": "https://preview.redd.it/a1.jpg?s=1"}}},
        secure_media={"reddit_video": {"fallback_url": "https://v.redd.it/v1/DASH_720.mp4"}}))))
    assert data is not None
    assert data.media == ("https://preview.redd.it/a1.jpg?s=1", "https://v.redd.it/v1/DASH_720.mp4")


def test_a_post_whose_author_deleted_the_account_is_still_live() -> None:
    data = interpret(exchange(200, listing(t3(author="[deleted]"))))
    assert data is not None and data.status is CaptureStatus.LIVE and data.author is None


@pytest.mark.parametrize("changes, status, reason", [
    ({"author": "[deleted]", "selftext": "[deleted]", "removed_by_category": "deleted"},
     CaptureStatus.DELETED, "deleted by its author"),
    ({"selftext": "[deleted]"}, CaptureStatus.DELETED, "deleted by its author"),
    ({"selftext": "[removed]", "removed_by_category": "moderator"}, CaptureStatus.DELETED,
     "removed by the moderators of r/europe"),
    ({"selftext": "[removed]"}, CaptureStatus.DELETED, "removed by the moderators"),
    ({"removed_by_category": "automod_filtered"}, CaptureStatus.DELETED, "moderators"),
    ({"removed_by_category": "anti_evil_ops"}, CaptureStatus.DELETED,
     "removed by Reddit (removed_by_category: anti_evil_ops)"),
    ({"removed_by_category": "copyright_takedown"}, CaptureStatus.DELETED, "copyright"),
])
def test_deleted_and_removed_posts(changes: dict[str, object], status: CaptureStatus,
                                   reason: str) -> None:
    data = interpret(exchange(200, listing(t3(**changes))))
    assert data is not None and data.status is status
    assert data.reason is not None and reason in data.reason
    assert data.text is None


@pytest.mark.parametrize("answer, status, reason", [
    (exchange(403, {"reason": "private", "message": "Forbidden", "error": 403}),
     CaptureStatus.UNAVAILABLE, "r/europe is a private community"),
    (exchange(403, {"reason": "quarantined", "message": "Forbidden", "error": 403}),
     CaptureStatus.UNAVAILABLE, "r/europe is quarantined"),
    (exchange(403, {"reason": "gated", "message": "Forbidden", "error": 403}),
     CaptureStatus.UNAVAILABLE, "gated"),
    (exchange(404, {"reason": "banned", "message": "Not Found", "error": 404}),
     CaptureStatus.UNAVAILABLE, "r/europe was banned by Reddit"),
    (exchange(403, {"reason": "something_new", "error": 403}), CaptureStatus.UNAVAILABLE,
     "reason: something_new"),
    (exchange(404, {"message": "Not Found", "error": 404}), CaptureStatus.DELETED,
     "no such post"),
    (exchange(200, listing(None)), CaptureStatus.DELETED, "empty listing"),
    (exchange(200, listing(t3(id="1zzzzzz"))), CaptureStatus.FAILED, "another post"),
    (exchange(200, listing(t3(), kind="t1")), CaptureStatus.FAILED, "no t3"),
])
def test_statuses_the_listing_decides(answer: HttpExchange, status: CaptureStatus,
                                      reason: str) -> None:
    data = interpret(answer)
    assert data is not None and data.status is status
    assert data.reason is not None and reason in data.reason


@pytest.mark.parametrize("answer", [
    None,  # not fetched (network error)
    exchange(429, {"message": "Too Many Requests", "error": 429}),
    exchange(403, b"<html><h1>whoa there, pardner!</h1> blocked by network policy</html>"),
    exchange(500, b"upstream error"),
    exchange(200, b"<!DOCTYPE html><title>Log in</title>"),
    exchange(200, {"kind": "Listing"}),
])
def test_answers_that_cannot_decide_leave_it_to_the_render(answer: HttpExchange | None) -> None:
    assert interpret(answer) is None


def test_removal_reads_the_listing_fields() -> None:
    assert removal({"removed_by_category": None, "selftext": "text"}) is None
    assert removal({"removed_by_category": "author"}) == "deleted by its author"


@pytest.mark.parametrize("notice, status", [
    ("Sorry, this post was deleted by the person who originally posted it.",
     CaptureStatus.DELETED),
    ("Sorry, this post has been removed by the moderators of r/Kellstadt.",
     CaptureStatus.DELETED),
    ("Page not found", CaptureStatus.DELETED),
    ("r/KellstadtResidents is a private community", CaptureStatus.UNAVAILABLE),
    ("r/ValleyTruth is quarantined", CaptureStatus.UNAVAILABLE),
    ("", CaptureStatus.UNAVAILABLE),
])
def test_gone_status_reads_the_embed_notice(notice: str, status: CaptureStatus) -> None:
    got, reason = RD.gone_status(notice)
    assert got is status and reason


# -- discovery ------------------------------------------------------------------------------
def one(html: str):  # type: ignore[no-untyped-def]
    embeds = [e for e in discover_html(html) if e.platform == "reddit"]
    assert len(embeds) == 1, embeds
    return embeds[0]


def test_author_link_names_a_user() -> None:
    for markup in RD.embed_markup:
        if markup.author_link is not None:
            assert "user" in markup.author_link.groupindex


def test_pasted_blockquote_reads_the_post_link_and_the_author() -> None:
    embed = one(
        '<blockquote class="reddit-embed-bq" style="height:500px" data-embed-height="740">'
        '<a href="https://www.reddit.com/r/europe/comments/1fs0k7q/floodwater/">Floodwater '
        'reached the old town square in Kellstadt this morning</a><br> by<a href="https://'
        'www.reddit.com/user/ValleyWatch/">u/ValleyWatch</a> in<a href="https://www.reddit.com'
        '/r/europe/">europe</a></blockquote>')
    assert (embed.found_in, embed.element, embed.author) == (
        FoundIn.BLOCKQUOTE, "blockquote.reddit-embed-bq", "ValleyWatch")
    assert embed.post is not None and embed.post.url == SUB_URL
    assert embed.post.author is None  # the identity is the link's: no profile in it
    assert (embed.quoted_text, embed.date_text) == (None, None)  # a title, not a quote
    assert embed.raw_url == "https://www.reddit.com/r/europe/comments/1fs0k7q/floodwater/"


def test_reddit_embed_bq_without_a_post_link_is_an_unresolved_embed() -> None:
    embed = one('<blockquote class="reddit-embed-bq"><a href="https://www.reddit.com/r/europe/">'
                "europe</a></blockquote>")
    assert embed.post is None and embed.found_in is FoundIn.BLOCKQUOTE


def test_a_site_class_named_reddit_card_without_a_post_link_is_not_an_embed() -> None:
    html = ('<blockquote class="reddit-card">Readers on r/europe were unimpressed.</blockquote>'
            '<div class="reddit-embed"><a href="https://www.reddit.com/r/europe/">Join</a></div>')
    assert [e for e in discover_html(html) if e.platform == "reddit"] == []


def test_old_comment_embed_div_names_the_post() -> None:
    embed = one(
        '<div class="reddit-embed" data-embed-media="www.redditmedia.com" data-embed-parent='
        '"false" data-embed-live="false" data-embed-created="2017-05-04T12:00:00.000Z"><a href='
        '"https://www.reddit.com/r/AskHistorians/comments/6a1k3p/how_did/dh3k2lq/">Comment</a> '
        'from discussion <a href="https://www.reddit.com/r/AskHistorians/comments/6a1k3p/how_did/'
        '">How did towns cope</a>.</div>')
    assert embed.post is not None and embed.post.key == ("reddit", "6a1k3p")
    assert embed.element == "div.reddit-embed"


@pytest.mark.parametrize("attrs", [
    'src="https://embed.reddit.com/r/europe/comments/1fs0k7q/x/?embed=true&amp;ref=share"',
    'src="about:blank" data-src="https://www.redditmedia.com/r/europe/comments/1fs0k7q/x/'
    '?ref_source=embed&amp;ref=share&amp;embed=true"',
])
def test_iframes(attrs: str) -> None:
    embed = one(f'<iframe {attrs} width="640" height="500"></iframe>')
    assert embed.found_in is FoundIn.IFRAME and embed.post is not None
    assert embed.post.url == SUB_URL


def test_amp_reddit() -> None:
    embed = one('<amp-reddit layout="responsive" width="300" height="400" data-embedtype="post" '
                'data-src="https://www.reddit.com/r/europe/comments/1fs0k7q/x/?ref=share&amp;'
                'ref_source=embed"></amp-reddit>')
    assert (embed.found_in, embed.element) == (FoundIn.IFRAME, "amp-reddit")
    assert embed.post is not None and embed.post.post_id == "1fs0k7q"


def test_share_buttons_and_links_in_text_are_not_embeds() -> None:
    html = ('<p>As <a href="https://www.reddit.com/r/europe/comments/1fs0k7q/x/">one user '
            'wrote</a>, see also <a href="https://redd.it/1fs2m9d">this thread</a>.</p>'
            '<a class="share" href="https://www.reddit.com/submit?url=https%3A%2F%2Fnews.example'
            '.org%2Fa&amp;title=Floods">Share on Reddit</a>'
            '<a href="https://www.reddit.com/r/europe/s/Xk2mPq9LrT">shared link</a>'
            '<script>var u="https://www.reddit.com/r/europe/comments/1fs0k7q/";</script>')
    assert discover_html(html) == []
