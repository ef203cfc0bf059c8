"""``lark-events decrypt``: decrypt a captured body or ``encrypt`` value."""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import Any

from ..crypto import decrypt as aes_decrypt
from ..errors import DecryptionError
from ._errors import CliError
from ._options import encrypt_key, read_text

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``decrypt`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "decrypt",
        help="decrypt a captured request body or encrypt value",
        description='Decrypt VALUE (or --file, or stdin): a whole body {"encrypt": "..."} or '
        "just the base64 value. Prints the plaintext (pretty JSON with --pretty).",
    )
    parser.add_argument("value", nargs="?", metavar="VALUE", help="body or base64 ('-': stdin)")
    parser.add_argument("--file", "-f", help="read the body from this file")
    parser.add_argument("--encrypt-key", metavar="KEY", help="default: $LARK_ENCRYPT_KEY")
    parser.add_argument("--pretty", action="store_true", help="indent the JSON plaintext")
    parser.set_defaults(func=run)


def _ciphertext(raw: bytes) -> bytes:
    if raw.startswith(b"{"):
        try:
            body = json.loads(raw)
        except ValueError:
            raise CliError("the input starts like JSON but is not valid JSON") from None
        value = body.get("encrypt") if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise CliError(
                'the JSON body has no "encrypt" string: it is not encrypted',
                "it is already plaintext; nothing to decrypt",
            )
        return value.encode("ascii", "replace")
    return raw


def run(args: argparse.Namespace) -> int:
    """Run ``decrypt``."""
    key = encrypt_key(args)
    if key is None:
        raise CliError("no Encrypt Key given", "pass --encrypt-key or set LARK_ENCRYPT_KEY")
    try:
        plaintext = aes_decrypt(_ciphertext(read_text(args.value, args.file)), key)
    except DecryptionError as exc:
        raise CliError(
            f"cannot decrypt: {exc.public_message}",
            "check the Encrypt Key (a wrong key looks exactly like bad padding) and that the "
            "value was copied whole",
        ) from None
    text = plaintext.decode("utf-8", "replace")
    if args.pretty:
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(plaintext), indent=2, ensure_ascii=False)
    print(text)
    return 0
