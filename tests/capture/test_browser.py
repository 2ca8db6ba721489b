import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from archiver.capture import browser as browser_module
from archiver.capture.browser import (
    SESSION_TMP_PREFIX,
    BrowserSession,
    _driver_env,
    _to_its_end,
    find_browser,
    launch_args,
    resolver_rules,
    session_processes,
    session_tmp,
    spki_hashes,
)
from archiver.config import BrowserConfig, NetworkConfig
from archiver.errors import BrowserError, ConfigError
from archiver.store.liveness import process_tag
from tests.harness import dead_process_tag


def test_configured_browser_comes_first(tmp_path: Path) -> None:
    exe = tmp_path / "chrome"
    exe.write_text("")
    own = tmp_path / "playwright-chrome"
    own.write_text("")
    assert find_browser(BrowserConfig(executable=str(exe)), str(own)) == (str(exe), "config")
    assert find_browser(BrowserConfig(), str(own)) == (str(own), "playwright")


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_headless_prefers_playwrights_own_headless_shell_of_the_same_revision(
        tmp_path: Path) -> None:
    own = _executable(tmp_path / "chromium-1255" / "chrome-linux64" / "chrome")
    headed = BrowserConfig(headless=False)
    # no shell downloaded, or one of another revision: Playwright's Chromium
    _executable(tmp_path / "chromium_headless_shell-1254" / "chrome-headless-shell-linux64"
                / "chrome-headless-shell")
    assert find_browser(BrowserConfig(), str(own)) == (str(own), "playwright")
    shell = _executable(tmp_path / "chromium_headless_shell-1255"
                        / "chrome-headless-shell-linux64" / "chrome-headless-shell")
    assert find_browser(BrowserConfig(), str(own)) == (str(shell), "playwright")
    assert find_browser(headed, str(own)) == (str(own), "playwright")


def test_headless_prefers_the_systems_headless_shell(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    full = _executable(tmp_path / "chromium")
    assert find_browser(BrowserConfig(), None) == (str(full), "system")
    shell = _executable(tmp_path / "chromium-headless-shell")
    assert find_browser(BrowserConfig(), None) == (str(shell), "system")
    # a headed browser needs the full one
    assert find_browser(BrowserConfig(headless=False), None) == (str(full), "system")
    # and the configured one is used as it is
    assert find_browser(BrowserConfig(executable=str(full)), None) == (str(full), "config")


def test_missing_configured_browser_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BrowserError, match="does not exist"):
        find_browser(BrowserConfig(executable=str(tmp_path / "nope")))


def test_no_browser_anywhere_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BrowserError, match="make install"):
        find_browser(BrowserConfig(), None)


def test_network_settings_reach_the_browser(fake_platform) -> None:
    network = NetworkConfig(host_map={"x.com": "127.0.0.1:8443", "*.twimg.com": "127.0.0.1:1"},
                            ca_bundle=str(fake_platform.ca_pem))
    args = launch_args(BrowserConfig(extra_args=("--foo",)), network)
    # the host map first; every other name fails inside Chromium (the proxy resolves)
    assert ("--host-resolver-rules=MAP *.twimg.com 127.0.0.1:1, MAP x.com 127.0.0.1:8443, "
            "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1") in args
    assert "--disable-quic" in args
    assert "--webrtc-ip-handling-policy=disable_non_proxied_udp" in args
    (spki,) = spki_hashes(str(fake_platform.ca_pem))
    assert f"--ignore-certificate-errors-spki-list={spki}" in args
    assert "--disable-background-networking" in args and args[-1] == "--foo"
    assert resolver_rules({}) == ""


def test_unreadable_ca_bundle(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="CA bundle"):
        spki_hashes(str(bad))


def test_with_an_upstream_proxy_chromium_looks_up_only_the_proxy() -> None:
    args = launch_args(BrowserConfig(), NetworkConfig(proxy="http://proxy.internal:3128"))
    rules = next(a for a in args if a.startswith("--host-resolver-rules="))
    assert rules == ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, "
                     "EXCLUDE proxy.internal")


def test_session_tmp_removes_what_dead_processes_left(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = dead_process_tag()
    dead = tmp_path / f"{SESSION_TMP_PREFIX}abc{gone}"
    (dead / "playwright_chromiumdev_profile-x").mkdir(parents=True)
    live = tmp_path / f"{SESSION_TMP_PREFIX}def{process_tag()}"
    live.mkdir()
    # a /tmp shared with another machine or container: its numbers are not our processes
    elsewhere = tmp_path / f"{SESSION_TMP_PREFIX}ghi@another-box.{gone.rpartition('.')[2]}"
    elsewhere.mkdir()
    long_ago = time.time() - 86400  # its session may run for days: its host cleans it
    os.utime(elsewhere, (long_ago, long_ago))
    foreign = tmp_path / "playwright_chromiumdev_profile-y"  # not ours to judge
    foreign.mkdir()
    made = session_tmp()
    assert made.parent == tmp_path and made.name.endswith(process_tag())
    assert made.is_dir() and not dead.exists()
    assert live.is_dir() and foreign.is_dir() and elsewhere.is_dir()


def test_session_tmp_that_cannot_be_made_is_a_browser_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with pytest.raises(BrowserError, match="temporary directory for the browser"):
        session_tmp()


def test_drivers_starting_at_once_each_get_their_own_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright starts the driver process in a task of its own, after a wait: two
    sessions starting at once must not both hand the second's directory to their drivers
    (closing the second would delete the first's live profile)."""
    monkeypatch.setenv("TMPDIR", "/outer")
    monkeypatch.delenv("PW_TEST_SCREENSHOT_NO_FONTS_READY", raising=False)
    seen: dict[str, str] = {}

    async def start(name: str) -> None:
        async with _driver_env({"TMPDIR": name, "PW_TEST_SCREENSHOT_NO_FONTS_READY": "1"}):
            async def spawn() -> None:  # as Playwright's transport does
                await asyncio.sleep(0.01)
                seen[name] = os.environ["TMPDIR"]
            await asyncio.create_task(spawn())

    async def both() -> None:
        await asyncio.gather(start("/a"), start("/b"))
    asyncio.run(both())
    assert seen == {"/a": "/a", "/b": "/b"}
    assert os.environ["TMPDIR"] == "/outer"
    assert "PW_TEST_SCREENSHOT_NO_FONTS_READY" not in os.environ


def test_a_start_that_fails_after_the_driver_started_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("TMPDIR", raising=False)

    def broken(*_: object) -> list[str]:
        raise RuntimeError("launch arguments broke")
    monkeypatch.setattr(browser_module, "launch_args", broken)
    session = BrowserSession(BrowserConfig(), NetworkConfig())
    with pytest.raises(RuntimeError, match="launch arguments broke"):
        asyncio.run(session.start())
    assert not session.alive and session._pw_cm is None  # the driver was stopped
    assert not list(tmp_path.glob(f"{SESSION_TMP_PREFIX}*"))
    assert "TMPDIR" not in os.environ


def test_a_start_cancelled_while_playwright_starts_its_driver_leaves_no_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancelled inside Playwright's own start (a run stopped as it begins), the driver has
    started but Playwright has no handle yet to stop it by, and it would run on as long as
    this process. The start goes on to its end (`_to_its_end`), and close() stops the
    driver; whatever is left is found by the session's temporary directory, which it began
    with, and ended. Either alone passes this test."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("TMPDIR", raising=False)

    async def go() -> tuple[Path, list[int], bool]:
        session = BrowserSession(BrowserConfig(), NetworkConfig())
        starting = asyncio.create_task(session.start())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not starting.done():
            tmp = session._tmp
            driver = session_processes(tmp) if tmp is not None else []
            if tmp is not None and driver:
                # past the spawn (a cancel during it ends the process in asyncio), while
                # Playwright waits for the driver's first answer
                await asyncio.sleep(0.03)
                inside = session._pw is None  # Playwright's start not finished
                starting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await starting
                return tmp, driver, inside
            await asyncio.sleep(0.002)
        raise AssertionError("the driver never started")

    tmp, driver, inside = asyncio.run(go())
    assert inside, "the start got past Playwright's own before it could be cancelled"
    left = session_processes(tmp)
    for _ in range(100):
        if not left:
            break
        time.sleep(0.05)
        left = session_processes(tmp)
    assert not left, f"left running: {left} (the driver was {driver})"
    assert not tmp.exists()


def test_a_step_cancelled_half_way_is_awaited_to_its_end_then_cancelled() -> None:
    """What `_to_its_end` guards (Playwright's start) ends before the cancel is raised, so
    that the caller's cleanup can stop what it started; one that outlasts the grace is
    cancelled too."""
    async def go(step_s: float, grace_s: float) -> tuple[list[str], bool]:
        ended: list[str] = []

        async def step() -> str:
            await asyncio.sleep(step_s)
            ended.append("step")
            return "started"

        caller = asyncio.create_task(_to_its_end(step(), grace_s))
        await asyncio.sleep(0.02)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        ended.append("caller")
        await asyncio.sleep(step_s)
        return ended, caller.cancelled()

    assert asyncio.run(go(0.2, 5)) == (["step", "caller"], True)
    assert asyncio.run(go(0.5, 0.05)) == (["caller"], True)  # the step never ended


def test_session_processes_are_the_sessions_driver_and_browser_only(tmp_path: Path) -> None:
    """A command another thread started while the driver started has the session's TMPDIR
    too: it is not the session's to end. A browser helper with it is."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    wait = [sys.executable, "-c", "import time; time.sleep(60)"]
    other = subprocess.Popen(wait, env=env)
    helper = subprocess.Popen([*wait, "--type=renderer"], env=env)
    elsewhere = subprocess.Popen([*wait, "--type=renderer"],
                                 env={**env, "TMPDIR": str(tmp_path / "another")})
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and helper.pid not in session_processes(tmp_path):
            time.sleep(0.02)
        assert session_processes(tmp_path) == [helper.pid]
    finally:
        for proc in (other, helper, elsewhere):
            proc.kill()
            proc.wait()
    assert session_processes(tmp_path) == []


def test_an_orderly_close_leaves_no_process_to_kill(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The browser and its driver stop on their own: close() finds nothing of the session
    still running to kill (what bench/soak.py reports as an orderly exit)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("TMPDIR", raising=False)

    async def go() -> tuple[BrowserSession, Path, int]:
        session = BrowserSession(BrowserConfig(), NetworkConfig())
        await session.start()
        tmp = session._tmp
        assert tmp is not None
        running = len(session_processes(tmp))  # the driver, the browser, its helpers
        await session.close()
        return session, tmp, running

    session, tmp, running = asyncio.run(go())
    assert running >= 3
    assert session.killed_at_close == 0
    assert session_processes(tmp) == [] and not tmp.exists()
