"""At-least-once delivery end to end: real gunicorn workers, real Redis, real Celery workers.

Every test uses its own Redis key prefix and Celery queue; the fault test starts (and kills) its
own throwaway redis-server and never touches the shared one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from lark_events_core.testing import make_event, sign_event
from tests.support.servers import (
    VENV_BIN,
    Server,
    celery_queue,
    celery_worker,
    free_port,
    run_server,
    wait_for_port,
    wait_until,
)
from tests.support.services import service_url

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.slow]

KEY = "delivery-test-encrypt-key"
MESSAGE = "im.message.receive_v1"


@pytest.fixture
def redis_url() -> str:
    return service_url("REDIS_URL")


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    value = f"lark-e2e:{uuid.uuid4().hex}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=value + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def post(server: Server, event_id: str, timeout: float = 10.0) -> requests.Response:
    signed = sign_event(make_event(MESSAGE, {}, event_id=event_id), encrypt_key=KEY)
    return requests.post(
        server.url + "/webhook/event", data=signed.body, headers=signed.headers, timeout=timeout
    )


def runs(redis_url: str, prefix: str) -> list[str]:
    client = redis.Redis.from_url(redis_url)
    try:
        return [r.decode() for r in client.lrange(prefix + "runs", 0, -1)]
    finally:
        client.close()


def gunicorn(
    app: str, workers: int, env: dict[str, str]
) -> contextlib.AbstractContextManager[Server]:
    argv = [str(VENV_BIN / "gunicorn"), "-w", str(workers), "-b", "127.0.0.1:{port}", app]
    return run_server([*argv, "--graceful-timeout", "5"], env=env)


# -- Redis store across gunicorn workers ----------------------------------------------------------


def test_same_event_to_four_gunicorn_workers_at_once_runs_once(redis_url: str, prefix: str) -> None:
    env = {"REDIS_URL": redis_url, "LARK_TEST_PREFIX": prefix, "LARK_TEST_BEHAVIOUR": "slow"}
    with gunicorn("tests.delivery.apps:wsgi_app", 4, env) as server:
        event_id = f"ev-{uuid.uuid4().hex}"
        barrier = threading.Barrier(16)

        def send(_: int) -> int:
            barrier.wait()
            return post(server, event_id).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(send, range(16)))
        assert statuses == [200] * 16
        pids = {line.rsplit(":", 1)[1] for line in runs(redis_url, prefix)}
        assert runs(redis_url, prefix) == [f"{event_id}:ok:{next(iter(pids))}"]
        # Several worker processes really serve this app: 12 concurrent 0.3 s requests on 4
        # sync workers cannot all be served by one.
        with ThreadPoolExecutor(12) as pool:
            other = list(
                pool.map(lambda _: post(server, f"ev-{uuid.uuid4().hex}").status_code, range(12))
            )
        assert other == [200] * 12
        assert len({line.rsplit(":", 1)[1] for line in runs(redis_url, prefix)}) > 1


def test_failing_first_attempt_is_retried_by_the_next_push(redis_url: str, prefix: str) -> None:
    env = {"REDIS_URL": redis_url, "LARK_TEST_PREFIX": prefix, "LARK_TEST_BEHAVIOUR": "fail_first"}
    with gunicorn("tests.delivery.apps:wsgi_app", 2, env) as server:
        event_id = f"ev-{uuid.uuid4().hex}"
        first = post(server, event_id)
        assert first.status_code == 500
        assert first.json() == {"msg": "internal error"}
        assert post(server, event_id).status_code == 200
        assert post(server, event_id).status_code == 200
    assert [r.split(":")[1] for r in runs(redis_url, prefix)] == ["failed", "ok"]


#: How long each deferred handler sleeps; no answer may take that long.
HANDLER_SECONDS = 3.0


def test_deferred_handlers_answer_at_once_and_are_drained_when_gunicorn_stops(
    redis_url: str, prefix: str
) -> None:
    env = {
        "REDIS_URL": redis_url,
        "LARK_TEST_PREFIX": prefix,
        "LARK_TEST_BEHAVIOUR": "slow",
        "LARK_TEST_SLEEP": str(HANDLER_SECONDS),
        "LARK_TEST_DEFER": "1",
    }
    ids = [f"ev-{uuid.uuid4().hex}" for _ in range(5)]
    with gunicorn("tests.delivery.apps:wsgi_app", 1, env) as server:
        for event_id in ids:
            started = time.monotonic()
            assert post(server, event_id).status_code == 200
            # An answer that waited for its handler would take the handler's whole duration.
            assert time.monotonic() - started < HANDLER_SECONDS
        # The answers came before the handlers ended: not all of them have finished yet.
        assert len(runs(redis_url, prefix)) < len(ids)
    # Leaving the block sent SIGTERM: the worker drained its background work before exiting.
    assert sorted(r.split(":")[0] for r in runs(redis_url, prefix)) == sorted(ids)


# -- fault: Redis stopped while the server runs ---------------------------------------------------


@contextlib.contextmanager
def throwaway_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="lark-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc, 10)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize(("policy", "status_when_down"), [("process", 200), ("retry", 503)])
def test_redis_stopped_while_serving_the_policy_holds(
    redis_url: str, prefix: str, policy: str, status_when_down: int
) -> None:
    with throwaway_redis() as (dedup_url, redis_proc):
        env = {
            "REDIS_URL": redis_url,
            "LARK_TEST_PREFIX": prefix,
            "LARK_TEST_DEDUP_URL": dedup_url,
            "LARK_TEST_POLICY": policy,
        }
        with gunicorn("tests.delivery.apps:wsgi_app", 2, env) as server:
            before = [post(server, f"up-{i}").status_code for i in range(5)]
            assert before == [200] * 5
            assert post(server, "up-0").status_code == 200  # a duplicate, still deduplicated
            assert len(runs(redis_url, prefix)) == 5

            redis_proc.kill()
            redis_proc.wait(5)
            timings = []
            statuses = []
            for i in range(30):
                started = time.monotonic()
                statuses.append(post(server, f"down-{i}", timeout=5).status_code)
                timings.append(time.monotonic() - started)
            assert statuses == [status_when_down] * 30  # no 500s, the server keeps answering
            assert max(timings) < 1.5
            handled_down = [r for r in runs(redis_url, prefix) if r.startswith("down-")]
            assert len(handled_down) == (30 if policy == "process" else 0)
            assert "Traceback" not in "".join(
                line for line in server.log().splitlines() if "Worker" in line
            )


# -- Celery: enqueued by a real server, executed by a real worker ---------------------------------


@pytest.fixture
def broker_url() -> str:
    return service_url("CELERY_BROKER_URL")


@pytest.fixture
def queue(broker_url: str) -> Iterator[str]:
    with celery_queue(broker_url) as name:
        yield name


def celery_env(
    redis_url: str, prefix: str, broker_url: str, queue: str, behaviour: str
) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "LARK_TEST_PREFIX": prefix,
        "CELERY_BROKER_URL": broker_url,
        "LARK_TEST_QUEUE": queue,
        "LARK_TEST_BEHAVIOUR": behaviour,
    }


def test_events_enqueued_by_a_real_server_run_on_a_celery_worker(
    redis_url: str, prefix: str, broker_url: str, queue: str
) -> None:
    env = celery_env(redis_url, prefix, broker_url, queue, "fail_first")
    with (
        gunicorn("tests.delivery.apps:celery_wsgi_app", 2, env) as server,
        celery_worker(env, queue),
    ):
        ids = [f"ev-{uuid.uuid4().hex}" for _ in range(3)]
        for event_id in ids:
            started = time.monotonic()
            assert post(server, event_id).status_code == 200
            assert time.monotonic() - started < 2.0
        assert post(server, ids[0]).status_code == 200  # duplicate: not enqueued again
        wait_until(
            lambda: sum(r.split(":")[1] == "ok" for r in runs(redis_url, prefix)) == 3,
            60,
            "three handled events",
        )
        time.sleep(0.5)
        outcome = [r.split(":")[:2] for r in runs(redis_url, prefix)]
        # Each event failed once and was retried by Celery; none ran twice successfully.
        for event_id in ids:
            assert [o for e, o in outcome if e == event_id] == ["failed", "ok"]


def test_worker_killed_mid_task_the_event_runs_on_a_new_worker(
    redis_url: str, prefix: str, broker_url: str, queue: str
) -> None:
    env = celery_env(redis_url, prefix, broker_url, queue, "hang_first")
    event_id = f"ev-{uuid.uuid4().hex}"
    with gunicorn("tests.delivery.apps:celery_wsgi_app", 1, env) as server:
        with celery_worker(env, queue) as first:
            assert post(server, event_id).status_code == 200
            wait_until(lambda: bool(runs(redis_url, prefix)), 60, "the first worker to start")
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        assert [r.split(":")[1] for r in runs(redis_url, prefix)] == ["started"]
        with celery_worker(env, queue):
            wait_until(lambda: len(runs(redis_url, prefix)) >= 2, 60, "the re-delivered task")
    assert [r.split(":")[:2] for r in runs(redis_url, prefix)] == [
        [event_id, "started"],
        [event_id, "ok"],
    ]
