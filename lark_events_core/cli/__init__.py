"""The ``lark-events`` command: a local Lark platform for developing and testing an endpoint.

Each subcommand lives in its own module exposing ``register(subparsers)``; heavy imports (aiohttp)
happen inside the command functions, so ``lark-events --help`` stays fast. Errors are one-line
messages with a hint and a non-zero exit code (2 for a usage error), never tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable

from ._console import make_streams_safe
from ._errors import CliError
from ._options import join_dash_values, option_strings

__all__ = ["COMMANDS", "build_parser", "main"]

#: Subcommand modules, in the order ``--help`` lists them. ``forward`` may be absent.
COMMANDS: tuple[str, ...] = (
    "send",
    "verify_url",
    "encrypt",
    "decrypt",
    "sign",
    "demo",
    "forward",
    "inspect",
)
_OPTIONAL = frozenset({"forward"})


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand that can be imported."""
    from lark_events_core import __version__

    parser = argparse.ArgumentParser(
        prog="lark-events",
        description="A local Lark (Feishu) platform: send signed events to your app, verify its "
        "request URL, debug captured requests, or run the demo.",
    )
    parser.add_argument("--version", action="version", version=f"lark-events {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ImportError:
            if name in _OPTIONAL:
                continue  # written elsewhere, or its dependencies are not installed
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 on success)."""
    make_streams_safe()
    parser = build_parser()
    raw = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(join_dash_values(raw, option_strings(parser)))
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except CliError as exc:
        sys.stdout.flush()  # keep the order of what was printed and the error
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  try: {exc.hint}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``lark-events demo | head``): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
