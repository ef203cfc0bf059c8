"""Instructions per request of bench_core's variants under valgrind: a figure the load cannot move.

    .venv/bin/python benchmarks/bench_instructions.py [--requests 2000] [--base DIR] [VARIANT ...]

Each variant runs in a fresh interpreter under ``valgrind --tool=callgrind --cache-sim=no`` with
``PYTHONHASHSEED=0``, twice: once handling ``--requests`` requests after the warm-up, once the
warm-up alone; the difference divided by ``--requests`` is what one request costs, set-up,
imports and warm-up excluded. Variants (``bench_core.py``'s, built by its functions):

- ``core``: ``Request.build`` + ``Dispatcher.handle``, deduplication off, distinct events;
- ``core-environ``: the same core as the Flask and Django adapters drive it: the headers in a
  WSGI ``environ`` read through ``EnvironHeaders`` and the ``Request`` made directly, so no
  ``Request.build`` and no check of a dict's header names (the aiohttp adapter's view is alike);
- ``core-dedup``: the same events with the in-memory store on;
- ``raw``: the core with a handler that reads the raw dict, the same bytes each time;
- ``floor``: ``benchmarks/_floor.py``'s fastest correct implementation of the unavoidable work,
  over the same distinct events;
- ``floor-dedup``: the floor with a ``set`` of event ids;
- ``floor-claims``: the floor with the claims of ``_floor.claim_floor`` instead: the least a store
  with the in-memory store's promises (claimed while handled, done after, expiry, takeover,
  a fixed size per key, threads) must do, without its bounds;
- ``floor-bounded``: the floor with ``_floor.bounded_claims``: those claims with an entry bound
  (two generations, the claim under the lock), behind a two-function API.

``--base DIR`` puts another tree first on ``PYTHONPATH`` (``git archive REV | tar -x -C DIR``)
and counts the core variants there too, with the same interpreter: a before/after in one run.
``--breakdown [VARIANT]`` counts ``core`` (or ``core-environ``, ``core-dedup``: the variants over
the floor's distinct events) and ``floor`` alone and says where the core's instructions above
the floor go: each function's own instructions (``callgrind_annotate --inclusive=no``) per
request, the core's minus the floor's, grouped by what the function does (:data:`CATEGORIES`).
``--child`` is the worker's own mode. Ratios are printed last.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks._floor import Dedup

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = (
    "core",
    "core-environ",
    "core-dedup",
    "raw",
    "floor",
    "floor-dedup",
    "floor-claims",
    "floor-bounded",
)
WARMUP = 50
#: The variants ``--breakdown`` can set against the floor: the core over the same distinct events.
BREAKDOWN = ("core", "core-environ", "core-dedup")
_FLOOR_DEDUP: dict[str, Dedup] = {
    "floor-dedup": True,
    "floor-claims": "claims",
    "floor-bounded": "bounded",
}
_TOTALS = re.compile(rb"^(?:summary|totals): (\d+)", re.MULTILINE)
#: A line of ``callgrind_annotate``: "1,234 (0.5%)  file:function [object]".
_FUNCTION = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.+?)(?: \[.*\])?$", re.MULTILINE)
TOP = 15
#: ``--breakdown``'s categories: a function's name holding one of the patterns (CPython's and
#: msgspec's names), the first that matches.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the interpreter running Python code", ("_PyEval_EvalFrameDefault",)),
    (
        "Python frames made and cleared",
        ("_PyFrame_", "initialize_locals", "_PyEvalFramePushAndInit", "_PyThreadState_PopFrame"),
    ),
    ("msgspec decoding and its Structs", ("json_", "Struct_", "ms_")),
    (
        "objects allocated and freed",
        ("obmalloc.c", "_Py_NewReference", "GenericAlloc", "_PyObject_GC_New", "dealloc"),
    ),
    (
        # Headers' check of a dict's names; str.encode's codec lookup is not counted here: the
        # signature and the token are encoded with a codec name too.
        "header names (join, case checks)",
        ("istitle", "islower", "bytes_lower", "_PyUnicode_JoinArray"),
    ),
)


def child(variant: str, total: int, run: int) -> None:
    """Build ``total`` distinct requests, warm up, then handle ``run`` more of them."""
    sys.path.append(str(ROOT))  # appended: a base tree given first on PYTHONPATH wins
    import lark_events_core
    from benchmarks import _floor, bench_core
    from lark_events_core import MemoryDedupStore

    print(f"lark_events_core from {Path(lark_events_core.__file__).parent}", file=sys.stderr)

    requests = [bench_core.sample_request(f"{i:032x}") for i in range(WARMUP + total)]
    fast_outer = _floor.msgspec_outer() or _floor.stdlib_outer
    fast_read = _floor.typed_reader() or _floor.dict_reader
    one: Callable[[], Any]
    if variant == "core":
        one, seen = bench_core.ours(requests)
    elif variant == "core-environ":
        one, seen = bench_core.ours(requests, environ=True)
    elif variant == "core-dedup":
        store = MemoryDedupStore(max_entries=10_000_000, max_bytes=2**40)
        one, seen = bench_core.ours(requests, store)
    elif variant == "raw":
        one, seen = bench_core.ours_raw(*requests[0])
    elif variant == "floor":
        one, seen = bench_core.floor(requests, fast_outer, fast_read)
    else:  # floor-dedup, floor-claims, floor-bounded
        dedup = _FLOOR_DEDUP[variant]
        one, seen = bench_core.floor(requests, fast_outer, fast_read, dedup=dedup)
    for _ in range(WARMUP + run):
        one()
    if len(seen) != WARMUP + run:  # every request must have reached the handler
        raise SystemExit(f"{variant}: {len(seen)} handled of {WARMUP + run}")


def count(variant: str, total: int, run: int, base: Path | None, keep: Path | None = None) -> int:
    """Instructions of one child run under callgrind; its output file copied to ``keep``."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    path = [str(base)] if base is not None else []
    env["PYTHONPATH"] = os.pathsep.join([*path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--cache-sim=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            variant,
            "--requests",
            str(total),
            "--run",
            str(run),
        ]
        done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        if base is not None and f"lark_events_core from {base}" not in done.stderr:
            raise SystemExit(f"the child did not import lark_events_core from {base}")
        found = _TOTALS.search(out.read_bytes())
        if keep is not None:
            shutil.copyfile(out, keep)
    if found is None:
        raise SystemExit("callgrind wrote no totals")
    return int(found.group(1))


def per_request(variant: str, requests: int, base: Path | None, keep: Path | None = None) -> float:
    """Instructions per request: ``requests`` handled minus none, divided; with ``keep`` (a
    directory), the two runs' callgrind files kept there as ``VARIANT.REQUESTS`` and
    ``VARIANT.0``."""
    handled, none = (
        count(variant, requests, run, base, None if keep is None else keep / f"{variant}.{run}")
        for run in (requests, 0)
    )
    return (handled - none) / requests


def by_function(path: Path) -> Counter[str]:
    """Instructions spent in each function itself (not its callees), from callgrind_annotate."""
    shown = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    costs: Counter[str] = Counter()
    for found in _FUNCTION.finditer(shown):
        name = found.group(2)
        if name != "PROGRAM TOTALS":
            # "dir/file.c:function'2" (a recursion level) counts as the function itself.
            costs[name.rsplit("/", 1)[-1].split("'")[0]] += int(found.group(1).replace(",", ""))
    return costs


def category(function: str) -> str:
    """The first of :data:`CATEGORIES` whose patterns ``function`` holds, else "other"."""
    for name, patterns in CATEGORIES:
        if any(pattern in function for pattern in patterns):
            return name
    return "other"


def breakdown(requests: int, ours: str = "core") -> None:
    """Where the instructions of ``ours`` (a core variant) above the floor go: per request, by
    category of function."""
    per: dict[str, Counter[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in (ours, "floor"):
            per_request(variant, requests, None, Path(tmp))
            handled = by_function(Path(tmp) / f"{variant}.{requests}")
            handled.subtract(by_function(Path(tmp) / f"{variant}.0"))
            per[variant] = handled
    core, floor = per[ours], per["floor"]
    functions = sorted(set(core) | set(floor))
    extra = {name: (core[name] - floor[name]) / requests for name in functions}
    print(f"{ours} above the floor, by what the functions do (per request, instructions):")
    totals = dict.fromkeys([name for name, _ in CATEGORIES] + ["other"], 0.0)
    for name in functions:
        totals[category(name)] += extra[name]
    for name, total in totals.items():
        print(f"  {name:44s} {total:+10,.0f}")
    print(f"  {'all':44s} {sum(totals.values()):+10,.0f}")
    print("the functions that add the most:")
    for name in sorted(functions, key=lambda function: -extra[function])[:TOP]:
        print(f"  {name[:60]:60s} {extra[name]:+8,.0f}  ({category(name)})")


def main(argv: list[str] | None = None) -> int:
    """Count each variant (and each core variant on ``--base``), then print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("variants", nargs="*", help=f"of {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--requests", type=int, default=2000, help="requests counted")
    parser.add_argument("--base", type=Path, help="a tree to count the core variants on too")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="instead: where the instructions of the core (or the one core variant given) "
        "above the floor go, by function",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.requests, args.run)
        return 0
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    variants = args.variants or list(VARIANTS)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    if args.breakdown:
        ours = args.variants or ["core"]
        if len(ours) > 1 or ours[0] not in BREAKDOWN:
            parser.error(f"--breakdown takes one variant at most, of {', '.join(BREAKDOWN)}")
        print(f"python {sys.version.split()[0]}, PYTHONHASHSEED=0; {args.requests} requests")
        breakdown(args.requests, ours[0])
        return 0

    print(
        f"python {sys.version.split()[0]}, PYTHONHASHSEED=0, valgrind --tool=callgrind "
        f"--cache-sim=no; {args.requests} requests minus none, after {WARMUP} of warm-up"
    )
    counts: dict[str, float] = {}
    for variant in variants:
        trees: list[tuple[str, Path | None]] = [(variant, None)]
        if args.base is not None and not variant.startswith("floor"):
            trees.insert(0, (f"{variant} (base)", args.base.resolve()))
        for label, tree in trees:
            counts[label] = per_request(variant, args.requests, tree)
            print(f"  {label:20s} {counts[label]:10,.0f} instructions per request", flush=True)

    print("ratios (same run):")
    floor = counts.get("floor")
    for variant in ("core", "core-environ", "raw"):
        for label in (f"{variant} (base)", variant):
            if floor and label in counts:
                ratio = counts[label] / floor
                print(f"  {label + ' / floor':28s} {ratio:6.3f}x (target <= 1.3x)")
    for suffix in (" (base)", ""):
        core, dedup = counts.get("core" + suffix), counts.get("core-dedup" + suffix)
        if core and dedup:
            print(f"  {'dedup overhead' + suffix:28s} {dedup / core - 1:+7.2%} (target < 5%)")
    floor_dedup = counts.get("floor-dedup")
    if floor and floor_dedup:
        print(f"  {'the floor set':28s} {floor_dedup / floor - 1:+7.2%}")
    core, dedup = counts.get("core"), counts.get("core-dedup")
    for variant, label in (("floor-claims", "claims"), ("floor-bounded", "bounded claims")):
        claims = counts.get(variant)
        if floor and claims:
            print(f"  {'the floor ' + label:28s} {claims / floor - 1:+7.2%}")
            if core and dedup:
                added = (dedup - core) - (claims - floor)
                print(f"  {'  the store above them':28s} {added:+10,.0f} instructions per request")
    if "core (base)" in counts and "core" in counts:
        print(f"  {'core / core (base)':28s} {counts['core'] / counts['core (base)'] - 1:+7.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
