"""``lark-events demo``: a sample app and a simulated platform talking, no credentials needed."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run a sample app and send it a realistic sequence of events (no setup needed)",
        description="Start a sample aiohttp app on a free local port with generated keys, send "
        "it the URL verification, events, a card click, a duplicate and a forged request, show "
        "what the handlers received and what was answered, then stop.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default local)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``demo``."""
    from ._errors import need_aiohttp

    need_aiohttp()
    import asyncio

    from ._demo import run_demo

    return asyncio.run(run_demo(args.host))
