"""What a power cut would keep, checked at every moment something comes to name it.

A power cut keeps what was synced: a file's bytes once the file was fsynced after they were
written, a name in a directory once the directory was fsynced after it got the name (a
rename is a new name), and nothing else (POSIX; ext4 and XFS keep no more by promise). The
index's commits are durable when they return (SQLite synchronous=FULL); the ledger's lines
once the ledger is fsynced.

`Disk` records, at each fsync the archiver makes, what that sync made durable (by inode,
so that a directory renamed into place keeps what was synced under its staging name). At
every index commit and every sync of the ledger it checks that everything they name would
survive a cut at that instant: each stored capture's and article's directory, every file
and name in it, a late timestamp token, the archive's key, and, for the index's ledger
head, the ledger file with that many lines. A failure is a power cut that would leave the index or
the ledger naming evidence that is not on disk (verify --all failing for good).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from archiver.config import Config
from archiver.evidence.timestamp import late_token_path
from archiver.models import CaptureStatus
from tests.harness import SEED_IDS, SEED_URL, LoopThread, archive_run
from tests.tsa import start_tsa

Key = tuple[int, int]


def _key(st: os.stat_result) -> Key:
    return st.st_dev, st.st_ino


class Disk:
    """What a power cut at this instant would keep under `root` (see the module)."""

    def __init__(self, root: Path, index: Path) -> None:
        self.root, self.index = root, index
        self.contents: dict[Key, bytes] = {}
        self.names: dict[Key, dict[str, Key]] = {}
        self.problems: list[str] = []
        self.checks = 0
        self.syncs = 0

    def synced(self, fd: int) -> None:
        """An fsync of `fd` returned: its bytes, or a directory's names, are durable."""
        self.syncs += 1
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            path = os.readlink(f"/proc/self/fd/{fd}")
            self.names[_key(st)] = {e.name: _key(e.stat(follow_symlinks=False))
                                    for e in os.scandir(path)}
        elif stat.S_ISREG(st.st_mode):
            with open(f"/proc/self/fd/{fd}", "rb") as fh:
                self.contents[_key(st)] = fh.read()
            if os.readlink(f"/proc/self/fd/{fd}") == str(self.root / "ledger.jsonl"):
                self.check("the ledger was synced")

    def _kept(self, path: Path, why: str) -> bool:
        """Whether `path` (under root) and all it holds would survive; notes what would not."""
        parent = self.root
        for part in path.relative_to(self.root).parts:
            here = parent / part
            try:
                key = _key(here.lstat())
            except OSError:
                self.problems.append(f"{why}: {here} does not exist")
                return False
            if self.names.get(_key(parent.lstat()), {}).get(part) != key:
                self.problems.append(f"{why}: the name {part!r} in {parent} was never synced")
                return False
            parent = here
        return self._whole(path, why)

    def _whole(self, path: Path, why: str) -> bool:
        st = path.lstat()
        if stat.S_ISDIR(st.st_mode):
            synced = self.names.get(_key(st))
            now = {e.name: _key(e.stat(follow_symlinks=False)) for e in os.scandir(path)}
            if synced != now:
                self.problems.append(f"{why}: the entries of {path} were not synced as they "
                                     f"are ({sorted(set(now) - set(synced or {}))} missing)")
                return False
            return all([self._whole(path / name, why) for name in now])
        if self.contents.get(_key(st)) != path.read_bytes():
            self.problems.append(f"{why}: the bytes of {path} were not synced as they are")
            return False
        return True

    def check(self, why: str) -> None:
        """Everything the index and the ledger name now would survive a cut now."""
        self.checks += 1
        ledger = self.root / "ledger.jsonl"
        kept = self.contents.get(_key(ledger.lstat()), b"") if ledger.exists() else b""
        named = [json.loads(line)["directory"] for line in kept.splitlines()]
        if not self.index.exists():
            return
        db = sqlite3.connect(f"file:{self.index}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT id, directory, timestamp FROM captures WHERE status != "
                              "'in_progress' AND manifest_sha256 IS NOT NULL").fetchall()
            articles = [d for (d,) in db.execute(
                "SELECT directory FROM article_fetches WHERE directory IS NOT NULL")]
            head = db.execute("SELECT value FROM meta WHERE key = 'ledger_head'").fetchone()
        finally:
            db.close()
        named += [d for _, d, _ in rows] + articles
        for directory in dict.fromkeys(named):
            self._kept(self.root / directory, f"{why} ({directory})")
        for capture_id, _, stamp in rows:
            if stamp == "stamped_later":
                self._kept(late_token_path(self.root, capture_id), f"{why} (late token)")
        if rows:
            for name in ("archive-key.pem", "archive-key.pub.pem"):
                self._kept(self.root / "keys" / name, f"{why} (the key that signed them)")
        if head is not None:
            seq = int(str(head[0]).partition(":")[0])
            self._kept(ledger, f"{why} (the ledger, whose head the index holds)")
            if len(kept.splitlines()) < seq:
                self.problems.append(f"{why}: the index's ledger head is line {seq}, the "
                                     f"synced ledger has {len(kept.splitlines())} lines")


@pytest.fixture()
def disk(config: Config, monkeypatch: pytest.MonkeyPatch) -> Iterator[Disk]:
    root = config.storage.data_dir
    index = Path(config.storage.effective_database_url.removeprefix("sqlite:///"))
    watch = Disk(root, index)
    real_fsync = os.fsync

    def fsync(fd: Any) -> None:
        real_fsync(fd)
        watch.synced(fd if isinstance(fd, int) else fd.fileno())

    def committed(_session: Session) -> None:
        watch.check("an index commit")

    monkeypatch.setattr(os, "fsync", fsync)
    event.listen(Session, "after_commit", committed)
    try:
        yield watch
    finally:
        event.remove(Session, "after_commit", committed)


@pytest.mark.browser
def test_a_power_cut_at_any_instant_leaves_nothing_named_that_is_not_on_disk(
        browser_loop: LoopThread, config: Config, disk: Disk, tmp_path: Path) -> None:
    """Two runs of an article with embeds and a post: captures stored, chained, stamped
    late by an authority that did not answer the first time; at each of the hundreds of
    moments the index or the ledger named something, all of it was durable."""
    assert config.storage.effective_database_url == \
        f"sqlite:///{config.storage.data_dir / 'index.sqlite3'}"
    post = f"https://x.com/NikolPashinyan/status/{SEED_IDS[0]}"
    with start_tsa(tmp_path / "tsa") as tsa:
        config = replace(config, evidence=replace(config.evidence, tsa_urls=(tsa.url,),
                                                  tsa_ca_bundle=str(tsa.ca_pem)))
        tsa.fail = True
        first = archive_run(browser_loop, config, SEED_URL)
        tsa.fail = False
        second = archive_run(browser_loop, config, post)
    stored = [c for c in (*first.captures, *second.captures) if c.directory]
    assert len(stored) >= 3 and all(c.status is CaptureStatus.LIVE for c in stored)
    assert any("timestamped" in n for n in second.notes)  # a late token was written
    assert first.articles and first.articles[0].directory
    assert "\n".join(dict.fromkeys(disk.problems)) == ""
    assert disk.checks > 20 and disk.syncs > 20
