"""What exact rounding costs: today's `allocate` against the rounding of earlier revisions.

Reproduce with::

    python benchmarks/bench_rounding.py [--sizes 10000,100000] [--baselines 7f4cfad,c7e2a2d,f4b5be2]

Each baseline is the library as it was at a git revision (by default the
commit before issue 10's exact rounding, and the previous rounding, before
the open-set search, the centre search and canonical order at every size),
extracted with ``git archive`` into a temporary folder and imported under the
name ``orderalloc_<rev>`` in this same process, so all are timed in turns
(interleaved rounds, CPU time) on the same groups: realistic pro-rata buys of
three sizes and min dispersion with NAV and with equal weighting. The table
gives the least CPU time of each and the ratio new / baseline per round (min
/ median / max; above 1 is slower), plus the rounding gap the new result
reports.
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import orderalloc as oa
from _timing import write_table
from orderalloc.testing.strategies import random_table

ROOT = Path(__file__).resolve().parent.parent
BOND = oa.Security(
    id="BENCH", price=99.0, min_piece=2_000, increment=1_000, analytics={"spread_duration": 4.0}
)


def load_baseline(rev: str, name: str = "orderalloc_base") -> ModuleType:
    """The package at *rev*, importable as *name* next to today's."""
    blob = subprocess.run(
        ["git", "archive", rev, "src/orderalloc"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    where = Path(tempfile.mkdtemp(prefix="orderalloc-base-"))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(where, filter="data")
    pkg = where / "src" / "orderalloc"
    for path in pkg.rglob("*.py"):
        text = path.read_text()
        path.write_text(re.sub(r"\borderalloc(?=[.\s])", name, text))
    target = where / "src" / name
    pkg.rename(target)
    sys.path.insert(0, str(where / "src"))
    return importlib.import_module(name)


def rebuild(base: ModuleType, table: oa.AccountTable) -> Any:
    """The same group as a baseline `AccountTable`."""
    return base.AccountTable(
        ids=table.ids,
        nav=table.nav,
        cash=table.cash,
        holdings=dict(table.holdings),
        metrics=dict(table.metrics),
        restricted=dict(table.restricted),
        max_face=table.max_face,
        max_pct_nav=table.max_pct_nav,
        min_allocation=table.min_allocation,
    )


_ABOUT = {
    "7f4cfad": "before issue 10",
    "c7e2a2d": "the previous rounding",
    "f4b5be2": (
        "main just before the open-set search, the centre search and canonical order "
        "to 50,000 accounts, with issue 15's speed work: this ratio is their cost alone"
    ),
}


def cpu_rounds(funcs: dict[str, Any], repeats: int) -> dict[str, list[float]]:
    """CPU seconds of each function, *repeats* interleaved rounds (one call each per round).

    CPU time (``time.process_time``), not wall time: the machine is shared,
    and CPU time is what a busy neighbour disturbs least.
    """
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for func in funcs.values():
        func()  # warm caches and lazy imports outside the timed rounds
    for _ in range(repeats):
        for name, func in funcs.items():
            t0 = time.process_time()
            func()
            times[name].append(time.process_time() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--baselines",
        default="7f4cfad,c7e2a2d,f4b5be2",
        help="git revisions: before issue 10, the previous rounding, main before the last one",
    )
    args = parser.parse_args()
    revs = args.baselines.split(",")
    bases = {rev: load_baseline(rev, f"orderalloc_{rev}") for rev in revs}
    cases: list[tuple[str, dict[str, Any], float]] = [
        ("pro_rata", {}, 5e6),
        ("pro_rata", {}, 100e6),
        ("pro_rata", {}, 1e9),
        ("min_dispersion", {"metric": "spread_duration"}, 25e6),
        ("min_dispersion", {"metric": "spread_duration", "weighting": "equal"}, 25e6),
    ]
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        table = random_table(n, security=BOND, seed=n)
        for method, params, quantity in cases:
            order = oa.Order(security=BOND, side="BUY", quantity=quantity)
            funcs: dict[str, Any] = {
                "new": lambda o=order, g=table, p=params, m=method: oa.allocate(o, g, method=m, **p)
            }
            for rev, base in bases.items():
                b_order = base.Order(
                    security=base.Security(
                        id="BENCH",
                        price=99.0,
                        min_piece=2_000,
                        increment=1_000,
                        analytics={"spread_duration": 4.0},
                    ),
                    side="BUY",
                    quantity=quantity,
                )
                b_table = rebuild(base, table)
                funcs[rev] = lambda o=b_order, g=b_table, p=params, m=method, b=base: b.allocate(
                    o, g, method=m, **p
                )
            times = cpu_rounds(funcs, args.repeats)
            result = funcs["new"]()
            assert isinstance(result, oa.AllocationResult)
            label = method + (" equal" if params.get("weighting") == "equal" else "")
            row: list[object] = [n, label, f"{quantity:,.0f}", f"{min(times['new']) * 1e3:.1f}"]
            for rev in revs:
                ratio = np.array(times["new"]) / np.array(times[rev])
                row += [
                    f"{min(times[rev]) * 1e3:.1f}",
                    f"{ratio.min():.2f} / {np.median(ratio):.2f} / {ratio.max():.2f}",
                ]
            row += [
                "n/a" if result.rounding_gap is None else f"{result.rounding_gap:.1e}",
                f"{result.unallocated:,.0f}",
            ]
            rows.append(row)
            print(rows[-1], flush=True)
    header = ["accounts", "method", "order", "new CPU ms (min)"]
    for rev in revs:
        header += [f"{rev} CPU ms (min)", f"new / {rev} min / median / max"]
    header += ["rounding gap", "unallocated"]
    text = write_table(
        "rounding",
        header,
        rows,
        "What exact rounding costs (issue 10): today's `allocate` against the library at "
        f"{', '.join(f'{r} ({_ABOUT.get(r, r)})' for r in revs)}; same process, "
        f"{args.repeats} interleaved rounds, CPU time per call "
        "(the machine is shared by several jobs; CPU time is least disturbed by them). "
        "Ratios are per round, new / baseline (above 1: slower). "
        f"`python benchmarks/bench_rounding.py --sizes {args.sizes} --repeats {args.repeats}`.",
    )
    print(text)


if __name__ == "__main__":
    main()
