"""The conventions every command shares: ``--url``, ``--verification-token``, dash values."""

from __future__ import annotations

import pytest

from lark_events_core.cli import build_parser, main
from lark_events_core.cli._options import join_dash_values, option_strings

from .conftest import clean_env, cli


def test_dash_values_are_joined_only_for_free_text_options() -> None:
    known = option_strings(build_parser())
    argv = ["send", "--encrypt-key", "-abc", "--token", "--x", "--count", "-1", "--plain"]
    assert join_dash_values(argv, known) == [
        "send", "--encrypt-key=-abc", "--token=--x", "--count", "-1", "--plain",
    ]  # fmt: skip
    # an option where the value should be stays an option (argparse reports the missing value)
    assert join_dash_values(["--token", "--plain"], known) == ["--token", "--plain"]
    assert join_dash_values(["--", "--token", "-a"], known) == ["--", "--token", "-a"]


@pytest.mark.parametrize("command", ["send", "verify-url", "sign", "forward"])
def test_every_command_takes_verification_token_and_its_alias(command: str) -> None:
    parser = build_parser()
    base = {"sign": ["--timestamp", "1", "--nonce", "n"]}.get(command, [])
    for flag in ("--verification-token", "--token"):
        args = parser.parse_args(
            join_dash_values([command, *base, flag, "-tok"], option_strings(parser))
        )
        assert args.token == "-tok"
        assert args.encrypt_key is None


def test_forward_old_url_flags_warn_and_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["forward", "--to", "http://a/e", "--card-to", "http://a/c"])
    assert (args.to, args.card_to) == ("http://a/e", "http://a/c")
    err = capsys.readouterr().err
    assert "warning: --to is deprecated; use --url" in err
    assert "warning: --card-to is deprecated; use --card-url" in err
    args = build_parser().parse_args(["forward", "--url", "http://a/e", "--card-url", "http://a/c"])
    assert (args.to, args.card_to) == ("http://a/e", "http://a/c")
    assert capsys.readouterr().err == ""


def test_a_bad_forward_url_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LARK_APP_ID", "cli_a1b2c3d4e5f60718")
    monkeypatch.setenv("LARK_APP_SECRET", "s")
    assert main(["forward", "--card-url", "localhost:8000/webhook/card"]) == 2
    err = capsys.readouterr().err
    assert "--card-url: not an http(s) URL" in err
    assert "/webhook/card" in err


def test_usage_errors_of_verify_url_exit_2() -> None:
    for args in (["--deadline", "0"], ["--plain", "--encrypt"], ["--url", "nope"]):
        result = cli("verify-url", *args, env=clean_env())
        assert result.code == 2, (args, result.text)
