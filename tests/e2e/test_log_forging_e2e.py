"""Event ids and types holding newlines cannot forge log lines, on every documented server.

Each sample runs as a real process (gunicorn for Flask and Django, uvicorn for Django ASGI,
aiohttp's runner). A validly signed event whose id and type carry ``\\n``/``\\r`` must leave
exactly the server's own lines: the forged text appears only escaped, inside one line.
"""

from __future__ import annotations

import sys
import uuid

import pytest
import requests

from lark_events_core.testing import make_event, sign_event
from tests.support.servers import ROOT, VENV_BIN, run_server
from tests.support.servers import text_message_request as message

pytestmark = pytest.mark.e2e

KEY = "e2e_forging_encrypt_key"
TOKEN = "e2e_forging_verification_token"
ENV = {"LARK_ENCRYPT_KEY": KEY, "LARK_VERIFICATION_TOKEN": TOKEN, "HOST": "127.0.0.1"}
DJANGO = ROOT / "sample_projects" / "django_echo"

SERVERS: dict[str, tuple[list[str], object]] = {
    "flask-gunicorn": (
        [
            str(VENV_BIN / "gunicorn"),
            "-w",
            "1",
            "--threads",
            "2",
            "-b",
            "127.0.0.1:{port}",
            "sample_projects.flask_echo.app:app",
        ],
        ROOT,
    ),
    "django-gunicorn": (
        [
            str(VENV_BIN / "gunicorn"),
            "--chdir",
            str(DJANGO),
            "-w",
            "1",
            "--bind",
            "127.0.0.1:{port}",
            "echo_project.wsgi",
        ],
        DJANGO,
    ),
    "django-uvicorn": (
        [
            str(VENV_BIN / "uvicorn"),
            "--app-dir",
            str(DJANGO),
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--lifespan",
            "off",
            "--no-access-log",
            "echo_project.asgi:application",
        ],
        DJANGO,
    ),
    "aiohttp-runner": (
        [sys.executable, str(ROOT / "sample_projects" / "aiohttp_echo" / "app.py")],
        ROOT,
    ),
}

FORGED = "FORGED 2026-01-01 00:00:00,000 1 ERROR lark_events admin password changed"


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_newlines_in_ids_and_types_stay_escaped_in_one_line(name: str) -> None:
    argv, cwd = SERVERS[name]
    marker = uuid.uuid4().hex
    handled_id = f"{marker}\n{FORGED}\r\n{FORGED}"
    unhandled_type = f"x.{marker}\n{FORGED}"
    with run_server(argv, env=ENV, cwd=cwd) as server:  # type: ignore[arg-type]
        for req in (
            message(handled_id, encrypt_key=KEY, token=TOKEN),
            sign_event(make_event(unhandled_type, {}, token=TOKEN), encrypt_key=KEY),
        ):
            resp = requests.post(
                server.url + "/webhook/event", data=req.body, headers=req.headers, timeout=10
            )
            assert (resp.status_code, resp.json()) == (200, {"msg": "success"})
        log = server.log()
    lines = log.splitlines()
    assert not [row for row in lines if row.startswith("FORGED")], log[-2000:]
    escaped = f"{marker}\\nFORGED 2026"  # cut at 80 characters, escaped
    assert any(f"handled event_type=im.message.receive_v1 event_id={escaped}" in r for r in lines)
    assert any("no handler for event type" in r and f"x.{marker}\\nFORGED" in r for r in lines)
