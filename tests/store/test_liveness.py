"""Owners of rows and files, judged alive or dead: this process, a dead one, a reused pid,
older names, and a process in another PID namespace on the same host name (a container run
with the host's network) that shares the data directory."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.store.files import STAGING, clean_staging
from archiver.store.index import Index
from archiver.store.liveness import (
    FOREIGN_STALE_S,
    LIVE,
    hold,
    host,
    left_by_dead_process,
    owner_alive,
    process_alive,
    process_tag,
    run_owner,
    sweep,
)
from archiver.store.schema import CaptureRow, RunRow
from tests.harness import dead_process_tag

#: The worker run inside a new PID namespace: it takes its place in the data directory as
#: a capture does (staging, an in-progress capture row, a running run row), then waits.
WORKER = """
import os, sys, time
from pathlib import Path
from archiver.models import PostRef
from archiver.store.files import staging_dir
from archiver.store.index import Index
from archiver.store.liveness import hold, run_owner
data_dir, url = Path(sys.argv[1]), sys.argv[2]
hold(data_dir)
staging_dir(data_dir, "c1").mkdir(parents=True)
index = Index(url)
index.begin_run("r1", "nightly")
index.begin_capture("c1", PostRef("twitter", "20", "https://x.com/jack/status/20", "jack"),
                    "r1", "2030-01-01T00:00:00.000Z", "captures/twitter/20/c1")
index.close()
print(os.getpid(), run_owner(), flush=True)
time.sleep(600)
"""

#: pid 1 of the namespace: picks the worker's pid (one no process of ours has), starts it.
LAUNCHER = """
import subprocess, sys
open("/proc/sys/kernel/ns_last_pid", "w").write(str(int(sys.argv[1]) - 1))
sys.exit(subprocess.call([sys.executable, "-c", sys.argv[2], *sys.argv[3:]]))
"""


def _pid_namespace_refusal() -> str | None:
    if sys.platform != "linux" or not shutil.which("unshare"):
        return "needs Linux with unshare(1)"
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a PID namespace here: {probe.stderr.strip()[:200]}"
    return None


def _free_pid() -> int:
    """A process number no process of this namespace has (the worker's, in its own)."""
    limit = int(Path("/proc/sys/kernel/pid_max").read_text())
    for pid in range(limit - 100, 300, -97):
        if not process_alive(pid):
            return pid
    raise AssertionError("no free process number")


def test_this_process_and_dead_ones() -> None:
    me = run_owner()
    where, pid, start = me.rsplit(":", 2)
    assert where == host() and "+" in where and int(pid) == os.getpid() and start.isdigit()
    assert owner_alive(me)
    assert not owner_alive(f"{where}:{pid}:{int(start) + 1}")  # same pid, another process
    dead_tag = dead_process_tag()
    _, _, dead_pid = dead_tag.rpartition(".")
    assert not owner_alive(f"{where}:{dead_pid}:1")
    # written before owners named the namespace: judged by the pid, as then
    assert owner_alive(f"{socket.gethostname()}:{pid}")
    assert not owner_alive(f"{socket.gethostname()}:{dead_pid}")
    assert process_tag() == f"@{where}.{start}.{pid}"


def test_another_machines_owner_waits_until_stale(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    recent = (now - timedelta(hours=1)).isoformat()
    old = (now - timedelta(seconds=FOREIGN_STALE_S + 60)).isoformat()
    assert owner_alive("elsewhere+4026531836:7:100", recent, data_dir=tmp_path)
    assert not owner_alive("elsewhere+4026531836:7:100", old, data_dir=tmp_path)
    assert owner_alive("elsewhere+4026531836:7:100")  # no start time: never judged dead


def test_a_restarted_process_with_the_same_pid_does_not_keep_its_old_staging(
        tmp_path: Path) -> None:
    """A container restarts as the same pid: the last incarnation's files are not ours."""
    where, pid, start = run_owner().rsplit(":", 2)
    old = tmp_path / STAGING / f"c1@{where}.{int(start) - 1}.{pid}"
    mine = tmp_path / STAGING / f"c2{process_tag()}"
    old.mkdir(parents=True)
    mine.mkdir()
    assert clean_staging(tmp_path) == [old.name]
    assert mine.exists()


def test_a_live_file_nobody_holds_is_swept_once_stale(tmp_path: Path) -> None:
    hold(tmp_path)
    live = tmp_path / LIVE
    mine = next(live.iterdir())
    gone = live / f"{socket.gethostname()}+1.1.1"
    gone.touch()
    held_but_old = mine
    then = time.time() - FOREIGN_STALE_S - 60
    for path in (gone, held_but_old):
        os.utime(path, (then, then))
    sweep(tmp_path)
    assert sorted(live.iterdir()) == [mine]


@pytest.fixture(scope="module")
def namespace_refusal() -> str | None:
    return _pid_namespace_refusal()


def test_a_process_in_another_pid_namespace_is_judged_by_its_live_file(
        tmp_path: Path, namespace_refusal: str | None) -> None:
    """Same host name, its own process numbers: while it runs its staging, capture and run
    stay; once killed (-9) they are cleaned up and closed at once, not after six hours."""
    if namespace_refusal:
        pytest.skip(namespace_refusal)
    data_dir = tmp_path / "data"
    url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    pid = _free_pid()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    worker = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", LAUNCHER,
         str(pid), WORKER, str(data_dir), url],
        stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline().split()
        assert line and int(line[0]) == pid, line
        owner = line[1]
        assert owner.rsplit(":", 2)[0] != host()  # the namespace is in the name
        assert not process_alive(pid)  # here that number is nobody: the old test said dead
        staged = next((data_dir / STAGING).iterdir())

        index = Index(url)
        assert clean_staging(data_dir) == []
        assert staged.is_dir()
        assert index.reconcile(data_dir) == []
        assert index.reconcile_runs(data_dir) == []
        assert owner_alive(owner, data_dir=data_dir)
        assert not left_by_dead_process(staged, data_dir=data_dir)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)

    deadline = time.monotonic() + 10  # the namespace's processes go with its pid 1
    while owner_alive(owner, data_dir=data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not owner_alive(owner, data_dir=data_dir)
    assert clean_staging(data_dir) == [staged.name]
    assert index.reconcile(data_dir) == [("c1", False)]
    assert index.reconcile_runs(data_dir) == ["nightly"]
    with index.session() as s:
        capture = s.get(CaptureRow, "c1")
        run = s.get(RunRow, "r1")
        assert capture is not None and capture.status == "abandoned"
        assert run is not None and run.status == "interrupted"
    index.close()
