"""Reading a platform's "cannot show this post" notice: ordered word rules, shared by the
platform modules (each keeps its own rules)."""

from __future__ import annotations

from dataclasses import dataclass

from archiver.models import CaptureStatus


@dataclass(frozen=True)
class NoticeRule:
    """Words a notice may contain (any of them, case-insensitive) and what they mean."""

    words: tuple[str, ...]
    status: CaptureStatus
    label: str  # e.g. 'private video'


def one_line(text: str, limit: int = 400) -> str:
    """A notice's text on one line, its lines joined by ' / '."""
    parts = [" ".join(line.split()) for line in text.splitlines()]
    return " / ".join(p for p in parts if p)[:limit]
