"""System checks: invalid LARK_EVENTS is an error, an insecure one a warning."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings
from lark_events_django import conf
from lark_events_django.checks import check_lark_events

from .conftest import lark_settings


def _ids(**lark: Any) -> list[str]:
    with override_settings(LARK_EVENTS=lark):
        return [m.id or "" for m in check_lark_events()]


def test_a_configured_project_passes() -> None:
    assert _ids(**lark_settings()) == []


def test_the_checks_are_registered_with_django() -> None:
    with override_settings(LARK_EVENTS={"HANDLERS": lark_settings()["HANDLERS"]}):
        ids = [m.id for m in run_checks()]
    assert "lark_events.W001" in ids


@pytest.mark.parametrize(
    "lark",
    [
        {},
        {"ENCRYPT_KEY": None, "VERIFICATION_TOKEN": None},
    ],
)
def test_no_key_and_no_token_is_a_warning(lark: dict[str, Any]) -> None:
    assert _ids(**lark) == ["lark_events.W001"]


@pytest.mark.parametrize(
    "lark",
    [
        {"ENCRYPT_KEY": "k"},
        {"VERIFICATION_TOKEN": "t"},
        {"ENCRYPT_KEY": ["new", "old"]},
    ],
)
def test_a_key_or_a_token_silences_the_warning(lark: dict[str, Any]) -> None:
    assert _ids(**lark) == []


@pytest.mark.parametrize(
    "lark",
    [
        {"ENCRYPT_KEY": ""},
        {"ENCRYPT_KEY": 42},
        {"MAX_BODY_BYTES": 0},
        {"MAX_BODY_BYTES": "1MB"},
        {"TIMESTAMP_TOLERANCE": -1},
        {"ON_STORE_ERROR": "explode"},
        {"ENCRYPTKEY": "typo"},
        {"DEDUP": "no.such.module.Store"},
        {"DEDUP": 42},
        {"RETRIES": -1},
        {"CALLBACK_DEADLINE": 0},
        {"EXECUTOR": "no.such.module.Executor"},
        {"EXECUTOR": object()},
        {"ASYNC": "yes"},
        {"DISPATCHER": 42},
    ],
    ids=lambda v: next(iter(v)),
)
def test_invalid_values_and_unknown_keys_are_errors(lark: dict[str, Any]) -> None:
    assert _ids(**lark) == ["lark_events.E001"]


def test_a_non_dict_setting_is_an_error() -> None:
    with override_settings(LARK_EVENTS=["ENCRYPT_KEY", "k"]):
        assert [m.id for m in check_lark_events()] == ["lark_events.E001"]


def test_error_messages_never_show_the_key() -> None:
    with override_settings(LARK_EVENTS={"ENCRYPT_KEY": ["supersecret", ""]}):
        messages = check_lark_events()
    assert [m.id for m in messages] == ["lark_events.E001"]
    assert "supersecret" not in str(messages[0])


@pytest.mark.parametrize("handlers", [["no_such_module_xyz"], "a.string.not.a.list"])
def test_unimportable_handlers_are_an_error(handlers: Any) -> None:
    assert _ids(**lark_settings(HANDLERS=handlers)) == ["lark_events.E002"]


@pytest.mark.parametrize(
    "path",
    [
        "tests.integrations.django.custom.nothing_here",
        "tests.integrations.django.custom.not_a_dispatcher",
        "tests.integrations.django.custom.CUSTOM_CALLS",
    ],
)
def test_a_bad_dispatcher_path_is_an_error(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conf, "_registry", {})
    assert _ids(DISPATCHER=path) == ["lark_events.E003"]


def test_a_dispatcher_path_with_on_registrations_is_an_error() -> None:
    assert conf.registered_types()  # the test handlers module registered some
    ids = _ids(DISPATCHER="tests.integrations.django.custom.dispatcher")
    assert ids == ["lark_events.E004"]


@pytest.mark.parametrize("name", ["dispatcher", "make_dispatcher"])
def test_a_good_dispatcher_path_passes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conf, "_registry", {})
    assert _ids(DISPATCHER=f"tests.integrations.django.custom.{name}") == []


def test_no_handler_at_all_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conf, "_registry", {})
    assert _ids(ENCRYPT_KEY="k") == ["lark_events.W002"]


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("ENCRYPTION_KEY", "ENCRYPT_KEY"),
        ("VERIFY_TOKEN", "VERIFICATION_TOKEN"),
        ("encrypt_key", "ENCRYPT_KEY"),
        ("HANDLER", "HANDLERS"),
    ],
)
def test_a_key_typo_is_an_error_that_names_the_key_meant(typo: str, meant: str) -> None:
    with override_settings(LARK_EVENTS={typo: "x"}):
        (message,) = check_lark_events()
    assert message.id == "lark_events.E001"
    assert f"{typo} (did you mean {meant}?)" in message.msg


def test_a_key_nothing_resembles_gets_no_suggestion() -> None:
    with override_settings(LARK_EVENTS={"COLOUR": "blue"}):
        (message,) = check_lark_events()
    assert message.msg.endswith("unknown LARK_EVENTS keys: COLOUR")


def test_the_hint_names_a_page_that_exists_and_lists_every_key() -> None:
    from tests.support.servers import ROOT

    with override_settings(LARK_EVENTS={"ENCRYPTION_KEY": "x"}):
        (message,) = check_lark_events()
    assert conf.DOCS_PAGE in (message.hint or "")
    page = (ROOT / conf.DOCS_PAGE).read_text(encoding="utf-8")
    for key in [*conf.option_keys(), *conf.ADAPTER_KEYS]:
        assert f"`{key}`" in page, key
