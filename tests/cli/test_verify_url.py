"""``lark-events verify-url``: passes on a correct endpoint, says what is wrong otherwise."""

from __future__ import annotations

import pytest

from tests.support.servers import free_port

from .conftest import App, assert_no_traceback, cli

pytestmark = pytest.mark.e2e


def test_the_challenge_is_encrypted_by_default_when_a_key_is_known(echo_app: App) -> None:
    # The console encrypts the challenge when the app has an Encrypt Key; so do we.
    result = cli("verify-url", "--url", f"{echo_app.url}/webhook/event", *echo_app.keys())
    assert result.code == 0, result.text
    assert "URL verification (encrypted, with the token)" in result.out
    assert "ok: the app answered the challenge correctly in" in result.out


def test_plain_challenge_passes(echo_app: App) -> None:
    result = cli("verify-url", "--url", f"{echo_app.url}/webhook/event", "--plain",
                 *echo_app.keys(), "--challenge", 'needs "escaping" \\ é')  # fmt: skip
    assert result.code == 0, result.text
    assert "URL verification (plain, with the token)" in result.out


def test_without_a_key_the_challenge_is_plain(echo_app: App) -> None:
    result = cli("verify-url", "--url", f"{echo_app.url}/webhook/event",
                 "--verification-token", echo_app.token)  # fmt: skip
    assert result.code == 0, result.text
    assert "(plain, with the token)" in result.out


def test_the_old_positional_url_still_works_with_a_warning(echo_app: App) -> None:
    result = cli("verify-url", f"{echo_app.url}/webhook/event", *echo_app.keys())
    assert result.code == 0, result.text
    assert "warning: verify-url URL is deprecated; use verify-url --url URL" in result.err


def test_the_url_given_twice_is_a_usage_error(echo_app: App) -> None:
    url = f"{echo_app.url}/webhook/event"
    result = cli("verify-url", url, "--url", url)
    assert result.code == 2
    assert "the URL is given twice" in result.err


def test_wrong_token_fails_with_status_and_hint(echo_app: App) -> None:
    result = cli("verify-url", "--url", f"{echo_app.url}/webhook/event", "--token", "wrong-token")
    assert result.code == 1
    assert "URL verification failed: status 401, expected 200" in result.err
    assert "verification tokens differ" in result.err
    assert "--verification-token" in result.err
    assert "wrong-token" not in result.text


def test_a_missing_token_is_called_missing_not_different(echo_app: App) -> None:
    result = cli("verify-url", "--url", f"{echo_app.url}/webhook/event")
    assert result.code == 1
    assert "status 401" in result.err
    assert "no verification token was sent" in result.err
    assert "differ" not in result.err


def test_encrypted_with_wrong_key_fails(echo_app: App) -> None:
    result = cli("verify-url", "--url", f"{echo_app.url}/webhook/event",
                 "--encrypt-key", "other", "--token", echo_app.token)  # fmt: skip
    assert result.code == 1
    assert "status 400" in result.err
    assert "--encrypt-key" in result.err


def test_too_slow_fails_even_with_the_right_answer(echo_app: App) -> None:
    result = cli("verify-url", "--url", f"{echo_app.url}/slow?delay=0.4", *echo_app.keys(),
                 "--deadline", "0.2")  # fmt: skip
    assert result.code == 1
    assert "← 200" in result.out
    assert "too slow:" in result.err
    assert "the console allows 200 ms" in result.err


def test_not_json_fails(echo_app: App) -> None:
    result = cli("verify-url", "--url", f"{echo_app.url}/html", "--token", echo_app.token)
    assert result.code == 1
    assert "the answer is not JSON (text/html)" in result.err
    assert "/webhook/event" in result.err
    assert_no_traceback(result)


def test_wrong_challenge_fails(echo_app: App) -> None:
    result = cli("verify-url", "--url", f"{echo_app.url}/wrong-challenge", "--challenge", "abc")
    assert result.code == 1
    assert "wrong challenge: sent 'abc', got 'something-else'" in result.err


def test_unreachable_fails_in_one_line() -> None:
    result = cli("verify-url", "--url", f"http://127.0.0.1:{free_port()}/webhook/event")
    assert result.code == 1
    assert_no_traceback(result)
    assert "cannot connect" in result.err
    assert "is the app running?" in result.err


def test_encrypt_without_key_is_a_usage_error() -> None:
    result = cli("verify-url", "--url", "http://127.0.0.1:1/x", "--encrypt")
    assert result.code == 2
    assert "--encrypt needs the app's Encrypt Key" in result.err


def test_output_survives_an_ascii_terminal(echo_app: App) -> None:
    result = cli("verify-url", "--url", f"{echo_app.url}/webhook/event", *echo_app.keys(),
                 "--challenge", "caf\u00e9", encoding="ascii")  # fmt: skip
    assert result.code == 0, result.text
    assert_no_traceback(result)
    assert "<- 200 in" in result.out
    assert "caf\\xe9" in result.out  # escaped, not a crash
