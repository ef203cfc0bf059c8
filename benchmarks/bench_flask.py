"""Requests/s of the Flask adapter on gunicorn (one worker), against Flask's floor and lark-oapi.

    .venv/bin/pip install --group bench                 # lark-oapi, the official SDK
    .venv/bin/python benchmarks/bench_flask.py          # about a minute
    .venv/bin/python benchmarks/bench_flask.py --seconds 8 --rounds 5

Each server is ``gunicorn -w 1`` (one sync worker, as the issue's baseline) on a free port:

- ``floor``: Flask's minimal endpoint, ``request.get_data()`` and a constant JSON answer;
- ``floor+crypto``: the same endpoint doing the unavoidable work too (``benchmarks/_floor.py``:
  signature, decryption, parses, token, a set of event ids), so ``lark / floor+crypto`` measures
  only what lark-events adds (target >= 0.9);
- ``lark``: ``lark_events_flask.make_blueprint`` with a sync handler (verify, decrypt, dedup);
- ``lark-oapi``: the official SDK's Flask adapter (``lark_oapi.adapter.flask``: ``parse_req``,
  ``EventDispatcherHandler.do``, ``parse_resp``) with a no-op ``im.message.receive_v1`` handler.

All receive the same bytes: distinct, encrypted, signed ``im.message.receive_v1`` requests from
``benchmarks/_load.py`` (wrk when installed — ``find_wrk(install=True)`` tries apt-get — else its
asyncio generator), 32 connections. The modes alternate in every round so that each ratio compares
runs made close together on a shared machine; the medians of the per-round ratios are printed
last. Targets (issue 16): lark >= 0.9x floor+crypto; lark >= 1.6x lark-oapi. The gunicorn
worker's CPU time per request (user + system, psutil) is printed too: steadier than req/s when
other work shares the machine.

Then the same apps without a server: each mode's whole WSGI cycle (``app(environ,
start_response)`` on the same kind of bytes, fresh ids) in this process, interleaved rounds, this
thread's CPU time. That is what Flask and each endpoint cost; the worker's CPU time minus it is
what gunicorn costs per request (accept, parse, two writes, close), the same for every mode, and
it bounds the ratio any endpoint can reach against lark-oapi under gunicorn.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks._load`` importable
    sys.path.insert(0, str(ROOT))

ENCRYPT_KEY = "bench_key"
VERIFICATION_TOKEN = "bench_token"
PATH = "/webhook/event"
MODES = ("floor", "floor+crypto", "lark", "lark-oapi")
#: Extra modes for diagnosis (``--extra lark-shell``): the adapter over a dispatcher that answers
#: at once, i.e. the Flask side alone without any core work; ``lark-ext``: ``lark`` set up through
#: the ``LarkEvents`` extension (its app-level hooks included) instead of ``make_blueprint``.
EXTRA_MODES = ("lark-shell", "lark-ext")
SUCCESS = b'{"msg":"success"}'


def create_app(mode: str) -> Any:
    """The benchmarked Flask application for ``mode`` (gunicorn calls this factory)."""
    from flask import Flask, request

    logging.basicConfig(level=logging.WARNING)
    app = Flask(f"bench_{mode.replace('-', '_')}")
    if mode == "floor":

        @app.post(PATH)
        def floor() -> Any:
            request.get_data()
            return app.response_class(SUCCESS, content_type="application/json; charset=utf-8")

        return app

    if mode == "floor+crypto":
        from benchmarks._floor import crypto_floor

        check = crypto_floor(ENCRYPT_KEY, VERIFICATION_TOKEN)

        @app.post(PATH)
        def floor_crypto() -> Any:
            check(request.headers.get, request.get_data())
            return app.response_class(SUCCESS, content_type="application/json; charset=utf-8")

        return app

    if mode == "lark":
        from lark_events_flask import make_blueprint

        from lark_events_core import Dispatcher, Event

        dispatcher = Dispatcher(encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN)

        @dispatcher.on("im.message.receive_v1")
        def on_message(event: Event[Any]) -> None:
            return None

        app.register_blueprint(make_blueprint(dispatcher, event_path=PATH, card_path=None))
        return app

    if mode == "lark-ext":
        from lark_events_flask import LarkEvents

        from lark_events_core import Event

        app.config.update(
            LARK_ENCRYPT_KEY=ENCRYPT_KEY,
            LARK_VERIFICATION_TOKEN=VERIFICATION_TOKEN,
            LARK_EVENTS_EVENT_PATH=PATH,
            LARK_EVENTS_CARD_PATH=None,
        )
        extension = LarkEvents(app)

        @extension.on("im.message.receive_v1")
        def on_ext_message(event: Event[Any]) -> None:
            return None

        return app

    if mode == "lark-shell":
        from lark_events_flask import make_blueprint

        from lark_events_core import Dispatcher, Request, Response

        success = Response(200, SUCCESS)

        class Shell(Dispatcher):
            def handle(self, request: Request, *, card: bool = False) -> Response:
                return success

        shell = Shell(verification_token=VERIFICATION_TOKEN)
        app.register_blueprint(make_blueprint(shell, event_path=PATH, card_path=None))
        return app

    if mode == "lark-oapi":
        import lark_oapi as lark
        from lark_oapi.adapter.flask import parse_req, parse_resp

        def do_message(data: Any) -> None:
            return None

        handler = (
            lark.EventDispatcherHandler.builder(
                ENCRYPT_KEY, VERIFICATION_TOKEN, lark.LogLevel.ERROR
            )
            .register_p2_im_message_receive_v1(do_message)
            .build()
        )

        @app.post(PATH)
        def oapi_event() -> Any:
            return parse_resp(handler.do(parse_req()))

        return app

    raise SystemExit(f"unknown mode {mode!r}")


def measure(
    mode: str, requests: list[Any], *, warmup: int, seconds: float, engine: str
) -> tuple[Any, float]:
    """Load the ``mode`` server for ``seconds``: the result and its CPU microseconds per request."""
    import psutil

    from benchmarks._load import run_load, serve

    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "1",
        "-b",
        "127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--backlog",
        "256",
        f"benchmarks.bench_flask:create_app({mode!r})",
    ]
    with serve(argv, cwd=ROOT) as server:
        url = server.url + PATH
        run_load(url, requests[:warmup], concurrency=32, count=warmup, engine=engine)  # type: ignore[arg-type]
        workers = psutil.Process(server.proc.pid).children()
        deadline = time.monotonic() + 10
        while len(workers) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            workers = psutil.Process(server.proc.pid).children()
        if len(workers) != 1:
            raise SystemExit(f"{mode}: expected one gunicorn worker, found {len(workers)}")
        before = workers[0].cpu_times()
        result = run_load(
            url,
            requests[warmup:],
            concurrency=32,
            duration=seconds,
            engine=engine,  # type: ignore[arg-type]
        )
        after = workers[0].cpu_times()
        if psutil.Process(server.proc.pid).children() != workers:
            raise SystemExit(f"{mode}: the gunicorn worker was replaced during the run")
        if result.errors or result.non_2xx:
            raise SystemExit(f"{mode}: the run had errors: {result.summary()}\n{server.log()}")
        cpu = (after.user + after.system) - (before.user + before.system)
        return result, cpu / max(result.requests, 1) * 1e6


def check_answers(requests: list[Any]) -> None:
    """Every mode must answer the benchmark's requests exactly like the platform expects."""
    for mode in MODES:
        app = create_app(mode)
        client = app.test_client()
        req = requests[0]
        response = client.post(PATH, data=req.body, headers=req.headers)
        if response.status_code != 200 or response.get_data() != SUCCESS:
            raise SystemExit(f"{mode} answered {response.status_code} {response.get_data()!r}")


def _environ(req: Any) -> dict[str, Any]:
    """A WSGI environ as gunicorn builds it for one benchmark request."""
    import io

    from lark_events_core.wsgi import _environ_key

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": PATH,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(req.body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(req.body)),
    }
    for name, value in req.headers.items():
        environ[_environ_key(name)] = value  # the key EnvironHeaders looks the name up by
    return environ


def in_process(modes: tuple[str, ...], rounds: int, count: int) -> dict[str, float]:
    """Median CPU microseconds of each mode's whole WSGI cycle, no server, interleaved rounds."""
    from benchmarks._load import make_event_requests

    apps = {mode: create_app(mode) for mode in modes}
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(rounds):
        fresh = make_event_requests(
            count * len(modes), encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN
        )
        for index, mode in enumerate(modes):
            environs = [_environ(req) for req in fresh[index * count : (index + 1) * count]]
            app = apps[mode]
            statuses.clear()
            start = time.thread_time()
            for environ in environs:
                body = app(environ, start_response)
                b"".join(body)
                body.close()
            cpu[mode].append((time.thread_time() - start) / count * 1e6)
            if any(not status.startswith("200") for status in statuses):
                raise SystemExit(f"{mode}: in-process answers were not all 200")
    return {mode: statistics.median(values) for mode, values in cpu.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the ratios last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="timed load per run")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed requests per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of all modes")
    parser.add_argument("--pool", type=int, default=60_000, help="distinct requests")
    parser.add_argument("--engine", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--extra", choices=EXTRA_MODES, action="append", default=[])
    parser.add_argument(
        "--cycles", type=int, default=2_000, help="requests per mode and round, no server"
    )
    args = parser.parse_args(argv)
    modes = MODES + tuple(args.extra)

    try:
        import lark_oapi  # noqa: F401
    except ImportError:
        print("lark-oapi is missing: .venv/bin/pip install --group bench", file=sys.stderr)
        return 2
    from benchmarks._load import find_wrk, make_event_requests

    wrk = find_wrk(install=args.engine != "python")
    engine = "python" if args.engine == "python" or wrk is None else args.engine
    print(f"load generator: {'wrk at ' + wrk if engine != 'python' and wrk else 'python/aiohttp'}")

    # Distinct event ids (each server starts with an empty dedup store); the same bytes for all.
    requests = make_event_requests(
        args.pool, encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN
    )
    check_answers(requests)
    rps: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu_us: dict[str, list[float]] = {mode: [] for mode in modes}
    vs_floor: list[float] = []
    vs_crypto: list[float] = []
    vs_oapi: list[float] = []
    print(
        f"Flask adapter benchmark: {args.rounds} rounds x {args.seconds:g} s per run, "
        "32 connections, gunicorn -w 1 (sync worker)"
    )
    for round_no in range(1, args.rounds + 1):
        this_round: dict[str, float] = {}
        for mode in modes:
            result, per_request = measure(
                mode, requests, warmup=args.warmup, seconds=args.seconds, engine=engine
            )
            rps[mode].append(result.rps)
            cpu_us[mode].append(per_request)
            this_round[mode] = result.rps
            print(
                f"  round {round_no} {mode:<12} {result.summary()}"
                f"  worker cpu {per_request:.1f} us/req"
            )
        vs_floor.append(this_round["lark"] / this_round["floor"])
        vs_crypto.append(this_round["lark"] / this_round["floor+crypto"])
        vs_oapi.append(this_round["lark"] / this_round["lark-oapi"])
    print()
    for mode in modes:
        print(
            f"{mode:<12} median {statistics.median(rps[mode]):9.1f} req/s"
            f"  worker cpu {statistics.median(cpu_us[mode]):7.1f} us/req"
        )

    def cpu_ratio(a: str, b: str) -> float:
        return statistics.median(cpu_us[b]) / statistics.median(cpu_us[a])

    rounds_floor = " ".join(f"{v:.3f}" for v in vs_floor)
    rounds_oapi = " ".join(f"{v:.3f}" for v in vs_oapi)
    print(
        f"ratio lark / floor:     {statistics.median(vs_floor):.3f}x  (target >= 0.85)"
        f"  rounds: {rounds_floor}  cpu-time ratio: {cpu_ratio('lark', 'floor'):.3f}x"
    )
    rounds_crypto = " ".join(f"{v:.3f}" for v in vs_crypto)
    print(
        f"ratio lark / floor+crypto: {statistics.median(vs_crypto):.3f}x  (target >= 0.9)"
        f"  rounds: {rounds_crypto}  cpu-time ratio: {cpu_ratio('lark', 'floor+crypto'):.3f}x"
    )
    print(
        f"ratio lark / lark-oapi: {statistics.median(vs_oapi):.3f}x  (target >= 1.6)"
        f"  rounds: {rounds_oapi}  cpu-time ratio: {cpu_ratio('lark', 'lark-oapi'):.3f}x"
    )

    cycle = in_process(modes, max(args.rounds, 3), args.cycles)
    print()
    print("the WSGI cycle in this process, no server (CPU us per request, median round):")
    for mode in modes:
        print(f"{mode:<12} {cycle[mode]:7.1f} us/req")
    print(
        f"ratio lark / floor+crypto (no server, cpu): {cycle['floor+crypto'] / cycle['lark']:.3f}x"
        f"  lark / lark-oapi: {cycle['lark-oapi'] / cycle['lark']:.3f}x"
    )
    # What gunicorn itself costs per request: the worker's CPU time minus the app's, per mode.
    server = statistics.median(
        statistics.median(cpu_us[mode]) - cycle[mode] for mode in ("floor", "floor+crypto")
    )
    best = (server + cycle["lark-oapi"]) / (server + cycle["floor"])
    print(
        f"gunicorn's own cost ~{server:.0f} us/req: even the bare floor would be {best:.2f}x"
        " lark-oapi's worker CPU per request"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
