"""The opt-in pytest plugin: where its fixtures take their settings from, and what it imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .test_docs_examples import run_pytest

CHECK = """
from lark_events_core import Dispatcher


def test_the_simulator_matches_the_app(lark_simulator):
    dispatcher = Dispatcher(encrypt_key={key!r}, verification_token={token!r})
    request = lark_simulator.request("im.message.receive_v1")
    assert dispatcher.handle(request.as_request()).status == 200
    assert lark_simulator.event_path == {path!r}
    assert ("encrypt" in request.body.decode()) is {encrypted!r}
"""


def _write(tmp_path: Path, key: str | None, token: str | None, path: str) -> None:
    source = CHECK.format(key=key, token=token, path=path, encrypted=key is not None)
    (tmp_path / "test_check.py").write_text(source)


def test_settings_come_from_ini_options(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nlark_encrypt_key = ini-key\nlark_verification_token = ini-token\n"
        "lark_event_path = /lark/event\n"
    )
    _write(tmp_path, "ini-key", "ini-token", "/lark/event")
    result = run_pytest(tmp_path, "-p", "lark_events_core.testing.pytest_plugin")
    assert result.returncode == 0, result.stdout + result.stderr


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    _write(tmp_path, "env-key", "env-token", "/webhook/event")
    (tmp_path / "conftest.py").write_text(
        "import os\n"
        "os.environ['LARK_ENCRYPT_KEY'] = 'env-key'\n"
        "os.environ['LARK_VERIFICATION_TOKEN'] = 'env-token'\n"
        "pytest_plugins = ['lark_events_core.testing.pytest_plugin']\n"
    )
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_settings_events_are_plain_and_unsigned(tmp_path: Path) -> None:
    _write(tmp_path, None, None, "/webhook/event")
    result = run_pytest(tmp_path, "-p", "lark_events_core.testing.pytest_plugin", "-W", "ignore")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_mismatched_key_fails_the_users_test(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nlark_encrypt_key = ini-key\n")
    _write(tmp_path, "the-apps-real-key", None, "/webhook/event")
    result = run_pytest(tmp_path, "-p", "lark_events_core.testing.pytest_plugin")
    assert result.returncode == 1
    assert "1 failed" in result.stdout


def test_lark_env_configures_apps_built_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nlark_encrypt_key = ini-key\n")
    (tmp_path / "test_env.py").write_text(
        "import os, pytest\n"
        "from lark_events_core import Dispatcher\n"
        "@pytest.fixture\n"
        "def lark_verification_token():\n"
        "    return None  # this app has no token\n"
        "def test_env(lark_env, lark_simulator):\n"
        "    assert os.environ['LARK_ENCRYPT_KEY'] == 'ini-key'\n"
        "    assert 'LARK_VERIFICATION_TOKEN' not in os.environ\n"
        "    app = Dispatcher.from_env()\n"
        "    request = lark_simulator.request('im.message.receive_v1').as_request()\n"
        "    assert app.handle(request).status == 200\n"
        "def test_restored():\n"
        "    assert os.environ.get('LARK_ENCRYPT_KEY') == 'outer'\n"
        "    assert os.environ.get('LARK_VERIFICATION_TOKEN') == 'outer-token'\n"
    )
    env = {"LARK_ENCRYPT_KEY": "outer", "LARK_VERIFICATION_TOKEN": "outer-token"}
    result = run_pytest(tmp_path, "-p", "lark_events_core.testing.pytest_plugin", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_the_plugin_is_opt_in(tmp_path: Path) -> None:
    _write(tmp_path, None, None, "/webhook/event")
    result = run_pytest(tmp_path)
    assert result.returncode != 0
    assert "fixture 'lark_simulator' not found" in result.stdout


def test_the_plugin_imports_no_framework() -> None:
    code = (
        "import sys, lark_events_core.testing.pytest_plugin\n"
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('aiohttp', 'flask', 'django', 'redis', 'celery')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
