"""WebData's lists on a hand-made index: the author and date filters, and the capped count
of filtered lists (what keeps a search for a prolific author fast at archive scale)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from archiver.config import Config, StorageConfig
from archiver.store.schema import CaptureRow, PostRow
from archiver.web import data
from archiver.web.data import Filters, WebData


def _post(s: Session, post_id: str, author: str, day: str, capture_id: str) -> None:
    """A post captured once (live) on `day`."""
    post = PostRow(platform="twitter", post_id=post_id, author=author,
                   url=f"https://x.com/{author}/status/{post_id}", first_seen=day,
                   last_captured=day, last_status="live")
    s.add(post)
    s.flush()
    s.add(CaptureRow(id=capture_id, post_row_id=post.id, status="live", started_at=day,
                     finished_at=day, author=author))


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebData]:
    config = replace(Config(), storage=replace(StorageConfig(), data_dir=tmp_path))
    web = WebData(config)
    with web.index.session() as s:
        # Heavy: 30 posts, each captured on 2026-03-0N; light: 2 posts; other: 1
        for i in range(30):
            _post(s, str(100 + i), "Heavy", f"2026-03-{1 + i % 9:02d}T12:00:00Z", f"c{i:03d}")
        for i, (author, day) in enumerate((("light", "2026-01-05T00:00:00Z"),
                                           ("light", "2026-06-05T00:00:00Z"),
                                           ("other", "2026-03-02T00:00:00Z"))):
            _post(s, str(900 + i), author, day, f"d{i:03d}")
    yield web
    web.close()


def test_author_in_any_case_and_capture_dates(web: WebData) -> None:
    got = web.posts(Filters(author="@LIGHT"), 1, 50)
    assert sorted(p.post_id for p in got.items) == ["900", "901"]
    got = web.posts(Filters(author="light", date_from="2026-06-01"), 1, 50)
    assert [p.post_id for p in got.items] == ["901"]
    got = web.posts(Filters(author="light", date_to="2026-01-05"), 1, 50)  # the whole day
    assert [p.post_id for p in got.items] == ["900"]
    got = web.posts(Filters(date_from="2026-03-02", date_to="2026-03-02"), 1, 50)
    assert sorted(p.post_id for p in got.items) == ["101", "110", "119", "128", "902"]
    assert got.paging.total == 5 and not got.paging.total_is_lower_bound


def test_filtered_counts_stop_at_the_cap_and_say_so(web: WebData,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "COUNT_CAP", 7)
    first = web.posts(Filters(author="heavy"), 1, 5)
    assert len(first.items) == 5
    assert first.paging.total == 7 and first.paging.total_is_lower_bound
    assert first.paging.pages == 2  # at least: a next page is offered
    # counting always reaches past the page asked for, so the pager never ends early
    deep = web.posts(Filters(author="heavy"), 4, 5)
    assert deep.paging.total == 21 and deep.paging.total_is_lower_bound
    assert deep.paging.pages >= 5
    last = web.posts(Filters(author="heavy"), 6, 5)
    assert last.paging.total == 30 and not last.paging.total_is_lower_bound
    assert last.paging.pages == 6 and len(last.items) == 5
    # every post once over the pages, newest first
    seen = [p.post_id for page in range(1, 7)
            for p in web.posts(Filters(author="heavy"), page, 5).items]
    assert sorted(seen) == sorted(str(100 + i) for i in range(30))
    # the unfiltered list is counted exactly
    everything = web.posts(Filters(), 1, 5)
    assert everything.paging.total == 33 and not everything.paging.total_is_lower_bound


def _plans(web: WebData, filters: Filters) -> list[str]:
    """The query plan of every statement one page of the posts list runs."""
    statements: list[tuple[str, object]] = []

    def grab(conn: object, cursor: object, statement: str, params: object,
             *args: object) -> None:
        statements.append((statement, params))

    event.listen(web.index.engine, "before_cursor_execute", grab)
    try:
        web.posts(filters, 1, 5)
    finally:
        event.remove(web.index.engine, "before_cursor_execute", grab)
    plans = []
    for statement, params in statements:
        with web.index.engine.connect() as conn:
            plans.append(" ".join(str(r[3]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, params)))  # type: ignore[arg-type]
    return plans


def test_the_author_filter_reads_the_author_indexes(web: WebData,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # author alone: the author's posts, newest first
    for plan in _plans(web, Filters(author="Heavy")):
        assert "SCAN posts" not in plan and "SCAN captures" not in plan, plan
    assert any("USING INDEX ix_posts_author_lower_captured" in p
               for p in _plans(web, Filters(author="Heavy")))
    # author and dates: the author's captures in the range name the posts, from the index
    # alone, and the posts are read by row; no walk over all the author's posts
    plans = _plans(web, Filters(author="Heavy", date_from="2026-03-01"))
    assert "INDEX ix_captures_author_started_post" in plans[0], plans  # COVERING or not
    for plan in plans:
        assert "SCAN posts" not in plan and "SCAN captures" not in plan, plan
        assert "ix_posts_author_lower_captured" not in plan, plan
    # more of them than the count's cap: the author's posts, newest first, as before
    monkeypatch.setattr(data, "COUNT_CAP", 7)
    plans = _plans(web, Filters(author="Heavy", date_from="2026-03-01"))
    assert any("USING INDEX ix_posts_author_lower_captured" in p for p in plans), plans
    for plan in plans:
        assert "SCAN posts" not in plan and "SCAN captures" not in plan, plan


def test_author_and_dates_list_the_same_posts_with_few_or_many(
        web: WebData, monkeypatch: pytest.MonkeyPatch) -> None:
    """Heavy's posts captured from 2026-03-02 on: 26 of 30. Under the cap they are named
    by the author's captures and counted exactly; over it (a cap of 7), the author's posts
    are walked and the count says "at least" without walking them all."""
    f = Filters(author="HEAVY", date_from="2026-03-02", date_to="2026-03-09")
    expected = sorted(str(100 + i) for i in range(30) if i % 9)

    def listed() -> tuple[list[str], list[tuple[int, bool]]]:
        pages = [web.posts(f, n, 5) for n in range(1, 7)]
        return ([p.post_id for page in pages for p in page.items],
                [(page.paging.total, page.paging.total_is_lower_bound) for page in pages])

    few, few_totals = listed()
    assert sorted(few) == expected and len(few) == 26
    assert few_totals == [(26, False)] * 6
    monkeypatch.setattr(data, "COUNT_CAP", 7)
    many, many_totals = listed()
    assert many == few  # the same order: newest capture first
    assert many_totals[0] == (7, True)  # known to be more, not counted
    assert many_totals[-1] == (26, False)  # the last page counts past the cap
    # another filter on top: counted (capped), not assumed
    narrowed = web.posts(replace(f, status="deleted"), 1, 5)
    assert narrowed.items == [] and narrowed.paging.total == 0


def test_the_posts_list_counts_each_posts_captures(web: WebData) -> None:
    with web.index.session() as s:
        post = s.query(PostRow).filter_by(post_id="901").one()
        for n in range(3):
            s.add(CaptureRow(id=f"e{n}", post_row_id=post.id, status="live",
                             started_at=f"2026-06-0{6 + n}T00:00:00Z", author="light"))
    for f in (Filters(author="light"), Filters(author="light", date_from="2026-01-01"),
              Filters()):
        counts = {p.post_id: p.captures for p in web.posts(f, 1, 50).items}
        assert counts["900"] == 1 and counts["901"] == 4, (f, counts)


def test_captures_by_author_and_dates(web: WebData, monkeypatch: pytest.MonkeyPatch) -> None:
    got = web.captures(1, 50, filters=Filters(author="@LIGHT"))
    assert [c.capture_id for c in got.items] == ["d001", "d000"]  # newest first
    assert [c.author for c in got.items] == ["light", "light"]
    got = web.captures(1, 50, filters=Filters(author="light", date_to="2026-01-05"))
    assert [c.capture_id for c in got.items] == ["d000"]  # the whole of the last day
    got = web.captures(1, 50, Filters(status="live", date_from="2026-03-09",
                                       date_to="2026-03-09"))
    assert sorted(c.capture_id for c in got.items) == ["c008", "c017", "c026"]
    assert web.captures(1, 50, Filters(status="failed", author="light")).items == []
    assert web.captures(1, 50).paging.total == 33  # all of them, under the cap
    # the count stops at the cap, filtered or not (a million captures cost 5 ms to count)
    monkeypatch.setattr(data, "COUNT_CAP", 7)
    heavy = web.captures(1, 5, filters=Filters(author="heavy"))
    assert heavy.paging.total == 7 and heavy.paging.total_is_lower_bound
    everything = web.captures(1, 5)
    assert everything.paging.total == 7 and everything.paging.total_is_lower_bound
    last = web.captures(7, 5)
    assert last.paging.total == 33 and not last.paging.total_is_lower_bound
    assert len(last.items) == 3
    for bad in (Filters(date_from="March"), Filters(author="x", date_to="2026-13-45x"),
                Filters(author="x", date_from="2026-02-30"), Filters(date_to="2026-13-01")):
        with pytest.raises(ValueError, match="must be a date"):
            web.captures(1, 5, filters=bad)
        with pytest.raises(ValueError, match="must be a date"):
            web.posts(bad, 1, 5)
    with pytest.raises(ValueError, match="status must be one of"):
        web.captures(1, 5, Filters(status="edited"))  # a post's state, not a capture's status
