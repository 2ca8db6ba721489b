"""Faults during captures: the browser killed mid-capture, the disk filling up, the
archiver killed -9 at random points across many runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from archiver.capture.browser import BrowserSession
from archiver.config import Config
from archiver.pipeline import archive_async
from archiver.retrieval import verify_selection
from tests.fakeplatform import FakePlatform
from tests.harness import SEED_IDS, SEED_URL, LoopThread, config_toml, make_config

pytestmark = pytest.mark.browser


def browser_processes() -> set[int]:
    """Chromium main processes (not renderers or helpers) started by this test process."""
    found = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            cmd = proc.cmdline()
        except psutil.Error:
            continue
        if cmd and "chrom" in Path(cmd[0]).name and not any(a.startswith("--type=")
                                                             for a in cmd):
            found.add(proc.pid)
    return found


def in_progress(config: Config) -> bool:
    db = config.storage.data_dir / "index.sqlite3"
    if not db.exists():
        return False
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return bool(conn.execute("SELECT 1 FROM captures WHERE status = 'in_progress'")
                    .fetchall())
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def test_browser_killed_mid_capture_then_restarted(browser_loop: LoopThread,
                                                   fake_platform: FakePlatform,
                                                   tmp_path: Path) -> None:
    ids = list(SEED_IDS)
    for n in range(3):
        tweet_id = str(1860000000000000700 + n)
        fake_platform.tweets.put({"id": tweet_id, "text": f"Fault test {n}",
                                  "user": {"screen_name": f"Fault{n}", "name": "Fault"}})
        ids.append(tweet_id)
    cfg = make_config(fake_platform.host_map(), fake_platform.ca_pem, tmp_path / "data",
                      concurrency=1)
    before = browser_processes()
    session = BrowserSession(cfg.browser, cfg.network)  # its own: this test kills it
    browser_loop.run(session.start())
    [pid] = browser_processes() - before
    try:
        urls = [f"https://x.com/i/status/{i}" for i in ids]
        running = asyncio.run_coroutine_threadsafe(
            archive_async(urls, cfg, browser=session), browser_loop.loop)
        deadline = time.monotonic() + 60
        while not in_progress(cfg) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        report = running.result(180)
        assert browser_loop.run(_alive(session))
    finally:
        browser_loop.run(session.close())
    failed = [c for c in report.captures if not c.status.completed]
    assert len(failed) == 1, [(c.status, c.reason) for c in report.captures]
    assert "browser" in (failed[0].reason or "")
    assert failed[0].directory is None  # nothing half-made is stored
    done = [c for c in report.captures if c.status.completed]
    assert len(done) == len(ids) - 1  # the batch went on with a new browser
    assert "the browser died during the run and was restarted" in report.notes
    assert all(v.ok for v in verify_selection(cfg, None))
    assert not (browser_processes() - before), "a browser process was left behind"


async def _alive(session: BrowserSession) -> bool:
    return session.alive


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs for the data directory (needs mount rights: root, or skip)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_is_a_clear_error_and_no_partial_capture(
        fake_platform: FakePlatform, small_disk: Path, tmp_path: Path) -> None:
    """The data directory's disk fills up: each capture fails with a clear reason, nothing
    half-written stays, earlier captures are untouched, and with room again the same
    command completes and everything verifies. (The index lives elsewhere, as a
    PostgreSQL index would.)"""
    config = tmp_path / "archiver.toml"
    index_url = f"sqlite:///{tmp_path / 'index.db'}"
    config.write_text(config_toml(fake_platform.host_map(), fake_platform.ca_pem, small_disk)
                      .replace("[storage]\n", f'[storage]\ndatabase_url = "{index_url}"\n'))
    cmd = [sys.executable, "-m", "archiver.cli", "archive", SEED_URL, "--config", str(config)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stdout + first.stderr
    def stored() -> list[Path]:
        return sorted(p.parent for p in (small_disk / "captures").rglob("manifest.json"))

    before = stored()
    assert len(before) == 2

    def size(root: Path) -> int:
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())

    article = size(small_disk / "articles")
    smallest = min(size(d) for d in before)
    assert smallest > 100_000
    # room for the article's evidence again, not for a capture
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * max(0, free - article - 60_000))
    full = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    failed = [ln for ln in full.stdout.splitlines() if ln.startswith("failed")]
    assert len(failed) == 2, full.stdout + full.stderr
    assert full.stdout.count("No space left on device") == 2, full.stdout
    assert stored() == before  # nothing new claims to be a capture
    staging = small_disk / ".staging"
    assert not staging.exists() or not list(staging.iterdir())

    filler.unlink()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stdout + again.stderr
    verified = subprocess.run([sys.executable, "-m", "archiver.cli", "verify", "--all",
                               "--config", str(config)], capture_output=True, text=True,
                              timeout=120)
    assert verified.returncode == 0, verified.stdout
    assert len(stored()) == 4


def test_kill_9_at_random_points_then_verify_and_complete(config_file: Path,
                                                          tmp_path: Path) -> None:
    """Many runs of `archiver archive`, each killed -9 at a random moment of its course
    (start-up, article fetch, captures, storing, index): afterwards no capture claims a
    completeness it lacks, `verify --all` passes, and a last run completes the work."""
    runs = int(os.environ.get("ARCHIVER_KILL_RUNS", "8"))
    rng = random.Random(int(os.environ.get("ARCHIVER_KILL_SEED", "7")))
    cmd = [sys.executable, "-m", "archiver.cli", "archive", SEED_URL, "--config",
           str(config_file)]
    # the system's temporary directory of these runs: a kill must leave nothing there for
    # good (Playwright's browser profile, the HAR) that the next run does not remove
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    env = {**os.environ, "TMPDIR": str(systmp)}
    # one whole run first: the kills are spread over its length
    t0 = time.monotonic()
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    length = time.monotonic() - t0
    assert first.returncode == 0, first.stdout + first.stderr
    log: list[str] = [f"a whole run took {length:.2f} s"]  # printed at the end (pytest -s)
    for i in range(runs):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, env=env)
        delay = rng.uniform(0.05, 1.0) * length
        time.sleep(delay)
        ended_first = proc.poll() is not None
        with contextlib.suppress(ProcessLookupError):  # it may have finished already
            os.killpg(proc.pid, signal.SIGKILL)  # the archiver and its browser, at once
        proc.wait(10)
        verified = subprocess.run([sys.executable, "-m", "archiver.cli", "verify", "--all",
                                   "--config", str(config_file)], capture_output=True,
                                  text=True, timeout=120)
        assert verified.returncode in (0, 1)
        # captures that were stored (complete) verify; incomplete ones were never stored
        assert "FAIL" not in verified.stdout, verified.stdout
        stored = len(list((tmp_path / "data" / "captures").rglob("manifest.json")))
        log.append(f"run {i + 1}: killed after {delay:.2f} s"
                   f"{' (had already exited)' if ended_first else ''}; {stored} captures "
                   f"stored so far; verify --all exit {verified.returncode}, no FAIL")
    leftovers = len(list(systmp.iterdir()))
    last = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert last.returncode == 0, last.stdout + last.stderr
    # what the killed runs left is gone, and the last run removed its own
    assert not list(systmp.iterdir())
    assert not list((tmp_path / "data" / ".staging").iterdir())
    log.append(f"the last run removed {leftovers} temporary directories killed runs left")
    db = sqlite3.connect(tmp_path / "data" / "index.sqlite3")
    try:
        statuses = {s for (s,) in db.execute("SELECT status FROM captures")}
        assert "in_progress" not in statuses
        complete = db.execute("SELECT count(*) FROM captures WHERE directory IS NOT NULL "
                              "AND status IN ('live', 'deleted', 'unavailable')").fetchone()[0]
        stored = len(list((tmp_path / "data" / "captures").rglob("manifest.json")))
        assert complete == stored  # every stored directory is in the index, and back
        counts = dict(db.execute("SELECT status, count(*) FROM captures GROUP BY status")
                      .fetchall())
    finally:
        db.close()
    print("\n".join([*log, f"after the last run: captures by status {counts}, "
                                f"{stored} stored directories"]))
    verified = subprocess.run([sys.executable, "-m", "archiver.cli", "verify", "--all",
                               "--config", str(config_file)], capture_output=True, text=True,
                              timeout=120)
    assert verified.returncode == 0, verified.stdout


#: Where a run is killed in the storing of its second capture (the first is stored whole):
#: (module, class or "", function, when): Python run before the archiver's `main` wraps
#: the function so that it kills its own process the second time `when` holds.
_KILL_AT = {
    # the directory in place, its ledger entry not yet written
    "before the ledger entry": ("archiver.evidence.ledger", "", "_append", "True"),
    # the entry written, the head the index keeps for the ledger not yet recorded
    "before the head is recorded": ("archiver.store.index", "Index", "entered_in_ledger",
                                    "True"),
    # the head recorded, the capture not yet closed in the index
    "before the index closes the capture": ("archiver.store.index", "Index",
                                            "finish_capture", "args[1].directory"),
}


def _kill_at(where: str) -> str:
    module, cls, name, when = _KILL_AT[where]
    return (f"import importlib, os, signal\n"
            f"_at = importlib.import_module({module!r})\n"
            f"_at = getattr(_at, {cls!r}) if {cls!r} else _at\n"
            f"_real, _seen = getattr(_at, {name!r}), []\n"
            f"def _step(*args, **kw):\n"
            f"    if {when}:\n"
            f"        _seen.append(1)\n"
            f"        if len(_seen) == 2:\n"
            f"            os.kill(os.getpid(), signal.SIGKILL)\n"
            f"    return _real(*args, **kw)\n"
            f"setattr(_at, {name!r}, _step)\n")


@pytest.mark.parametrize("where", list(_KILL_AT))
def test_kill_9_at_each_step_of_storing(where: str, config_file: Path,
                                        tmp_path: Path) -> None:
    """kill -9 between the steps that store a capture (directory, ledger entry, the head
    the index records, the capture closed in the index): `verify --all` passes at once
    (the capture in flight is noted, not failed), and the next run settles it, so that
    the ledger names each stored capture once and ends where the index says."""
    config_file.write_text(config_file.read_text() + "\n[capture]\nconcurrency = 1\n")
    main = "\nfrom archiver.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    archive = ["archive", SEED_URL, "--config", str(config_file)]
    proc = subprocess.Popen([sys.executable, "-c", "import sys\n" + _kill_at(where) + main,
                             *archive], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    _, err = proc.communicate(timeout=240)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # its browser
    assert proc.returncode == -signal.SIGKILL, err

    def verify() -> str:
        done = subprocess.run([sys.executable, "-m", "archiver.cli", "verify", "--all",
                               "--config", str(config_file)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and "FAIL" not in done.stdout, done.stdout + done.stderr
        return done.stdout

    at_once = verify()
    if where != "before the ledger entry":  # the entry is there; its capture in flight
        assert "not yet settled" in at_once, at_once
    again = subprocess.run([sys.executable, "-m", "archiver.cli", *archive],
                           capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stdout + again.stderr
    after = verify()
    assert "not yet settled" not in after, after
    data = tmp_path / "data"
    stored = {p.parent.relative_to(data).as_posix()
              for p in (data / "captures").rglob("manifest.json")}
    entries = [json.loads(line) for line in (data / "ledger.jsonl").read_text().splitlines()]
    assert sorted(e["directory"] for e in entries) == sorted(stored)  # each once
    db = sqlite3.connect(data / "index.sqlite3")
    try:
        head = db.execute("SELECT value FROM meta WHERE key = 'ledger_head'").fetchone()[0]
        states = dict(db.execute("SELECT directory, status FROM captures "
                                 "WHERE directory IS NOT NULL").fetchall())
        lines = dict(db.execute("SELECT id, ledger_seq FROM captures "
                                "WHERE directory IS NOT NULL").fetchall())
    finally:
        db.close()
    assert head.startswith(f"{entries[-1]['seq']}:")
    assert {states[d] for d in stored} == {"live"}
    # the index knows which line entered each capture (a post's chain follows it), the
    # capture in flight at the kill too, however the next run settled it
    assert {e["capture_id"]: e["seq"] for e in entries} == \
        {cid: seq for cid, seq in lines.items() if cid in {e["capture_id"] for e in entries}}
