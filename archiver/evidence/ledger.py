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

LEDGER = "ledger.jsonl"
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


def _last_line(path: Path) -> bytes | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        pos = max(0, end - 65536)
        fh.seek(pos)
        tail = fh.read()
    lines = tail.rstrip(b"\n").split(b"\n")
    return lines[-1] if lines and lines[-1] else None


def append(data_dir: Path, *, capture_id: str, platform: str, post_id: str, directory: str,
           manifest_sha256: str, recorded_at: str,
           on_head: Callable[[str], None] | None = None) -> tuple[LedgerEntry, str]:
    """Append one entry; returns it and the new head (sha256 of its line).

    `on_head("<seq>:<head>")` runs while the ledger is still locked, so whoever records the
    head elsewhere (the index) records heads in ledger order.
    """
    path = data_dir / LEDGER
    with _locked(data_dir):
        last = _last_line(path)
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
        try:
            with path.open("ab") as fh:
                fh.write(line + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise StoreError(f"cannot append to {path}: {exc.strerror}") from exc
        head = hashlib.sha256(line).hexdigest()
        if on_head is not None:
            on_head(f"{entry.seq}:{head}")
        return entry, head


def read_entries(data_dir: Path) -> tuple[list[LedgerEntry], list[Problem], str | None]:
    """Every entry, the problems of the chain, and the hash of the last line."""
    path = data_dir / LEDGER
    if not path.is_file():
        return [], [], None
    entries: list[LedgerEntry] = []
    problems: list[Problem] = []
    prev, head = GENESIS, None
    for n, line in enumerate(path.read_bytes().split(b"\n"), 1):
        if not line:
            continue
        where = f"{LEDGER} line {n}"
        try:
            entry = LedgerEntry(**json.loads(line))
        except (ValueError, TypeError) as exc:
            problems.append(Problem(where, f"not a ledger entry ({exc.__class__.__name__})"))
            prev = head = hashlib.sha256(line).hexdigest()
            continue
        if entry.prev_sha256 != prev:
            problems.append(Problem(where, "does not follow the line before it (a line was "
                                           "removed, inserted, reordered or changed)"))
        if entries and entry.seq != entries[-1].seq + 1:
            problems.append(Problem(where, f"sequence jumps from {entries[-1].seq} to "
                                           f"{entry.seq}"))
        entries.append(entry)
        prev = head = hashlib.sha256(line).hexdigest()
    return entries, problems, head
