"""Options and input shared by several commands: keys from flags or the environment, input text."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._errors import CliError

__all__ = ["add_secret_options", "encrypt_key", "read_text", "verification_token"]


def add_secret_options(parser: argparse.ArgumentParser) -> None:
    """``--encrypt-key`` and ``--token``; their defaults come from the app's environment variables.

    The values are never printed (not even as ``--help`` defaults).
    """
    parser.add_argument(
        "--encrypt-key",
        metavar="KEY",
        help="the app's Encrypt Key (default: $LARK_ENCRYPT_KEY)",
    )
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="the app's verification token (default: $LARK_VERIFICATION_TOKEN)",
    )


def encrypt_key(args: argparse.Namespace) -> str | None:
    """The Encrypt Key from ``--encrypt-key`` or ``LARK_ENCRYPT_KEY`` (empty means none)."""
    value: str | None = args.encrypt_key
    if value is None:
        value = os.environ.get("LARK_ENCRYPT_KEY")
    return value or None


def verification_token(args: argparse.Namespace) -> str | None:
    """The verification token from ``--token`` or ``LARK_VERIFICATION_TOKEN``."""
    value: str | None = args.token
    if value is None:
        value = os.environ.get("LARK_VERIFICATION_TOKEN")
    return value or None


def read_text(value: str | None, file: str | None, *, strip: bool = True) -> bytes:
    """Input as bytes: ``value``, else the contents of ``file``, else standard input.

    ``-`` as the value or the file means standard input; surrounding whitespace is stripped
    unless ``strip`` is false (signatures cover the exact bytes).
    """
    if value is not None and value != "-":
        data = value.encode("utf-8")
    elif file is not None and file != "-":
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {file}: {exc.strerror}", "check the path") from None
    elif sys.stdin.isatty():
        raise CliError("no input given", "pass it as an argument, with --file, or on stdin")
    else:
        data = sys.stdin.buffer.read()
    return data.strip() if strip else data
