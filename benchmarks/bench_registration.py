"""Registration benchmark: the cost of registering many callback types on one dispatcher.

Registration used to rebuild the callback-type set each time (quadratic); now it is linear.
Run it on two checkouts to compare (``PYTHONPATH=<other checkout>:<other checkout>/integrations``):

    .venv/bin/python benchmarks/bench_registration.py [--types 30000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lark_events_core import Dispatcher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", type=int, default=30000)
    args = parser.parse_args()
    dispatcher = Dispatcher("bench-registration-key", "bench-registration-token")
    start = time.perf_counter()
    for i in range(args.types):
        dispatcher.on(f"custom.callback_{i}", lambda event: None, callback=True)
    each = (time.perf_counter() - start) / args.types
    print(f"{args.types} callback registrations: {each * 1e6:.1f} us each")


if __name__ == "__main__":
    main()
