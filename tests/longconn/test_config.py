"""ClientConfig updates: only present and sane values are applied."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lark_events_core.longconn import ClientConfig
from lark_events_core.longconn.config import MIN_SERVER_INTERVAL

BASE = ClientConfig(reconnect_count=5, reconnect_interval=10, reconnect_nonce=3, ping_interval=20)


def test_platform_values_replace_the_settings() -> None:
    raw = {"ReconnectCount": -1, "ReconnectInterval": 120, "ReconnectNonce": 30, "PingInterval": 90}
    assert BASE.updated(raw) == ClientConfig(-1, 120, 30, 90)


def test_missing_keys_keep_the_current_values() -> None:
    assert BASE.updated({"PingInterval": 7}) == ClientConfig(5, 10, 3, 7)
    assert BASE.updated({}) == BASE


@pytest.mark.parametrize(
    "raw",
    [
        {"PingInterval": 0},
        {"PingInterval": -1},
        {"PingInterval": "30"},
        {"PingInterval": None},
        {"PingInterval": True},
        {"PingInterval": math.nan},
        {"PingInterval": 10**9},
        {"ReconnectInterval": 0},
        {"ReconnectNonce": -2},
        {"ReconnectCount": 0},
        {"ReconnectCount": 2.5},
        {"ReconnectCount": "3"},
        {"ReconnectCount": False},
    ],
)
def test_insane_values_are_ignored(raw: dict[str, Any]) -> None:
    assert BASE.updated(raw) == BASE


@pytest.mark.parametrize("raw", [None, [], "x", 3])
def test_a_non_object_changes_nothing(raw: object) -> None:
    assert BASE.updated(raw) == BASE


def test_any_negative_count_means_forever_and_zero_jitter_is_allowed() -> None:
    assert BASE.updated({"ReconnectCount": -7}).reconnect_count == -1
    assert BASE.updated({"ReconnectNonce": 0}).reconnect_nonce == 0


def test_platform_form_uses_integers_for_whole_seconds() -> None:
    assert ClientConfig().to_platform() == {
        "ReconnectCount": -1,
        "ReconnectInterval": 120,
        "ReconnectNonce": 30,
        "PingInterval": 120,
    }
    assert ClientConfig(ping_interval=0.5).to_platform()["PingInterval"] == 0.5


@pytest.mark.parametrize("key", ["PingInterval", "ReconnectInterval"])
@pytest.mark.parametrize("value", [0.001, 1e-9, 0.5, 0.999])
def test_server_intervals_below_the_floor_are_raised_to_it(key: str, value: float) -> None:
    updated = BASE.updated({key: value})
    field = "ping_interval" if key == "PingInterval" else "reconnect_interval"
    assert getattr(updated, field) == MIN_SERVER_INTERVAL == 1.0


def test_integer_and_fractional_values_are_both_read() -> None:
    raw = {
        "ReconnectCount": 4.0,
        "ReconnectInterval": 2.5,
        "ReconnectNonce": 0.5,
        "PingInterval": 3,
    }
    assert BASE.updated(raw) == ClientConfig(4, 2.5, 0.5, 3)
    assert type(BASE.updated(raw).reconnect_count) is int


def test_the_clients_own_settings_are_not_clamped() -> None:
    assert ClientConfig(ping_interval=0.2).ping_interval == 0.2  # a test's choice, not a server's
