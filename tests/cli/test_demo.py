"""``lark-events demo`` runs to completion in a clean environment: no keys, no services."""

from __future__ import annotations

import re

from .conftest import clean_env, cli


def test_demo_runs_to_completion_without_credentials() -> None:
    env = clean_env(REDIS_URL="redis://127.0.0.1:1/0", CELERY_BROKER_URL="amqp://127.0.0.1:1//")
    result = cli("demo", env=env)
    assert result.code == 0, result.text
    assert "Traceback" not in result.text
    out = result.out
    assert re.search(r"listening on http://127\.0\.0\.1:\d+", out)
    steps = [line for line in out.splitlines() if re.match(r"[✓✗]\s+\d+ ", line)]
    assert len(steps) == 11
    assert all(line.startswith("✓") for line in steps), out
    assert re.search(r'URL verification \(encrypted\)\s+200 .*\{"challenge":"demo-', out)
    assert re.search(r"forged event \(bad signature\)\s+401 .*signature mismatch", out)
    assert re.search(r'handler raises an exception\s+500 .*\{"msg":"internal error"\}', out)
    assert "simulated bug" not in out  # the exception text never reaches an answer
    assert "handler  message from ou_" in out
    assert "duplicate event_id: acknowledged, handler not called again" in out
    assert re.search(r"all 11 requests answered as expected in \d+\.\d\d s: 8 handler calls", out)


def test_demo_survives_an_ascii_terminal() -> None:
    result = cli("demo", encoding="ascii")
    assert result.code == 0, result.text
    assert "Traceback" not in result.text
    assert "+  1  URL verification (encrypted)" in result.out
