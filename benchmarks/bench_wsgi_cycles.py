"""One mode's WSGI cycles in this process, no server: for instruction counts and call counts.

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null --cache-sim=no \\
        .venv/bin/python benchmarks/bench_wsgi_cycles.py flask lark --total 2300 --run 2300
    # minus the same with --run 300 (the set-up and the warm-up alone), divided by 2,000

    .venv/bin/python benchmarks/bench_wsgi_cycles.py django lark-shell --profile

Builds ``--total`` distinct encrypted, signed requests (``benchmarks/_load.py``) and their WSGI
environs as gunicorn builds them, then sends the first ``--run`` of them through the app of
``bench_flask.py`` (``app.wsgi_app``) or ``bench_django.py`` (Django's ``WSGIHandler``). Both
runs build the same requests, so their difference is the cycles alone. ``--profile``: cProfile's
calls per request over the cycles after the first 300.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks._load`` importable
    sys.path.append(str(ROOT))  # appended: a PYTHONPATH given first (a base tree) wins

#: ``bench_django.py``'s WSGI modes by the names ``bench_flask.py`` uses.
DJANGO_MODES = {
    "floor": "floor-wsgi",
    "floor+crypto": "floor+crypto-wsgi",
    "lark": "lark-wsgi",
    "lark-shell": "lark-shell-wsgi",
}
WARMUP = 300

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def load_app(framework: str, mode: str) -> App:
    """The WSGI callable of ``mode`` (Django can be set up once per process)."""
    if framework == "flask":
        from benchmarks.bench_flask import create_app

        app: App = create_app(mode).wsgi_app
        return app
    os.environ["BENCH_DJANGO_MODE"] = DJANGO_MODES[mode]
    import benchmarks.bench_django as bench_django

    django_app: App = bench_django.application
    return django_app


def main(argv: list[str] | None = None) -> int:
    """Run the cycles; with ``--profile`` print the calls per request."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("framework", choices=["flask", "django"])
    parser.add_argument("mode", help="floor, floor+crypto, lark, lark-shell (Flask: lark-ext)")
    parser.add_argument("--total", type=int, default=2_300, help="requests built")
    parser.add_argument("--run", type=int, default=2_300, help="requests sent through the app")
    parser.add_argument("--profile", action="store_true", help="cProfile calls per request")
    args = parser.parse_args(argv)

    from benchmarks._load import make_event_requests
    from benchmarks.bench_flask import ENCRYPT_KEY, VERIFICATION_TOKEN, _environ

    app = load_app(args.framework, args.mode)
    requests = make_event_requests(
        args.total, encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN
    )
    environs = [_environ(req) for req in requests]
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def cycles(batch: list[dict[str, Any]]) -> None:
        for environ in batch:
            body = app(environ, start_response)
            b"".join(body)
            getattr(body, "close", lambda: None)()

    if args.profile:
        import cProfile
        import pstats

        cycles(environs[:WARMUP])
        profile = cProfile.Profile()
        profile.enable()
        cycles(environs[WARMUP : args.run])
        profile.disable()
        calls = sum(row[1] for row in pstats.Stats(profile).stats.values())  # type: ignore[attr-defined]
        count = max(args.run - WARMUP, 1)
        print(f"{args.framework} {args.mode}: {calls / count:.1f} Python calls per request")
    else:
        cycles(environs[: args.run])
    if any(not status.startswith("200") for status in statuses):
        raise SystemExit(f"{args.framework} {args.mode}: answers were not all 200")
    return 0


if __name__ == "__main__":
    sys.exit(main())
