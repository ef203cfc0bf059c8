"""``lark-events encrypt``: encrypt a body with an Encrypt Key, as the platform does."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..crypto import encrypt as aes_encrypt
from ._errors import CliError
from ._options import encrypt_key, read_text

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``encrypt`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "encrypt",
        help="encrypt a plaintext body (AES-256-CBC, as the platform does)",
        description="Encrypt TEXT (or --file, or stdin) with the Encrypt Key and print the "
        'base64 value, or the whole body {"encrypt": ...} with --wrap.',
    )
    parser.add_argument("text", nargs="?", metavar="TEXT", help="the plaintext ('-': stdin)")
    parser.add_argument("--file", "-f", help="read the plaintext from this file")
    parser.add_argument("--encrypt-key", metavar="KEY", help="default: $LARK_ENCRYPT_KEY")
    parser.add_argument("--wrap", action="store_true", help='print {"encrypt": "..."}')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``encrypt``."""
    key = encrypt_key(args)
    if key is None:
        raise CliError("no Encrypt Key given", "pass --encrypt-key or set LARK_ENCRYPT_KEY")
    value = aes_encrypt(read_text(args.text, args.file), key)
    print(json.dumps({"encrypt": value}) if args.wrap else value)
    return 0
