"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeplatform import FakePlatform, start_fake_platform


@pytest.fixture(scope="session")
def fake_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePlatform]:
    """The loopback HTTPS fake of every platform host, for the whole session."""
    with start_fake_platform(tmp_path_factory.mktemp("fakeplatform")) as platform:
        yield platform


# -- the archiver pointed at the fake platform -------------------------------------------------
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

from archiver.config import Config, NetworkConfig  # noqa: E402
from tests.harness import LoopThread, config_toml, make_config  # noqa: E402


@pytest.fixture(scope="session")
def net_config(fake_platform: FakePlatform) -> NetworkConfig:
    """Network settings that reach the fake platform: host map, test CA, loopback allowed."""
    return replace(NetworkConfig(), host_map=fake_platform.host_map(),
                   ca_bundle=str(fake_platform.ca_pem), allow_networks=("127.0.0.0/8",))


@pytest.fixture()
def config(fake_platform: FakePlatform, tmp_path: Path) -> Config:
    """A configuration with its own empty data directory, routed to the fake platform."""
    return make_config(fake_platform.host_map(), fake_platform.ca_pem, tmp_path / "data")


@pytest.fixture()
def config_file(fake_platform: FakePlatform, tmp_path: Path) -> Path:
    """The same configuration as a file, for the CLI."""
    path = tmp_path / "archiver.toml"
    path.write_text(config_toml(fake_platform.host_map(), fake_platform.ca_pem,
                                tmp_path / "data"))
    return path


@pytest.fixture(scope="session")
def browser_loop(fake_platform: FakePlatform, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[LoopThread]:
    """One Chromium for the whole session, on an event loop in a background thread."""
    cfg = make_config(fake_platform.host_map(), fake_platform.ca_pem,
                      tmp_path_factory.mktemp("unused"))
    loop = LoopThread(cfg)
    yield loop
    loop.close()


@pytest.fixture(autouse=True)
def _fresh_fake_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that change the fake platform get it back as it was."""
    yield
    if "fake_platform" in request.fixturenames:
        fake = request.getfixturevalue("fake_platform")
        fake.reset()


# -- a local RFC 3161 timestamp authority (openssl ts -reply behind HTTP) ---------------------
from tests.tsa import LocalTSA, start_tsa  # noqa: E402


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTSA]:
    """One local timestamp authority on 127.0.0.1 for the session (leave `.fail` False)."""
    with start_tsa(tmp_path_factory.mktemp("tsa")) as authority:
        yield authority
