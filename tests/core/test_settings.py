"""Configuration is validated when a dispatcher is built, never on the first request."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from typing import Any

import pytest

from lark_events_core import ConfigurationError, Dispatcher, Request, Secret, Settings
from lark_events_core.settings import DEFAULT_MAX_BODY_BYTES


@pytest.mark.parametrize(
    "options",
    [
        {"encrypt_key": ""},
        {"encrypt_key": "   "},
        {"verification_token": ""},
        {"encrypt_key": ["good", ""]},
        {"encrypt_key": 123},
        {"encrypt_key": b"bytes-key"},
        {"verification_token": ["ok", 4.5]},
        {"encrypt_key": Secret("")},
        {"encrypt_key": "k", "max_body_bytes": 0},
        {"encrypt_key": "k", "max_body_bytes": -1},
        {"encrypt_key": "k", "max_body_bytes": True},
        {"encrypt_key": "k", "max_body_bytes": "1024"},
        {"encrypt_key": "k", "timestamp_tolerance": 0},
        {"encrypt_key": "k", "timestamp_tolerance": -5},
        {"encrypt_key": "k", "timestamp_tolerance": "300"},
        {"encrypt_key": "k", "timestamp_tolerance": True},
        {"encrypt_key": "k", "timestamp_tolerance": float("nan")},
        {"encrypt_key": "k", "max_body_bytes": 1.5},
        {"encrypt_key": {"k": "v"}},
        {"encrypt_key": "\ud800"},
    ],
)
def test_bad_configuration_is_refused_when_the_dispatcher_is_built(
    options: dict[str, Any],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigurationError):
            Dispatcher(**options)


def test_one_or_several_keys_and_tokens_are_accepted() -> None:
    settings = Settings.build(["k1", Secret("k2")], ("t1",))
    assert [k.reveal() for k in settings.encrypt_keys] == ["k1", "k2"]
    assert [t.reveal() for t in settings.verification_tokens] == ["t1"]
    assert len(settings.ciphers) == 2
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert settings.timestamp_tolerance is None


def test_neither_key_nor_token_warns_and_logs_once_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = Dispatcher()  # no URL yet (the long connection needs none): no warning
    challenge = Request.build("POST", {}, b'{"challenge":"c","type":"url_verification"}')
    with caplog.at_level(logging.WARNING, logger="lark_events"):
        d.handle(challenge)
        d.handle(challenge)
    warned = [r for r in caplog.records if "neither an encrypt_key" in r.getMessage()]
    assert len(warned) == 1  # once per dispatcher, logged since logging has handlers here


def test_without_logging_configured_the_warning_is_a_user_warning_printed_once() -> None:
    script = (
        "from lark_events_core import Dispatcher, Request\n"
        "d = Dispatcher()\n"
        'd.handle(Request.build(\'POST\', {}, b\'{"challenge":"c","type":"url_verification"}\'))\n'
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stderr.count("anyone who knows the URL can post events") == 1
    assert "UserWarning" in result.stderr


def test_an_insecure_dispatcher_warns_when_an_adapter_serves_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from lark_events_core.asgi import ASGIApp
    from lark_events_core.wsgi import WSGIApp

    for mount in (ASGIApp, lambda d: WSGIApp(d, close_on_exit=False)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lark_events"):
            mount(Dispatcher())
        assert "anyone who knows the URL" in caplog.text


@pytest.mark.parametrize(
    "options", [{"encrypt_key": "k"}, {"verification_token": "t"}], ids=["key", "token"]
)
def test_a_key_or_a_token_alone_does_not_warn(options: dict[str, str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dispatcher(**options)


def test_from_env_reads_key_and_token() -> None:
    d = Dispatcher.from_env(
        {"LARK_ENCRYPT_KEY": "env-key", "LARK_VERIFICATION_TOKEN": "env-token"}, dedup=False
    )
    assert [k.reveal() for k in d.settings.encrypt_keys] == ["env-key"]
    assert [t.reveal() for t in d.settings.verification_tokens] == ["env-token"]
    assert d.dedup is None


def test_from_env_treats_empty_variables_as_unset() -> None:
    d = Dispatcher.from_env({"LARK_ENCRYPT_KEY": "", "LARK_VERIFICATION_TOKEN": ""})
    assert d.settings.insecure


def test_registration_errors_are_configuration_errors() -> None:
    d = Dispatcher(encrypt_key="k")
    d.on("a.b", lambda e: None)
    with pytest.raises(ConfigurationError):
        d.on("a.b", lambda e: None)
    with pytest.raises(ConfigurationError):
        d.register("", lambda e: None)
    with pytest.raises(ConfigurationError):
        d.register("c.d", "not callable")  # type: ignore[arg-type]
