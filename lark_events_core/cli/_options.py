"""Options and input shared by several commands: keys, the target URL, input text.

Conventions every command follows:

- the target is ``--url URL`` (``forward`` adds ``--card-url``); older spellings still work
  and print a deprecation warning;
- secrets are ``--encrypt-key`` and ``--verification-token`` (alias ``--token``), defaulting to
  ``LARK_ENCRYPT_KEY`` and ``LARK_VERIFICATION_TOKEN``, and are never printed;
- a value may start with ``-`` (``--encrypt-key -abc``): :func:`join_dash_values` rewrites it to
  ``--encrypt-key=-abc`` before argparse, which would otherwise take it for an option.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ._errors import CliError

__all__ = [
    "DEFAULT_CARD_URL",
    "DEFAULT_URL",
    "FREE_VALUE_OPTIONS",
    "DeprecatedAlias",
    "add_secret_options",
    "deprecated",
    "encrypt_key",
    "join_dash_values",
    "option_strings",
    "read_text",
    "verification_token",
]

DEFAULT_URL = "http://127.0.0.1:8000/webhook/event"
DEFAULT_CARD_URL = "http://127.0.0.1:8000/webhook/card"

#: Options whose value is opaque text that may legitimately start with ``-``.
FREE_VALUE_OPTIONS = frozenset(
    {
        "--encrypt-key",
        "--verification-token",
        "--token",
        "--app-secret",
        "--challenge",
        "--text",
        "--event-id",
        "--check",
        "--nonce",
    }
)


def add_secret_options(parser: argparse.ArgumentParser) -> None:
    """``--encrypt-key`` and ``--verification-token`` (``--token``), defaulting to the environment.

    The values are never printed (not even as ``--help`` defaults).
    """
    parser.add_argument(
        "--encrypt-key",
        metavar="KEY",
        help="the app's Encrypt Key (default: $LARK_ENCRYPT_KEY)",
    )
    parser.add_argument(
        "--verification-token",
        "--token",
        dest="token",
        metavar="TOKEN",
        help="the app's verification token (default: $LARK_VERIFICATION_TOKEN)",
    )


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and of its subcommands."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= option_strings(sub)
    return found


def join_dash_values(argv: Sequence[str], known: Iterable[str]) -> list[str]:
    """``--token -abc`` becomes ``--token=-abc`` for the options in :data:`FREE_VALUE_OPTIONS`.

    A following word that is itself one of the ``known`` options is left alone, so that
    ``--token --plain`` is still reported as a missing value.
    """
    known_set = set(known)
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if (
            arg in FREE_VALUE_OPTIONS
            and nxt is not None
            and nxt.startswith("-")
            and nxt not in known_set
        ):
            out.append(f"{arg}={nxt}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def deprecated(old: str, new: str) -> None:
    """Warn on stderr that ``old`` is an old spelling of ``new``."""
    print(f"warning: {old} is deprecated; use {new}", file=sys.stderr)


class DeprecatedAlias(argparse.Action):
    """An old option spelling: stores like the new one (same ``dest``) and warns on stderr.

    ``add_argument("--to", dest="to", action=DeprecatedAlias, new="--url")``.
    """

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str, **kw: Any) -> None:
        kw.setdefault("help", f"deprecated spelling of {new}")
        super().__init__(option_strings, dest, **kw)
        self.new = new

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        deprecated(option_string or self.option_strings[0], self.new)
        setattr(namespace, self.dest, values)


def encrypt_key(args: argparse.Namespace) -> str | None:
    """The Encrypt Key from ``--encrypt-key`` or ``LARK_ENCRYPT_KEY`` (empty means none)."""
    value: str | None = args.encrypt_key
    if value is None:
        value = os.environ.get("LARK_ENCRYPT_KEY")
    return value or None


def verification_token(args: argparse.Namespace) -> str | None:
    """The verification token from ``--verification-token`` or ``LARK_VERIFICATION_TOKEN``."""
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
