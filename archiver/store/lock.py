"""The run lock: one scheduled run at a time per data directory.

`archiver run` holds it for as long as it runs; `archiver run --once` takes it for its run
and skips (exit 0, one log line) when someone else holds it, so overlapping cron or timer
runs never capture the same post twice. The lock is an flock on `<data_dir>/run.lock`:
the kernel releases it when the holder dies, even by kill -9, so a crash never leaves a
stale lock. (flock is not reliable on some network filesystems; keep the data directory
local, or run one scheduler.)
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from types import TracebackType

from archiver.errors import StoreError
from archiver.net import utc_now
from archiver.store.liveness import hold, owner_alive, run_owner

LOCK_NAME = "run.lock"


class RunLock:
    def __init__(self, data_dir: Path, purpose: str) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self.purpose = purpose
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False when another process holds it."""
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            hold(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open the run lock {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        info = json.dumps({"owner": run_owner(), "purpose": self.purpose, "since": utc_now()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode() + b"\n", 0)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def holder(self) -> dict[str, str] | None:
        """Who holds the lock (owner, purpose, since), or None when it is free. Read from
        the lock file, never by taking the lock, so asking cannot make a run skip."""
        if self._fd is not None:
            return {"owner": run_owner(), "purpose": self.purpose}
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return None
        if not isinstance(loaded, dict) or not loaded.get("owner") \
                or not owner_alive(str(loaded["owner"]), data_dir=self.path.parent):
            return None  # free, or left behind by a process that is gone (kill -9)
        return {str(k): str(v) for k, v in loaded.items()}

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
