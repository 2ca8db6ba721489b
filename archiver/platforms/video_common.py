"""What the video platforms (YouTube, Vimeo, TikTok) share: reading an oEmbed answer, and
classifying a player's "video unavailable" notice by the words it shows.

Video players answer differently from post embeds: their oEmbed endpoints describe a video
without checking that it can be played here (age gates, region blocks), so the player's own
notice is read too, by ordered keyword rules (the first rule whose words appear wins).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from archiver.models import CaptureStatus, HttpExchange
from archiver.platforms.notices import NoticeRule as NoticeRule
from archiver.platforms.notices import one_line as one_line


def classify_notice(detail: str, rules: Sequence[NoticeRule], fallback: str,
                    source: str) -> tuple[CaptureStatus, str]:
    """(status, reason) for a player's notice; unknown notices are UNAVAILABLE."""
    shown = one_line(detail)
    lowered = shown.lower()
    for rule in rules:
        if any(word in lowered for word in rule.words):
            return rule.status, f"{rule.label} ({source}: {shown})"
    return CaptureStatus.UNAVAILABLE, f"{fallback} ({source}: {shown})" if shown else fallback


def json_object(exchange: HttpExchange | None) -> dict[str, Any] | None:
    """The body as a JSON object, or None (no exchange, not JSON, not an object)."""
    if exchange is None:
        return None
    try:
        data = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def text_of(value: Any) -> str | None:
    """A non-empty string field, else None."""
    return value.strip() or None if isinstance(value, str) else None


def handle_from(url: Any, pattern: re.Pattern[str]) -> str | None:
    """The handle in a profile URL (group ``user``), e.g. youtube.com/@name -> 'name'."""
    if not isinstance(url, str):
        return None
    m = pattern.search(url)
    return m.group("user") if m else None
