"""``lark-events forward``: events from the fake platform into a real webhook server process."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from lark_events_core._secrets import Secret
from lark_events_core.cli import main as cli_main
from lark_events_core.cli._errors import CliError
from lark_events_core.cli.forward import ForwardOptions, WebhookForwarder, options_from_args
from lark_events_core.testing import make_event, make_legacy_card, make_v1_event
from lark_events_core.testing.fake_platform import DEFAULT_APP_ID, FakePlatform
from tests.support.servers import ROOT, VENV_BIN, Server, free_port, run_server

from .helpers import StrictPlatform, make_client, run_clean

KEY = "forward-test-encrypt-key"
TOKEN = "forward-test-verification-token"
SAMPLE = ROOT / "sample_projects" / "aiohttp_echo" / "app.py"


@pytest.fixture(scope="module")
def webhook() -> Iterator[Server]:
    """The aiohttp sample app as a real server process, with an Encrypt Key and a token."""
    env = {"HOST": "127.0.0.1", "LARK_ENCRYPT_KEY": KEY, "LARK_VERIFICATION_TOKEN": TOKEN}
    with run_server([sys.executable, str(SAMPLE)], env=env) as server:
        yield server


def options(server: Server, platform: FakePlatform, **overrides: Any) -> ForwardOptions:
    values: dict[str, Any] = {
        "to": f"{server.url}/webhook/event",
        "card_to": f"{server.url}/webhook/card",
        "app_id": platform.app_id,
        "app_secret": Secret(platform.app_secret),
        "domain": platform.domain,
        "encrypt_key": Secret(KEY),
        "verification_token": Secret(TOKEN),
        "timeout": 5.0,
        **overrides,
    }
    return ForwardOptions(**values)


async def forward_once(
    server: Server, pushes: list[tuple[Any, str]], **overrides: Any
) -> list[Any]:
    """Forward each (payload, frame type) through a forwarding client; return the acks."""
    async with StrictPlatform() as platform, aiohttp.ClientSession() as session:
        forwarder = WebhookForwarder(session, options(server, platform, **overrides))
        async with make_client(platform, forwarder):
            await platform.wait_for_connections(1)
            pushed = [await platform.push(body, frame_type=kind) for body, kind in pushes]
            acks = [await p.ack(timeout=10) for p in pushed]
        platform.assert_no_violations()
    return acks


@pytest.mark.e2e
def test_events_and_callbacks_are_forwarded_encrypted_signed_and_answered(
    webhook: Server,
) -> None:
    message = make_event("im.message.receive_v1", {"message": {"message_id": "om_fwd"}})
    v1 = make_v1_event("app_ticket", {"app_ticket": "t"})
    card = make_event("card.action.trigger", {"action": {"value": {"k": "v"}}})
    legacy = make_legacy_card({"value": {"x": 1}, "tag": "button"})
    acks = run_clean(
        lambda: forward_once(
            webhook,
            [(message, "event"), (v1, "event"), (card, "event"), (legacy, "card"), (card, "card")],
        )
    )
    assert [a.code for a in acks] == [200] * 5
    assert acks[0].data is None
    # The sample's answer to a card click, relayed as the ack's data: a toast naming the value.
    assert acks[2].data["toast"]["type"] == "success"
    assert "'k': 'v'" in acks[2].data["toast"]["content"]
    assert acks[3].data == {}
    assert acks[4].data == acks[2].data
    log = webhook.log()
    # The webhook verified the signature and token, decrypted and handled each one.
    assert f"event_id={message['header']['event_id']}" in log
    assert f"event_id={v1['uuid']}" in log
    assert f"event_id={card['header']['event_id']}" in log


@pytest.mark.e2e
def test_a_webhook_refusal_is_relayed_as_a_failed_ack(webhook: Server) -> None:
    body = make_event("im.message.receive_v1", {})
    acks = run_clean(
        lambda: forward_once(webhook, [(body, "event")], encrypt_key=Secret("wrong-key"))
    )
    assert acks[0].code == 500  # 401 from the webhook: the platform should redeliver
    acks = run_clean(
        lambda: forward_once(webhook, [(body, "event")], verification_token=Secret("wrong"))
    )
    assert acks[0].code == 500


@pytest.mark.e2e
def test_an_unreachable_webhook_or_a_missing_card_url_nacks(webhook: Server) -> None:
    body = make_event("im.message.receive_v1", {})
    acks = run_clean(
        lambda: forward_once(
            webhook, [(body, "event")], to=f"http://127.0.0.1:{free_port()}/webhook/event"
        )
    )
    assert acks[0].code == 500
    acks = run_clean(lambda: forward_once(webhook, [(make_legacy_card(), "card")], card_to=None))
    assert acks[0].code == 500


@pytest.mark.e2e
def test_the_forward_command_runs_until_sigterm(webhook: Server) -> None:
    async def scenario() -> tuple[int, str]:
        async with StrictPlatform() as platform:
            env = {
                **os.environ,
                "LARK_APP_ID": platform.app_id,
                "LARK_APP_SECRET": platform.app_secret,
                "LARK_ENCRYPT_KEY": KEY,
                "LARK_VERIFICATION_TOKEN": TOKEN,
                "PYTHONUNBUFFERED": "1",
            }
            proc = await asyncio.create_subprocess_exec(
                str(VENV_BIN / "lark-events"),
                "forward",
                "--to",
                f"{webhook.url}/webhook/event",
                "--domain",
                platform.domain,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            try:
                await platform.wait_for_connections(1, timeout=15.0)
                card = make_event("card.action.trigger", {"action": {"value": "cli"}})
                ack = await (await platform.push(card)).ack(timeout=10)
                assert ack.code == 200
                assert "'cli'" in ack.data["toast"]["content"]
            finally:
                proc.send_signal(signal.SIGTERM)
                output, _ = await asyncio.wait_for(proc.communicate(), 10)
            platform.assert_no_violations()
            return proc.returncode or 0, output.decode(errors="replace")

    code, output = run_clean(scenario)
    assert code == 0, output
    assert f"forwarding events of {DEFAULT_APP_ID}" in output
    assert "Traceback" not in output
    for secret in (KEY, TOKEN, "fake-app-secret"):
        assert secret not in output


def test_credentials_come_from_flags_or_the_environment() -> None:
    args = argparse.Namespace(
        to="http://127.0.0.1:1/e",
        card_to=None,
        app_id=None,
        app_secret=None,
        domain=None,
        encrypt_key=None,
        token=None,
        timeout=3.0,
    )
    env = {"LARK_APP_ID": "cli_e", "LARK_APP_SECRET": "s", "LARK_ENCRYPT_KEY": "k"}
    opts = options_from_args(args, env)
    assert (opts.app_id, opts.domain) == ("cli_e", "https://open.feishu.cn")
    assert opts.encrypt_key == Secret("k")
    assert opts.verification_token is None
    assert "s" not in repr(opts.app_secret)
    with pytest.raises(CliError, match="App ID and App Secret"):
        options_from_args(args, {})
    bad = argparse.Namespace(**{**vars(args), "to": "ftp://x"})
    with pytest.raises(CliError, match="not an http"):
        options_from_args(bad, env)


def test_missing_credentials_exit_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    saved = {k: os.environ.pop(k) for k in ("LARK_APP_ID", "LARK_APP_SECRET") if k in os.environ}
    try:
        code = cli_main(["forward", "--to", "http://127.0.0.1:1/webhook/event"])
    finally:
        os.environ.update(saved)
    err = capsys.readouterr().err
    assert code == 1
    assert "LARK_APP_ID" in err
    assert "Traceback" not in err


@pytest.mark.e2e
def test_the_forward_command_stops_with_a_message_when_the_app_is_refused() -> None:
    async def scenario() -> tuple[int, str]:
        async with StrictPlatform() as platform:
            env = {**os.environ, "LARK_APP_ID": platform.app_id, "LARK_APP_SECRET": "wrong"}
            proc = await asyncio.create_subprocess_exec(
                str(VENV_BIN / "lark-events"),
                "forward",
                "--to",
                "http://127.0.0.1:1/webhook/event",
                "--domain",
                platform.domain,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(proc.communicate(), 15)
            return proc.returncode or 0, output.decode(errors="replace")

    code, output = run_clean(scenario)
    assert code == 1
    assert "error: endpoint refused the app: code 10014" in output
    assert "Traceback" not in output
