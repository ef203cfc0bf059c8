"""Import cost of ``lark_events_core``: this checkout against a base commit, in alternating runs.

Both package trees are copied to a temporary directory (the base with ``git archive``, this
checkout's working tree as it is) and put first on ``PYTHONPATH``, so both import the same way.
Each round runs, for each variant in alternating order, one fresh interpreter under
``-X importtime`` (the sum of the top-level imports' cumulative times after ``site``) and one
that times the statement with ``time.perf_counter`` and ``time.process_time`` and reads its peak
RSS (``VmHWM``). Medians over the rounds, and the median of the per-round ratios.

By default the bytecode is compiled once before the rounds, as a wheel installed by pip is;
``--source`` measures without bytecode (``PYTHONDONTWRITEBYTECODE``, no ``__pycache__``): every
run compiles the package's sources again, as a checkout under that variable does.

    .venv/bin/python benchmarks/bench_import.py [--base main] [--rounds 11] [--source]
        [--statement "import lark_events_core"] [--pre "import flask"]

``--pre`` runs before the timer (a framework that the app imports anyway); the ``-X importtime``
total then includes it, so read the timed figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "lark_events_core"

_PROBE = """
{pre}
import time
wall, cpu = time.perf_counter(), time.process_time()
{statement}
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
with open("/proc/self/status") as status:
    hwm_kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print(wall, cpu, hwm_kb)
"""


def _copy_trees(base: str, into: Path) -> dict[str, Path]:
    """``{"base": dir, "this": dir}``, each holding a copy of the package."""
    trees = {"base": into / "base", "this": into / "this"}
    trees["base"].mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", base, PACKAGE],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(trees["base"])], input=archive, check=True)
    shutil.copytree(
        ROOT / PACKAGE,
        trees["this"] / PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return trees


def _env(tree: Path, source: bool) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    if source:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _importtime_total(stderr: str) -> float:
    """Milliseconds: the top-level imports after ``site``, cumulative."""
    total, after_site = 0, False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if name == " site":
            after_site = True
        elif after_site and not name.startswith("  "):
            total += int(cumulative)
    return total / 1000


def _run(tree: Path, code: str, source: bool, importtime: bool) -> str:
    args = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", code]
    done = subprocess.run(
        args, env=_env(tree, source), cwd=tree, check=True, capture_output=True, text=True
    )
    return done.stderr if importtime else done.stdout


def main(argv: list[str] | None = None) -> int:
    """Measure and print medians, then the per-round ratios of this checkout to the base."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=11, help="alternating rounds")
    parser.add_argument("--statement", default=f"import {PACKAGE}", help="what is timed")
    parser.add_argument("--pre", default="", help="run before the timer")
    parser.add_argument("--source", action="store_true", help="no bytecode: compile every run")
    args = parser.parse_args(argv)

    code = _PROBE.format(pre=args.pre, statement=args.statement)
    figures: dict[str, dict[str, list[float]]] = {}
    load_before = os.getloadavg()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.base],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        trees = _copy_trees(args.base, Path(tmp))
        if not args.source:
            for tree in trees.values():  # compile once, as pip does at install
                _run(tree, f"{args.pre}\n{args.statement}", False, False)
        for name in trees:
            figures[name] = {"importtime": [], "wall": [], "cpu": [], "rss": []}
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
            for name in order:
                tree, rows = trees[name], figures[name]
                rows["importtime"].append(
                    _importtime_total(_run(tree, code, args.source, importtime=True))
                )
                wall, cpu, hwm_kb = _run(tree, code, args.source, importtime=False).split()
                rows["wall"].append(float(wall) * 1000)
                rows["cpu"].append(float(cpu) * 1000)
                rows["rss"].append(float(hwm_kb) / 1024)
    load_after = os.getloadavg()

    mode = "compiling the sources every run" if args.source else "bytecode compiled once"
    print(f"python {sys.version.split()[0]}; {args.rounds} alternating rounds; {mode}")
    print(f"statement: {args.statement!r}" + (f" after {args.pre!r}" if args.pre else ""))
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"  {'':14s} {'-X importtime':>14s} {'wall':>14s} {'CPU':>14s} {'peak RSS':>9s}")
    for name, rows in figures.items():
        cells = [
            f"{statistics.median(rows[k]):6.1f} ({min(rows[k]):5.1f})"
            for k in ("importtime", "wall", "cpu")
        ]
        label = f"base {commit}" if name == "base" else "this checkout"
        print(f"  {label:14s} " + " ".join(f"{c:>14s}" for c in cells), end="")
        print(f" {statistics.median(rows['rss']):6.1f} MB")
    print("  medians in ms (minimum in brackets)")
    print("ratios this / base, median of the rounds:")
    for key in ("importtime", "wall", "cpu", "rss"):
        pairs = zip(figures["this"][key], figures["base"][key], strict=True)
        print(f"  {key:10s} {statistics.median(a / b for a, b in pairs):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
