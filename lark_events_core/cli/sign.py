"""``lark-events sign``: compute (or check) the ``X-Lark-Signature`` of a captured request."""

from __future__ import annotations

import argparse
import hmac
from typing import Any

from ..signature import card_signature, event_signature
from ._errors import CliError
from ._options import add_secret_options, encrypt_key, read_text, verification_token

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``sign`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sign",
        help="compute or check the X-Lark-Signature of a request body",
        description="Compute sha256(timestamp + nonce + encrypt_key + body) for events, or "
        "sha1(timestamp + nonce + verification_token + body) for legacy cards (--card), over "
        "the exact bytes of BODY (or --file, or stdin; nothing is stripped). With --check, "
        "compare with a signature.",
    )
    parser.add_argument("body", nargs="?", metavar="BODY", help="the raw body ('-': stdin)")
    parser.add_argument("--file", "-f", help="read the raw body from this file (exact bytes)")
    parser.add_argument("--timestamp", required=True, help="X-Lark-Request-Timestamp")
    parser.add_argument("--nonce", required=True, help="X-Lark-Request-Nonce")
    add_secret_options(parser)
    parser.add_argument("--card", action="store_true", help="legacy card callback (SHA-1, token)")
    parser.add_argument("--check", metavar="SIGNATURE", help="compare with this X-Lark-Signature")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sign``."""
    body = read_text(args.body, args.file, strip=False)
    if args.card:
        token = verification_token(args)
        if token is None:
            raise CliError(
                "no verification token given",
                "pass --verification-token or set LARK_VERIFICATION_TOKEN",
            )
        signature = card_signature(args.timestamp, args.nonce, token, body)
    else:
        key = encrypt_key(args)
        if key is None:
            raise CliError("no Encrypt Key given", "pass --encrypt-key or set LARK_ENCRYPT_KEY")
        signature = event_signature(args.timestamp, args.nonce, key, body)
    if args.check is None:
        print(signature)
        return 0
    if hmac.compare_digest(signature, args.check.strip().lower()):
        print(f"ok: the signature matches ({len(body)} bytes of body)")
        return 0
    raise CliError(
        f"signature mismatch: computed {signature} over {len(body)} bytes",
        "check the key (events: Encrypt Key; --card: verification token), and that the body is "
        "the exact bytes received (use --file; re-serialised JSON never matches)",
    )
