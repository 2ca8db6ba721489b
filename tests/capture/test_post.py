from datetime import UTC, datetime

import pytest

from archiver.capture.pages import PageResult
from archiver.capture.post import capture_relpath, decide
from archiver.models import CaptureStatus, PostData, PostRef
from archiver.platforms.base import PageSpec

EMBED = PageSpec("embed", "https://e/", "article", ".gone", "article")
POST_PAGE = PageSpec("post-page", "https://p/", "article", ".gone", None, required=False)
LIVE = PostData(CaptureStatus.LIVE, text="hello")
DELETED = PostData(CaptureStatus.DELETED, "no such post")


def page(role: str, signal: str, detail: str | None = None) -> PageResult:
    return PageResult(role, "https://x/", signal, detail)


def test_live_when_data_and_embed_agree() -> None:
    assert decide(LIVE, [page("embed", "rendered"), page("post-page", "gone", "Log in")],
                  [EMBED, POST_PAGE], []) == (CaptureStatus.LIVE, None)


def test_a_login_wall_on_the_optional_page_does_not_decide() -> None:
    status, _ = decide(LIVE, [page("embed", "rendered"), page("post-page", "timeout")],
                       [EMBED, POST_PAGE], [])
    assert status is CaptureStatus.LIVE


@pytest.mark.parametrize("signal", ["timeout", "error"])
def test_a_required_page_that_did_not_show_the_post_fails_the_capture(signal: str) -> None:
    status, reason = decide(LIVE, [page("embed", signal, "no signal in 20 s")], [EMBED], [])
    assert status is CaptureStatus.FAILED and "embed page" in reason


def test_disagreement_between_data_and_render_is_a_failure() -> None:
    status, reason = decide(LIVE, [page("embed", "gone", "This Post is unavailable.")],
                            [EMBED], [])
    assert status is CaptureStatus.FAILED and "says live" in reason
    status, reason = decide(DELETED, [page("embed", "rendered")], [EMBED], [])
    assert status is CaptureStatus.FAILED and "rendered the post" in reason


def test_deleted_when_both_say_so() -> None:
    assert decide(DELETED, [page("embed", "gone")], [EMBED], []) == (
        CaptureStatus.DELETED, "no such post")


def test_data_failure_carries_the_fetch_errors() -> None:
    status, reason = decide(PostData(CaptureStatus.FAILED, "endpoint not fetched"),
                            [page("embed", "gone")], [EMBED], ["timed out fetching https://a"])
    assert status is CaptureStatus.FAILED
    assert reason == "endpoint not fetched: timed out fetching https://a"


def test_capture_paths_are_safe_and_sortable() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ref = PostRef("telegram", "../durov/1", "https://t.me/durov/1")
    assert capture_relpath(ref, "abc", when).as_posix() == \
        "captures/telegram/_/durov/1/20260102T030405Z-abc"


def test_without_data_the_render_decides() -> None:
    assert decide(None, [page("embed", "rendered")], [EMBED], []) == (CaptureStatus.LIVE, None)
    assert decide(None, [page("embed", "gone", "This post was deleted")], [EMBED], []) == (
        CaptureStatus.UNAVAILABLE, "This post was deleted")
    status, _ = decide(None, [page("embed", "timeout")], [EMBED], [])
    assert status is CaptureStatus.FAILED


def test_a_platform_classifies_its_own_notices() -> None:
    from archiver.platforms.twitter import Twitter

    class Deleting(Twitter):
        def gone_status(self, detail: str) -> tuple[CaptureStatus, str]:
            return CaptureStatus.DELETED, "deleted by its author"

    assert decide(None, [page("embed", "gone", "x")], [EMBED], [], Deleting()) == (
        CaptureStatus.DELETED, "deleted by its author")


def test_a_render_restriction_decides_only_where_the_platform_says_so() -> None:
    from archiver.platforms.twitter import Twitter
    from archiver.platforms.vimeo import Vimeo

    gated = [page("embed", "gone", "This video is age-restricted")]
    status, reason = decide(LIVE, gated, [EMBED], [], Vimeo())
    assert status is CaptureStatus.UNAVAILABLE and "post exists" in reason
    assert decide(LIVE, gated, [EMBED], [], Twitter())[0] is CaptureStatus.FAILED
