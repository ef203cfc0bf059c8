"""Requests/s of the Django adapter on real servers with one worker, against Django's own floor.

    .venv/bin/python benchmarks/bench_django.py            # about two minutes
    .venv/bin/python benchmarks/bench_django.py --rounds 5 --seconds 6

Two servers, one worker process each, the same Django project (middleware as ``startproject``
makes it, minus the apps that need a database: Security, Common, CSRF, X-Frame-Options):

- WSGI: gunicorn, one sync worker. ``floor``: a Django view that reads ``request.body`` and returns
  a constant JSON; ``floor+crypto``: the same view doing the unavoidable work too
  (``benchmarks/_floor.py``); ``lark``: ``lark_event_view`` with a sync handler (decrypt, verify,
  dedup).
- ASGI: uvicorn, one worker. ``floor`` and ``floor+crypto``: async views doing the same;
  ``lark-async``: ``async_lark_event_view`` with an async handler; ``lark-sync``: the same with a
  sync handler (one thread hop per event, as Django runs sync views under ASGI).

``lark / floor+crypto`` measures only what lark-events adds to Django (target >= 0.9).

Every run receives the same bytes: distinct, encrypted, signed ``im.message.receive_v1`` requests
from ``benchmarks/_load.py`` (wrk when installed, else its asyncio generator), 32 connections.
The runs alternate in every round so that each ratio compares runs made close together on a
shared machine; the ratios (median over rounds) are printed last. Target: >= 0.85x the floor.
The server's CPU time per request (user + system of the server and its worker processes, from
psutil) is printed too: on a machine shared with other work it is steadier than req/s, and
``floor cpu / mode cpu`` is the ratio a quiet machine would show.

When gunicorn or uvicorn imports this file (``bench_django:application``) it is the Django project
itself: ``BENCH_DJANGO_MODE`` picks the URLconf.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script or imported by a server: ``benchmarks._load``
    sys.path.insert(0, str(ROOT))

ENCRYPT_KEY = "bench_key"
VERIFICATION_TOKEN = "bench_token"
PATH = "/webhook/event"
#: (server, mode): every mode of a server is compared with that server's floor.
RUNS = (
    ("gunicorn", "floor"),
    ("gunicorn", "floor+crypto"),
    ("gunicorn", "lark"),
    ("uvicorn", "floor"),
    ("uvicorn", "floor+crypto"),
    ("uvicorn", "lark-async"),
    ("uvicorn", "lark-sync"),
)
MODE_ENV = "BENCH_DJANGO_MODE"


# -- the Django project (used when a server imports this module) ---------------------------------


def _configure(mode: str) -> list[Any]:
    """Configure Django for ``mode``; the URL patterns to serve."""
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-django",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        DATABASES={},
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()
    from django.http import HttpRequest, HttpResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt
    from lark_events_django import make_async_view, make_sync_view

    from lark_events_core import Dispatcher, Event

    body = b'{"msg":"success"}'
    content_type = "application/json; charset=utf-8"
    if mode == "floor-wsgi":

        @csrf_exempt
        def floor(request: HttpRequest) -> HttpResponse:
            request.body  # noqa: B018 - reading the body is the point
            return HttpResponse(body, content_type=content_type)

        return [path(PATH.lstrip("/"), floor)]
    if mode == "floor-asgi":

        @csrf_exempt
        async def afloor(request: HttpRequest) -> HttpResponse:
            request.body  # noqa: B018
            return HttpResponse(body, content_type=content_type)

        return [path(PATH.lstrip("/"), afloor)]
    if mode in ("floor+crypto-wsgi", "floor+crypto-asgi"):  # the floor doing the crypto too
        from benchmarks._floor import crypto_floor

        check = crypto_floor(ENCRYPT_KEY, VERIFICATION_TOKEN)

        # Straight from META (what request.headers would copy whole): the fastest honest lookup.
        meta_key = {
            name: "HTTP_" + name.upper().replace("-", "_")
            for name in ("X-Lark-Request-Timestamp", "X-Lark-Request-Nonce", "X-Lark-Signature")
        }

        @csrf_exempt
        def floor_crypto(request: HttpRequest) -> HttpResponse:
            check(lambda name: request.META.get(meta_key[name]), request.body)
            return HttpResponse(body, content_type=content_type)

        @csrf_exempt
        async def afloor_crypto(request: HttpRequest) -> HttpResponse:
            check(lambda name: request.META.get(meta_key[name]), request.body)
            return HttpResponse(body, content_type=content_type)

        view = floor_crypto if mode == "floor+crypto-wsgi" else afloor_crypto
        return [path(PATH.lstrip("/"), view)]

    if mode == "lark-shell-wsgi":  # the adapter over a dispatcher that answers at once
        from lark_events_core import HandlerCall, Request, Response

        success = Response(200, body)

        class Shell(Dispatcher):
            def prepare(self, request: Request, *, card: bool = False) -> Response | HandlerCall:
                return success

        shell = Shell(verification_token=VERIFICATION_TOKEN)
        return [path(PATH.lstrip("/"), make_sync_view(shell))]

    dispatcher = Dispatcher(encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN)
    if mode == "lark-async":

        @dispatcher.on("im.message.receive_v1")
        async def on_message_async(event: Event[Any]) -> None:
            return None

        return [path(PATH.lstrip("/"), make_async_view(dispatcher))]

    @dispatcher.on("im.message.receive_v1")
    def on_message(event: Event[Any]) -> None:
        return None

    if mode == "lark-wsgi":
        return [path(PATH.lstrip("/"), make_sync_view(dispatcher))]
    if mode == "lark-sync":
        return [path(PATH.lstrip("/"), make_async_view(dispatcher))]
    raise SystemExit(f"unknown {MODE_ENV} {mode!r}")


if __name__ != "__main__" and os.environ.get(MODE_ENV):
    urlpatterns = _configure(os.environ[MODE_ENV])
    if os.environ[MODE_ENV] in ("floor-wsgi", "floor+crypto-wsgi", "lark-wsgi", "lark-shell-wsgi"):
        from django.core.wsgi import get_wsgi_application

        application: Any = get_wsgi_application()
    else:
        from django.core.asgi import get_asgi_application

        application = get_asgi_application()


# -- the benchmark --------------------------------------------------------------------------------


def server_argv(server: str) -> list[str]:
    """The command that serves this module with one worker."""
    here = str(Path(__file__).resolve().parent)
    if server == "gunicorn":
        return ["gunicorn", "--chdir", here, "-w", "1", "-b", "127.0.0.1:{port}", "bench_django"]
    return [
        "uvicorn",
        "--app-dir",
        here,
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
        "bench_django:application",
    ]


def env_mode(server: str, mode: str) -> str:
    """The ``BENCH_DJANGO_MODE`` of a run."""
    if mode in ("floor", "floor+crypto"):
        return f"{mode}-wsgi" if server == "gunicorn" else f"{mode}-asgi"
    return "lark-wsgi" if mode == "lark" else mode


def _cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of ``pid`` and of each of its descendants (gunicorn workers)."""
    import psutil

    root = psutil.Process(pid)
    found: dict[int, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        found[proc.pid] = times.user + times.system
    return found


def measure(
    server: str, mode: str, requests: list[Any], *, warmup: int, seconds: float, engine: str
) -> tuple[Any, float]:
    """Start the server in ``mode``, warm it up, load it for ``seconds``: the load result and
    the server's CPU microseconds per request."""
    from benchmarks._load import run_load, serve

    env = {MODE_ENV: env_mode(server, mode)}
    with serve(server_argv(server), env=env) as running:
        url = running.url + PATH
        run_load(url, requests[:warmup], concurrency=32, count=warmup, engine=engine)  # type: ignore[arg-type]
        before = _cpu_seconds(running.proc.pid)
        result = run_load(
            url,
            requests[warmup:],
            concurrency=32,
            duration=seconds,
            engine=engine,  # type: ignore[arg-type]
        )
        after = _cpu_seconds(running.proc.pid)
        if result.errors or result.non_2xx:
            raise SystemExit(f"{server} {mode}: the run had errors: {result.summary()}")
        cpu = sum(after[pid] - before.get(pid, 0.0) for pid in after)
        return result, cpu / max(result.requests, 1) * 1e6


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the ratios last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=4.0, help="timed load per run")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed requests per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of all runs")
    parser.add_argument("--pool", type=int, default=60_000, help="distinct requests")
    parser.add_argument("--engine", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--server", choices=["all", "gunicorn", "uvicorn"], default="all", help="which servers"
    )
    args = parser.parse_args(argv)
    runs = [run for run in RUNS if args.server in ("all", run[0])]

    from benchmarks._load import make_event_requests

    # Distinct event ids (each server starts with an empty dedup store), the same bytes for all.
    pool = make_event_requests(
        args.pool, encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN
    )
    rps: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    cpu_us: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    ratios: dict[tuple[str, str], list[float]] = {run: [] for run in runs if run[1] != "floor"}
    # What lark-events adds: each lark mode against the same server's floor that does the crypto.
    vs_crypto: dict[tuple[str, str], list[float]] = {
        run: [] for run in runs if run[1].startswith("lark")
    }
    print(
        f"Django adapter benchmark: {args.rounds} rounds x {args.seconds:g} s per run, "
        "32 connections, one worker per server"
    )
    for round_no in range(1, args.rounds + 1):
        floor_rps: dict[str, float] = {}
        crypto_rps: dict[str, float] = {}
        for server, mode in runs:
            result, per_request = measure(
                server, mode, pool, warmup=args.warmup, seconds=args.seconds, engine=args.engine
            )
            rps[server, mode].append(result.rps)
            cpu_us[server, mode].append(per_request)
            print(
                f"  round {round_no} {server:<8} {mode:<12} {result.summary()}"
                f"  server cpu {per_request:.1f} us/req"
            )
            if mode == "floor":
                floor_rps[server] = result.rps
            else:
                ratios[server, mode].append(result.rps / floor_rps[server])
            if mode == "floor+crypto":
                crypto_rps[server] = result.rps
            elif (server, mode) in vs_crypto:
                vs_crypto[server, mode].append(result.rps / crypto_rps[server])
    print()
    for (server, mode), values in rps.items():
        print(
            f"{server:<8} {mode:<12} median {statistics.median(values):9.1f} req/s"
            f"  server cpu {statistics.median(cpu_us[server, mode]):7.1f} us/req"
        )
    for (server, mode), values in ratios.items():
        per_round = " ".join(f"{v:.3f}" for v in values)
        cpu_ratio = statistics.median(cpu_us[server, "floor"]) / statistics.median(
            cpu_us[server, mode]
        )
        target = " (target >= 0.85)" if mode.startswith("lark") else ""
        print(
            f"ratio {server} {mode} / floor: {statistics.median(values):.3f}x{target}"
            f"  rounds: {per_round}  cpu-time ratio: {cpu_ratio:.3f}x"
        )
    for (server, mode), values in vs_crypto.items():
        per_round = " ".join(f"{v:.3f}" for v in values)
        cpu_ratio = statistics.median(cpu_us[server, "floor+crypto"]) / statistics.median(
            cpu_us[server, mode]
        )
        print(
            f"ratio {server} {mode} / floor+crypto: {statistics.median(values):.3f}x"
            f" (target >= 0.9)  rounds: {per_round}  cpu-time ratio: {cpu_ratio:.3f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
