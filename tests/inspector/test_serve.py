"""Serving the inspector: bind addresses, the access token, and ``lark-events inspect``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from lark_events_core.cli import main as cli_main
from lark_events_core.cli.inspect import default_card_url
from lark_events_core.inspector import (
    ExchangeStore,
    InspectorServer,
    Sender,
    is_loopback,
    parse_bind,
)
from tests.support.servers import VENV_BIN, free_port, wait_for_port

from .helpers import KEY, TOKEN


def test_bind_addresses() -> None:
    assert parse_bind("4041") == ("127.0.0.1", 4041)
    assert parse_bind("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_bind("[::1]:4041") == ("::1", 4041)
    for bad in ("", "host:", "x:port", "70000"):
        with pytest.raises(ValueError):
            parse_bind(bad)
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.10")
    assert not is_loopback("example.com")


def test_beyond_loopback_the_url_carries_a_fresh_access_token(tmp_path: Path) -> None:
    sender = Sender(ExchangeStore(tmp_path / "h.sqlite3"), url="http://127.0.0.1:1/")
    local = InspectorServer(sender, host="127.0.0.1", port=4041)
    assert local.access_token == ""
    assert local.url == "http://127.0.0.1:4041/"
    wide = InspectorServer(sender, host="0.0.0.0", port=4041)
    other = InspectorServer(sender, host="0.0.0.0", port=4041)
    assert len(wide.access_token) >= 20
    assert wide.access_token != other.access_token
    assert wide.url == f"http://127.0.0.1:4041/?access={wide.access_token}"
    sender.store.close()


def test_forward_refuses_a_malformed_inspect_address(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LARK_APP_ID", "cli_x")
    monkeypatch.setenv("LARK_APP_SECRET", "s")
    code = cli_main(["forward", "--to", "http://127.0.0.1:1/", "--inspect", "here:there"])
    assert code == 1
    assert "not [HOST:]PORT" in capsys.readouterr().err


@pytest.mark.e2e
def test_the_inspect_command_serves_the_page_and_keeps_secrets_in(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LARK_ENCRYPT_KEY": KEY,
        "LARK_VERIFICATION_TOKEN": TOKEN,
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "lark-events"),
            "inspect",
            "--url",
            f"http://127.0.0.1:{free_port()}/webhook/event",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "h.sqlite3"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        assert b"lark-events inspector" in requests.get(f"{base}/", timeout=10).content
        template = requests.get(f"{base}/api/templates/im.message.receive_v1", timeout=10)
        assert TOKEN not in template.text
        # The app is not running: the exchange is recorded with why there was no answer.
        payload = template.json()["payload"]
        row = requests.post(f"{base}/api/compose", json={"payload": payload}, timeout=10).json()
        assert row["status"] is None
        assert row["error"].startswith("cannot connect")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    text = err.decode()
    assert f"inspector on http://127.0.0.1:{port}/" in text
    assert KEY not in text
    assert TOKEN not in text


def test_the_card_url_defaults_beside_the_event_url() -> None:
    assert default_card_url("http://h:1/webhook/event") == "http://h:1/webhook/card"
    assert default_card_url("http://h:1/lark") is None


def test_inspect_rejects_a_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["inspect", "--to", "ftp://x"]) == 2  # a usage error, as docs/cli.md says
    assert "not an http(s) URL" in capsys.readouterr().err
