"""Real servers: gunicorn with 2 workers in prometheus_client's multiprocess mode (Flask), uvicorn
(Django through lark_events_django.asgi) and aiohttp's own runner. The known mix is sent over real
sockets, /metrics is scraped, and every counter equals what was sent (summed over workers)."""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pytest
import requests

from tests.support.servers import VENV_BIN, Server, run_server
from tests.support.services import service_url

from .mix import EXPECTED_OUTCOMES, KEY, TOKEN, requests_of_the_mix

pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")
pytestmark = [pytest.mark.e2e]


@dataclass(frozen=True)
class Served:
    """How one server is started, and where it serves the events, the metrics and the health."""

    argv: list[str]
    env: Callable[[ExitStack], dict[str, str]]
    events: str = "/webhook/event"
    metrics: str = "/metrics"
    health: str = "/healthz"


def _multiprocess(stack: ExitStack) -> dict[str, str]:
    """gunicorn's workers share a Redis dedup store and a prometheus multiprocess directory."""
    return {
        "PROMETHEUS_MULTIPROC_DIR": stack.enter_context(
            tempfile.TemporaryDirectory(prefix="lark-prom-")
        ),
        "LARK_REDIS_URL": service_url("REDIS_URL"),
        "LARK_REDIS_PREFIX": f"lark-e2e-metrics:{uuid.uuid4().hex}:",
    }


SERVERS = {
    "gunicorn-2-workers-multiprocess": Served(
        [
            str(VENV_BIN / "gunicorn"),
            "-w", "2",
            "-b", "127.0.0.1:{port}",
            "-c", "tests/observe/gunicorn_conf.py",
            "tests.observe.served_app:app",
        ],
        _multiprocess,
    ),
    "uvicorn-django-asgi": Served(
        [
            str(VENV_BIN / "uvicorn"),
            "--host", "127.0.0.1",
            "--port", "{port}",
            "--no-access-log",
            "tests.observe.served_asgi:application",
        ],
        lambda stack: {"DJANGO_SETTINGS_MODULE": "tests.observe.served_django"},
        metrics="/webhook/metrics",
        health="/webhook/health",
    ),
    "aiohttp-runner": Served(
        [
            sys.executable, "-m", "aiohttp.web",
            "-H", "127.0.0.1",
            "-P", "{port}",
            "tests.observe.served_aiohttp:create_app",
        ],
        lambda stack: {},
    ),
}  # fmt: skip


def samples(text: str) -> dict[str, float]:
    """``{'name{labels}': value}`` of a Prometheus text exposition."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


@contextmanager
def serve(served: Served) -> Iterator[Server]:
    """The server running with the mix's key and token (and whatever else it needs)."""
    with ExitStack() as stack:
        env = {"LARK_ENCRYPT_KEY": KEY, "LARK_VERIFICATION_TOKEN": TOKEN, **served.env(stack)}
        yield stack.enter_context(run_server(served.argv, env=env))


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=[pytest.mark.services] if n.startswith("gunicorn") else [])
        for n in SERVERS
    ],
)
def test_counters_equal_what_was_sent(name: str) -> None:
    served = SERVERS[name]
    with serve(served) as server:
        session = requests.Session()
        for request in requests_of_the_mix():
            # a new connection each time, so several workers take requests
            requests.post(
                server.url + served.events,
                data=request.body,
                headers=dict(request.headers),
                timeout=10,
            )
        deadline = time.monotonic() + 10
        while True:
            scraped = samples(session.get(server.url + served.metrics, timeout=10).text)
            if scraped.get('lark_events_background_jobs_finished_total{result="done"}') == 1:
                break
            assert time.monotonic() < deadline, ("the deferred job never finished", scraped)
            time.sleep(0.1)
        for outcome, count in EXPECTED_OUTCOMES.items():
            metric = f'lark_events_requests_total{{outcome="{outcome}"}}'
            assert scraped.get(metric) == count, (outcome, scraped)
        assert scraped['lark_events_rejections_total{reason="signature_mismatch"}'] == 2
        assert scraped['lark_events_events_total{type="im.message.receive_v1"}'] == 5
        assert scraped['lark_events_events_total{type="contact.user.created_v3"}'] == 1
        assert (
            scraped[
                'lark_events_handler_errors_total{mode="inline",type="contact.user.created_v3"}'
            ]
            == 1
        )
        assert scraped['lark_events_background_jobs{state="queued"}'] == 0
        assert scraped['lark_events_background_jobs{state="running"}'] == 0
        health = session.get(server.url + served.health, timeout=10)
        assert health.status_code == 200
        assert health.json()["checks"]["dedup_store"]["ok"] is True
        log = server.log()
    assert KEY not in log
    assert TOKEN not in log
