"""A module whose extra is missing says which extra to install (simulated in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from lark_events_core._extras import EXTRA_MODULES, install_hint, missing_extra

# (module to import, dependency made unimportable, extra the message must name)
GUARDED = [
    ("lark_events_flask", "flask", "flask"),
    ("lark_events_flask", "werkzeug", "flask"),
    ("lark_events_django", "django", "django"),
    ("lark_events_aiohttp", "aiohttp", "aiohttp"),
    ("lark_events_core.longconn", "google", "longconn"),
    ("lark_events_core.longconn", "aiohttp", "longconn"),
    ("lark_events_core.longconn.client", "google", "longconn"),
    ("lark_events_core.outbound", "aiohttp", "outbound"),
    ("lark_events_core.outbound.redis_tickets", "redis", "redis"),
    ("lark_events_core.redis_store", "redis", "redis"),
    ("lark_events_core.contrib.celery", "celery", "celery"),
    ("lark_events_core.testing.fake_platform", "aiohttp", "longconn"),
    ("lark_events_core.testing.fake_openapi", "aiohttp", "outbound"),
    ("lark_events_core.cli._demo", "aiohttp", "cli"),
]

_PROBE = textwrap.dedent(
    """
    import importlib, json, sys
    sys.modules[sys.argv[2]] = None  # what an environment without that package looks like
    try:
        importlib.import_module(sys.argv[1])
    except ImportError as exc:
        print(json.dumps({"type": type(exc).__name__, "message": str(exc), "name": exc.name}))
    else:
        print(json.dumps(None))
    """
)


def _import_without(module: str, blocked: str) -> dict[str, str] | None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, module, blocked],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    result: dict[str, str] | None = json.loads(out)
    return result


@pytest.mark.parametrize(("module", "blocked", "extra"), GUARDED)
def test_importing_without_the_extra_names_the_extra(module: str, blocked: str, extra: str) -> None:
    error = _import_without(module, blocked)
    assert error is not None, f"{module} imported without {blocked}"
    assert error["type"] == "ModuleNotFoundError"
    assert error["name"].partition(".")[0] == blocked
    assert f"pip install 'lark-events[{extra}]'" in error["message"]
    assert f"'{extra}' extra" in error["message"]


def test_the_core_imports_without_any_extra() -> None:
    for blocked in sorted(set().union(*EXTRA_MODULES.values())):
        assert _import_without("lark_events_core", blocked) is None, blocked


def test_an_import_error_about_another_module_is_raised_unchanged() -> None:
    original = ModuleNotFoundError("No module named 'lark_events_core.nope'", name="nope")
    with pytest.raises(ModuleNotFoundError) as caught:
        try:
            raise original
        except ImportError as exc:
            missing_extra(exc, "redis", "somewhere")
    assert caught.value is original


def test_the_error_keeps_the_original_as_its_cause() -> None:
    original = ModuleNotFoundError("No module named 'redis'", name="redis")
    with pytest.raises(ModuleNotFoundError, match=r"somewhere needs the 'redis' extra") as caught:
        try:
            raise original
        except ImportError as exc:
            missing_extra(exc, "redis", "somewhere")
    assert caught.value.__cause__ is original


def test_install_hint_refuses_an_unknown_extra() -> None:
    assert install_hint("cli") == "pip install 'lark-events[cli]'"
    with pytest.raises(ValueError, match="unknown extra"):
        install_hint("nope")


_CLI_PROBE = textwrap.dedent(
    """
    import sys
    sys.modules["aiohttp"] = None
    from lark_events_core.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize("command", [["demo"], ["verify-url", "http://127.0.0.1:9/event"]])
def test_a_cli_command_without_the_cli_extra_says_what_to_install(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CLI_PROBE, *command], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "pip install 'lark-events[cli]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_cli_commands_of_the_core_work_without_the_cli_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CLI_PROBE, "encrypt", "{}", "--encrypt-key", "k"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
