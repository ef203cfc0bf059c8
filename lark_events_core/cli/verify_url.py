"""``lark-events verify-url``: the check the developer console runs when a request URL is saved."""

from __future__ import annotations

import argparse
import asyncio
import secrets
from typing import Any

from ..testing import LarkSimulator
from ._errors import CliError, UsageError, need_aiohttp
from ._http import Outcome, check_url, new_session, post
from ._options import DEFAULT_URL, add_secret_options, deprecated, encrypt_key, verification_token

__all__ = ["check_answer", "register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``verify-url`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify-url",
        help="send the console's URL-verification challenge and check the answer",
        description="Send the challenge the developer console sends when a request URL is "
        "saved (unsigned; encrypted when an Encrypt Key is known, as the console does, plain "
        'with --plain) and check that the app answers 200 {"challenge": <same>} within the '
        "deadline.",
    )
    parser.add_argument("--url", "-u", help=f"the request URL (default: {DEFAULT_URL})")
    parser.add_argument("old_url", nargs="?", metavar="URL", help="deprecated spelling of --url")
    add_secret_options(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--plain",
        action="store_true",
        help="send the challenge plain even when an Encrypt Key is known",
    )
    mode.add_argument(
        "--encrypt",
        action="store_true",
        help="insist on encrypting (the default with an Encrypt Key; an error without one)",
    )
    parser.add_argument("--challenge", help="the challenge value (default: a random one)")
    parser.add_argument(
        "--deadline", type=float, default=1.0, help="seconds allowed (default 1, as the console)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait at most (default 5)"
    )
    parser.set_defaults(func=run)


def check_answer(outcome: Outcome, challenge: str, deadline: float) -> list[str]:
    """Everything wrong with the answer to a challenge (empty when it passes)."""
    if outcome.error is not None:
        return [outcome.error]
    problems: list[str] = []
    if outcome.status != 200:
        problems.append(f"status {outcome.status}, expected 200")
    body = outcome.json()
    if body is None:
        kind = outcome.content_type.split(";")[0] or "no Content-Type"
        problems.append(f"the answer is not JSON ({kind}): {outcome.body_text(80)!r}")
    elif not isinstance(body, dict) or "challenge" not in body:
        problems.append(f'the answer has no "challenge" field: {outcome.body_text(80)}')
    elif body["challenge"] != challenge:
        problems.append(f"wrong challenge: sent {challenge!r}, got {body['challenge']!r}")
    if outcome.elapsed > deadline:
        problems.append(
            f"too slow: {outcome.elapsed * 1000:.0f} ms, "
            f"the console allows {deadline * 1000:.0f} ms"
        )
    return problems


def _hint(problems: list[str], encrypted: bool, key: bool, token: bool) -> str:
    text = " ".join(problems)
    if "cannot connect" in text or "connection failed" in text:
        return "is the app running? check the host and port"
    if "status 401" in text:
        if not token:
            return (
                "no verification token was sent and the app wants one: pass it with "
                "--verification-token or set LARK_VERIFICATION_TOKEN"
            )
        return (
            "the verification tokens differ: pass the app's with --verification-token "
            "or set LARK_VERIFICATION_TOKEN"
        )
    if "status 400" in text and encrypted:
        return "the app could not decrypt: pass its Encrypt Key with --encrypt-key"
    if "status 500" in text and encrypted:
        return "the app may have no Encrypt Key configured: try --plain"
    if "status 500" in text and key:
        return "an app with an Encrypt Key may refuse a plain challenge: drop --plain"
    if "too slow" in text or "no answer" in text:
        return "answer URL verification before any other work (no database or network calls)"
    if "CSRF" in text:
        return "exempt the webhook route from CSRF protection (e.g. Flask-WTF's csrf.exempt)"
    if "not JSON" in text or "status 404" in text:
        return "check that the URL is the webhook route of the app (the samples use /webhook/event)"
    return 'answer with status 200 and {"challenge": <the challenge sent>}'


def run(args: argparse.Namespace) -> int:
    """Run ``verify-url``."""
    if args.old_url is not None:
        if args.url is not None:
            raise UsageError("the URL is given twice", "pass it once, with --url")
        deprecated("verify-url URL", "verify-url --url URL")
    url = check_url(args.url or args.old_url or DEFAULT_URL)
    if args.deadline <= 0 or args.timeout <= 0:
        raise UsageError("--deadline and --timeout must be positive")
    key = encrypt_key(args)
    if args.encrypt and key is None:
        raise UsageError(
            "--encrypt needs the app's Encrypt Key", "pass --encrypt-key or set LARK_ENCRYPT_KEY"
        )
    need_aiohttp()
    challenge = args.challenge or f"lark-events-{secrets.token_hex(8)}"
    token = verification_token(args)
    sim = LarkSimulator(key, token)
    encrypted = key is not None and not args.plain
    request = sim.challenge(challenge, encrypt=encrypted)
    mode = "encrypted" if encrypted else "plain"
    with_token = "with the token" if token else "without a token"
    print(f"POST {url}  URL verification ({mode}, {with_token})")

    async def go() -> Outcome:
        async with new_session(1) as session:
            return await post(session, url, request, max(args.timeout, args.deadline))

    outcome = asyncio.run(go())
    if outcome.status is not None:
        print(
            f"\u2190 {outcome.status} in {outcome.elapsed * 1000:.1f} ms  {outcome.body_text(120)}"
        )
    problems = check_answer(outcome, challenge, args.deadline)
    if problems:
        raise CliError(
            "URL verification failed: " + "; ".join(problems),
            _hint(problems, encrypted, key is not None, token is not None),
        )
    print(f"ok: the app answered the challenge correctly in {outcome.elapsed * 1000:.1f} ms")
    return 0
