"""Which process owns what, and whether it still runs.

Rows in the index (captures, runs) carry their owner, "host:pid:start"; files and
directories a process owns until it exits end in its tag, "@host.start.pid" (before 2026-11
"@host.pid"). "host" names the machine *and its PID namespace* ("name+inode"): containers
that share a host name (`docker run --network host`, pods with `hostNetwork`) and a data
directory do not share process numbers, so asking the kernel whether pid 7 runs says
nothing about another container's pid 7.

Whether an owner runs:
- ours (same host name and namespace): its pid runs with the same start time;
- the same machine, another namespace: each process working on a data directory holds an
  flock on `<data_dir>/.live/<tag>` for as long as it runs (`hold`). The kernel drops it
  when the process ends, even by kill -9, whatever the namespace; a file nobody holds is a
  dead process's. Without a data directory to look in, or without its file, it is judged
  as another machine's;
- another machine's (a shared index or directory): until it has been quiet for
  `FOREIGN_STALE_S` (its process numbers are not ours to ask about).
Owners written before names held the namespace ("host:pid", "@host.pid") are judged as ours
when the host name is ours, as they were.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path

#: how long another machine's rows and files are left alone: we cannot ask whether its
#: process runs
FOREIGN_STALE_S = 6 * 3600
LIVE = ".live"

_held: dict[Path, int] = {}


def process_alive(pid: int) -> bool:
    """Whether a process of this number runs in this PID namespace (ours to signal or not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_ticks(pid: int | None = None) -> str:
    """A process's start time in clock ticks since boot (this one's when `pid` is None; ""
    where /proc is missing): with the pid it names one process, even after the pid is
    reused (containers restart as 1)."""
    try:
        stat = Path(f"/proc/{'self' if pid is None else pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def _machine() -> str:
    """This machine's name as it can stand in a file name (no "@", "/", "+" ...)."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "_"


def host() -> str:
    """Where process numbers mean one process: "machine+pid-namespace-inode"."""
    return f"{_machine()}+{_pid_namespace()}"


def run_owner() -> str:
    """"host:pid:start" of this process, recorded on rows it is working on."""
    return f"{host()}:{os.getpid()}:{_start_ticks()}"


def process_tag() -> str:
    """The end of the names of files this process owns until it exits: "@host.start.pid"."""
    return f"@{host()}.{_start_ticks()}.{os.getpid()}"


def _live_file(data_dir: Path, where: str, pid: str, start: str) -> Path:
    return data_dir / LIVE / f"{where}.{start}.{pid}"


def hold(data_dir: Path) -> None:
    """Mark this process as running for whoever shares `data_dir` (other PID namespaces
    included) until it exits. Idempotent; best effort (a read-only directory: nothing)."""
    data_dir = Path(data_dir)
    key = data_dir.resolve()
    if key in _held:
        return
    path = _live_file(data_dir, host(), str(os.getpid()), _start_ticks())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # no flock here (some network filesystems): a file nobody holds
        with contextlib.suppress(OSError):  # would say this process has ended
            os.unlink(path)
        os.close(fd)
        return
    _held[key] = fd
    if len(_held) == 1:
        atexit.register(_release_all)


def _release_all() -> None:
    for key, fd in list(_held.items()):
        with contextlib.suppress(OSError):
            os.unlink(_live_file(key, host(), str(os.getpid()), _start_ticks()))
        with contextlib.suppress(OSError):
            os.close(fd)
        _held.pop(key, None)


def _held_by_someone(path: Path) -> bool | None:
    """Whether a running process holds `path` (None: no such file, or it cannot be asked)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops the lock just taken
    return False


def _judge(where: str, pid: str, start: str, data_dir: Path | None,
           quiet_since: float | None, stale_after: float | None) -> bool:
    """Whether the process `pid` (started at `start`, "" unknown) of `where` may run."""
    if where == host() or ("+" not in where and where in (_machine(),
                                                             socket.gethostname())):
        return pid.isdigit() and process_alive(int(pid)) \
            and (not start or start == _start_ticks(int(pid)))
    machine = where.partition("+")[0]
    if data_dir is not None and machine == _machine():
        held = _held_by_someone(_live_file(data_dir, where, pid, start))
        if held is not None:
            return held
    if stale_after is None or quiet_since is None:
        return True
    return time.time() - quiet_since <= stale_after


def owner_alive(owner: str, started_at: str | None = None,
                stale_after: timedelta = timedelta(seconds=FOREIGN_STALE_S),
                data_dir: Path | None = None) -> bool:
    """Whether the "host:pid:start" that owns a row may still be working on it (the
    module's docstring says how each kind is judged); another machine's is judged by
    `started_at`, and runs forever without it."""
    parts = owner.rsplit(":", 2)
    if len(parts) == 3 and not parts[1].isdigit():  # an older "host:pid"
        parts = [owner.rpartition(":")[0], owner.rpartition(":")[2], ""]
    where, pid, start = [*parts, "", ""][:3]
    since = None if started_at is None else _timestamp(started_at)
    return _judge(where, pid, start, data_dir, since, stale_after.total_seconds())


def _timestamp(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def left_by_dead_process(path: Path, foreign_after: float | None = FOREIGN_STALE_S,
                         data_dir: Path | None = None) -> bool:
    """Whether `path`, named with a `process_tag` (or an older "@host.pid" or ".pid"), is a
    process's that has ended (the module's docstring says how each kind is judged; another
    machine's once it has not been touched for `foreign_after` seconds, None: never judged
    here, its own machine cleans it)."""
    rest, _, pid = path.name.rpartition(".")
    if not pid.isdigit():
        return False
    _, at, tail = rest.rpartition("@")
    where, start = tail, ""
    if at and "+" in tail:
        where, _, start = tail.rpartition(".")
    elif not at:
        where = _machine()  # named before names held the host
    if where == host() and int(pid) == os.getpid() and start in ("", _start_ticks()):
        return False
    try:
        quiet_since: float | None = path.stat().st_mtime
    except OSError:
        return False
    return not _judge(where, pid, start, data_dir, quiet_since, foreign_after)


def sweep(data_dir: Path) -> None:
    """Remove the `.live` files of processes that have ended (nobody holds them) and have
    been quiet for `FOREIGN_STALE_S`: by then they would be judged dead without the file."""
    with contextlib.suppress(OSError):
        for path in (Path(data_dir) / LIVE).iterdir():
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > FOREIGN_STALE_S \
                        and _held_by_someone(path) is False:
                    path.unlink()
