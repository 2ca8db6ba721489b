"""The re-capture policy and the change classification (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archiver.config import ScheduleConfig
from archiver.errors import ConfigError
from archiver.recapture import MAX_RETRY, Policy, classify, describe_series, next_state

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
H, D = timedelta(hours=1), timedelta(days=1)


def test_default_series_then_monthly() -> None:
    policy = Policy.from_config(ScheduleConfig())
    assert policy.next_after_success(T0, T0) == T0 + H
    assert policy.next_after_success(T0, T0 + H) == T0 + 24 * H
    assert policy.next_after_success(T0, T0 + 24 * H) == T0 + 7 * D
    assert policy.next_after_success(T0, T0 + 7 * D) == T0 + 30 * D
    assert policy.next_after_success(T0, T0 + 30 * D) == T0 + 60 * D
    assert policy.next_after_success(T0, T0 + 61 * D) == T0 + 90 * D


def test_one_catch_up_after_a_long_stop() -> None:
    """A scheduler stopped for 20 days makes one capture, then the next point after it."""
    policy = Policy()
    late = T0 + 20 * D
    assert policy.next_after_success(T0, late) == T0 + 30 * D


def test_series_can_end() -> None:
    policy = Policy.from_config(ScheduleConfig(recapture_after=("1h",), recapture_every=""))
    assert policy.next_after_success(T0, T0) == T0 + H
    assert policy.next_after_success(T0, T0 + H) is None
    nothing = Policy.from_config(ScheduleConfig(recapture_after=(), recapture_every=""))
    assert nothing.next_after_success(T0, T0) is None


def test_failures_back_off_up_to_a_week() -> None:
    policy = Policy()
    assert policy.next_after_failure(1, T0) == T0 + H
    assert policy.next_after_failure(2, T0) == T0 + 2 * H
    assert policy.next_after_failure(4, T0) == T0 + 8 * H
    assert policy.next_after_failure(40, T0) == T0 + MAX_RETRY


@pytest.mark.parametrize(("previous", "status", "text", "change"), [
    (None, "live", "a", "first"),
    (None, "deleted", None, "first"),
    (("live", "hello  world"), "live", "hello world", "unchanged"),
    (("live", "hello"), "live", "hello, edited", "edited"),
    (("live", "hello"), "deleted", None, "deleted"),
    (("deleted", None), "deleted", None, "unchanged"),
    (("live", "x"), "unavailable", None, "unavailable"),
    (("unavailable", None), "deleted", None, "deleted"),
    (("deleted", None), "live", "back", "restored"),
    (("unavailable", None), "live", "back", "restored"),
])
def test_classify(previous: tuple[str, str | None] | None, status: str, text: str | None,
                  change: str) -> None:
    assert classify(previous, status, text) == change


def test_state_is_the_latest_change() -> None:
    state = next_state(None, "live", "first")
    assert state == "live"
    state = next_state(state, "live", "unchanged")
    assert state == "live"
    state = next_state(state, "live", "edited")
    assert state == "edited"
    assert next_state(state, "live", "unchanged") == "edited"
    assert next_state(state, "deleted", "deleted") == "deleted"
    assert next_state("deleted", "live", "restored") == "restored"


def test_policy_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="recapture_after"):
        ScheduleConfig(recapture_after=("1 hour",))
    with pytest.raises(ConfigError, match="log_format"):
        ScheduleConfig(log_format="xml")
    assert describe_series(Policy()) == ["1h", "1d", "7d", "30d", "then every 30d"]
