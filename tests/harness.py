"""Helpers shared by tests, the demo and the benchmarks: point a real configuration at the
loopback fake platform, and keep one browser alive on one event loop for many runs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from archiver.capture.browser import BrowserSession
from archiver.config import CaptureConfig, Config, NetworkConfig, StorageConfig, load_config
from archiver.pipeline import ArchiveReport, archive_async

T = TypeVar("T")

SEED_URL = "https://news.example.org/2020/09/28/violents-combats-azerbaidjan-armenie/"
SEED_TEXT_URL = "https://news.example.org/seed/article.txt"
SEED_IDS = ("1310100737619791965", "1310218169743183965")


def config_toml(host_map: dict[str, str], ca_pem: Path, data_dir: Path | None = None) -> str:
    """A config file that routes every platform host to the fake platform on loopback."""
    lines = []
    if data_dir is not None:
        lines += ["[storage]", f'data_dir = "{data_dir}"', ""]
    lines += ["[network]", f'ca_bundle = "{ca_pem}"', 'allow_networks = ["127.0.0.0/8"]',
              "host_map = { " + ", ".join(f'"{h}" = "{t}"' for h, t in host_map.items()) + " }"]
    return "\n".join(lines) + "\n"


def make_config(host_map: dict[str, str], ca_pem: Path, data_dir: Path,
                **capture: Any) -> Config:
    """The same configuration as `config_toml`, built in memory (no file on disk)."""
    base = load_config(Path("/dev/null"), environ={})
    return replace(
        base,
        storage=StorageConfig(data_dir=data_dir),
        network=replace(NetworkConfig(), host_map=dict(host_map), ca_bundle=str(ca_pem),
                        allow_networks=("127.0.0.0/8",)),
        capture=replace(CaptureConfig(), **capture),
    )


def archive_run(loop: LoopThread, config: Config, *urls: str) -> ArchiveReport:
    """`archive` on the session's shared browser (one Chromium for all tests)."""
    return loop.run(archive_async(list(urls), config, browser=loop.browser))


class LoopThread:
    """An event loop in a background thread that owns one BrowserSession."""

    def __init__(self, config: Config) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.browser = BrowserSession(config.browser, config.network)
        self.run(self.browser.start())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 180) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.run(self.browser.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def dead_process_tag() -> str:
    """The `process_tag` ("@host.start.pid") of a process of this host that has exited."""
    return subprocess.run(
        [sys.executable, "-c", "from archiver.store.liveness import process_tag; "
         "print(process_tag())"], capture_output=True, text=True, check=True).stdout.strip()
