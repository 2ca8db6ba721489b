"""Checks beyond the peers: does the article quote the post faithfully, and does the date
the embed shows agree with the time encoded in the post's id?"""

from __future__ import annotations

import difflib
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from archiver.platforms.twitter import snowflake_time

#: similarity at or above which a quote that is not identical is still called a match
#: (typographic quotes, an emoji the CMS dropped ...)
MATCH_AT = 0.97
_URL = re.compile(r"https?://\S+|pic\.(?:twitter|x)\.com/\S+")


def normalise(text: str) -> str:
    """What a quote comparison should ignore: Unicode forms, case, spacing, bare links."""
    text = unicodedata.normalize("NFKC", text)
    text = _URL.sub(" ", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"') \
        .replace("\u201d", '"')
    return " ".join(text.casefold().split())


def quote_integrity(quoted: str | None, post_text: str | None) -> dict[str, Any]:
    """Compare the article's quoted text with the captured post text.

    result: "match", "differs" (with `similarity` in [0, 1]), or "not_comparable" when
    either side is missing (a deleted post, an embed with no quoted text).
    """
    if not quoted or not post_text:
        return {"result": "not_comparable", "similarity": None,
                "reason": "no quoted text in the article" if not quoted else
                          "no post text captured"}
    a, b = normalise(quoted), normalise(post_text)
    if not a or not b:
        return {"result": "not_comparable", "similarity": None, "reason": "nothing to compare"}
    similarity = 1.0 if a == b else difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    return {"result": "match" if similarity >= MATCH_AT else "differs",
            "similarity": round(similarity, 4), "reason": None}


def snowflake_check(platform: str, post_id: str, shown_date: str | None,
                    created_at: str | None) -> dict[str, Any] | None:
    """The creation time in a Twitter snowflake id, against the dates we were told.

    Flagged when the date the embed shows, or the time the platform reports, is more than a
    day from the id's time. None for platforms whose ids carry no time.
    """
    if platform != "twitter" or not post_id.isdigit():
        return None
    encoded = snowflake_time(post_id)
    if encoded is None:
        return None
    out: dict[str, Any] = {"id_time": encoded.isoformat().replace("+00:00", "Z"),
                           "shown_date": shown_date, "created_at": created_at,
                           "flags": []}
    if isinstance(shown_date, str) and shown_date:
        try:
            shown = datetime.fromisoformat(shown_date).replace(tzinfo=UTC)
        except ValueError:
            shown = None
        if shown is not None:
            # a date is a whole day: compare with its middle, allow a day either side
            delta = abs((shown.timestamp() + 43200) - encoded.timestamp()) / 86400
            out["shown_delta_days"] = round(delta, 3)
            if delta > 1.5:
                out["flags"].append(f"the embed shows {shown_date}, but the id encodes "
                                    f"{encoded.date().isoformat()}")
    if isinstance(created_at, str) and created_at:
        try:
            created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
        except ValueError:
            created = None
        if created is not None:
            delta = abs(created.timestamp() - encoded.timestamp()) / 86400
            out["created_delta_days"] = round(delta, 3)
            if delta > 1:
                out["flags"].append("the platform's creation time disagrees with the id")
    return out
