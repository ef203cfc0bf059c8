"""Fixtures for the CLI tests: the real ``lark-events`` entry point and a real server to hit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.keys import secrets_for
from tests.support.servers import Server, run_server

LARK_EVENTS = str(Path(sys.executable).parent / "lark-events")


@dataclass
class Result:
    """A finished ``lark-events`` run."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any ``LARK_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LARK_")}
    env.update(extra)
    return env


def cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    encoding: str = "utf-8",
) -> Result:
    """Run the installed ``lark-events`` console script as a user would.

    ``encoding`` is the terminal's (``PYTHONIOENCODING``); output is decoded with it.
    """
    environ = dict(env if env is not None else clean_env())
    environ["PYTHONIOENCODING"] = encoding
    proc = subprocess.run(
        [LARK_EVENTS, *args],
        capture_output=True,
        text=True,
        encoding=encoding,
        env=environ,
        input=stdin,
        timeout=60,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.text, result.text


@dataclass
class App:
    """The echo app under test and its keys."""

    server: Server
    encrypt_key: str
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    def keys(self) -> list[str]:
        return ["--encrypt-key", self.encrypt_key, "--verification-token", self.token]


@pytest.fixture(scope="module")
def echo_app(request: pytest.FixtureRequest) -> Iterator[App]:
    """tests/cli/echo_app.py as a real server process, with keys derived from the module."""
    key, token = secrets_for(request)
    env = {"LARK_ENCRYPT_KEY": key, "LARK_VERIFICATION_TOKEN": token}
    with run_server([sys.executable, "-m", "tests.cli.echo_app"], env=env) as server:
        yield App(server, key, token)
