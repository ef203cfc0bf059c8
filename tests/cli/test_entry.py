"""The ``lark-events`` entry point: subcommands, help, and a missing optional module."""

from __future__ import annotations

import sys

import pytest

import lark_events_core.cli as cli_package

from .conftest import cli


def test_help_lists_every_command() -> None:
    result = cli("--help")
    assert result.code == 0
    for command in ("send", "verify-url", "encrypt", "decrypt", "sign", "demo", "forward"):
        assert command in result.out


def test_no_command_prints_help_and_fails() -> None:
    result = cli()
    assert result.code == 2
    assert "usage: lark-events" in result.out


def test_main_works_when_forward_cannot_be_imported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # None in sys.modules makes "import lark_events_core.cli.forward" raise ImportError.
    monkeypatch.setitem(sys.modules, "lark_events_core.cli.forward", None)
    code = cli_package.main(["encrypt", "x", "--encrypt-key", "k"])
    assert code == 0
    assert capsys.readouterr().out.strip()
    with pytest.raises(SystemExit):
        cli_package.main(["forward", "--help"])


def test_a_missing_own_command_module_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lark_events_core.cli.send", None)
    with pytest.raises(ImportError):
        cli_package.main(["--help"])


def test_importing_the_commands_does_not_import_aiohttp() -> None:
    import subprocess

    modules = [f"lark_events_core.cli.{name}" for name in cli_package.COMMANDS if name != "forward"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'flask', 'django')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
