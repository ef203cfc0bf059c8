"""What the command lines of the in-process benchmarks share."""

from __future__ import annotations

import argparse
from pathlib import Path


def rounds_parser(doc: str | None, requests: int, rounds: int = 7) -> argparse.ArgumentParser:
    """A parser titled by ``doc``'s first line, with ``--requests`` (per round) and ``--rounds``."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0] if doc else None)
    parser.add_argument("--requests", type=int, default=requests, help="requests per round")
    parser.add_argument("--rounds", type=int, default=rounds, help="interleaved rounds")
    return parser


def print_tree() -> None:
    """Say which tree ``lark_events_core`` comes from (a base copy first on PYTHONPATH, or this)."""
    import lark_events_core

    print(f"lark_events_core from {Path(lark_events_core.__file__).parent}")
