"""Finding, launching and sharing one Chromium per run.

The executable is found in this order: configuration ([browser] executable or
$ARCHIVER_BROWSER), Playwright's own download if present, then a system Chromium; headless,
the headless shell of each comes first (`find_browser`). The
network settings reach the browser the same way they reach `requests`: the host map as
host-resolver rules, the CA bundle as trusted public keys, the proxy as the proxy.

Without a configured proxy, each capture's context is given its own guarded proxy
(`new_context(proxy=...)`, see archiver/capture/guard.py): Playwright sets it per context
and adds `<-loopback>` to the bypass list, so loopback is proxied too. WebRTC is confined to
proxied connections (`WEBRTC_FLAGS`): STUN and media over UDP would bypass any proxy. QUIC
is off (`PROXY_ONLY_FLAGS`): HTTP/3 and WebTransport are UDP, which an HTTP proxy does not
carry. And since the proxy resolves every name, Chromium is given none to resolve itself
(`NO_LOOKUP_RULES`): it would otherwise still look up the host of each request a page makes,
telling the system's DNS server names the guard may refuse.

Playwright makes the browser's profile and its own scratch files in the temporary directory
and removes them on a clean close only. Each session gives its Playwright a directory of its
own there (`archiver-browser-*@<host>.<pid>`), and removes any a killed process of this host
left behind.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import platform as pyplatform
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from archiver.config import BrowserConfig, NetworkConfig
from archiver.errors import BrowserError, ConfigError
from archiver.store.liveness import left_by_dead_process, process_tag

#: Without these Chromium calls Google services at start, which a closed network refuses.
QUIET_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
)
#: WebRTC may use the proxy (TCP) only, never UDP of its own: STUN to any address, local
#: candidates and media would bypass the guarded proxy. The full Chromium 156 knows the
#: first switch only, its headless shell the second only (each ignores the other);
#: tests/test_ssrf.py's `webrtc` cases fail on either browser without its switch. With
#: them, a page's peer connection still starts Chromium's mDNS listener, which joins the
#: multicast group 224.0.0.251 and sends nothing to it (tests/netns.py watches a real link).
#: Disabling the WebRtcHideLocalIpsWithMdns feature would stop that, but Chromium takes the
#: last `--disable-features` only, and a second one would undo Playwright's own list.
WEBRTC_FLAGS = ("--webrtc-ip-handling-policy=disable_non_proxied_udp",
                "--force-webrtc-ip-handling-policy=disable_non_proxied_udp")
#: HTTP/3 (and WebTransport over it) is UDP; a proxied context must not use it. Chromium
#: does not use QUIC through an HTTP proxy anyway: this makes sure of it.
PROXY_ONLY_FLAGS = ("--disable-quic",)
#: Host-resolver rules for a browser whose contexts all go through a proxy (the guard's,
#: which resolves names itself with the host map, or a configured upstream proxy): every
#: other lookup fails inside Chromium. Even
#: behind a proxy, Chromium 156 resolves the host of every request a page makes (and, at
#: start, update.googleapis.com and accounts.google.com), sending each name to the system's
#: DNS server without connecting to the answer; tests/test_ssrf.py checks that none is.
#: The host map's own rules come first (contexts without the guard, in tests, still reach
#: the mapped hosts); the proxy itself (127.0.0.1) is excepted.
NO_LOOKUP_RULES = ("MAP * ~NOTFOUND", "EXCLUDE 127.0.0.1")
#: Set, this makes Playwright let loopback bypass a context's proxy, and so the guard.
_LOOPBACK_BYPASS_ENV = "PLAYWRIGHT_DISABLE_FORCED_CHROMIUM_PROXIED_LOOPBACK"
SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
#: Chromium's old headless mode as a binary of its own (Debian's chromium-headless-shell,
#: Playwright's chromium_headless_shell download). Playwright itself launches it for
#: headless Chromium; the full browser's new headless mode costs about three times the CPU
#: per fresh context, page and screenshot (bench/README.md).
SHELL_CANDIDATES = ("chromium-headless-shell", "chrome-headless-shell")


def playwright_shell(playwright_path: str) -> str | None:
    """Playwright's own headless shell of the same revision as its Chromium, if downloaded.

    Its Chromium lives at <registry>/chromium-<rev>/<dir>/chrome, the shell at
    <registry>/chromium_headless_shell-<rev>/<dir>/chrome-headless-shell (headless_shell in
    older Playwrights)."""
    path = Path(playwright_path)
    if len(path.parents) < 3 or not path.parents[1].name.startswith("chromium-"):
        return None
    revision = path.parents[1].name.removeprefix("chromium-")
    shell_dir = path.parents[2] / f"chromium_headless_shell-{revision}"
    for name in ("chrome-headless-shell", "headless_shell"):
        for found in sorted(shell_dir.glob(f"*/{name}")):
            if found.is_file():
                return str(found)
    return None


def find_browser(config: BrowserConfig, playwright_path: str | None = None) -> tuple[str, str]:
    """(executable path, where it came from): config/env, Playwright's own, system.

    Headless (the default), a headless shell comes before the full browser of the same
    source: Playwright's own shell, then its Chromium; the system's shell, then its browser.
    """
    if config.executable:
        path = Path(config.executable)
        if not path.is_file():
            raise BrowserError(f"the configured browser {config.executable} does not exist")
        return str(path), "config"
    if playwright_path and Path(playwright_path).is_file():
        shell = playwright_shell(playwright_path) if config.headless else None
        return shell or playwright_path, "playwright"
    names = (*SHELL_CANDIDATES, *SYSTEM_CANDIDATES) if config.headless else SYSTEM_CANDIDATES
    for name in names:
        found = shutil.which(name)
        if found:
            return found, "system"
    raise BrowserError(
        "no Chromium found. Run 'make install' (it tries 'playwright install chromium', then "
        "'apt-get install chromium chromium-headless-shell'), or set [browser] executable / "
        "$ARCHIVER_BROWSER to a Chromium or Chrome binary.")


def resolver_rules(host_map: dict[str, str]) -> str:
    """Chromium --host-resolver-rules for the configured host map."""
    rules = [f"MAP {host} {target}" for host, target in sorted(host_map.items())]
    return ", ".join(rules)


def spki_hashes(ca_bundle: str) -> list[str]:
    """Base64 SHA-256 of each certificate's public key in a PEM bundle.

    Chromium accepts a server chain that contains one of these keys
    (--ignore-certificate-errors-spki-list): the browser-side twin of requests' `verify`.
    """
    try:
        pem = Path(ca_bundle).read_bytes()
        certs = x509.load_pem_x509_certificates(pem)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read CA bundle {ca_bundle}: {exc}") from exc
    out = []
    for cert in certs:
        der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        out.append(base64.b64encode(hashlib.sha256(der).digest()).decode())
    return out


def launch_args(browser: BrowserConfig, network: NetworkConfig) -> list[str]:
    """Chromium's flags. Every context goes through a proxy: the guard's own, or the
    configured upstream `[network] proxy`, and the proxy resolves the names; so Chromium
    resolves none itself (`NO_LOOKUP_RULES`) but the upstream proxy's own host name."""
    args = [*QUIET_FLAGS, *WEBRTC_FLAGS, *PROXY_ONLY_FLAGS]
    rules = [resolver_rules(network.host_map)] if network.host_map else []
    rules += NO_LOOKUP_RULES
    upstream = urlsplit(network.proxy).hostname if network.proxy else None
    if upstream and upstream != "127.0.0.1":
        rules.append(f"EXCLUDE {upstream}")
    if rules:
        args.append(f"--host-resolver-rules={', '.join(rules)}")
    if network.ca_bundle:
        args.append("--ignore-certificate-errors-spki-list=" + ",".join(spki_hashes(
            network.ca_bundle)))
    args.extend(browser.extra_args)
    return args


@dataclass(frozen=True)
class BrowserInfo:
    executable: str
    source: str
    version: str
    user_agent: str
    playwright_version: str
    os: str


#: names of the per-session temporary directories: PREFIX + random + "@host.start.pid"
SESSION_TMP_PREFIX = "archiver-browser-"


def session_tmp() -> Path:
    """A new temporary directory for one session's Playwright and browser. Those a dead
    process left (killed before it could remove its own) are removed first."""
    base = Path(tempfile.gettempdir())
    for stale in base.glob(f"{SESSION_TMP_PREFIX}*"):
        # another host's (a shared /tmp) is its own to clean: a session lives for days
        if left_by_dead_process(stale, foreign_after=None):
            shutil.rmtree(stale, ignore_errors=True)
    try:
        return Path(tempfile.mkdtemp(prefix=SESSION_TMP_PREFIX, suffix=process_tag(),
                                     dir=base))
    except OSError as exc:
        raise BrowserError(f"cannot make a temporary directory for the browser in {base}: "
                           f"{exc.strerror or exc}") from exc


_env_lock = threading.Lock()


@contextlib.asynccontextmanager
async def _driver_env(values: dict[str, str]) -> AsyncIterator[None]:
    """The environment set to `values` while a Playwright driver starts: the driver (and
    the browser it launches) take the environment as it is when its process starts, the
    only way to give them a temporary directory or a setting. That happens in a task of
    Playwright's after a wait, so drivers start one at a time in this process (sessions
    on other threads' loops too), and the outer values come back after each."""
    while not _env_lock.acquire(blocking=False):  # never blocks the loop; cancellable
        await asyncio.sleep(0.005)
    try:
        outer = {key: os.environ.get(key) for key in values}
        try:
            os.environ.update(values)
            yield
        finally:
            for key, value in outer.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    finally:
        _env_lock.release()


def driver_env(tmp: Path) -> dict[str, str]:
    """What a session's driver runs with: its own temporary directory; and screenshots that
    do not wait for web fonts (Playwright's own switch; `pages.wait_for_fonts` and SETTLED
    wait for them for a bounded time and note one that never loads, where Playwright's
    wait would take the whole deadline and lose the screenshot)."""
    return {"TMPDIR": str(tmp), "PW_TEST_SCREENSHOT_NO_FONTS_READY": "1"}


#: How long a cancelled session start waits for Playwright's own start to end (see
#: `_to_its_end`) before it cancels that too.
DRIVER_START_GRACE_S = 30.0

T = TypeVar("T")


async def _to_its_end(step: Awaitable[T], grace_s: float) -> T:
    """`step`, awaited to its end even when the caller is cancelled meanwhile (for up to
    `grace_s` more seconds), the cancellation raised after. For Playwright's start: cut off
    half-way, once its driver has spawned, it has no handle to stop the driver by, and the
    driver runs on for the life of this process (`session_processes` ends what is left)."""
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task}, timeout=grace_s)
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()  # read, so that a failure is not logged as never retrieved
        raise  # the caller's cleanup stops what the step started


#: How a session's processes are known by their command lines: Playwright's driver
#: ("run-driver"), the browser it launched ("--remote-debugging-pipe") and the browser's
#: helpers ("--type=renderer" and the like).
_DRIVER_ARG = b"run-driver"
_BROWSER_ARGS = (b"--remote-debugging-pipe", b"--type=")


def session_processes(tmp: Path) -> list[int]:
    """The processes started for the session whose temporary directory is `tmp`, still
    running: its driver, the browser and the browser's helpers all began with it as TMPDIR
    (`driver_env`), a name no other process has, and their command lines say what they are
    (a command another thread ran while the driver started would have that TMPDIR too).
    Read from /proc, so none are found where there is none."""
    marker = b"TMPDIR=" + os.fsencode(tmp)
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    found = []
    for name in names:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                if marker not in environ.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                args = cmdline.read().split(b"\0")
        except OSError:  # gone meanwhile, or another user's
            continue
        if any(a == _DRIVER_ARG or a.startswith(_BROWSER_ARGS) for a in args):
            found.append(int(name))
    return found


class BrowserSession:
    """One Chromium for a run; a fresh context per capture. Async context manager."""

    def __init__(self, browser: BrowserConfig, network: NetworkConfig) -> None:
        self.config = browser
        self.network = network
        self._pw_cm: Any = None
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self.info: BrowserInfo | None = None
        self._tmp: Path | None = None
        #: processes of the session still running after the browser and its driver were
        #: closed, which `close` then killed (0 after an orderly exit)
        self.killed_at_close = 0

    async def __aenter__(self) -> BrowserSession:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def start(self) -> None:
        if os.environ.get(_LOOPBACK_BYPASS_ENV) and not self.network.proxy:
            raise ConfigError(f"${_LOOPBACK_BYPASS_ENV} is set: Playwright would let the "
                              "browser reach loopback addresses without the address guard; "
                              "unset it")
        self._tmp = session_tmp()
        try:
            await self._start()
        except BaseException:
            await self.close()  # the driver, the browser and the directory, as far as begun
            raise

    async def _start(self) -> None:
        from importlib.metadata import version

        assert self._tmp is not None
        self._pw_cm = async_playwright()
        async with _driver_env(driver_env(self._tmp)):
            pw: Playwright = await _to_its_end(self._pw_cm.__aenter__(), DRIVER_START_GRACE_S)
            self._pw = pw
        try:
            own = pw.chromium.executable_path
        except PlaywrightError:
            own = None
        executable, source = find_browser(self.config, own)
        proxy = {"server": self.network.proxy} if self.network.proxy else None
        try:
            self._browser = await pw.chromium.launch(
                executable_path=executable, headless=self.config.headless,
                args=launch_args(self.config, self.network),
                proxy=proxy)  # type: ignore[arg-type]
        except PlaywrightError as exc:
            raise BrowserError(f"cannot start {executable}: {str(exc).splitlines()[0]}") from exc
        page = await self._browser.new_page()
        agent = str(await page.evaluate("navigator.userAgent"))
        await page.close()
        self.info = BrowserInfo(
            executable=executable, source=source, version=self._browser.version,
            # Platforms treat "HeadlessChrome" as a bot; the rest of the string stays true.
            user_agent=re.sub(r"HeadlessChrome/", "Chrome/", agent),
            playwright_version=version("playwright"),
            os=f"{pyplatform.system()} {pyplatform.release()} {pyplatform.machine()}",
        )

    @property
    def alive(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def new_context(self, record_har: Path | None = None,
                          proxy: str | None = None) -> BrowserContext:
        """A fresh context: no cookies, storage or cache carried over from other captures.

        With `record_har`, every request and response (bodies included) is written there as
        HAR when the context closes: the browser's side of the capture's WARC. With `proxy`
        (an http://host:port URL), every connection of the context goes through that proxy,
        loopback included (see `BrowserGuard.new_context`).
        """
        if self._browser is None or self.info is None:
            raise BrowserError("the browser is not running")
        extra: dict[str, Any] = {"record_har_path": str(record_har),
                                 "record_har_content": "embed"} if record_har else {}
        if proxy is not None:
            extra["proxy"] = {"server": proxy}
        try:
            return await self._browser.new_context(
                **extra,
                viewport={"width": self.config.viewport_width,
                          "height": self.config.viewport_height},
                device_scale_factor=self.config.device_scale_factor,
                locale=self.config.locale,
                timezone_id=self.config.timezone,
                user_agent=self.info.user_agent,
                accept_downloads=False,
                service_workers="block",
            )
        except PlaywrightError as exc:
            raise BrowserError(f"browser failed: {str(exc).splitlines()[0]}") from exc

    def environment(self) -> dict[str, Any]:
        """The browser part of a manifest's capture environment."""
        assert self.info is not None
        return {
            "browser": f"Chromium {self.info.version}",
            "browser_executable": self.info.executable,
            "browser_source": self.info.source,
            "playwright": self.info.playwright_version,
            "user_agent": self.info.user_agent,
            "viewport": {"width": self.config.viewport_width,
                         "height": self.config.viewport_height},
            "device_scale_factor": self.config.device_scale_factor,
            "locale": self.config.locale,
            "timezone": self.config.timezone,
            "os": self.info.os,
        }

    async def restart(self) -> None:
        """Replace a browser that died (crashed, killed) with a fresh one, in place, so
        everything holding this session goes on with the new browser."""
        await self.close()
        await self.start()

    async def close(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(PlaywrightError):
                await self._browser.close()
            self._browser = None
        if self._pw_cm is not None:
            with contextlib.suppress(PlaywrightError):
                await self._pw_cm.__aexit__(None, None, None)
            self._pw_cm = None
            self._pw = None
        if self._tmp is not None:
            # what an orderly stop left running: a driver whose start failed or was
            # cancelled inside Playwright (which then has no handle to stop it by), a
            # browser whose driver died
            left = session_processes(self._tmp)
            self.killed_at_close = len(left)
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def main() -> int:
    """`python -m archiver.capture.browser`: print the Chromium we would use, or fail."""
    import sys

    from playwright.sync_api import sync_playwright

    from archiver.config import load_config

    config = load_config()
    try:
        with sync_playwright() as pw:
            own = pw.chromium.executable_path
    except PlaywrightError:
        own = None
    try:
        path, source = find_browser(config.browser, own)
    except BrowserError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{path} ({source})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
