"""When to capture a post again, and what a new capture says about it.

Every post is captured again on a fixed series after its first completed capture
(by default 1 h, 24 h, 7 d and 30 d after it, then every 30 d). Only the next point of
the series after the latest capture counts, so a scheduler that was stopped for a week
makes one catch-up capture, not several. A failed attempt is retried after `retry_after`,
doubling with each consecutive failure, up to a week.

Each completed capture is compared with the post's previous completed one:

    first        the first completed capture of the post
    unchanged    same status, same text (whitespace aside)
    edited       live before and now, and the text differs
    deleted      now deleted (the platform says it was removed), and was not before
    unavailable  now unavailable (private, suspended, age or region gated), and was not before
    restored     live again after deleted or unavailable

A post's `state` is the latest of those that is not `unchanged`, so it reads as its
history's headline: live (never changed), edited, deleted, unavailable, restored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from archiver.config import ScheduleConfig, parse_duration

#: changes worth telling someone about
NOTEWORTHY = ("edited", "deleted", "unavailable", "restored")
_GONE = ("deleted", "unavailable")
MAX_RETRY = timedelta(days=7)


@dataclass(frozen=True)
class Policy:
    after: tuple[timedelta, ...] = (timedelta(hours=1), timedelta(hours=24),
                                    timedelta(days=7), timedelta(days=30))
    every: timedelta | None = timedelta(days=30)
    retry: timedelta = timedelta(hours=1)

    @classmethod
    def from_config(cls, schedule: ScheduleConfig) -> Policy:
        return cls(tuple(sorted(parse_duration(a) for a in schedule.recapture_after)),
                   parse_duration(schedule.recapture_every) if schedule.recapture_every
                   else None,
                   parse_duration(schedule.retry_after))

    def next_after_success(self, first: datetime, latest: datetime) -> datetime | None:
        """The first point of the series after `latest` (None when the series has ended)."""
        for offset in self.after:
            if first + offset > latest:
                return first + offset
        if self.every is None:
            return None
        base = first + (self.after[-1] if self.after else timedelta(0))
        steps = int((latest - base) / self.every) + 1
        due: datetime = base + self.every * steps
        return due

    def next_after_failure(self, failures: int, now: datetime) -> datetime:
        """When to try again after `failures` consecutive failed attempts (>= 1)."""
        delay = self.retry * (1 << min(max(failures - 1, 0), 16))
        return now + min(delay, MAX_RETRY)


def _same_text(a: str | None, b: str | None) -> bool:
    return " ".join((a or "").split()) == " ".join((b or "").split())


def classify(previous: tuple[str, str | None] | None, status: str, text: str | None) -> str:
    """The change a completed capture (`status`, `text`) shows against the previous
    completed one (`previous` = its status and text, None for the first)."""
    if previous is None:
        return "first"
    before, before_text = previous
    if status in _GONE:
        return "unchanged" if before == status else status
    if before in _GONE:
        return "restored"
    return "unchanged" if _same_text(before_text, text) else "edited"


def next_state(state: str | None, status: str, change: str) -> str:
    """The post's headline state after a completed capture with `change`."""
    if change == "first":
        return status
    if change == "unchanged":
        return state or status
    return change


def describe_series(policy: Policy) -> Sequence[str]:
    """The policy in words, for `archiver status`."""
    parts = [_words(a) for a in policy.after]
    if policy.every is not None:
        parts.append(f"then every {_words(policy.every)}")
    return parts


def _words(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
