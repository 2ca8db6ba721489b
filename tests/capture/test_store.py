"""The evidence-writing stage: answers a platform module cannot read, a ledger that cannot
take the capture."""

import errno
import os
from typing import Any

import pytest

from archiver.capture.store import _interpret
from archiver.config import Config
from archiver.evidence import ledger
from archiver.models import CaptureStatus, HttpExchange, PostData, PostRef
from archiver.platforms.twitter import Twitter
from archiver.retrieval import verify_selection
from archiver.store.files import storage_error
from tests.harness import SEED_IDS, LoopThread, archive_run

POST = PostRef("twitter", "20", "https://x.com/jack/status/20", "jack")


class Fragile(Twitter):
    def interpret(self, post: PostRef, responses: dict[str, HttpExchange]) -> PostData | None:
        return {"a": 1}["missing"]  # type: ignore[no-any-return]  # a parser's KeyError


def test_an_unreadable_answer_is_a_failed_capture_not_a_crash() -> None:
    data = _interpret(Fragile(), POST, {})
    assert data is not None and data.status is CaptureStatus.FAILED
    assert "unreadable answer from twitter: KeyError" in (data.reason or "")


@pytest.mark.browser
def test_a_capture_the_ledger_cannot_take_is_not_stored(
        browser_loop: LoopThread, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up between the capture's directory going into place and its ledger
    entry: the capture fails with the reason, its directory is taken back (a capture the
    ledger does not name is not stored), and what was stored before verifies."""
    url = f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}"
    (before,) = archive_run(browser_loop, config, url).captures
    real = ledger._append

    def full(*args: Any, **kw: Any) -> Any:
        raise storage_error("cannot append to ledger.jsonl", OSError(errno.ENOSPC,
                                                                     os.strerror(errno.ENOSPC)))

    monkeypatch.setattr(ledger, "_append", full)
    (failed,) = archive_run(browser_loop, config, url).captures
    assert failed.status is CaptureStatus.FAILED and failed.directory is None
    assert "No space left on device" in (failed.reason or "")
    stored = [p.parent for p in (config.storage.data_dir / "captures").rglob("manifest.json")]
    assert stored == [config.storage.data_dir / str(before.directory)]
    assert not list((config.storage.data_dir / ".staging").iterdir())
    monkeypatch.setattr(ledger, "_append", real)
    assert all(v.ok for v in verify_selection(config, None))
    (again,) = archive_run(browser_loop, config, url).captures
    assert again.status is CaptureStatus.LIVE and again.directory is not None
