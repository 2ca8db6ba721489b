from pathlib import Path

import pytest

from archiver.config import Config, load_config
from archiver.errors import ConfigError


def test_defaults_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.source == "defaults"
    assert config.storage.data_dir == Path("snapshots")
    assert config.storage.effective_database_url == "sqlite:///snapshots/index.sqlite3"


def test_layers_file_then_env_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('[storage]\ndata_dir = "from-file"\n[browser]\npage_timeout = 5\n'
                   '[network]\nhost_map = { "x.com" = "127.0.0.1:9" }\n')
    config = load_config(cfg, environ={})
    assert config.storage.data_dir == Path("from-file")
    assert config.browser.page_timeout == 5.0
    assert config.network.host_map == {"x.com": "127.0.0.1:9"}
    config = load_config(cfg, environ={"ARCHIVER_DATA_DIR": "from-env"})
    assert config.storage.data_dir == Path("from-env")
    config = load_config(cfg, {"storage": {"data_dir": Path("from-flag")}},
                         environ={"ARCHIVER_DATA_DIR": "from-env"})
    assert config.storage.data_dir == Path("from-flag")


def test_the_shipped_config_file_is_the_defaults() -> None:
    shipped = load_config(Path(__file__).parent.parent / "config" / "archiver.toml", environ={})
    assert shipped.digest() == Config().digest()


@pytest.mark.parametrize("body, message", [
    ("[storage]\ndata_dri = 'x'\n", "unknown config key"),
    ("[browser]\npage_timeout = 'soon'\n", "browser.page_timeout"),
    ("[browser]\nheadless = 'maybe'\n", "browser.headless"),
    ("[network\n", "not valid TOML"),
    ("storage = 3\n", "must be a table"),
])
def test_bad_config_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(cfg, environ={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_digest_changes_with_values(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text("[capture]\nconcurrency = 3\n")
    assert load_config(cfg, environ={}).digest() != Config().digest()


@pytest.mark.parametrize("body, message", [
    ("[capture]\nconcurrency = -4\n", "capture.concurrency"),
    ("[network]\nrequests_per_second = -1.0\n", "network.requests_per_second"),
    ("[network]\nrequests_per_second = nan\n", "network.requests_per_second"),
    ("[network]\nretries = -1\n", "network.retries"),
    ("[network]\nmax_retry_after = -5.0\n", "network.max_retry_after"),
    ("[network]\nmax_retry_after = nan\n", "network.max_retry_after"),  # no cap at all
])
def test_concurrency_and_politeness_out_of_range_are_clear_errors(
        tmp_path: Path, body: str, message: str) -> None:
    # before, each was taken silently: a negative concurrency as "from the cores", a
    # negative or NaN rate as "no limit", a NaN cap as waiting however long a server asks
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(cfg, environ={})


def test_concurrency_zero_means_from_the_cores_and_no_rate_limit_is_zero(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text("[capture]\nconcurrency = 0\n[network]\nrequests_per_second = 0\n"
                   "retries = 0\nmax_retry_after = 0\n")
    config = load_config(cfg, environ={})
    assert config.capture.concurrency == 0 and config.network.requests_per_second == 0
