"""LinkedIn: URN numbers and kinds, the embed render, what its notices mean, discovery."""

from __future__ import annotations

import pytest

from archiver.capture.pages import PageResult
from archiver.capture.post import decide
from archiver.discover import discover_html
from archiver.models import CaptureStatus, FoundIn
from archiver.platforms.linkedin import GONE, READY, LinkedIn, classify_notice, urn_kind

LI = LinkedIn()
SHARE = "7246061437948930876"
ACTIVITY = "7246061439036443934"


def ref(url: str):  # type: ignore[no-untyped-def]
    post = LI.match_url(url)
    assert post is not None, url
    return post


# -- identity -----------------------------------------------------------------------------
@pytest.mark.parametrize("url, post_id, canonical", [
    (f"https://www.linkedin.com/posts/harbour-city-council_flood-update-activity-{ACTIVITY}-Xk3q"
     "?utm_source=share&utm_medium=member_desktop", ACTIVITY,
     f"https://www.linkedin.com/feed/update/urn:li:activity:{ACTIVITY}/"),
    (f"https://www.linkedin.com/feed/update/urn:li:share:{SHARE}", SHARE,
     f"https://www.linkedin.com/feed/update/urn:li:share:{SHARE}/"),
    (f"https://www.linkedin.com/embed/feed/update/urn:li:share:{SHARE}?collapsed=1", SHARE,
     f"https://www.linkedin.com/feed/update/urn:li:share:{SHARE}/"),
    ("https://linkedin.com/feed/update/urn%3Ali%3AugcPost%3A7246097793893997613/",
     "7246097793893997613",
     "https://www.linkedin.com/feed/update/urn:li:ugcPost:7246097793893997613/"),
    ("https://www.linkedin.com/embed/feed/update/urn:li:ugcpost:7246097793893997613",
     "7246097793893997613",
     "https://www.linkedin.com/feed/update/urn:li:ugcPost:7246097793893997613/"),
])
def test_post_id_is_the_urn_number_and_the_canonical_url_keeps_its_kind(
        url: str, post_id: str, canonical: str) -> None:
    post = ref(url)
    assert (post.platform, post.post_id, post.url, post.author) == ("linkedin", post_id,
                                                                    canonical, None)
    assert LI.match_url(post.url) == post


def test_share_and_activity_numbers_of_one_post_are_two_keys() -> None:
    # LinkedIn gives one post an activity URN and a share URN with different numbers;
    # nothing public maps one to the other, so they stay apart (documented in the module).
    share = ref(f"https://www.linkedin.com/embed/feed/update/urn:li:share:{SHARE}")
    activity = ref(f"https://www.linkedin.com/feed/update/urn:li:activity:{ACTIVITY}/")
    assert share.key != activity.key


def test_canonical_url_from_a_number_alone_is_the_activity_urn() -> None:
    assert LI.canonical_url(SHARE) == f"https://www.linkedin.com/feed/update/urn:li:activity:{SHARE}/"
    assert LI.post_from_id("12345") is None  # not a URN number


@pytest.mark.parametrize("url, kind", [
    (f"https://www.linkedin.com/feed/update/urn:li:share:{SHARE}/", "share"),
    ("https://www.linkedin.com/feed/update/urn%3Ali%3AugcPost%3A7246097793893997613", "ugcPost"),
    (f"https://www.linkedin.com/posts/x_y-activity-{ACTIVITY}-ab", "activity"),
    ("https://www.linkedin.com/posts/x_y-ugcPost-7246097793893997613-ab", "ugcPost"),
    ("https://www.linkedin.com/feed/", "activity"),
])
def test_urn_kind(url: str, kind: str) -> None:
    assert urn_kind(url) == kind


# -- capture --------------------------------------------------------------------------------
def test_no_data_endpoint_the_embed_render_decides() -> None:
    post = ref(f"https://www.linkedin.com/embed/feed/update/urn:li:share:{SHARE}")
    assert LI.data_requests(post) == []
    assert LI.interpret(post, {}) is None
    embed, post_page = LI.pages(post)
    assert embed.url == f"https://www.linkedin.com/embed/feed/update/urn:li:share:{SHARE}"
    assert (embed.role, embed.required, embed.ready, embed.gone, embed.element) == (
        "embed", True, READY, GONE, READY)
    assert (post_page.role, post_page.required, post_page.url) == ("post-page", False, post.url)
    ugc = ref("https://www.linkedin.com/posts/jdoe_x-ugcPost-7246097793893997613-AbCd")
    assert LI.pages(ugc)[0].url.endswith("/embed/feed/update/urn:li:ugcPost:7246097793893997613")


@pytest.mark.parametrize("notice, status, reason", [
    ("This post cannot be displayed It may have been deleted, or its visibility changed.",
     CaptureStatus.DELETED, "LinkedIn shows: This post cannot be displayed"),
    ("This content isn\u2019t available. It was removed.", CaptureStatus.DELETED, "removed"),
    ("Sign in to view this post Join LinkedIn to see what professionals are sharing. "
     "Sign in Join now", CaptureStatus.UNAVAILABLE, "login wall: Sign in to view this post"),
    ("This post is private Only the author's connections can see it.",
     CaptureStatus.UNAVAILABLE, "not public: This post is private"),
    ("Something unexpected", CaptureStatus.UNAVAILABLE, "Something unexpected"),
    ("", CaptureStatus.UNAVAILABLE, "unavailable"),
])
def test_gone_status_classifies_the_notices(notice: str, status: CaptureStatus,
                                            reason: str) -> None:
    got, why = LI.gone_status(notice)
    assert got is status and reason in why
    assert classify_notice(notice) == (got, why)


def test_decide_takes_the_status_from_the_embed_render() -> None:
    post = ref(f"https://www.linkedin.com/embed/feed/update/urn:li:share:{SHARE}")
    specs = LI.pages(post)

    def result(signal: str, detail: str | None = None) -> list[PageResult]:
        return [PageResult("embed", specs[0].url, signal, detail),
                PageResult("post-page", specs[1].url, "timeout", "slow")]

    assert decide(None, result("rendered"), specs, [], LI) == (CaptureStatus.LIVE, None)
    status, reason = decide(None, result("gone", "Sign in to view this post"), specs, [], LI)
    assert status is CaptureStatus.UNAVAILABLE and reason and "login wall" in reason
    assert decide(None, result("timeout", "no signal"), specs, [], LI)[0] is CaptureStatus.FAILED


# -- discovery ------------------------------------------------------------------------------
def linkedin(html: str) -> list[tuple[str | None, FoundIn, str]]:
    return [(e.post.post_id if e.post else None, e.found_in, e.element)
            for e in discover_html(html) if e.platform == "linkedin"]


def test_iframes_with_src_or_lazy_copies() -> None:
    html = (f'<iframe src="https://www.linkedin.com/embed/feed/update/urn:li:share:{SHARE}" '
            'height="593" width="504" frameborder="0" allowfullscreen="" title="Embedded post">'
            '</iframe><iframe class="lazyload" src="about:blank" data-src="https://www.linkedin'
            '.com/embed/feed/update/urn:li:ugcPost:7246097793893997613?collapsed=1"></iframe>')
    assert linkedin(html) == [(SHARE, FoundIn.IFRAME, "iframe"),
                              ("7246097793893997613", FoundIn.IFRAME, "iframe")]


def test_wordpress_figure_counts_once_and_a_bare_url_is_a_link_embed() -> None:
    html = ('<figure class="wp-block-embed is-type-rich"><div class="wp-block-embed__wrapper">'
            f'<iframe src="https://www.linkedin.com/embed/feed/update/urn:li:share:{SHARE}">'
            '</iframe></div></figure><figure class="wp-block-embed"><div class="wp-block-embed'
            f'__wrapper">\nhttps://www.linkedin.com/posts/harbour-city-council_flood-activity-'
            f"{ACTIVITY}-Xk3q\n</div></figure>")
    assert linkedin(html) == [(SHARE, FoundIn.IFRAME, "iframe"),
                              (ACTIVITY, FoundIn.LINK, "figure.wp-block-embed")]


def test_share_follow_and_profile_widgets_are_not_embeds() -> None:
    html = ('<script src="https://platform.linkedin.com/in.js" type="text/javascript">lang: '
            'en_US</script><script type="IN/Share" data-url="https://news.example.org/a">'
            '</script><script type="IN/FollowCompany" data-id="1337" data-counter="bottom">'
            '</script><a href="https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2F'
            'news.example.org%2Fa">Share</a><a href="https://www.linkedin.com/shareArticle?mini='
            'true&amp;url=https%3A%2F%2Fnews.example.org%2Fa">Share</a><a href="https://www.'
            'linkedin.com/company/harbour-city-council/">Follow us</a><p>As <a href="https://www.'
            f'linkedin.com/feed/update/urn:li:activity:{ACTIVITY}/">the council wrote</a>.</p>'
            '<iframe src="https://www.linkedin.com/company/harbour-city-council/"></iframe>')
    assert linkedin(html) == []
