"""`archiver run` and `archiver run --once` as processes: kill -9 and restart, SIGTERM,
overlapping runs. Each process starts its own Chromium, as cron and systemd would."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fakeplatform import FakePlatform
from tests.harness import config_toml
from tests.test_schedule import FEED, add_tweet, publish

pytestmark = pytest.mark.browser
COMPLETED = ("live", "deleted", "unavailable")


@pytest.fixture()
def run_config(fake_platform: FakePlatform, tmp_path: Path) -> Path:
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "world"\nkind = "feed"\nurl = "{FEED}"\n'
                       'every = "15m"\n')
    path = tmp_path / "archiver.toml"
    path.write_text(config_toml(fake_platform.host_map(), fake_platform.ca_pem, tmp_path / "data")
                    + "\n[capture]\nrender_article = false\nconcurrency = 1\n"
                    + f'\n[schedule]\nsources_file = "{sources}"\nrecapture_check = "60s"\n'
                      "stop_grace = 20.0\n")
    return path


@pytest.fixture()
def three_articles(fake_platform: FakePlatform) -> list[str]:
    ids = [add_tweet(fake_platform, 20 + n, f"Report {n}: the bridge is closed.")
           for n in range(3)]
    publish(fake_platform, {f"/world/p{n}": [i] for n, i in enumerate(ids)})
    return ids


class Procs:
    """Processes started by a test, killed if it fails half-way."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = self.config.parent / f"run-{len(self.started)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "archiver.cli", *args, "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=log.open("wb"), stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.started.append(proc)
        return proc

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "archiver.cli", *args, "--config",
                               str(self.config)], capture_output=True, text=True, timeout=240,
                              stdin=subprocess.DEVNULL)

    def log(self, n: int) -> str:
        return (self.config.parent / f"run-{n}.log").read_text()

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture()
def procs(run_config: Path) -> Iterator[Procs]:
    p = Procs(run_config)
    yield p
    p.close()


def query(config: Path, sql: str) -> list[tuple[Any, ...]]:
    db = config.parent / "data" / "index.sqlite3"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        conn.close()


def wait_for(what: Callable[[], Any], timeout: float, label: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {label}")


def completed(config: Path) -> dict[str, int]:
    rows = query(config, "SELECT p.post_id, count(*) FROM captures c JOIN posts p ON "
                         "p.id = c.post_row_id WHERE c.status IN ('live','deleted','unavailable') "
                         "GROUP BY p.post_id")
    return {str(pid): int(n) for pid, n in rows}


def in_progress(config: Path) -> list[tuple[Any, ...]]:
    return query(config, "SELECT id FROM captures WHERE status = 'in_progress'")


def test_kill_9_mid_capture_then_restart(procs: Procs, run_config: Path,
                                         three_articles: list[str]) -> None:
    first = procs.start("run", "--log-format", "json")
    [(victim,)] = wait_for(lambda: in_progress(run_config), 90, "a capture in flight")[:1]
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert in_progress(run_config), "kill -9 left its capture marked in progress"

    second = procs.start("run", "--log-format", "json")
    wait_for(lambda: sorted(completed(run_config)) == sorted(three_articles), 120,
             "every post captured after the restart", interval=0.2)
    wait_for(lambda: not in_progress(run_config), 30, "no capture in flight")
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0, procs.log(1)

    # nothing lost, nothing twice
    assert completed(run_config) == {i: 1 for i in three_articles}
    [(status, reason)] = query(run_config, f"SELECT status, reason FROM captures "
                                           f"WHERE id = '{victim}'")
    assert status in ("abandoned", *COMPLETED), reason
    fetches = query(run_config, "SELECT a.url, count(*) FROM article_fetches f JOIN articles a "
                                "ON a.id = f.article_id GROUP BY a.url")
    assert [n for _, n in fetches] == [1, 1, 1]
    runs = dict(query(run_config, "SELECT status, count(*) FROM runs WHERE job = "
                                  "'source:world' GROUP BY status"))
    assert runs.get("interrupted") == 1 and runs.get("running") is None
    assert not list((run_config.parent / "data" / ".staging").glob("*"))
    verified = procs.cli("verify", "--all")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # the restart's log says what it found, as JSON lines
    events = [json.loads(line) for line in procs.log(1).splitlines() if line.startswith("{")]
    assert any(e["event"] == "job" and "interrupted" in e["message"] for e in events)
    runs_logged = [e for e in events if e["event"] == "run"]
    assert runs_logged and all("seconds" in e and "status" in e for e in runs_logged)


def lock_holder(config: Path) -> dict[str, str] | None:
    from archiver.store.lock import RunLock

    return RunLock(config.parent / "data", "test").holder()


def test_two_overlapping_once_runs_capture_each_post_once(procs: Procs, run_config: Path,
                                                          three_articles: list[str]) -> None:
    a = procs.start("run", "--once", "--json")
    wait_for(lambda: lock_holder(run_config), 60, "the first run to hold the lock")
    b = procs.start("run", "--once", "--json")
    outs = []
    for n, proc in enumerate((a, b)):
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, procs.log(n)
        assert "database is locked" not in procs.log(n)
        outs.append(json.loads(out))
    assert [o["skipped"] for o in outs] == [False, True], outs
    assert "another run holds the lock" in procs.log(1)
    assert completed(run_config) == {i: 1 for i in three_articles}
    fetches = query(run_config, "SELECT count(*) FROM article_fetches")
    assert fetches == [(3,)]

    # right after, a third run finds nothing due and does nothing
    c = procs.cli("run", "--once", "--json")
    assert c.returncode == 0 and json.loads(c.stdout) == {"skipped": False, "runs": []}
    assert completed(run_config) == {i: 1 for i in three_articles}

    status = json.loads(procs.cli("status", "--json").stdout)
    [job] = [j for j in status["jobs"] if j["job"] == "source:world"]
    assert job["last_run"]["status"] == "ok" and job["next_run"] > status["now"]
    assert job["last_run"]["counts"]["articles_new"] == 3
    assert status["queue"]["scheduled"] == 3 and status["queue"]["due_now"] == 0
    assert status["lock"] is None
    assert status["archive"] == {"captures": 3, "posts": 3}
    assert "archive: 3 capture(s) of 3 post(s)" in procs.cli("status").stdout


def test_sigterm_mid_capture_and_once_during_run(procs: Procs, run_config: Path,
                                                 three_articles: list[str]) -> None:
    daemon = procs.start("run")
    wait_for(lambda: in_progress(run_config), 90, "a capture in flight")
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(60) == 0, procs.log(0)
    assert not in_progress(run_config)
    statuses = {s for (s,) in query(run_config, "SELECT status FROM captures")}
    assert statuses <= {"live", "failed"}, statuses
    # the capture in flight finished (or was abandoned); no new one started after the
    # signal, and the posts not captured stay due for the next run
    done = completed(run_config)
    assert len(done) < 3
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    waiting = query(run_config, f"SELECT post_id FROM posts WHERE next_check <= '{now}'")
    assert sorted(i for (i,) in waiting) == sorted(set(three_articles) - set(done))
    assert "stopping" in procs.log(0) and "scheduler stopped" in procs.log(0)
    verified = procs.cli("verify", "--all")
    assert verified.returncode == 0, verified.stdout

    # a new scheduler holds the lock: a --once run meanwhile does nothing and says so
    daemon = procs.start("run")
    wait_for(lambda: json.loads(procs.cli("status", "--json").stdout)["lock"], 60,
             "the scheduler to hold the lock", interval=0.2)
    once = procs.cli("run", "--once", "--json")
    assert once.returncode == 0 and json.loads(once.stdout)["skipped"] is True
    assert "another run holds the lock" in once.stderr
    # the scheduler captures only what is missing
    wait_for(lambda: sorted(completed(run_config)) == sorted(three_articles), 120,
             "every post captured", interval=0.2)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(60) == 0, procs.log(1)
    assert completed(run_config) == {i: 1 for i in three_articles}
