"""Embeds that survived only as text, and the dates shown next to embeds."""

from __future__ import annotations

import pytest

from archiver import textembeds
from archiver.textembeds import (
    TWEET_LENGTH,
    Line,
    LineBuilder,
    find_remnants,
    join_lines,
    lines_from_text,
    parse_date,
    platform_of_handle,
)


def remnants(text: str) -> list[textembeds.Remnant]:
    return find_remnants(lines_from_text(text))


def test_lines_keep_paragraph_breaks_and_normalise_space() -> None:
    lines = lines_from_text("  one\t two \n\n\nthree\r\nfour\u00a0 five\n")
    assert [line.text for line in lines] == ["one two", "three", "four five"]
    assert [line.gap for line in lines] == [False, True, False]
    assert join_lines(lines) == "one two\n\nthree\nfour five"


def test_line_builder_breaks() -> None:
    text = LineBuilder()
    for part in ("a ", " b"):
        text.add(part)
    text.line()
    text.line()  # an empty line: a paragraph break
    text.add("c")
    text.paragraph(heading=True)
    text.barrier()
    text.add("d")
    text.paragraph()
    assert text.lines == [Line("a b"), Line("c", True, True), Line("", True, True),
                          Line("d", True)]


@pytest.mark.parametrize("dash", ["–", "—", "--", "-"])
def test_byline_line_with_any_dash(dash: str) -> None:
    [r] = remnants(f"Intro paragraph of the article:\n\nThe post.\n\n"
                   f"{dash} Jane Doe (@jane_doe) 27 septembre 2020\n\nMore article.")
    assert (r.platform, r.author, r.author_name) == ("twitter", "jane_doe", "Jane Doe")
    assert (r.date_text, r.date, r.quoted_text) == ("27 septembre 2020", "2020-09-27",
                                                    "The post.")


def test_byline_ending_the_post_line() -> None:
    [r] = remnants("Lead in:\n\nWe stand ready.— Jane Doe (@jane_doe) September 27, 2020")
    assert r.quoted_text == "We stand ready."
    assert r.text == "We stand ready.\n— Jane Doe (@jane_doe) September 27, 2020"
    assert r.date == "2020-09-27"


@pytest.mark.parametrize(("handle", "platform"), [
    ("NikolPashinyan", "twitter"),
    ("jay.bsky.team", "bluesky"),
    ("name.bsky.social", "bluesky"),
    ("Gargron@mastodon.social", "mastodon"),
    ("user.name@social.example.org", "mastodon"),
    ("far_too_long_for_twitter", None),
    ("no spaces", None),
])
def test_platform_is_told_by_the_handle(handle: str, platform: str | None) -> None:
    assert platform_of_handle(handle) == platform


def test_bluesky_and_mastodon_remnants() -> None:
    found = remnants("Post one.\n— Jay (@jay.bsky.team) September 27, 2024 at 10:15 AM\n\n"
                     "Post two.\n— Eugen (@Gargron@mastodon.social) 2024-09-28\n")
    assert [(r.platform, r.author, r.date) for r in found] == [
        ("bluesky", "jay.bsky.team", "2024-09-27"),
        ("mastodon", "Gargron@mastodon.social", "2024-09-28")]
    assert [r.quoted_text for r in found] == ["Post one.", "Post two."]


@pytest.mark.parametrize("text", [
    "He said - in passing (@someone) - that it would wait.",  # hyphens in running text
    "— Jane Doe (@jane_doe) said the plan was never agreed",  # prose, not a date
    "— Jane Doe (@bad handle) 27 September 2020",
    "Jane Doe (@jane_doe) 27 September 2020",  # no dash
    "Contact: press office (@example) or 555 0100",
])
def test_not_bylines(text: str) -> None:
    assert remnants(text) == []


def test_quote_gathers_paragraphs_within_a_tweets_length() -> None:
    old = "O" * 200
    first, second = "A" * 100, "B" * 150
    [r] = remnants(f"{old}\n\n{first}\n\n{second}\n\n— X (@x) 1 May 2020")
    assert r.quoted_text == f"{first}\n\n{second}"  # the 200 more would pass 280
    assert len(first) + len(second) <= TWEET_LENGTH


def test_nearest_paragraph_is_taken_even_when_long() -> None:
    long = "L" * 400
    [r] = remnants(f"Before.\n\n{long}\n\n— X (@x) 1 May 2020")
    assert r.quoted_text == long


def test_quote_stops_at_an_introducing_colon_and_at_the_previous_byline() -> None:
    found = remnants("Here is what she wrote:\n\nOne.\n\n— A (@a) 1 May 2020\n\n"
                     "Two.\n\n— B (@b) 2 May 2020")
    assert [r.quoted_text for r in found] == ["One.", "Two."]


def test_quote_stops_at_a_barrier() -> None:
    lines = [Line("Before."), Line("", True, barrier=True), Line("— A (@a) 1 May 2020", True)]
    [r] = find_remnants(lines)
    assert r.quoted_text is None
    assert r.text == "— A (@a) 1 May 2020"


def test_byline_without_date() -> None:
    [r] = remnants("The post.\n— Jane (@jane)")
    assert (r.date_text, r.date, r.author_name) == (None, None, "Jane")


def test_huge_line_is_fast_and_harmless() -> None:
    text = ("— a (@b) " + "-" * 50 + " ") * 20_000
    assert remnants(text) == []


@pytest.mark.parametrize(("shown", "iso"), [
    ("27 septembre 2020", "2020-09-27"),
    ("September 27, 2020", "2020-09-27"),
    ("Sep 27, 2020", "2020-09-27"),
    ("27 Sept 2020", "2020-09-27"),
    ("2020-09-27", "2020-09-27"),
    ("27. September 2020", "2020-09-27"),
    ("27 de septiembre de 2020", "2020-09-27"),
    ("27 settembre 2020", "2020-09-27"),
    ("27 de setembro de 2020", "2020-09-27"),
    ("27 сентября 2020 г.", "2020-09-27"),
    ("27 вересня 2020 р.", "2020-09-27"),
    ("٢٧ سبتمبر ٢٠٢٠", "2020-09-27"),
    ("27 Eylül 2020", "2020-09-27"),
    ("2020年9月27日", "2020-09-27"),
    ("11:45 AM - 27 Sep 2020", "2020-09-27"),
])
def test_dates_in_many_languages(shown: str, iso: str) -> None:
    assert parse_date(shown) == iso


@pytest.mark.parametrize("shown", [
    "", "   ", "yesterday", "3 hours ago", "il y a 2 jours", "September 2020",
    "31 February 2020", "2020-13-45", "garbage", "\x00\x01", "9" * 100, "27 " * 40,
])
def test_unreadable_dates_are_none(shown: str) -> None:
    assert parse_date(shown) is None


def test_dateparser_runs_once_per_distinct_date(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = textembeds._date_parser()

    class Counting:
        def get_date_data(self, text: str) -> object:
            calls.append(text)
            return real.get_date_data(text)

    monkeypatch.setattr(textembeds, "_date_parser", lambda: Counting())
    parse_date.cache_clear()
    try:
        for _ in range(3):
            assert parse_date("28 septembre 2020") == "2020-09-28"
        assert parse_date("September 28, 2020") == "2020-09-28"  # English: no dateparser
    finally:
        parse_date.cache_clear()
    assert calls == ["28 septembre 2020"]
