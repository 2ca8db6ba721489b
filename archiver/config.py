"""Typed configuration: defaults < config file < environment < command-line flags.

The file is TOML (config/archiver.toml documents every key). Relative paths are taken
relative to the current directory. Unknown keys are an error, so a typo never passes
silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from archiver.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("config/archiver.toml")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str, label: str = "duration") -> timedelta:
    """"90s", "15m", "1h", "7d", "2w" or combinations ("1h30m") as a timedelta (> 0)."""
    compact = "".join(str(text).split())
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(compact):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        pos = match.end()
    if not compact or pos != len(compact) or seconds <= 0:
        raise ConfigError(f"{label} = {text!r} is not a duration like \"90s\", \"15m\", "
                          "\"1h\", \"7d\" or \"2w\"")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class StorageConfig:
    data_dir: Path = Path("snapshots")
    #: SQLAlchemy URL; empty means SQLite at <data_dir>/index.sqlite3
    database_url: str = ""

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'index.sqlite3'}"


@dataclass(frozen=True)
class NetworkConfig:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    max_redirects: int = 10
    max_bytes: int = 20_000_000
    #: HTTP(S) proxy for every request, the browser's included ("" = none)
    proxy: str = ""
    #: PEM file of extra trusted CAs (requests verifies with it; Chromium trusts its keys)
    ca_bundle: str = ""
    #: host -> "ip:port" overrides, used by both requests and the browser
    host_map: dict[str, str] = field(default_factory=dict)
    #: networks exempt from the private-address guard, e.g. ["127.0.0.0/8"]
    allow_networks: tuple[str, ...] = ()
    user_agent: str = ""
    #: data-endpoint requests that may start per second to one host (0 = no limit)
    requests_per_second: float = 5.0
    #: times a 429 / 503 answer is retried, honouring Retry-After
    retries: int = 2
    #: longest Retry-After waited for, in seconds (longer: the capture fails, retried later)
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        # `not x >= 0` also refuses NaN (TOML's `nan`), which would mean no limit, no cap
        for label in ("requests_per_second", "max_retry_after", "retries"):
            if not getattr(self, label) >= 0:
                raise ConfigError(f"network.{label} = {getattr(self, label)!r}: must be 0 or "
                                  "more")


@dataclass(frozen=True)
class BrowserConfig:
    #: path to a Chromium binary; "" = Playwright's own if installed, else system Chromium
    executable: str = ""
    headless: bool = True
    viewport_width: int = 1280
    viewport_height: int = 900
    device_scale_factor: float = 1.0
    locale: str = "en-US"
    timezone: str = "UTC"
    #: seconds a required page may take to show the post (or say it is gone)
    page_timeout: float = 20.0
    #: seconds the optional post page may take before it is recorded as incomplete
    post_page_timeout: float = 10.0
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaptureConfig:
    #: also load and snapshot the post's own page (x.com/...), besides the embed render
    post_page: bool = True
    #: posts captured at the same time, each in its own browser context of one browser
    #: (0 = one per CPU core, at least 2 and at most 8)
    concurrency: int = 0
    #: also load the article in Chromium: embeds that scripts inject are found, and the
    #: rendered DOM and a screenshot of the article are kept with its response
    render_article: bool = True
    #: seconds the article may take to load in the browser (then taken as it is, noted)
    article_timeout: float = 20.0
    #: after the load, wait at most this long for the network to go quiet, so that embed
    #: scripts have run; then at most as long again for the web fonts
    article_settle: float = 5.0

    def __post_init__(self) -> None:
        if self.concurrency < 0:
            raise ConfigError(f"capture.concurrency = {self.concurrency}: give 1 or more "
                              "posts at once, or 0 for one per CPU core")


def effective_concurrency(configured: int) -> int:
    """The capture concurrency to use: as configured, or from the CPU count when 0."""
    if configured > 0:
        return configured
    return max(2, min(8, os.cpu_count() or 2))


@dataclass(frozen=True)
class EvidenceConfig:
    #: the archive's signing key (PEM, mode 0600); "" = <data_dir>/keys/archive-key.pem
    key_file: str = ""
    #: RFC 3161 timestamp authorities, tried in order until one answers
    tsa_urls: tuple[str, ...] = ()
    #: PEM file of the CA certificates that the authorities' certificates chain to
    tsa_ca_bundle: str = ""


@dataclass(frozen=True)
class ScheduleConfig:
    #: TOML file of [[source]] tables that `archiver run` watches
    sources_file: str = "config/sources.toml"
    #: re-capture each post this long after its first completed capture ...
    recapture_after: tuple[str, ...] = ("1h", "24h", "7d", "30d")
    #: ... then every this long ("" = stop after the list)
    recapture_every: str = "30d"
    #: how often `archiver run` looks for due re-captures
    recapture_check: str = "5m"
    #: at most this many re-captures per check
    recapture_batch: int = 100
    #: a failed capture is retried after this long, doubling each time (up to a week)
    retry_after: str = "1h"
    #: an article whose fetch failed this many times waits a day before the next try
    #: (doubling, up to 30 days), or until its source says it was updated
    article_attempts: int = 3
    #: a run that starts late still runs if it is at most this late ("" = however late)
    misfire_grace: str = ""
    #: seconds SIGTERM/SIGINT waits for captures in flight before abandoning them
    stop_grace: float = 30.0
    #: POST a JSON body here when a post's status changes ("" = none)
    webhook_url: str = ""
    #: or run this command (argv list, no shell) with the same JSON on stdin
    on_change_command: tuple[str, ...] = ()
    #: seconds the webhook or the command may take
    on_change_timeout: float = 10.0
    #: log lines of `archiver run`: "text" or "json" (one object a line)
    log_format: str = "text"

    def __post_init__(self) -> None:
        for label in ("recapture_every", "recapture_check", "retry_after", "misfire_grace"):
            value = getattr(self, label)
            if value or label in ("recapture_check", "retry_after"):
                parse_duration(value, f"schedule.{label}")
        for n, value in enumerate(self.recapture_after):
            parse_duration(value, f"schedule.recapture_after[{n}]")
        if self.recapture_batch < 1 or self.article_attempts < 1:
            raise ConfigError("schedule.recapture_batch and schedule.article_attempts must be "
                              "at least 1")
        if self.stop_grace < 0 or self.on_change_timeout <= 0:
            raise ConfigError("schedule.stop_grace must be >= 0 and schedule.on_change_timeout "
                              "> 0")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"schedule.log_format = {self.log_format!r}: use \"text\" or "
                              "\"json\"")


@dataclass(frozen=True)
class WebConfig:
    #: address `archiver serve` listens on (keep loopback behind a TLS reverse proxy)
    host: str = "127.0.0.1"
    port: int = 8080
    #: reading needs no token (only for an archive that is public anyway)
    open_access: bool = False
    #: rows per page in lists
    page_size: int = 50
    #: mark the login cookie Secure (set true when users reach the view over HTTPS, e.g.
    #: through a TLS reverse proxy; the app itself then sees plain http)
    secure_cookies: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"web.port = {self.port} is not a TCP port")
        if not 1 <= self.page_size <= 500:
            raise ConfigError("web.page_size must be between 1 and 500")


@dataclass(frozen=True)
class Config:
    storage: StorageConfig = field(default_factory=StorageConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    browser: BrowserConfig = field(default_factory=BrowserConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    web: WebConfig = field(default_factory=WebConfig)
    source: str = "defaults"  # where the values came from, for messages

    @property
    def key_path(self) -> Path:
        return Path(self.evidence.key_file) if self.evidence.key_file else \
            self.storage.data_dir / "keys" / "archive-key.pem"

    def digest(self) -> str:
        """SHA-256 of the effective configuration, recorded in every manifest."""
        body = json.dumps(to_plain(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


# Environment variables: name -> (section, key)
ENV_VARS: dict[str, tuple[str, str]] = {
    "ARCHIVER_DATA_DIR": ("storage", "data_dir"),
    "ARCHIVER_DATABASE_URL": ("storage", "database_url"),
    "ARCHIVER_BROWSER": ("browser", "executable"),
    "ARCHIVER_PROXY": ("network", "proxy"),
    "ARCHIVER_CA_BUNDLE": ("network", "ca_bundle"),
}


def load_config(path: Path | None = None, overrides: dict[str, dict[str, Any]] | None = None,
                environ: typing.Mapping[str, str] | None = None) -> Config:
    """Build the effective configuration.

    `path` is an explicit config file; otherwise $ARCHIVER_CONFIG, otherwise
    config/archiver.toml when it exists. `overrides` are command-line values by section.
    """
    env = os.environ if environ is None else environ
    layers: dict[str, dict[str, Any]] = {}
    source = "defaults"
    file = path or (Path(env["ARCHIVER_CONFIG"]) if env.get("ARCHIVER_CONFIG") else None)
    if file is None and DEFAULT_CONFIG_FILE.is_file():
        file = DEFAULT_CONFIG_FILE
    if file is not None:
        try:
            layers = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {file}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc
        source = str(file)
    for var, (section, key) in ENV_VARS.items():
        if env.get(var):
            layers.setdefault(section, {})[key] = env[var]
    for section, values in (overrides or {}).items():
        for key, value in values.items():
            if value is not None:
                layers.setdefault(section, {})[key] = value
    config: Config = _build(Config, layers, "")
    return replace(config, source=source)


def _build(cls: type[Any], values: dict[str, Any], where: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{where}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.name != "source"}
    unknown = set(values) - set(known)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ConfigError(f"unknown config key(s) in [{where or 'top'}]: {names}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        hint = hints[name]
        label = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(typing.cast(type[Any], hint), value, label)
        else:
            kwargs[name] = _coerce(hint, value, label)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, label: str) -> Any:
    origin = typing.get_origin(hint)
    try:
        if hint is Path:
            return Path(str(value))
        if hint is bool:
            if isinstance(value, str):
                if value.lower() in {"1", "true", "yes", "on"}:
                    return True
                if value.lower() in {"0", "false", "no", "off"}:
                    return False
                raise ValueError(value)
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if hint in (int, float, str):
            if hint is not str and isinstance(value, bool):
                raise ValueError(value)
            return hint(value)
        if origin is tuple:
            if isinstance(value, str):
                value = [value]
            return tuple(str(v) for v in value)
        if origin is dict:
            if not isinstance(value, dict):
                raise ValueError(value)
            return {str(k): str(v) for k, v in value.items()}
        if origin in (types.UnionType, typing.Union):
            return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config value {label} = {value!r} is not a valid {hint}") from exc
    raise ConfigError(f"config value {label} has an unsupported type {hint}")


def to_plain(obj: Any) -> Any:
    """A JSON-ready copy of a config (paths and tuples as strings and lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in fields(obj) if f.name != "source"}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, tuple | list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    return obj
