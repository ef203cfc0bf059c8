"""Run real server processes (gunicorn, uvicorn, aiohttp's runner) for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lark_events_core.testing import SignedRequest, make_event, sign_event

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until something accepts connections on ``port``; fail if ``proc`` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s")


@dataclass
class Server:
    """A running server process and where its output goes."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def run_server(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    port: int | None = None,
    timeout: float = 30.0,
) -> Iterator[Server]:
    """Start ``argv`` (``{port}`` in it is replaced), wait for its port, stop it afterwards.

    ``PORT`` is set in the environment too. The process is stopped with SIGTERM (then SIGKILL);
    its output is kept in a temporary file that :meth:`Server.log` reads.
    """
    port = port or free_port()
    full_env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env["PATH"] = f"{VENV_BIN}{os.pathsep}{full_env.get('PATH', '')}"
    log_file = tempfile.NamedTemporaryFile(prefix="lark-e2e-", suffix=".log", delete=False)  # noqa: SIM115
    args = [a.replace("{port}", str(port)) for a in argv]
    proc = subprocess.Popen(
        args,
        env=full_env,
        cwd=str(cwd or ROOT),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(proc, port, Path(log_file.name))
    try:
        try:
            wait_for_port(port, proc, timeout)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n--- server output ---\n{server.log()}") from exc
        yield server
    finally:
        stop(proc)
        log_file.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``proc``'s process group, then SIGKILL it if it is still there after 15 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 0.1 s; fail after ``timeout`` s naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextlib.contextmanager
def celery_queue(broker_url: str) -> Iterator[str]:
    """A fresh queue name, deleted from the broker afterwards."""
    name = f"lark-test-{uuid.uuid4().hex[:12]}"
    yield name
    from kombu import Connection

    with contextlib.suppress(Exception), Connection(broker_url, connect_timeout=5) as conn:
        conn.default_channel.queue_delete(name)


@contextlib.contextmanager
def celery_worker(
    env: Mapping[str, str], queue: str, app: str = "tests.delivery.apps:celery_app"
) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``celery worker`` (solo pool) of ``app`` consuming ``queue``, stopped afterwards."""
    log = tempfile.NamedTemporaryFile(prefix="lark-celery-", suffix=".log", delete=False)  # noqa: SIM115
    argv = [
        str(VENV_BIN / "celery"),
        "-A",
        app,
        "worker",
        "--pool=solo",
        "-Q",
        queue,
        "-n",
        f"{uuid.uuid4().hex[:8]}@lark-test",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: (
                "ready." in Path(log.name).read_text(errors="replace") or proc.poll() is not None
            ),
            60,
            "the Celery worker",
        )
        assert proc.poll() is None, Path(log.name).read_text(errors="replace")
        yield proc
    finally:
        stop(proc)
        log.close()


def handled_count(server: Server, event_type: str, event_id: str) -> int:
    """How many times the sample logged ``handled event_type=<type> event_id=<id>``."""
    line = f"handled event_type={event_type} event_id={event_id}"
    return sum(1 for row in server.log().splitlines() if row.endswith(line))


def text_message_request(
    event_id: str, *, encrypt_key: str, token: str, text: str = "hello"
) -> SignedRequest:
    """An encrypted, signed ``im.message.receive_v1`` text message as the platform sends it."""
    content = json.dumps({"text": text})
    event = make_event(
        "im.message.receive_v1",
        {"message": {"message_id": f"om_{event_id}", "message_type": "text", "content": content}},
        token=token,
        event_id=event_id,
    )
    return sign_event(event, encrypt_key=encrypt_key)
