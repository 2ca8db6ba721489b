"""The evidence-writing stage's guard against answers a platform module cannot read."""

from archiver.capture.store import _interpret
from archiver.models import CaptureStatus, HttpExchange, PostData, PostRef
from archiver.platforms.twitter import Twitter

POST = PostRef("twitter", "20", "https://x.com/jack/status/20", "jack")


class Fragile(Twitter):
    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        return {"a": 1}["missing"]  # type: ignore[no-any-return]  # a parser's KeyError


def test_an_unreadable_answer_is_a_failed_capture_not_a_crash() -> None:
    data = _interpret(Fragile(), POST, {})
    assert data is not None and data.status is CaptureStatus.FAILED
    assert "unreadable answer from twitter: KeyError" in (data.reason or "")
