"""The ledger on its own: appends that fail part-way, a tail a killed append left, two runs
settling the same capture, the head catching up after a crash, and what `verify` makes of
entries whose captures are still being stored."""

from __future__ import annotations

import hashlib
import json
import resource
import signal
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from archiver.errors import StoreError
from archiver.evidence import ledger
from archiver.evidence.ledger import LEDGER, TORN
from archiver.retrieval import verify_ledger


def add(data_dir: Path, capture_id: str, heads: list[str] | None = None) -> str:
    _, head = ledger.append(data_dir, capture_id=capture_id, platform="twitter",
                            post_id=capture_id, directory=f"captures/{capture_id}",
                            manifest_sha256=capture_id.ljust(64, "0"),
                            recorded_at="2026-01-01T00:00:00.000Z",
                            on_head=heads.append if heads is not None else None)
    return head


def row(capture_id: str, status: str = "live") -> Any:
    """What verify_ledger reads of an index row (one in progress has no manifest yet)."""
    return SimpleNamespace(id=capture_id, status=status, directory=f"captures/{capture_id}",
                           manifest_sha256=None if status == "in_progress"
                           else capture_id.ljust(64, "0"))


def test_an_append_cut_short_by_the_disk_leaves_no_part_of_its_line(tmp_path: Path) -> None:
    add(tmp_path, "c1")
    size = (tmp_path / LEDGER).stat().st_size
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, limits[1]))  # part of a line
    try:
        with pytest.raises(StoreError, match="File too large") as failed:
            add(tmp_path, "c2")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, old)
    assert failed.value.expected  # the machine's fault: a failed capture, not a crash
    assert (tmp_path / LEDGER).stat().st_size == size
    add(tmp_path, "c3")  # with room again
    reading = ledger.read(tmp_path)
    assert [e.capture_id for e in reading.entries] == ["c1", "c3"] and not reading.problems


def test_the_start_of_a_line_a_killed_append_left_is_set_aside(tmp_path: Path) -> None:
    add(tmp_path, "c1")
    whole = (tmp_path / LEDGER).read_bytes()
    with (tmp_path / LEDGER).open("ab") as fh:
        fh.write(b'{"seq":2,"capture_id":"c2","plat')
    heads: list[str] = []
    add(tmp_path, "c3", heads)
    reading = ledger.read(tmp_path)
    assert [e.seq for e in reading.entries] == [1, 2] and not reading.problems
    assert (tmp_path / LEDGER).read_bytes().startswith(whole)
    assert (tmp_path / TORN).read_bytes() == b'{"seq":2,"capture_id":"c2","plat\n'
    assert heads == [f"2:{reading.hashes[-1]}"]


def test_a_last_entry_that_lost_only_its_newline_is_kept(tmp_path: Path) -> None:
    add(tmp_path, "c1")
    add(tmp_path, "c2")
    path = tmp_path / LEDGER
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    add(tmp_path, "c3")
    reading = ledger.read(tmp_path)
    assert [e.capture_id for e in reading.entries] == ["c1", "c2", "c3"]
    assert not reading.problems and not (tmp_path / TORN).exists()


def test_lines_with_fields_of_the_wrong_kind_are_problems_not_crashes(tmp_path: Path) -> None:
    add(tmp_path, "c1")
    path = tmp_path / LEDGER
    entry = json.loads(path.read_bytes())
    for field, value in (("seq", "1"), ("capture_id", ["c1"]), ("platform", None)):
        path.write_bytes(json.dumps({**entry, field: value}).encode() + b"\n")
        reading = ledger.read(tmp_path)
        assert reading.entries == [] and len(reading.problems) == 1, field
        result = verify_ledger(tmp_path, [], None)
        assert not result.ok


def test_two_runs_settling_one_capture_enter_it_once(tmp_path: Path) -> None:
    add(tmp_path, "c1")
    start = threading.Barrier(4)
    entered: list[bool] = []

    def settle() -> None:
        start.wait()
        entered.append(ledger.append_missing(
            tmp_path, capture_id="late", platform="twitter", post_id="9",
            directory="captures/late", manifest_sha256="f" * 64,
            recorded_at="2026-01-01T00:00:00.000Z"))

    threads = [threading.Thread(target=settle) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(entered) == [False, False, False, True]
    assert [e.capture_id for e in ledger.read(tmp_path).entries] == ["c1", "late"]


def test_the_head_moves_only_over_entries_the_index_holds(tmp_path: Path) -> None:
    heads: list[str] = []
    add(tmp_path, "c1", heads)
    add(tmp_path, "c2")  # a run killed before it recorded this head
    add(tmp_path, "c3")
    recorded = [heads[-1]]
    moved: list[list[str]] = []

    def settle(stored: set[str], head: str | None) -> bool:
        return ledger.settle_head(tmp_path, lambda: head, lambda e: e.capture_id in stored,
                                  lambda new, over: (recorded.append(new),
                                                     moved.append([e.capture_id for e in over])))

    assert not settle({"c2"}, heads[-1])  # c3 is not in the index (yet)
    assert not settle({"c1", "c2", "c3"}, "1:" + "0" * 64)  # a head this ledger never had
    assert recorded == [heads[-1]]
    assert settle({"c2", "c3"}, heads[-1])
    assert recorded[-1] == f"3:{ledger.read(tmp_path).hashes[-1]}"
    assert moved == [["c2", "c3"]]  # the index learns which lines entered those captures
    assert settle({"c1", "c2", "c3"}, None)  # killed before the very first head


def test_verify_notes_entries_of_captures_still_being_stored(tmp_path: Path) -> None:
    """A run stores a capture while `verify --all` runs, or was killed between writing the
    entry and closing the capture: its entry is noted, not a failure; a head short of the
    end by such entries only is no failure either. An entry of a capture the index does
    not hold, or holds as abandoned, is."""
    heads: list[str] = []
    add(tmp_path, "c1", heads)
    add(tmp_path, "c2")
    done = [row("c1")]
    for later, ok in (({"c2": row("c2", "in_progress")}, True),
                      ({"c2": row("c2")}, True),  # completed since `done` was read
                      ({"c2": row("c2", "abandoned")}, False),
                      ({}, False)):
        result = verify_ledger(tmp_path, done, heads[0], later=later)
        assert result.ok is ok, (later, result.problems)
        assert bool(result.notes) is ok
    # the head names a line the ledger does not hold at that place
    forged = "1:" + hashlib.sha256(b"another line").hexdigest()
    assert not verify_ledger(tmp_path, done, forged, later={"c2": row("c2")}).ok


def test_verify_flags_a_capture_entered_twice(tmp_path: Path) -> None:
    heads: list[str] = []
    add(tmp_path, "c1")
    add(tmp_path, "c1", heads)
    result = verify_ledger(tmp_path, [row("c1")], heads[-1])
    assert [p.issue for p in result.problems] == ["entry 2 names capture c1 again (entry 1)"]
