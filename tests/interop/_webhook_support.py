"""Shared parts of the webhook interop tests: the official receivers as real server processes.

Each receiver (``lark_oapi_receiver.py`` with Flask; ``node/webhook_receiver.js`` with node-sdk's
``adaptDefault``) prints ``HANDLED {"key": ..., "data": ...}`` from its handlers, which the tests
read to see what the SDK handed the handler.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.keys import derived_secret
from tests.support.servers import VENV_BIN, Server, run_server
from tests.support.services import services_required

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
LARK_EVENTS = str(VENV_BIN / "lark-events")

#: The receivers, and the two ways an app can be configured in the console.
SDKS = ("lark-oapi", "node-sdk")
MODES = ("encrypted", "token-only")

#: For each template, a field (dotted path in the body) the test plants a marker in, so that it
#: can see the value arrive in the handler. ``im.message.receive_v1`` also gets ``--text``.
MARKED_FIELDS: dict[str, str] = {
    "im.message.receive_v1": "event.message.message_id",
    "im.message.message_read_v1": "event.reader.read_time",
    "im.chat.member.bot.added_v1": "event.chat_id",
    "im.chat.member.bot.deleted_v1": "event.chat_id",
    "contact.user.created_v3": "event.object.open_id",
    "application.bot.menu_v6": "event.event_key",
    "card.action.trigger": "event.context.open_message_id",
    "url.preview.get": "event.context.url",
    "message": "event.open_message_id",
    "app_ticket": "event.app_ticket",
    "legacy_card": "open_message_id",
}


def _unavailable(reason: str) -> None:
    if services_required():
        pytest.fail(f"{reason}, and LARK_EVENTS_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


def node_sdk_installed() -> Path:
    """``tests/interop/node`` with its locked node_modules (``npm ci`` when missing).

    Skips with the reason when Node.js or npm is absent (fails under
    ``LARK_EVENTS_REQUIRE_SERVICES=1``).
    """
    if shutil.which("node") is None:
        _unavailable("Node.js is not installed (node not on PATH): node-sdk interop not run")
    if not (NODE_DIR / "node_modules" / "@larksuiteoapi" / "node-sdk").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed: cannot install the locked node-sdk")
        assert npm is not None
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            _unavailable(f"npm ci failed in {NODE_DIR}: {proc.stderr.strip()[-500:]}")
    return NODE_DIR


def secret(node_id: str, label: str) -> str:
    """A deterministic secret for a test (see tests/support/keys.py)."""
    return derived_secret(node_id, label)


def marker(node_id: str, label: str = "") -> str:
    """A value unique to one test, the same on every run."""
    return "mk" + hashlib.sha256(f"{node_id}\0{label}".encode()).hexdigest()[:16]


@dataclass
class Receiver:
    """An official SDK's webhook receiver, running, and the console settings it was given."""

    sdk: str
    mode: str
    server: Server
    encrypt_key: str | None
    token: str

    @property
    def url(self) -> str:
        return f"{self.server.url}/webhook/event"

    @property
    def card_url(self) -> str:
        return f"{self.server.url}/webhook/card"

    def keys(self) -> list[str]:
        """The CLI options that configure the platform side like this app's console."""
        key = ["--encrypt-key", self.encrypt_key] if self.encrypt_key else []
        return [*key, "--verification-token", self.token]

    def env(self) -> dict[str, str]:
        env = {"LARK_VERIFICATION_TOKEN": self.token}
        if self.encrypt_key:
            env["LARK_ENCRYPT_KEY"] = self.encrypt_key
        return env

    def handled(self) -> list[dict[str, Any]]:
        """Everything the handlers received so far, oldest first."""
        found = []
        for line in self.server.log().splitlines():
            if line.startswith("HANDLED "):
                found.append(json.loads(line[len("HANDLED ") :]))
        return found

    def wait_handled(self, key: str, value: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first handler call for ``key`` whose data holds ``value`` somewhere."""
        deadline = time.monotonic() + timeout
        while True:
            for call in self.handled():
                if call["key"] == key and value in json.dumps(call["data"]):
                    return call
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.sdk} never handled {key} with {value!r}; log:\n"
                    + self.server.log()[-3000:]
                )
            time.sleep(0.05)


@contextmanager
def start_receiver(sdk: str, mode: str, node_id: str) -> Iterator[Receiver]:
    """Run one official receiver configured for ``mode``."""
    key = secret(node_id, f"{sdk}-key") if mode == "encrypted" else None
    token = secret(node_id, f"{sdk}-token")
    env = {"LARK_ENCRYPT_KEY": key or "", "LARK_VERIFICATION_TOKEN": token}
    if sdk == "node-sdk":
        cwd = node_sdk_installed()
        argv = [shutil.which("node") or "node", "webhook_receiver.js"]
    else:
        cwd = HERE.parent.parent
        argv = [sys.executable, str(HERE / "lark_oapi_receiver.py")]
    with run_server(argv, env=env, cwd=cwd) as server:
        yield Receiver(sdk, mode, server, key, token)


@dataclass
class Result:
    """A finished ``lark-events`` run."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def lark_events(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the installed ``lark-events`` command, with no ``LARK_*`` variable but ``env``'s."""
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("LARK_")}
    environ.update(env or {})
    proc = subprocess.run(
        [LARK_EVENTS, *args], capture_output=True, text=True, env=environ, timeout=60
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def leaf_values(data: Any, name: str) -> list[Any]:
    """Every value stored under the key ``name`` anywhere in ``data``."""
    found: list[Any] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == name:
                found.append(value)
            found.extend(leaf_values(value, name))
    elif isinstance(data, list):
        for item in data:
            found.extend(leaf_values(item, name))
    return found
