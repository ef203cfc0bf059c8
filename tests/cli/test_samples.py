"""The CLI against the sample projects, each running as a real server process."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.keys import secrets_for
from tests.support.servers import ROOT, VENV_BIN, Server, run_server

from .conftest import assert_no_traceback, cli

pytestmark = pytest.mark.e2e

SAMPLES_DIR = ROOT / "sample_projects"

#: How each sample project is started (it listens on $PORT; ``{port}`` is replaced), and where.
SAMPLES: dict[str, tuple[list[str], Path]] = {
    "aiohttp_echo": ([sys.executable, str(SAMPLES_DIR / "aiohttp_echo" / "app.py")], ROOT),
    "flask_echo (gunicorn)": (
        [str(VENV_BIN / "gunicorn"), "-w", "1", "--threads", "4", "-b", "127.0.0.1:{port}",
         "sample_projects.flask_echo.app:app"],
        ROOT,
    ),
    "django_echo (uvicorn)": (
        [str(VENV_BIN / "uvicorn"), "--host", "127.0.0.1", "--port", "{port}", "--lifespan", "off",
         "echo_project.asgi:application"],
        SAMPLES_DIR / "django_echo",
    ),
}  # fmt: skip


@dataclass
class Sample:
    server: Server
    key: str
    token: str

    def keys(self) -> list[str]:
        return ["--encrypt-key", self.key, "--verification-token", self.token]

    def handled(self, event_type: str, event_id: str) -> bool:
        wanted = f"handled event_type={event_type} event_id={event_id}"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if wanted in self.server.log():
                return True
            time.sleep(0.05)
        return False


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def sample(request: pytest.FixtureRequest) -> Iterator[Sample]:
    key, token = secrets_for(request)
    env = {"LARK_ENCRYPT_KEY": key, "LARK_VERIFICATION_TOKEN": token, "HOST": "127.0.0.1"}
    argv, cwd = SAMPLES[request.param]
    with run_server(argv, env=env, cwd=cwd) as server:
        yield Sample(server, key, token)


def test_verify_url_passes_encrypted_and_plain(sample: Sample) -> None:
    url = f"{sample.server.url}/webhook/event"
    for extra in ([], ["--plain"]):
        result = cli("verify-url", "--url", url, *sample.keys(), *extra)
        assert result.code == 0, result.text
        assert "ok: the app answered the challenge correctly" in result.out


@pytest.mark.parametrize("event_type", ["im.message.receive_v1", "message", "app_ticket"])
def test_send_reaches_the_samples_handler(sample: Sample, event_type: str) -> None:
    event_id = uuid.uuid4().hex
    result = cli("send", event_type, "--url", f"{sample.server.url}/webhook/event",
                 "--event-id", event_id, *sample.keys())  # fmt: skip
    assert result.code == 0, result.text
    assert '{"msg":"success"}' in result.out
    assert sample.handled(event_type, event_id), sample.server.log()[-2000:]


def test_card_click_gets_the_samples_toast(sample: Sample) -> None:
    result = cli("send", "card.action.trigger", "--url", f"{sample.server.url}/webhook/event",
                 *sample.keys())  # fmt: skip
    assert result.code == 0, result.text
    assert '"toast"' in result.out


def test_legacy_card_on_the_card_url(sample: Sample) -> None:
    result = cli("send", "legacy_card", "--url", f"{sample.server.url}/webhook/card",
                 *sample.keys())  # fmt: skip
    assert result.code == 0, result.text
    assert "signed with SHA-1" in result.out


def test_wrong_key_is_refused_and_explained(sample: Sample) -> None:
    result = cli("send", "--url", f"{sample.server.url}/webhook/event",
                 "--encrypt-key", "not-the-samples-key", "--token", sample.token)  # fmt: skip
    assert result.code == 1
    assert_no_traceback(result)
    assert "401 signature mismatch" in result.err
    assert "--encrypt-key" in result.err


def test_retry_replay_stops_at_the_first_200(sample: Sample) -> None:
    result = cli("send", "--retry", "--url", f"{sample.server.url}/webhook/event", *sample.keys())
    assert result.code == 0, result.text
    assert "delivered on attempt 1" in result.out


def test_load_mode(sample: Sample) -> None:
    result = cli("send", "--count", "50", "--concurrency", "5",
                 "--url", f"{sample.server.url}/webhook/event", *sample.keys())  # fmt: skip
    assert result.code == 0, result.text
    assert "ok (200)    50/50" in result.out
