"""An archive made once per session (seed article, a hostile post, an edited post) and
`archiver serve` running over it as a process on loopback, with a reading token."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from archiver.config import Config
from tests.fakeplatform import FakePlatform
from tests.harness import SEED_URL, LoopThread, archive_run, config_toml, make_config

HOSTILE_TEXT = ('Watch this <script>window.__xss = "script"</script> '
                '<img src="/nope" onerror="window.__xss = \'img\'"> end.')
HOSTILE_ID = "1860000000000000901"
EDITED_ID = "1860000000000000902"
HOSTILE_ARTICLE = "https://news.example.org/web/hostile"


@dataclass
class Archive:
    config: Config
    config_file: Path
    data_dir: Path


@dataclass
class Server:
    base: str
    token: str
    archive: Archive
    process: subprocess.Popen[bytes]

    def get(self, path: str, token: str | None = "default", **kw: object) -> requests.Response:
        headers = {} if token is None else {
            "Authorization": f"Bearer {self.token if token == 'default' else token}"}
        return requests.get(self.base + path, headers=headers, timeout=30,
                            allow_redirects=False, **kw)  # type: ignore[arg-type]


def cli(archive: Archive, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args, "--config",
                           str(archive.config_file)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def web_archive(browser_loop: LoopThread, fake_platform: FakePlatform,
                tmp_path_factory: pytest.TempPathFactory) -> Archive:
    root = tmp_path_factory.mktemp("web")
    data_dir = root / "data"
    config = make_config(fake_platform.host_map(), fake_platform.ca_pem, data_dir,
                         render_article=False)
    tweets = fake_platform.tweets
    try:
        assert archive_run(browser_loop, config, SEED_URL).ok
        tweets.put({"id": HOSTILE_ID, "text": HOSTILE_TEXT,
                    "user": {"screen_name": "Hostile", "name": "<b>Hostile</b> Name"}})
        fake_platform.serve(HOSTILE_ARTICLE, (
            "<html><head><title>&lt;script&gt;window.__xss = 'title'&lt;/script&gt; News"
            "</title></head><body><blockquote class=\"twitter-tweet\"><p>&lt;img src=x "
            f"onerror=alert(1)&gt;</p>&mdash; Hostile (@Hostile) <a href=\"https://twitter"
            f".com/Hostile/status/{HOSTILE_ID}\">November 24, 2026</a></blockquote>"
            "</body></html>"))
        assert archive_run(browser_loop, config, HOSTILE_ARTICLE).ok
        tweets.put({"id": EDITED_ID, "text": "Turnout was 41 percent at noon.",
                    "user": {"screen_name": "Counter", "name": "Vote Counter"}})
        post = f"https://x.com/Counter/status/{EDITED_ID}"
        assert archive_run(browser_loop, config, post).ok
        tweets.edit(EDITED_ID, "Turnout was 47 percent at noon, officials said.")
        assert archive_run(browser_loop, config, post).ok
    finally:
        fake_platform.reset()
    config_file = root / "archiver.toml"
    config_file.write_text(config_toml(fake_platform.host_map(), fake_platform.ca_pem,
                                       data_dir))
    return Archive(config, config_file, data_dir)


def start_server(archive: Archive, *extra_config: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config_file = archive.config_file
    if extra_config:
        config_file = archive.config_file.with_name(f"archiver-{port}.toml")
        config_file.write_text(archive.config_file.read_text() + "\n".join(extra_config) + "\n")
    log = archive.config_file.with_name(f"serve-{port}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "archiver.cli", "serve", "--port", str(port),
                             "--config", str(config_file)], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(base + "/api/openapi.json", timeout=2)
            return proc, base
        except requests.ConnectionError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"archiver serve did not start: "
                         f"{config_file.with_name(f'serve-{port}.log').read_text()}")


@pytest.fixture(scope="session")
def server(web_archive: Archive) -> Iterator[Server]:
    made = cli(web_archive, "token", "create", "--name", "tests", "--json")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    proc, base = start_server(web_archive)
    yield Server(base, token, web_archive, proc)
    proc.terminate()
    proc.wait(15)
