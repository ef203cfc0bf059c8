"""The inspector's JSON API through aiohttp's test client, against a real webhook app."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from lark_events_core.inspector import REDACTED
from lark_events_core.testing import LarkSimulator
from tests.support.servers import VENV_BIN

from .conftest import Rig
from .helpers import KEY, TOKEN

Run = Callable[..., Any]


async def compose(rig: Rig, event_type: str = "im.message.receive_v1", **sets: Any) -> Any:
    template = await (await rig.client.get(f"/api/templates/{event_type}")).json()
    payload = template["payload"]
    for path, value in sets.items():
        node = payload
        *parents, last = path.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    answer = await rig.client.post("/api/compose", json={"payload": payload})
    assert answer.status == 201, await answer.text()
    return await answer.json()


def test_a_composed_event_is_sent_encrypted_and_signed_and_shown_decrypted(run_rig: Run) -> None:
    async def scenario(rig: Rig) -> None:
        text = json.dumps({"text": "hello from compose"})
        row = await compose(rig, event__message__content=text)
        assert row["source"] == "composed"
        assert row["status"] == 200
        assert row["event_type"] == "im.message.receive_v1"
        assert rig.handled[row["event_id"]] == 1
        detail = await (await rig.client.get(f"/api/exchanges/{row['id']}")).json()
        assert detail["payload"]["event"]["message"]["content"] == text
        assert detail["payload"]["header"]["token"] == REDACTED
        assert set(json.loads(detail["request_body"])) == {"encrypt"}
        assert "X-Lark-Signature" in detail["request_headers"]
        assert detail["answer_json"] == {"msg": "success"}
        assert detail["url"] == f"{rig.webhook_url}/webhook/event"

    run_rig(scenario)


def test_replaying_with_the_same_id_is_a_duplicate_the_app_does_not_handle_again(
    run_rig: Run,
) -> None:
    async def scenario(rig: Rig) -> None:
        first = await compose(rig)
        same = await rig.client.post(f"/api/exchanges/{first['id']}/replay", json={"mode": "same"})
        assert same.status == 201
        again = await same.json()
        assert again["source"] == "replayed"
        assert again["replay_of"] == first["id"]
        assert again["event_id"] == first["event_id"]
        assert again["duplicate_of"] == first["id"]
        assert again["status"] == 200
        assert rig.handled[first["event_id"]] == 1  # the app deduplicated it
        new = await rig.client.post(f"/api/exchanges/{first['id']}/replay", json={"mode": "new"})
        fresh = await new.json()
        assert fresh["event_id"] != first["event_id"]
        assert fresh["duplicate_of"] is None
        assert rig.handled[fresh["event_id"]] == 1

    run_rig(scenario)


def test_a_callback_row_carries_the_answer_and_the_detail_page_renders_the_toast(
    run_rig: Run,
) -> None:
    async def scenario(rig: Rig) -> None:
        row = await compose(rig, "card.action.trigger")
        assert row["status"] == 200
        assert json.loads(row["answer"])["toast"]["content"] == "Clicked card.action.trigger"
        assert row["seen"] == {"toast": "success", "text": "Clicked card.action.trigger"}
        page = await (await rig.client.get(f"/exchanges/{row['id']}")).text()
        assert "class='toast toast-success'" in page
        assert "Clicked card.action.trigger" in page
        legacy = await compose(rig, "legacy_card")
        assert legacy["status"] == 200
        assert legacy["event_type"] == "legacy_card"

    run_rig(scenario)


def flaky_webhook(fail: int) -> web.Application:
    """Answers 500 to the first ``fail`` requests, then acknowledges."""
    seen = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(await request.read())
        if len(seen) <= fail:
            return web.json_response({"msg": "not yet"}, status=500)
        return web.json_response({"msg": "success"})

    app = web.Application()
    app.router.add_post("/webhook/event", handler)
    return app


def test_replay_as_the_platform_retries_until_acknowledged(run_rig: Run) -> None:
    async def scenario(rig: Rig) -> None:
        first = await compose(rig)
        assert first["status"] == 500
        answer = await rig.client.post(
            f"/api/exchanges/{first['id']}/replay", json={"mode": "platform"}
        )
        assert answer.status == 202
        for _ in range(200):
            rows = (await (await rig.client.get("/api/exchanges")).json())["exchanges"]
            if rows[0]["status"] == 200:
                break
            await asyncio.sleep(0.05)
        attempts = [r for r in reversed(rows) if r["replay_of"] == first["id"]]
        # The compose was the first failure; the replay fails once more, then is acknowledged.
        assert [(r["attempt"], r["status"]) for r in attempts] == [(1, 500), (2, 200)]
        assert {r["event_id"] for r in attempts} == {first["event_id"]}

    run_rig(scenario, webhook=flaky_webhook(fail=2))


def test_filters_and_search_by_id(run_rig: Run) -> None:
    async def scenario(rig: Rig) -> None:
        message = await compose(rig)
        card = await compose(rig, "card.action.trigger")

        async def ids(query: str) -> list[int]:
            answer = await rig.client.get(f"/api/exchanges?{query}")
            return [r["id"] for r in (await answer.json())["exchanges"]]

        assert await ids("") == [card["id"], message["id"]]
        assert await ids("type=card.action.trigger") == [card["id"]]
        assert await ids("status=200") == [card["id"], message["id"]]
        assert await ids("status=failed") == []
        assert await ids(f"q={message['event_id'][:10]}") == [message["id"]]
        assert await ids(f"q=%23{card['id']}") == [card["id"]]
        page = await (await rig.client.get("/?type=card.action.trigger")).text()
        assert f"data-id='{card['id']}'" in page
        assert f"data-id='{message['id']}'" not in page

    run_rig(scenario)


def test_new_rows_arrive_on_the_live_stream(run_rig: Run) -> None:
    async def scenario(rig: Rig) -> None:
        stream = await rig.client.get("/api/stream")
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert (await stream.content.readuntil(b"\n\n")).startswith(b"retry:")
        row = await compose(rig)
        event = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
        ident, name, data = event.decode().strip().split("\n")
        assert ident == f"id: {row['id']}"
        assert name == "event: exchange"
        assert json.loads(data.removeprefix("data: "))["id"] == row["id"]
        stream.close()
        # A page that reconnects says what it saw last, and first gets what it missed.
        missed = [await compose(rig), await compose(rig)]
        again = await rig.client.get("/api/stream", headers={"Last-Event-ID": str(row["id"])})
        await again.content.readuntil(b"\n\n")
        for expected in missed:
            event = await asyncio.wait_for(again.content.readuntil(b"\n\n"), 5)
            assert event.startswith(f"id: {expected['id']}\n".encode())
        again.close()

    run_rig(scenario)


def test_exports_hold_no_secret_and_resend_the_same_event(run_rig: Run) -> None:
    async def scenario(rig: Rig) -> None:
        row = await compose(rig, "card.action.trigger")
        send = await (await rig.client.get(f"/api/exchanges/{row['id']}/export")).text()
        assert send.startswith(f"lark-events send --url {rig.webhook_url}/webhook/event --file -")
        body = json.loads(send.split("\n", 1)[1].rsplit("JSON", 1)[0])
        assert body["header"]["event_id"] == row["event_id"]
        assert "token" not in body["header"]
        test = await (
            await rig.client.get(f"/api/exchanges/{row['id']}/export?format=pytest")
        ).text()
        compile(test, "exported.py", "exec")
        assert "LarkSimulator" in test
        assert "'Clicked card.action.trigger'" in test

    run_rig(scenario)


async def _run(*argv: str, cwd: Path, stdin: bytes = b"") -> tuple[int, str]:
    env = {
        **os.environ,
        "LARK_ENCRYPT_KEY": KEY,
        "LARK_VERIFICATION_TOKEN": TOKEN,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate(stdin)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.mark.e2e
def test_the_exports_run_against_the_app(run_rig: Run, tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        row = await compose(rig, "card.action.trigger")
        export = f"/api/exchanges/{row['id']}/export"
        test = await (await rig.client.get(export + "?format=pytest")).text()
        (tmp_path / "test_exported.py").write_text(test)
        code, out = await _run(
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_exported.py",
            cwd=tmp_path,
        )
        assert code == 0, out
        assert "1 passed" in out
        message = await compose(rig)
        command = await (await rig.client.get(f"/api/exchanges/{message['id']}/export")).text()
        code, out = await _run("bash", "-c", command, cwd=tmp_path)
        assert code == 0, out
        assert f"event_id={message['event_id']}" in out
        assert rig.handled[message["event_id"]] == 1  # the same id again: a duplicate

    run_rig(scenario)


def test_a_forged_event_id_is_escaped_in_the_log_and_the_page(
    run_rig: Run, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "e1\nINFO forged line <script>alert(1)</script>"

    async def scenario(rig: Rig) -> str:
        row = await compose(rig, header__event_id=forged)
        assert row["event_id"] == forged
        return await (await rig.client.get(f"/exchanges/{row['id']}")).text()

    with caplog.at_level(logging.INFO, logger="lark_events.inspector"):
        page = run_rig(scenario)
    lines = [r.getMessage() for r in caplog.records if r.name == "lark_events.inspector"]
    assert lines
    assert all("\n" not in line for line in lines)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_bad_input_is_a_4xx_with_a_json_body(run_rig: Run) -> None:
    async def scenario(rig: Rig) -> None:
        c = rig.client
        await compose(rig)
        cases = [
            (
                await c.post(
                    "/api/compose", data=b"{", headers={"Content-Type": "application/json"}
                ),
                400,
            ),
            (await c.post("/api/compose", json=[1]), 400),
            (await c.post("/api/compose", json={"payload": "x"}), 400),
            (await c.post("/api/compose", data=b"{}", headers={"Content-Type": "text/plain"}), 415),
            (
                await c.post(
                    "/api/compose", json={"payload": {}}, headers={"Origin": "http://evil.example"}
                ),
                403,
            ),
            (await c.get("/api/exchanges/999"), 404),
            (await c.get("/api/exchanges/abc"), 404),
            (await c.get("/exchanges/999"), 404),
            (await c.post("/api/exchanges/1/replay", json={"mode": "sideways"}), 400),
            (await c.get("/api/exchanges?status=maybe"), 400),
            (await c.get("/api/exchanges?limit=many"), 400),
            (await c.get("/api/exchanges/1/export?format=docx"), 400),
            (await c.get("/api/templates/no.such.type"), 404),
            (await c.get("/compose?type=no.such.type"), 404),
            (await c.get("/static/../store.py"), 404),
            (await c.get("/nowhere"), 404),
        ]
        for answer, status in cases:
            assert answer.status == status, (answer.url, await answer.text())
            body = await answer.json()
            assert set(body) == {"error"}
            assert "Traceback" not in body["error"]

    run_rig(scenario)


def test_an_access_token_guards_every_route(run_rig: Run) -> None:
    async def scenario(rig: Rig) -> None:
        c = rig.client
        for path in ("/", "/api/exchanges", "/api/stream", "/static/inspector.js"):
            answer = await c.get(path)
            assert answer.status == 403
            assert "error" in await answer.json()
        assert (await c.get("/?access=wrong")).status == 403
        assert (await c.get("/?access=%ED%A0%80")).status == 403  # a lone surrogate
        first = await c.get("/?access=run-token-123")
        assert first.status == 200
        # The cookie it set lets the page's own requests in.
        assert (await c.get("/api/exchanges")).status == 200

    run_rig(scenario, access_token="run-token-123")


def test_without_a_token_only_local_host_names_are_answered(run_rig: Run) -> None:
    async def scenario(rig: Rig) -> None:
        c = rig.client
        assert (await c.get("/", headers={"Host": "localhost:4041"})).status == 200
        assert (await c.get("/", headers={"Host": "[::1]:4041"})).status == 200
        rebound = await c.get("/api/exchanges", headers={"Host": "attacker.example:4041"})
        assert rebound.status == 421
        assert "error" in await rebound.json()

    run_rig(scenario)


def test_the_secrets_never_appear_in_any_response(run_rig: Run) -> None:
    async def scenario(rig: Rig) -> list[bytes]:
        c = rig.client
        seen: list[bytes] = []
        stream = await c.get("/api/stream")
        for event_type in (
            "im.message.receive_v1",
            "card.action.trigger",
            "message",
            "legacy_card",
        ):
            await compose(rig, event_type)
        # A forwarded plain (unencrypted) body carries the token in clear: it must be scrubbed.
        plain = LarkSimulator(KEY, TOKEN, encrypt=False).request("im.message.receive_v1")
        assert TOKEN.encode() in plain.body
        rig.sender.forwarded(rig.sender.url, plain, 200, b'{"msg":"success"}', 1.0, None)
        await c.post("/api/exchanges/1/replay", json={"mode": "same"})
        await c.post("/api/exchanges/1/replay", json={"mode": "new"})
        paths = ["/", "/compose", "/api/exchanges", "/api/templates", "/static/inspector.js"]
        templates = (await (await c.get("/api/templates")).json())["templates"]
        paths += [f"/api/templates/{t}" for t in templates]
        paths += [f"/compose?type={t}" for t in templates]
        for row in (await (await c.get("/api/exchanges")).json())["exchanges"]:
            n = row["id"]
            paths += [
                f"/exchanges/{n}",
                f"/api/exchanges/{n}",
                f"/api/exchanges/{n}/export",
                f"/api/exchanges/{n}/export?format=pytest",
            ]
        for path in paths:
            answer = await c.get(path)
            assert answer.status == 200, path
            seen.append(await answer.read() + str(dict(answer.headers)).encode())
        live = stream.content.read_nowait()
        assert live.count(b"event: exchange") >= 7
        seen.append(live)
        stream.close()
        return seen

    bodies = run_rig(scenario)
    assert len(bodies) > 40
    for body in bodies:
        assert KEY.encode() not in body
        assert TOKEN.encode() not in body


def test_the_history_file_holds_no_secret(run_rig: Run, tmp_path: Any) -> None:
    async def scenario(rig: Rig) -> None:
        await compose(rig)
        plain = LarkSimulator(KEY, TOKEN, encrypt=False).request("im.message.receive_v1")
        rig.sender.forwarded(rig.sender.url, plain, 200, b"{}", 1.0, None)

    run_rig(scenario)
    data = b"".join(p.read_bytes() for p in tmp_path.glob("inspector.sqlite3*"))
    assert b"im.message.receive_v1" in data
    assert KEY.encode() not in data
    assert TOKEN.encode() not in data
