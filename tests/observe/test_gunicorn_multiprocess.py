"""gunicorn with 2 workers in prometheus_client's multiprocess mode: a known mix is sent over
real sockets, /metrics is scraped, and every counter equals what was sent (summed over workers)."""

from __future__ import annotations

import tempfile
import time
import uuid

import pytest
import requests

from tests.support.servers import VENV_BIN, run_server
from tests.support.services import service_url

from .mix import EXPECTED_OUTCOMES, KEY, TOKEN, requests_of_the_mix

pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")
pytestmark = [pytest.mark.e2e, pytest.mark.services]


def _samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_counters_equal_what_was_sent_across_two_workers() -> None:
    redis_url = service_url("REDIS_URL")
    with tempfile.TemporaryDirectory(prefix="lark-prom-") as prom_dir:
        env = {
            "PROMETHEUS_MULTIPROC_DIR": prom_dir,
            "LARK_ENCRYPT_KEY": KEY,
            "LARK_VERIFICATION_TOKEN": TOKEN,
            "LARK_REDIS_URL": redis_url,
            "LARK_REDIS_PREFIX": f"lark-e2e-metrics:{uuid.uuid4().hex}:",
        }
        argv = [
            str(VENV_BIN / "gunicorn"),
            "-w", "2",
            "-b", "127.0.0.1:{port}",
            "-c", "tests/observe/gunicorn_conf.py",
            "tests.observe.served_app:app",
        ]  # fmt: skip
        with run_server(argv, env=env) as server:
            session = requests.Session()
            for request in requests_of_the_mix():
                # a new connection each time, so both workers take requests
                requests.post(
                    server.url + "/webhook/event",
                    data=request.body,
                    headers=dict(request.headers),
                    timeout=10,
                )
            deadline = time.monotonic() + 10
            while True:
                samples = _samples(session.get(server.url + "/metrics", timeout=10).text)
                if samples.get('lark_events_background_jobs_finished_total{result="done"}') == 1:
                    break
                assert time.monotonic() < deadline, ("the deferred job never finished", samples)
                time.sleep(0.1)
            for outcome, count in EXPECTED_OUTCOMES.items():
                name = f'lark_events_requests_total{{outcome="{outcome}"}}'
                assert samples.get(name) == count, (outcome, samples)
            assert samples['lark_events_rejections_total{reason="signature_mismatch"}'] == 2
            assert samples['lark_events_events_total{type="im.message.receive_v1"}'] == 5
            assert samples['lark_events_background_jobs{state="queued"}'] == 0
            health = session.get(server.url + "/healthz", timeout=10)
            assert health.status_code == 200
            assert health.json()["checks"]["dedup_store"]["ok"] is True
            log = server.log()
        assert KEY not in log
        assert TOKEN not in log
