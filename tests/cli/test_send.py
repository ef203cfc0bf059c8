"""``lark-events send`` through the real entry point against a real server."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from lark_events_core.crypto import decrypt
from lark_events_core.signature import event_signature
from lark_events_core.testing import EVENT_TYPES
from tests.support.servers import free_port

from .conftest import App, assert_no_traceback, clean_env, cli

pytestmark = pytest.mark.e2e


def _handled(app: App, event_id: str) -> list[str]:
    return [line for line in app.server.log().splitlines() if f"event_id={event_id}" in line]


def _wait_handled(app: App, event_id: str, count: int = 1) -> list[str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = _handled(app, event_id)
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    return _handled(app, event_id)


def test_send_default_event_is_encrypted_signed_and_handled(echo_app: App) -> None:
    event_id = uuid.uuid4().hex
    result = cli("send", "--url", f"{echo_app.url}/webhook/event", "--event-id", event_id,
                 *echo_app.keys())  # fmt: skip
    assert result.code == 0, result.text
    assert "encrypted, signed" in result.out
    assert re.search(r"← 200 in \d+\.\d ms", result.out)
    assert '{"msg":"success"}' in result.out
    assert _wait_handled(echo_app, event_id) == [
        f"handled event_type=im.message.receive_v1 event_id={event_id} "
        "text=Hello from the lark-events simulator"
    ]


def _one_per_service() -> list[str]:
    # Every hand-written template, and one generated template per service: each CLI run is a
    # process (~0.7 s); tests/core/events/test_generated.py sends every template in-process.
    from lark_events_core.testing._generated_templates import TEMPLATES

    seen: dict[str, str] = {}
    for t in EVENT_TYPES:
        seen.setdefault(t if t not in TEMPLATES else t.split(".")[0], t)
    return [t for t in seen.values() if t != "legacy_card"]


def test_send_list_prints_every_template_type() -> None:
    result = cli("send", "--list")
    assert result.code == 0, result.text
    assert result.out.split() == sorted(EVENT_TYPES)


@pytest.mark.parametrize("event_type", _one_per_service())
def test_every_template_type_reaches_its_handler(echo_app: App, event_type: str) -> None:
    event_id = uuid.uuid4().hex
    result = cli("send", event_type, "--url", f"{echo_app.url}/webhook/event",
                 "--event-id", event_id, *echo_app.keys())  # fmt: skip
    assert result.code == 0, result.text
    assert _wait_handled(echo_app, event_id)[0].startswith(f"handled event_type={event_type} ")


def test_legacy_card_goes_signed_with_sha1_and_gets_the_callback_answer(echo_app: App) -> None:
    result = cli("send", "legacy_card", "--url", f"{echo_app.url}/webhook/card", *echo_app.keys())
    assert result.code == 0, result.text
    assert "signed with SHA-1" in result.out
    assert '{"toast":{"type":"info","content":"ok"}}' in result.out


def test_set_and_text_override_fields(echo_app: App) -> None:
    event_id = uuid.uuid4().hex
    result = cli("send", "--url", f"{echo_app.url}/webhook/event", "--event-id", event_id,
                 "--text", "deploy now", "--set", "event.message.chat_type=group",
                 *echo_app.keys())  # fmt: skip
    assert result.code == 0, result.text
    assert _wait_handled(echo_app, event_id)[0].endswith("text=deploy now")


def test_dry_run_prints_a_request_the_platform_would_send() -> None:
    result = cli("send", "--dry-run", "--encrypt-key", "k1", "--token", "t1",
                 "--set", "event.message.content={\"text\":\"hi\"}",
                 "--set", "header.tenant_key=acme")  # fmt: skip
    assert result.code == 0, result.text
    head, _, body = result.out.partition("\n\n")
    headers = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    raw = body.strip().encode()
    assert headers["X-Lark-Signature"] == event_signature(
        headers["X-Lark-Request-Timestamp"], headers["X-Lark-Request-Nonce"], "k1", raw
    )
    payload = json.loads(decrypt(json.loads(raw)["encrypt"], "k1"))
    assert payload["header"]["token"] == "t1"
    assert payload["header"]["tenant_key"] == "acme"
    # content is JSON text in Lark messages: it must stay a string, not become an object
    assert payload["event"]["message"]["content"] == '{"text":"hi"}'
    assert "k1" not in result.out.replace(raw.decode(), "")


def test_plain_sends_unencrypted_but_signed(echo_app: App) -> None:
    result = cli("send", "--plain", "--url", f"{echo_app.url}/webhook/event", *echo_app.keys())
    assert result.code == 0, result.text
    assert "plain, signed" in result.out


def test_json_file_body(echo_app: App, tmp_path: pytest.TempPathFactory) -> None:
    event_id = uuid.uuid4().hex
    path = tmp_path / "event.json"  # type: ignore[operator]
    body = {"schema": "2.0", "header": {"event_id": event_id, "event_type": "custom.thing_v1"},
            "event": {"x": 1}}  # fmt: skip
    path.write_text(json.dumps(body))
    result = cli("send", "--file", str(path), "--url", f"{echo_app.url}/webhook/event",
                 *echo_app.keys())  # fmt: skip
    assert result.code == 0, result.text
    assert "JSON file" in result.out


def test_wrong_key_is_a_401_explained_in_one_line(echo_app: App) -> None:
    result = cli("send", "--url", f"{echo_app.url}/webhook/event",
                 "--encrypt-key", "not-the-key", "--token", echo_app.token)  # fmt: skip
    assert result.code == 1
    assert_no_traceback(result)
    assert "error: the app refused the request: 401 signature mismatch" in result.err
    assert "Encrypt Key differs" in result.err
    assert "--encrypt-key" in result.err
    assert "not-the-key" not in result.text


def test_wrong_token_is_explained(echo_app: App) -> None:
    result = cli("send", "--url", f"{echo_app.url}/webhook/event",
                 "--encrypt-key", echo_app.encrypt_key, "--token", "nope")  # fmt: skip
    assert result.code == 1
    assert "verification token mismatch" in result.err
    assert "--verification-token" in result.err


def test_unreachable_url_is_one_line_with_a_hint() -> None:
    result = cli("send", "--url", f"http://127.0.0.1:{free_port()}/webhook/event")
    assert result.code == 1
    assert_no_traceback(result)
    assert result.err.startswith("error: http://127.0.0.1:")
    assert "cannot connect" in result.err
    assert "is the app running?" in result.err
    assert len(result.err.strip().splitlines()) == 2


def test_a_non_json_200_is_delivered_with_a_warning(echo_app: App) -> None:
    # The platform looks only at the status of an event's answer.
    result = cli("send", "--url", f"{echo_app.url}/html", *echo_app.keys())
    assert result.code == 0, result.text
    assert_no_traceback(result)
    assert "warning: the answer body is not JSON (text/html)" in result.out


def test_an_empty_200_is_delivered_with_a_warning(echo_app: App) -> None:
    # What the Node SDK's receiver answers to every event.
    result = cli("send", "--url", f"{echo_app.url}/empty", *echo_app.keys())
    assert result.code == 0, result.text
    assert "(empty body)" in result.out
    assert "warning: the answer body is empty" in result.out


@pytest.mark.parametrize("path", ["/html", "/empty"])
def test_a_callback_still_needs_a_json_answer(echo_app: App, path: str) -> None:
    result = cli("send", "card.action.trigger", "--url", f"{echo_app.url}{path}", *echo_app.keys())
    assert result.code == 1
    assert "to a callback, whose body is what the user sees" in result.err
    assert_no_traceback(result)


def test_a_legacy_card_sent_to_the_event_path_names_the_card_path(echo_app: App) -> None:
    result = cli("send", "legacy_card", "--url", f"{echo_app.url}/webhook/event", *echo_app.keys())
    assert result.code == 1
    assert "legacy card callback" in result.err
    assert "/webhook/card" in result.err


def test_a_url_in_place_of_the_type_is_a_usage_error(echo_app: App) -> None:
    result = cli("send", f"{echo_app.url}/webhook/event", *echo_app.keys())
    assert result.code == 2
    assert "is a URL, not an event type" in result.err
    assert "--url" in result.err
    assert "POST" not in result.out  # nothing was sent


def test_not_a_url_and_bad_options_are_usage_errors_not_tracebacks() -> None:
    for args in (["--url", "localhost:8000"], ["--count", "0"], ["--set", "novalue"],
                 ["--count", "2", "--retry"], ["--no-such-option"]):  # fmt: skip
        result = cli("send", *args)
        assert result.code == 2, args
        assert_no_traceback(result)
        assert "error: " in result.err, result.err


def test_keys_and_tokens_may_start_with_a_dash() -> None:
    result = cli("send", "--dry-run", "--encrypt-key", "-k1", "--verification-token", "--t1")
    assert result.code == 0, result.text
    head, _, body = result.out.partition("\n\n")
    headers = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    raw = body.strip().encode()
    assert headers["X-Lark-Signature"] == event_signature(
        headers["X-Lark-Request-Timestamp"], headers["X-Lark-Request-Nonce"], "-k1", raw
    )
    assert json.loads(decrypt(json.loads(raw)["encrypt"], "-k1"))["header"]["token"] == "--t1"


def test_an_option_where_a_value_belongs_is_still_a_missing_value() -> None:
    result = cli("send", "--dry-run", "--encrypt-key", "--plain")
    assert result.code == 2
    assert "expected one argument" in result.err


def test_token_is_an_alias_of_verification_token() -> None:
    result = cli("send", "--dry-run", "--plain", "--encrypt-key", "k", "--token", "t-alias")
    assert result.code == 0, result.text
    assert '"token":"t-alias"' in result.out


def test_output_survives_an_ascii_terminal(echo_app: App) -> None:
    result = cli("send", "--url", f"{echo_app.url}/webhook/event", "--text", "caf\u00e9 \u2713",
                 *echo_app.keys(), encoding="ascii")  # fmt: skip
    assert result.code == 0, result.text
    assert_no_traceback(result)
    assert "<- 200 in" in result.out


def test_payload_json_is_compact_as_the_platform_sends() -> None:
    result = cli("send", "--dry-run", "--text", "hi")
    assert result.code == 0, result.text
    body = result.out.partition("\n\n")[2].strip()
    compact = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":"))
    assert body == compact
    content = json.loads(body)["event"]["message"]["content"]
    assert content == '{"text":"hi"}'


def test_retry_replays_the_schedule_until_acknowledged(echo_app: App) -> None:
    event_id = uuid.uuid4().hex
    url = f"{echo_app.url}/flaky?fail=2&id={event_id}"
    result = cli("send", "--retry", "--url", url, "--event-id", event_id, *echo_app.keys())
    assert result.code == 0, result.text
    lines = [line for line in result.out.splitlines() if "attempt" in line]
    assert "500" in lines[0]
    assert "retries after 15 s" in lines[0]
    assert "500" in lines[1]
    assert "retries after 5 min" in lines[1]
    assert "200" in lines[2]
    assert "acknowledged" in lines[2]
    assert "delivered on attempt 3 after 2 retries" in result.out
    # one event, one handler call, the same event_id on every attempt
    assert len(_wait_handled(echo_app, event_id)) == 1


def test_retry_counts_a_slow_answer_as_failed_and_gives_up(echo_app: App) -> None:
    url = f"{echo_app.url}/flaky?fail=100&id={uuid.uuid4().hex}"
    result = cli("send", "--retry", "--speedup", "100000", "--url", url, *echo_app.keys())
    assert result.code == 1
    assert result.out.count("failed: status 500") == 5
    assert "retries after 6 h" in result.out
    assert "not delivered: all 5 attempts failed" in result.err
    slow = cli("send", "--retry", "--deadline", "0.2", "--speedup", "100000",
               "--url", f"{echo_app.url}/slow?delay=0.4", *echo_app.keys())  # fmt: skip
    assert "slower than 0.2 s" in slow.out
    assert slow.code == 1


def test_load_mode_reports_throughput_percentiles_and_statuses(echo_app: App) -> None:
    result = cli("send", "--count", "60", "--concurrency", "6",
                 "--url", f"{echo_app.url}/webhook/event", *echo_app.keys())  # fmt: skip
    assert result.code == 0, result.text
    assert "sending 60 events" in result.out
    assert re.search(r"throughput\s+\d+\.\d req/s", result.out)
    assert re.search(r"p50 \d+\.\d ms\s+p90 \d+\.\d ms\s+p99 \d+\.\d ms", result.out)
    assert "ok (200)    60/60" in result.out
    # not a terminal: plain progress lines on stderr, ending at 100 %
    assert "progress: 60/60 (100%)" in result.err


def test_load_mode_groups_errors_by_status(echo_app: App) -> None:
    result = cli("send", "--count", "10", "--concurrency", "3",
                 "--url", f"{echo_app.url}/webhook/event", "--encrypt-key", "wrong")  # fmt: skip
    assert result.code == 1
    assert "ok (200)    0/10" in result.out
    assert "errors      401 x10" in result.out


def test_keys_come_from_the_environment(echo_app: App) -> None:
    env = clean_env(LARK_ENCRYPT_KEY=echo_app.encrypt_key, LARK_VERIFICATION_TOKEN=echo_app.token)
    result = cli("send", "--url", f"{echo_app.url}/webhook/event", env=env)
    assert result.code == 0, result.text
