"""Shared load generator and server runner for every adapter benchmark.

Stable API (other benchmarks import these names)::

    from benchmarks._load import make_event_requests, run_load, serve, find_wrk

    reqs = make_event_requests(20_000, encrypt_key="bench_key", verification_token="bench_token")
    with serve(["gunicorn", "-w", "1", "-b", "127.0.0.1:{port}", "app:app"]) as server:
        warm = run_load(server.url + "/webhook/event", reqs[:500], concurrency=32, count=500)
        result = run_load(server.url + "/webhook/event", reqs[500:], concurrency=32, count=10_000)
        print(result.summary())          # one line: req/s, errors, latency percentiles
        server.log()                     # everything the server printed

* :func:`make_event_requests` pre-generates ``n`` distinct encrypted, signed
  ``im.message.receive_v1`` requests (each its own ``event_id``), as the platform sends them.
  The defaults use :data:`BENCH_ENCRYPT_KEY` / :data:`BENCH_VERIFICATION_TOKEN`; start the server
  with them as ``LARK_ENCRYPT_KEY`` / ``LARK_VERIFICATION_TOKEN``.
* :func:`run_load` drives ``url`` with ``concurrency`` keep-alive connections, for a fixed
  ``count`` of responses or a fixed ``duration`` in seconds, sending the requests in order (each
  request once while the pool lasts; it wraps around after that and says so in
  :attr:`LoadResult.wrapped`). It returns a :class:`LoadResult`: req/s, errors, statuses, latency
  percentiles in milliseconds. With wrk, count mode stops once every wrk thread has had its share
  of ``count`` responses, so a few more (up to about ``concurrency`` per extra thread) may have
  been sent; :attr:`LoadResult.requests` is the number actually answered. Give a pool of about
  ``count + 2 * concurrency`` requests (more with several wrk threads) to keep ids distinct.
* Engines: ``"wrk"`` (Debian's ``wrk`` with a Lua script cycling through the pre-generated
  requests; C, one thread by default, so the generator does not eat the server's core) or
  ``"python"`` (asyncio + aiohttp in a separate process). ``"auto"`` (the default) picks wrk when
  :func:`find_wrk` finds it, else Python. ``find_wrk(install=True)`` runs ``apt-get install -y
  wrk`` when it is missing and we are root.
* :func:`serve` starts a server command on a free port (``{port}`` in argv is replaced and
  ``PORT`` is set), waits until it accepts connections, yields a :class:`RunningServer` and stops
  the whole process group afterwards.

Every run is bounded: count mode also stops at ``max_seconds`` (default 120 s).

Command line, for ad-hoc runs against a server that is already up::

    python benchmarks/_load.py http://127.0.0.1:8000/webhook/event --count 5000 -c 32
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = [
    "BENCH_ENCRYPT_KEY",
    "BENCH_VERIFICATION_TOKEN",
    "LoadRequest",
    "LoadResult",
    "RunningServer",
    "find_wrk",
    "free_port",
    "make_event_requests",
    "run_load",
    "serve",
]

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
Engine = Literal["auto", "wrk", "python"]

#: The key and token :func:`make_event_requests` uses unless told otherwise.
BENCH_ENCRYPT_KEY = "bench_key"
BENCH_VERIFICATION_TOKEN = "bench_token"


# -- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadRequest:
    """One pre-built HTTP request: method, headers, body bytes and the event id it carries."""

    body: bytes
    headers: dict[str, str]
    event_id: str = ""
    method: str = "POST"


def make_event_requests(
    n: int,
    *,
    encrypt_key: str | None = BENCH_ENCRYPT_KEY,
    verification_token: str | None = BENCH_VERIFICATION_TOKEN,
    text: str = "hello from the load generator",
    id_prefix: str | None = None,
) -> list[LoadRequest]:
    """``n`` distinct encrypted, signed ``im.message.receive_v1`` requests (unique event ids).

    Event ids are ``<prefix>-<i>`` (the prefix is random unless given), so a server log can be
    checked for every one of them.
    """
    from lark_events_core.testing import make_event, sign_event

    prefix = id_prefix or uuid.uuid4().hex[:12]
    content = json.dumps({"text": text})
    out: list[LoadRequest] = []
    for i in range(n):
        event_id = f"{prefix}-{i}"
        event = {
            "sender": {
                "sender_id": {"open_id": "ou_bench", "user_id": "u_bench", "union_id": "on_b"},
                "sender_type": "user",
                "tenant_key": "tenant_bench",
            },
            "message": {
                "message_id": f"om_{event_id}",
                "create_time": "1700000000000",
                "chat_id": "oc_bench",
                "chat_type": "p2p",
                "message_type": "text",
                "content": content,
            },
        }
        payload = make_event(
            "im.message.receive_v1", event, token=verification_token, event_id=event_id
        )
        signed = sign_event(payload, encrypt_key=encrypt_key)
        out.append(LoadRequest(signed.body, dict(signed.headers), event_id))
    return out


def _write_requests(requests: Sequence[LoadRequest], path: Path, url_path: str) -> None:
    """The shared request file: per request, method, path, body, header count, header lines."""
    with path.open("wb") as f:
        for req in requests:
            if b"\n" in req.body or b"\r" in req.body:
                raise ValueError("request bodies must not contain line breaks")
            lines = [req.method, url_path]
            f.write(("\n".join(lines) + "\n").encode())
            f.write(req.body + b"\n")
            f.write(f"{len(req.headers)}\n".encode())
            for name, value in req.headers.items():
                f.write(f"{name}: {value}\n".encode())


def _read_requests(path: Path) -> list[tuple[str, str, bytes, dict[str, str]]]:
    out: list[tuple[str, str, bytes, dict[str, str]]] = []
    with path.open("rb") as f:
        while True:
            method = f.readline()
            if not method:
                return out
            url_path = f.readline().decode().rstrip("\n")
            body = f.readline()[:-1]
            headers: dict[str, str] = {}
            for _ in range(int(f.readline())):
                name, _, value = f.readline().decode().rstrip("\n").partition(": ")
                headers[name] = value
            out.append((method.decode().strip(), url_path, body, headers))


# -- results -------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What a load run measured. Latencies are in milliseconds."""

    engine: str
    requests: int
    elapsed: float
    errors: int
    statuses: dict[int, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    wrapped: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        """Responses per second over the whole run."""
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def non_2xx(self) -> int:
        """Responses whose status was not 2xx."""
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def summary(self) -> str:
        """One human-readable line."""
        lat = " ".join(f"{k}={v:.2f}ms" for k, v in self.latency_ms.items())
        return (
            f"{self.rps:9.1f} req/s  {self.requests} responses in {self.elapsed:.2f}s  "
            f"errors={self.errors} non2xx={self.non_2xx}  {lat}  [{self.engine}]"
            + ("  (request pool wrapped: ids repeated)" if self.wrapped else "")
        )


# -- engines -------------------------------------------------------------------------------------

_WRK_LUA = r"""
local all_threads = {}
local next_tid = 0
function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(all_threads, thread)
end

function init(args)
  local file, count, nthreads = args[1], tonumber(args[2]), tonumber(args[3])
  donedir = args[4]
  local f = assert(io.open(file, "rb"))
  local all = {}
  while true do
    local method = f:read("*l")
    if not method then break end
    local path = f:read("*l")
    local body = f:read("*l")
    local k = tonumber(f:read("*l"))
    local headers = {}
    for _ = 1, k do
      local line = f:read("*l")
      local name, value = line:match("^([^:]+): (.*)$")
      headers[name] = value
    end
    table.insert(all, wrk.format(method, path, headers, body))
  end
  f:close()
  reqs = {}
  for i = tid, #all, nthreads do table.insert(reqs, all[i]) end
  limit = 0
  if count > 0 then
    for _ = tid, count, nthreads do limit = limit + 1 end
  end
  idx = 0
  responses = 0
  wrapped = 0
  statuses = {}
end

function request()
  idx = idx + 1
  if idx > #reqs then
    idx = 1
    wrapped = 1
  end
  return reqs[idx]
end

function response(status, headers, body)
  responses = responses + 1
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if limit > 0 and responses == limit then
    -- wrk's main thread sleeps for the whole -d; a marker file tells Python to SIGINT it once
    -- every thread has reached its share. The thread keeps sending meanwhile: stopping it could
    -- leave a connected socket without a request, which blocks a sync server (gunicorn) worker.
    local marker = io.open(donedir .. "/" .. tid, "w")
    if marker then marker:close() end
  end
end

local function q(s) return '"' .. s .. '"' end

function done(summary, latency, requests)
  local statuses_out, wrapped_any = {}, 0
  for _, thread in ipairs(all_threads) do
    local st = thread:get("statuses") or {}
    for k, v in pairs(st) do statuses_out[k] = (statuses_out[k] or 0) + v end
    if thread:get("wrapped") == 1 then wrapped_any = 1 end
  end
  local parts = {}
  for k, v in pairs(statuses_out) do table.insert(parts, q(k) .. ":" .. v) end
  local e = summary.errors
  io.write("LOADJSON {",
    q("duration_us"), ":", summary.duration, ",",
    q("requests"), ":", summary.requests, ",",
    q("errors"), ":{", q("connect"), ":", e.connect, ",", q("read"), ":", e.read, ",",
      q("write"), ":", e.write, ",", q("timeout"), ":", e.timeout, ",", q("status"), ":",
      e.status, "},",
    q("statuses"), ":{", table.concat(parts, ","), "},",
    q("wrapped"), ":", wrapped_any, ",",
    q("p50"), ":", latency:percentile(50), ",",
    q("p90"), ":", latency:percentile(90), ",",
    q("p99"), ":", latency:percentile(99), ",",
    q("max"), ":", latency.max, "}\n")
end
"""


def find_wrk(*, install: bool = False) -> str | None:
    """The path of ``wrk``; with ``install=True`` try ``apt-get install -y wrk`` when missing."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
        )
    return shutil.which("wrk")


def _run_wrk(
    wrk: str,
    url: str,
    req_file: Path,
    *,
    concurrency: int,
    count: int | None,
    duration: float | None,
    threads: int,
    timeout: float,
    max_seconds: float,
) -> LoadResult:
    threads = max(1, min(threads, concurrency))
    lua = req_file.parent / "load.lua"
    lua.write_text(_WRK_LUA)
    done_dir = req_file.parent / "done"
    done_dir.mkdir()
    seconds = max(1, math.ceil(duration if duration is not None else max_seconds))
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{seconds}s",
        f"--timeout={max(1, math.ceil(timeout))}s",
        "-s",
        str(lua),
        url,
        "--",
        str(req_file),
        str(count or 0),
        str(threads),
        str(done_dir),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if count:
            deadline = time.monotonic() + seconds + 30
            while proc.poll() is None and time.monotonic() < deadline:
                if len(os.listdir(done_dir)) >= threads:
                    proc.send_signal(signal.SIGINT)  # wrk then reports and exits
                    break
                time.sleep(0.01)
        stdout, stderr = proc.communicate(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    line = next((x for x in stdout.splitlines() if x.startswith("LOADJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {stderr.strip()[:500]}")
    data = json.loads(line[len("LOADJSON ") :])
    statuses = {int(k): int(v) for k, v in data["statuses"].items()}
    socket_errors = sum(int(v) for k, v in data["errors"].items() if k != "status")
    return LoadResult(
        engine=f"wrk -t{threads} -c{concurrency}",
        requests=int(data["requests"]),
        elapsed=data["duration_us"] / 1e6,
        errors=socket_errors + sum(n for s, n in statuses.items() if s >= 400),
        statuses=statuses,
        latency_ms={k: data[k] / 1000.0 for k in ("p50", "p90", "p99", "max")},
        wrapped=bool(data["wrapped"]),
        detail={"socket_errors": data["errors"]},
    )


async def _python_engine(
    url: str,
    req_file: Path,
    concurrency: int,
    count: int | None,
    duration: float | None,
    timeout: float,
    max_seconds: float,
) -> dict[str, Any]:
    import aiohttp

    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    reqs = _read_requests(req_file)
    if not reqs:
        raise ValueError("no requests to send")
    target = count if count is not None else None
    stop_at = time.monotonic() + (duration if duration is not None else max_seconds)
    state = {"next": 0, "done": 0, "errors": 0, "wrapped": 0}
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop_at:
            i = state["next"]
            if target is not None and i >= target:
                return
            state["next"] = i + 1
            if i >= len(reqs):
                state["wrapped"] = 1
            method, path, body, headers = reqs[i % len(reqs)]
            started = time.perf_counter()
            try:
                async with session.request(method, base + path, data=body, headers=headers) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    if r.status >= 400:
                        state["errors"] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                state["errors"] += 1
            latencies.append(time.perf_counter() - started)
            state["done"] += 1

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000

    return {
        "requests": state["done"],
        "elapsed": elapsed,
        "errors": state["errors"],
        "statuses": {str(k): v for k, v in statuses.items()},
        "wrapped": state["wrapped"],
        "latency_ms": {
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "max": latencies[-1] * 1000 if latencies else 0.0,
        },
    }


def _run_python(
    url: str,
    req_file: Path,
    *,
    concurrency: int,
    count: int | None,
    duration: float | None,
    timeout: float,
    max_seconds: float,
) -> LoadResult:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        str(req_file),
        url,
        "-c",
        str(concurrency),
        "--timeout",
        str(timeout),
        "--max-seconds",
        str(max_seconds),
    ]
    if count is not None:
        argv += ["--count", str(count)]
    if duration is not None:
        argv += ["--duration", str(duration)]
    limit = (duration if duration is not None else max_seconds) + 60
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("LOADJSON ")), None)
    if line is None:
        raise RuntimeError(f"python load worker failed: {proc.stderr.strip()[-500:]}")
    data = json.loads(line[len("LOADJSON ") :])
    return LoadResult(
        engine=f"python-aiohttp -c{concurrency}",
        requests=data["requests"],
        elapsed=data["elapsed"],
        errors=data["errors"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        latency_ms=data["latency_ms"],
        wrapped=bool(data["wrapped"]),
    )


def run_load(
    url: str,
    requests: Sequence[LoadRequest],
    *,
    concurrency: int = 32,
    count: int | None = None,
    duration: float | None = None,
    engine: Engine = "auto",
    threads: int = 1,
    timeout: float = 10.0,
    max_seconds: float = 120.0,
) -> LoadResult:
    """Drive ``url`` with ``concurrency`` connections for ``count`` responses or ``duration`` s.

    Exactly one of ``count`` and ``duration`` must be given. ``threads`` is wrk's thread count
    (ignored by the Python engine). Pre-generate at least ``count + concurrency`` requests so that
    no event id repeats.
    """
    if (count is None) == (duration is None):
        raise ValueError("give exactly one of count= and duration=")
    if not requests:
        raise ValueError("no requests to send")
    url_path = urlsplit(url).path or "/"
    wrk = find_wrk() if engine in ("auto", "wrk") else None
    if engine == "wrk" and wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="lark-load-") as tmp:
        req_file = Path(tmp) / "requests.txt"
        _write_requests(requests, req_file, url_path)
        if wrk is not None:
            return _run_wrk(
                wrk,
                url,
                req_file,
                concurrency=concurrency,
                count=count,
                duration=duration,
                threads=threads,
                timeout=timeout,
                max_seconds=max_seconds,
            )
        return _run_python(
            url,
            req_file,
            concurrency=concurrency,
            count=count,
            duration=duration,
            timeout=timeout,
            max_seconds=max_seconds,
        )


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A server process started by :func:`serve`."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s")


@contextlib.contextmanager
def serve(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 30.0,
) -> Iterator[RunningServer]:
    """Start ``argv`` on a free port (``{port}`` replaced, ``PORT`` set), wait, stop afterwards.

    The venv's ``bin`` comes first on ``PATH`` so ``gunicorn``/``uvicorn`` resolve to it; the
    working directory defaults to the repository root. The process group gets SIGTERM, then
    SIGKILL after 15 s.
    """
    port = free_port()
    full_env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env["PATH"] = f"{VENV_BIN}{os.pathsep}{full_env.get('PATH', '')}"
    log_file = tempfile.NamedTemporaryFile(prefix="lark-bench-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [a.replace("{port}", str(port)) for a in argv],
        env=full_env,
        cwd=str(cwd or ROOT),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = RunningServer(proc, port, Path(log_file.name))
    try:
        try:
            _wait_for_port(port, proc, timeout)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n--- server output ---\n{server.log()[-3000:]}") from exc
        yield server
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log_file.close()
        with contextlib.suppress(OSError):
            os.unlink(log_file.name)


# -- command line ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python benchmarks/_load.py URL --count N`` (or ``--duration S``) against a running app."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--worker", metavar="REQUEST_FILE", help=argparse.SUPPRESS)
    parser.add_argument("url")
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("--count", type=int)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--engine", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--encrypt-key", default=BENCH_ENCRYPT_KEY)
    parser.add_argument("--verification-token", default=BENCH_VERIFICATION_TOKEN)
    args = parser.parse_args(argv)
    if args.worker:
        data = asyncio.run(
            _python_engine(
                args.url,
                Path(args.worker),
                args.concurrency,
                args.count,
                args.duration,
                args.timeout,
                args.max_seconds,
            )
        )
        print("LOADJSON " + json.dumps(data), flush=True)
        return 0
    if args.count is None and args.duration is None:
        args.count = 2000
    n = (args.count or 20_000) + args.concurrency
    reqs = make_event_requests(
        n, encrypt_key=args.encrypt_key, verification_token=args.verification_token
    )
    result = run_load(
        args.url,
        reqs,
        concurrency=args.concurrency,
        count=args.count,
        duration=args.duration,
        engine=args.engine,
        timeout=args.timeout,
        max_seconds=args.max_seconds,
    )
    print(result.summary())
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
