"""Embeds that survived only as text, and the dates articles show next to embeds.

When a platform's widget never ran, or a page went through a text extractor, a pasted
Twitter (or Bluesky) blockquote flattens to the post's text followed by a byline line::

    Pour la patrie, pour la victoire.
    – Nikol Pashinyan (@NikolPashinyan) 27 septembre 2020

`find_remnants` reads such bylines from a sequence of `Line`s (from plain text via
`lines_from_text`, or from an HTML page by `archiver.discover`), tells the platform from
the handle's shape, and takes the lines above as the quoted post (see `TWEET_LENGTH`).
`parse_date` turns the date as shown, in any of `DATE_LANGUAGES`, into ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from archiver.models import EmbedRef, FoundIn
from archiver.platforms import REGISTRY

MARKUP_LIMIT = 20_000  # characters of an embed's outer HTML (or text) kept in EmbedRef.markup

#: Quoted text is gathered from the lines above a byline, nearest first, while their total
#: length stays within one post of this many characters: a tweet holds 280 (Bluesky 300).
#: The nearest line is always taken, since a byline always follows the post it signs
#: (translated or long-form posts can exceed the limit); a line that would push the total
#: past the limit, a line ending in ':' (the article introducing the quote), a previous
#: byline, an embed or a heading ends the quote.
TWEET_LENGTH = 280

#: Languages `parse_date` reads. Fixed, because letting dateparser guess among all of its
#: ~200 locales is slow and can read one language's month name as another's.
DATE_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "ru", "uk", "ar", "tr",
                  "nl", "pl", "ja", "zh", "ko", "fa")
_DATE_SETTINGS = {
    # absolute dates only: no "yesterday", no timestamps, no guessing a missing day or year
    "PARSERS": ["absolute-time"],
    "STRICT_PARSING": True,
    "REQUIRE_PARTS": ["day", "month", "year"],
    "RETURN_AS_TIMEZONE_AWARE": False,
}
_MAX_DATE_TEXT = 64

# "— Name (@handle) date" as a whole line (any dash, "--" too), or ending a line of quoted
# text (em or en dash only, after a space or a sentence's end, so that "a-b (@x) 2" in
# running text does not count). The date may not hold another "(@": one byline per match.
_HANDLE = r"\(@(?P<handle>[^\s()@][^\s()]{0,99})\)"
_TAIL = (rf"\s*(?P<name>[^\n—–]{{0,100}}?)\s*{_HANDLE}"
         rf"\s*(?P<date>(?:(?!\(@)[^\n]){{0,{_MAX_DATE_TEXT}}})$")
_BYLINE_LINE = re.compile(rf"(?:[—–]|--?)(?!-){_TAIL}")
_BYLINE_END = re.compile(rf"(?:(?<=\S\s)|(?<=[.!?…\"»”)\]]))\s*[—–]{_TAIL}")
_BYLINE_MAX = 400  # a byline is short: only a line's last characters are searched


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an article's text, whitespace normalised."""

    text: str
    gap: bool = False  # a blank line (paragraph break) comes before it
    barrier: bool = False  # an embed or a heading: never part of a quote


@dataclass(frozen=True, slots=True)
class Remnant:
    """A flattened embed: its byline, and the quoted post above it."""

    line: int  # index of the byline line
    platform: str
    author: str
    author_name: str | None
    date_text: str | None
    date: str | None
    quoted_text: str | None
    text: str  # the quoted text and the byline, as they read

    def ref(self, position: int) -> EmbedRef:
        return EmbedRef(self.platform, FoundIn.TEXT, position, None, "text", self.author,
                        self.author_name, self.quoted_text, self.date_text, self.date,
                        markup=self.text[:MARKUP_LIMIT])


class LineBuilder:
    """Collects text in document order into lines: `line()` at a line break (<br>),
    `paragraph()` at a paragraph's edge, `barrier()` where an embed stands."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self._buf: list[str] = []
        self._gap = False

    def add(self, text: str) -> None:
        self._buf.append(text)

    def line(self, heading: bool = False) -> None:
        text = " ".join("".join(self._buf).split()) if self._buf else ""
        self._buf.clear()
        if text:
            self.lines.append(Line(text, self._gap, heading))
            self._gap = False
        else:
            self._gap = True  # an empty line (<br><br>) is a paragraph break

    def paragraph(self, heading: bool = False) -> None:
        self.line(heading)  # a heading never belongs to a quote: it is a barrier
        self._gap = True

    def barrier(self) -> None:
        self.paragraph()
        self.lines.append(Line("", True, barrier=True))


def lines_from_text(text: str) -> list[Line]:
    """Split plain text into normalised lines, noting paragraph breaks."""
    lines: list[Line] = []
    gap = False
    for raw in text.splitlines():
        clean = " ".join(raw.split())
        if not clean:
            gap = True
            continue
        lines.append(Line(clean, gap and bool(lines)))
        gap = False
    return lines


def join_lines(lines: Sequence[Line]) -> str:
    """Lines back to text: a paragraph break is a blank line, a line break a newline."""
    parts: list[str] = []
    for line in lines:
        if parts:
            parts.append("\n\n" if line.gap else "\n")
        parts.append(line.text)
    return "".join(parts)


def platform_of_handle(handle: str) -> str | None:
    """The platform whose handles look like `handle` (without '@'), if any."""
    for name, pattern in _handle_rules():
        if pattern.fullmatch(handle):
            return name
    return None


@lru_cache(maxsize=1)
def _handle_rules() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((p.name, p.handle_pattern) for p in REGISTRY if p.handle_pattern is not None)


def find_remnants(lines: Sequence[Line]) -> list[Remnant]:
    """Every byline in `lines` whose handle some platform claims, with its quote."""
    found: list[Remnant] = []
    floor = 0  # lines before this index belong to an earlier remnant
    for index, line in enumerate(lines):
        if line.barrier or "(@" not in line.text:
            continue
        text = line.text
        lead: str | None = None
        m = _BYLINE_LINE.match(text) if len(text) <= _BYLINE_MAX else None
        if m is None:
            start = max(0, len(text) - _BYLINE_MAX)
            m = _BYLINE_END.search(text, start)
            if m is None:
                continue
            lead = text[:m.start()].rstrip()
        handle, date_text = m["handle"], m["date"].strip()
        platform = platform_of_handle(handle)
        # a byline's tail is a date (it has digits) or nothing; prose means it is not one
        if platform is None or (date_text and not any(c.isdigit() for c in date_text)):
            continue
        quote = _quote(lines, floor, index, lead)
        byline = text[m.start():].strip()
        found.append(Remnant(
            line=index,
            platform=platform,
            author=handle,
            author_name=m["name"].strip() or None,
            date_text=date_text or None,
            date=parse_date(date_text) if date_text else None,
            quoted_text=quote,
            text=f"{quote}\n{byline}" if quote else byline,
        ))
        floor = index + 1
    return found


def _quote(lines: Sequence[Line], floor: int, index: int, lead: str | None) -> str | None:
    """The post text above the byline at `index` (see `TWEET_LENGTH`)."""
    taken: list[Line] = [Line(lead, lines[index].gap)] if lead else []
    total = len(lead) if lead else 0
    for j in range(index - 1, floor - 1, -1):
        line = lines[j]
        too_long = total + len(line.text) > TWEET_LENGTH
        if line.barrier or (taken and (too_long or line.text.endswith((":", "：")))):
            break
        taken.append(line)
        total += len(line.text)
    return join_lines(taken[::-1]) or None


@lru_cache(maxsize=4096)
def parse_date(text: str) -> str | None:
    """The date shown as `text` (any of `DATE_LANGUAGES`), ISO 8601; None if unreadable."""
    text = " ".join(text.split())
    if not text or len(text) > _MAX_DATE_TEXT or not any(c.isdigit() for c in text):
        return None
    fast = _english_date(text)
    if fast is not None:
        return fast or None
    try:
        found = _date_parser().get_date_data(text).date_obj
    except Exception:  # a third-party parser on untrusted text: unreadable is just None
        return None
    return found.date().isoformat() if isinstance(found, dt.datetime) else None


@lru_cache(maxsize=1)
def _date_parser() -> Any:
    from dateparser.date import DateDataParser  # slow to import: only when needed

    return DateDataParser(languages=list(DATE_LANGUAGES), settings=_DATE_SETTINGS,
                          try_previous_locales=False)


_MONTHS = {name: number for number, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
    ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
    ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
    ("dec", "december")), start=1) for name in names}
_ENGLISH = re.compile(
    r"(?:(?P<m1>[A-Za-z]{3,9})\.? (?P<d1>\d{1,2}), (?P<y1>\d{4})"  # September 27, 2020
    r"|(?P<d2>\d{1,2}) (?P<m2>[A-Za-z]{3,9})\.? (?P<y2>\d{4})"  # 27 Sep 2020
    r"|(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2}))")  # 2020-09-27


def _english_date(text: str) -> str | None:
    """Twitter's default English and ISO forms without dateparser: ISO date, '' when the
    form matched but is no date (31 February), None when dateparser should try."""
    m = _ENGLISH.fullmatch(text)
    if m is None:
        return None
    if m["y3"]:
        year, month, day = int(m["y3"]), int(m["m3"]), int(m["d3"])
    else:
        month = _MONTHS.get((m["m1"] or m["m2"]).lower(), 0)
        if not month:
            return None
        year, day = int(m["y1"] or m["y2"]), int(m["d1"] or m["d2"])
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return ""
