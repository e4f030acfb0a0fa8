"""What exact rounding costs: today's `allocate` against the rounding before issue 10.

Reproduce with::

    python benchmarks/bench_rounding.py [--sizes 1000,10000,100000] [--baseline 7f4cfad]

The baseline is the library as it was at git revision ``--baseline`` (the
commit before the exact rounding, by default), extracted with ``git archive``
into a temporary folder and imported under the name ``orderalloc_base`` in
this same process, so both are timed in turns (interleaved best-of-k, see
``_timing.py``) on the same groups: realistic pro-rata buys of three sizes and
min dispersion with NAV and with equal weighting. The table gives both times
and their ratio (new / baseline: above 1 is slower), plus the rounding gap the
new result reports.
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
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import orderalloc as oa
from _timing import best_of, write_table
from orderalloc.testing.strategies import random_table

ROOT = Path(__file__).resolve().parent.parent
BOND = oa.Security(
    id="BENCH", price=99.0, min_piece=2_000, increment=1_000, analytics={"spread_duration": 4.0}
)


def load_baseline(rev: str) -> ModuleType:
    """The package at *rev*, importable as ``orderalloc_base`` next to today's."""
    blob = subprocess.run(
        ["git", "archive", rev, "src/orderalloc"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    where = Path(tempfile.mkdtemp(prefix="orderalloc-base-"))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(where, filter="data")
    pkg = where / "src" / "orderalloc"
    for path in pkg.rglob("*.py"):
        text = path.read_text()
        path.write_text(re.sub(r"\borderalloc(?=[.\s])", "orderalloc_base", text))
    target = where / "src" / "orderalloc_base"
    pkg.rename(target)
    sys.path.insert(0, str(where / "src"))
    return importlib.import_module("orderalloc_base")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--baseline", default="7f4cfad")
    args = parser.parse_args()
    base = load_baseline(args.baseline)
    base_bond = base.Security(
        id="BENCH", price=99.0, min_piece=2_000, increment=1_000, analytics={"spread_duration": 4.0}
    )
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
        base_table = rebuild(base, table)
        for method, params, quantity in cases:
            order = oa.Order(security=BOND, side="BUY", quantity=quantity)
            base_order = base.Order(security=base_bond, side="BUY", quantity=quantity)

            def new(
                o: Any = order, g: Any = table, p: dict[str, Any] = params, m: str = method
            ) -> object:
                return oa.allocate(o, g, method=m, **p)

            def old(
                o: Any = base_order,
                g: Any = base_table,
                p: dict[str, Any] = params,
                m: str = method,
            ) -> object:
                return base.allocate(o, g, method=m, **p)

            times: dict[str, list[float]] = {"new": [], "base": []}
            for _ in range(3):  # min / median / max over three best-of-k rounds
                best = best_of({"base": old, "new": new}, repeats=args.repeats)
                for k, v in best.items():
                    times[k].append(v)
            ratio = sorted(n_ / b_ for n_, b_ in zip(times["new"], times["base"], strict=True))
            result = new()
            assert isinstance(result, oa.AllocationResult)
            label = method + (" equal" if params.get("weighting") == "equal" else "")
            rows.append(
                [
                    n,
                    label,
                    f"{quantity:,.0f}",
                    f"{min(times['base']) * 1e3:.2f}",
                    f"{min(times['new']) * 1e3:.2f}",
                    f"{ratio[0]:.2f} / {ratio[1]:.2f} / {ratio[2]:.2f}",
                    "n/a" if result.rounding_gap is None else f"{result.rounding_gap:.1e}",
                    f"{result.unallocated:,.0f}",
                ]
            )
            print(rows[-1], flush=True)
    text = write_table(
        "rounding",
        [
            "accounts",
            "method",
            "order",
            "baseline ms",
            "new ms",
            "ratio min / median / max",
            "rounding gap",
            "unallocated",
        ],
        rows,
        "Exact rounding (issue 10) against the library before it (git "
        f"{args.baseline}), same process, interleaved best-of-{args.repeats}, three rounds "
        "(`python benchmarks/bench_rounding.py`).",
    )
    print(text)
    _ = np  # numpy is imported for the groups' columns


if __name__ == "__main__":
    main()
