"""The append-only ledger: one JSON line per stored capture, each naming the hash of the
line before it, so no capture can be removed, reordered or altered quietly.

    <data_dir>/ledger.jsonl
    {"seq": 1, "capture_id": "...", "platform": "twitter", "post_id": "...",
     "directory": "captures/...", "manifest_sha256": "...", "recorded_at": "...",
     "prev_sha256": "<sha256 of the previous line's bytes, or 64 zeros>"}

The index keeps the hash of the last line (the head), so cutting lines off the end is
caught too. Appends hold an exclusive lock on ledger.lock, so concurrent runs interleave
whole lines. An auditor can recompute the chain with sha256sum and a text editor.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from archiver.errors import StoreError
from archiver.evidence.verify import Problem
from archiver.store.files import fsync_dir, storage_error

LEDGER = "ledger.jsonl"
#: Where the start of a line that an interrupted append left (no newline) is moved to
#: before the next append: kept for whoever looks into it, out of the chain.
TORN = "ledger.jsonl.torn"
GENESIS = "0" * 64


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    capture_id: str
    platform: str
    post_id: str
    directory: str
    manifest_sha256: str
    recorded_at: str
    prev_sha256: str

    def line(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode()


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "ledger.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _tail(path: Path) -> tuple[int, bytes]:
    """(the file's size, its last 64 KiB: more than any line); (0, b"") when missing."""
    try:
        with path.open("rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, end - 65536))
            return end, fh.read()
    except FileNotFoundError:
        return 0, b""


def _last_line(tail: bytes) -> bytes | None:
    lines = tail.rstrip(b"\n").split(b"\n")
    return lines[-1] if lines[-1] else None


def _mend_tail(path: Path) -> bytes | None:
    """End the ledger with a whole line, and return that line (None: no entry yet). A last
    entry that lost only its newline gets it back; the start of a line an interrupted
    append left is moved to `TORN`. (Either is never a recorded head, which is set once its
    line is written: the chain is whole.)"""
    end, tail = _tail(path)
    if end == 0 or tail.endswith(b"\n"):
        return _last_line(tail)
    cut = tail.rfind(b"\n")
    if cut < 0 and end > len(tail):
        raise StoreError(f"the last line of {path} is longer than any entry; run archiver "
                         "verify --all")
    fragment = tail[cut + 1:]
    try:
        try:
            _entry(fragment)
            mended = True
        except (ValueError, RecursionError):
            mended = False
        if mended:
            with path.open("ab") as fh:
                fh.write(b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            return fragment
        with (path.parent / TORN).open("ab") as aside:
            aside.write(fragment + b"\n")
            aside.flush()
            os.fsync(aside.fileno())
        os.truncate(path, end - len(fragment))
    except OSError as exc:
        raise storage_error(f"cannot mend the end of {path}", exc) from exc
    return _last_line(tail[:cut + 1])


def append(data_dir: Path, *, capture_id: str, platform: str, post_id: str, directory: str,
           manifest_sha256: str, recorded_at: str,
           on_head: Callable[[str], None] | None = None) -> tuple[LedgerEntry, str]:
    """Append one entry; returns it and the new head (sha256 of its line).

    `on_head("<seq>:<head>")` runs while the ledger is still locked, so whoever records the
    head elsewhere (the index) records heads in ledger order.
    """
    with _locked(data_dir):
        return _append(data_dir / LEDGER, capture_id=capture_id, platform=platform,
                       post_id=post_id, directory=directory,
                       manifest_sha256=manifest_sha256, recorded_at=recorded_at,
                       on_head=on_head)


def append_missing(data_dir: Path, *, capture_id: str, platform: str, post_id: str,
                   directory: str, manifest_sha256: str, recorded_at: str,
                   on_head: Callable[[str], None] | None = None) -> bool:
    """Append an entry for a capture the ledger does not name yet; False if it does. Checked
    under the lock, so two runs settling the same capture enter it once."""
    with _locked(data_dir):
        if any(e.capture_id == capture_id for e in read(data_dir).entries):
            return False
        _append(data_dir / LEDGER, capture_id=capture_id, platform=platform,
                post_id=post_id, directory=directory, manifest_sha256=manifest_sha256,
                recorded_at=recorded_at, on_head=on_head)
        return True


def seq_of(head: str) -> int:
    """The line number in a head "<seq>:<sha256>"."""
    return int(head.partition(":")[0])


def settle_head(data_dir: Path, head: Callable[[], str | None],
                stored: Callable[[LedgerEntry], bool],
                record: Callable[[str, list[LedgerEntry]], None]) -> bool:
    """Move the recorded head (`head()`, saved by `record(head, entries moved over)`) to
    the ledger's last line when a run was killed between writing its entry and recording
    the head: only over entries that `stored` confirms (the index holds the capture as
    stored, with that manifest), and only from a head that names a line of this ledger.
    True if it moved."""
    with _locked(data_dir):
        recorded, last = head(), _last_line(_tail(data_dir / LEDGER)[1])
        if last is None or (recorded or "").partition(":")[2] == \
                hashlib.sha256(last).hexdigest():
            return False  # the usual case, seen from the tail: the head is the last line
        reading = read(data_dir)
        if not reading.entries or reading.problems:
            return False
        at = -1
        if recorded is not None:
            seq, _, digest = recorded.partition(":")
            found = [i for i, e in enumerate(reading.entries) if str(e.seq) == seq]
            if not found or reading.hashes[found[0]] != digest:
                return False  # not a gap a crash leaves: verify reports it
            at = found[0]
        behind = reading.entries[at + 1:]
        if not behind or not all(stored(e) for e in behind):
            return False
        record(f"{reading.entries[-1].seq}:{reading.hashes[-1]}", behind)
        return True


def _append(path: Path, *, capture_id: str, platform: str, post_id: str, directory: str,
            manifest_sha256: str, recorded_at: str,
            on_head: Callable[[str], None] | None) -> tuple[LedgerEntry, str]:
    """`append`, the ledger locked."""
    last = _mend_tail(path)
    if last is None:
        seq, prev = 1, GENESIS
    else:
        try:
            seq = int(json.loads(last)["seq"]) + 1
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"the last line of {path} is damaged; run archiver verify "
                             "--all") from exc
        prev = hashlib.sha256(last).hexdigest()
    entry = LedgerEntry(seq, capture_id, platform, post_id, directory, manifest_sha256,
                        recorded_at, prev)
    line = entry.line()
    new = not path.is_file()
    size = 0 if new else path.stat().st_size
    try:
        with path.open("ab") as fh:
            fh.write(line + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        if new:  # the ledger's name too: a power cut must not take the whole file back
            fsync_dir(path.parent)
    except OSError as exc:  # a full disk may have taken part of the line: not kept
        with contextlib.suppress(OSError):
            os.truncate(path, size)
        raise storage_error(f"cannot append to {path}", exc) from exc
    head = hashlib.sha256(line).hexdigest()
    if on_head is not None:
        on_head(f"{entry.seq}:{head}")
    return entry, head


@dataclass(frozen=True)
class Reading:
    """The ledger as read: its entries with the hash of each one's line, the problems of
    the chain, and the hash of the last line (entries or not)."""

    entries: list[LedgerEntry]
    hashes: list[str]
    problems: list[Problem]
    last: str | None


_FIELDS = {"seq": int, **{name: str for name in LedgerEntry.__dataclass_fields__
                          if name != "seq"}}


def _entry(line: bytes) -> LedgerEntry:
    """The entry a line holds; ValueError unless it is exactly one, every field typed."""
    loaded = json.loads(line)
    if not isinstance(loaded, dict) or set(loaded) != set(_FIELDS) or any(
            type(loaded[name]) is not kind for name, kind in _FIELDS.items()):
        raise ValueError("not the fields of an entry")
    return LedgerEntry(**loaded)


def read(data_dir: Path) -> Reading:
    """The whole ledger and the problems of its chain."""
    path = data_dir / LEDGER
    if not path.is_file():
        return Reading([], [], [], None)
    entries: list[LedgerEntry] = []
    hashes: list[str] = []
    problems: list[Problem] = []
    prev, head = GENESIS, None
    for n, line in enumerate(path.read_bytes().split(b"\n"), 1):
        if not line:
            continue
        where = f"{LEDGER} line {n}"
        try:
            entry = _entry(line)
        except (ValueError, RecursionError) as exc:
            problems.append(Problem(where, f"not a ledger entry ({exc.__class__.__name__})"))
            prev = head = hashlib.sha256(line).hexdigest()
            continue
        if entry.prev_sha256 != prev:
            problems.append(Problem(where, "does not follow the line before it (a line was "
                                           "removed, inserted, reordered or changed)"))
        if entries and entry.seq != entries[-1].seq + 1:
            problems.append(Problem(where, f"sequence jumps from {entries[-1].seq} to "
                                           f"{entry.seq}"))
        prev = head = hashlib.sha256(line).hexdigest()
        entries.append(entry)
        hashes.append(head)
    return Reading(entries, hashes, problems, head)


def read_with_head(data_dir: Path, head: Callable[[], str | None]
                   ) -> tuple[Reading, str | None]:
    """The ledger and the head recorded for it (`head()`), read together: appends hold the
    lock while they record their head, so the two agree but for a crash between them. A
    data directory this process cannot lock (read-only media) is read as it is."""
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(OSError):
            stack.enter_context(_locked(data_dir))
        return read(data_dir), head()
