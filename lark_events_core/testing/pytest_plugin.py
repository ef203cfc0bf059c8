"""An opt-in pytest plugin: fixtures that give a test a simulator configured for the app under test.

Enable it in a ``conftest.py`` (``pytest_plugins = ["lark_events_core.testing.pytest_plugin"]``)
or on the command line (``pytest -p lark_events_core.testing.pytest_plugin``).

The Encrypt Key and verification token come, in this order, from an override of the
``lark_encrypt_key`` / ``lark_verification_token`` fixtures, the ``lark_encrypt_key`` /
``lark_verification_token`` ini options, or the ``LARK_ENCRYPT_KEY`` /
``LARK_VERIFICATION_TOKEN`` environment variables. Nothing heavier than the core is imported.
"""

from __future__ import annotations

import os

import pytest

from .simulator import LarkSimulator

__all__ = [
    "lark_encrypt_key",
    "lark_env",
    "lark_simulator",
    "lark_verification_token",
    "pytest_addoption",
]

_INI = {
    "lark_encrypt_key": "Encrypt Key of the app under test (else $LARK_ENCRYPT_KEY)",
    "lark_verification_token": "verification token of the app under test "
    "(else $LARK_VERIFICATION_TOKEN)",
    "lark_event_path": "path of the event request URL (default /webhook/event)",
    "lark_card_path": "path of the legacy card request URL (default /webhook/card)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the plugin's ini options."""
    for name, help_text in _INI.items():
        parser.addini(name, help_text, default="")


def _setting(config: pytest.Config, ini: str, env: str | None = None) -> str | None:
    value = str(config.getini(ini) or "")
    if not value and env is not None:
        value = os.environ.get(env, "")
    return value or None


@pytest.fixture
def lark_encrypt_key(pytestconfig: pytest.Config) -> str | None:
    """The app's Encrypt Key (``None``: events are sent plain and unsigned). Override to set it."""
    return _setting(pytestconfig, "lark_encrypt_key", "LARK_ENCRYPT_KEY")


@pytest.fixture
def lark_verification_token(pytestconfig: pytest.Config) -> str | None:
    """The app's verification token (``None``: none is sent). Override to set it."""
    return _setting(pytestconfig, "lark_verification_token", "LARK_VERIFICATION_TOKEN")


@pytest.fixture
def lark_simulator(
    pytestconfig: pytest.Config,
    lark_encrypt_key: str | None,
    lark_verification_token: str | None,
) -> LarkSimulator:
    """A :class:`~lark_events_core.testing.LarkSimulator` configured like the app under test."""
    return LarkSimulator(
        lark_encrypt_key,
        lark_verification_token,
        event_path=_setting(pytestconfig, "lark_event_path") or "/webhook/event",
        card_path=_setting(pytestconfig, "lark_card_path") or "/webhook/card",
    )


@pytest.fixture
def lark_env(
    monkeypatch: pytest.MonkeyPatch,
    lark_encrypt_key: str | None,
    lark_verification_token: str | None,
) -> dict[str, str | None]:
    """Put the simulator's secrets in ``LARK_ENCRYPT_KEY`` / ``LARK_VERIFICATION_TOKEN``.

    For apps configured from the environment (``Dispatcher.from_env()``): build the app after
    requesting this fixture and it accepts what ``lark_simulator`` sends. Restored afterwards.
    """
    values = {
        "LARK_ENCRYPT_KEY": lark_encrypt_key,
        "LARK_VERIFICATION_TOKEN": lark_verification_token,
    }
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return values
