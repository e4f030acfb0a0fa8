"""The benchmark cases whose results are pinned bit for bit (issue 15).

Each case is one `allocate` call on a `random_table` group; `digest` reduces
its result to one SHA-256 per part (the continuous ideal, the rounded
amounts, the reasons, the metrics after, the dispersion summary, the solver's
report, the warnings), so a change that moves any bit says which part moved.

History: the fixture was written from the code before issue 15. Taking
BLAS out of the continuous step (pairwise numpy sums instead of ``w @ x``)
moved only the continuous ideal, by at most 6.4e-7 face (relative 4e-10,
well inside the solver's 1e-9 tolerance; only where the mean is searched
for or several metrics are summed), and the reported objective, by at most
45 ulp. Those two parts of the min-dispersion cases were re-pinned then;
every other part (amounts, reasons, messages, metrics, dispersion summaries,
warnings) is still the pre-issue-15 digest. The new sums are the same bits
on every machine and BLAS thread count, which BLAS dot products were not.
Issue 16 (commit 4f67449) then weighted every dispersion summary by NAV
unless the engine says otherwise: the dispersion part was re-pinned, the
others did not move.

Issue 10 solves groups of up to 5,000 accounts in a canonical order (by NAV,
then id) so that no result depends on input order. That reorders the sums of
the 1,000-account cases: their continuous ideal moved by at most 1.5e-8 face
(relative 1.5e-13) and the min-dispersion objective by a few ulp; those two
parts were re-pinned. Amounts, reasons, metrics, summaries and warnings are
unchanged, and the 10,000- and 100,000-account cases did not move at all.
Issue 10 then extended the canonical order to 50,000 accounts (a
6,000-account sale changed with the order of its accounts): the 10,000-account
ideals moved by ulps (at most 6.7e-8 face, relative 3e-11), two equal-weight
summaries and objectives by one or a few ulp. Those parts were re-pinned;
amounts, reasons and metrics did not move.

Regenerate the fixture (only when a change of results is intended, and say so
in the commit)::

    PYTHONPATH=src python tests/reference_cases.py
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import orderalloc as oa
from orderalloc.testing.strategies import random_table

FIXTURE = Path(__file__).parent / "data" / "reference_results.json"

#: The min-dispersion benchmark's bond (benchmarks/bench_min_dispersion.py).
IG_BOND = oa.Security(
    id="IGBENCH",
    price=97.25,
    accrued=1.1,
    min_piece=2_000,
    increment=1_000,
    analytics={"spread_duration": 6.5, "duration": 7.0},
)

#: The pro-rata benchmark's bond (benchmarks/bench_pro_rata.py).
PR_BOND = oa.Security(
    id="BENCH", price=99.0, min_piece=2_000, increment=1_000, analytics={"spread_duration": 4.0}
)

SIZES = (1_000, 10_000, 100_000)


def _columns(table: oa.AccountTable) -> dict[str, Any]:
    """The table as a plain dict of columns (the ``dict in`` benchmark input)."""
    return {
        "ids": list(table.ids),
        "nav": table.nav,
        "cash": table.cash,
        "holdings": dict(table.holdings),
        "metrics": dict(table.metrics),
        "restricted": dict(table.restricted),
    }


def cases() -> Iterator[tuple[str, Callable[[bool], oa.AllocationResult]]]:
    """``(name, run)`` pairs; ``run(as_dict)`` allocates from a table or a dict of columns."""
    for n in SIZES:
        ig = random_table(n, security=IG_BOND, seed=n)
        pr = random_table(n, security=PR_BOND, seed=n)
        buy = oa.Order(security=IG_BOND, side="BUY", quantity=float(min(n * 100_000, 2e9)))
        sell = oa.Order(security=PR_BOND, side="SELL", quantity=float(n * 500))
        md: dict[str, dict[str, Any]] = {
            "nav": {},
            "equal": {"weighting": "equal"},
            "target": {"target": 5.0},
            "two_metrics_equal": {"metric": ("spread_duration", "duration"), "weighting": "equal"},
        }
        for label, params in md.items():
            yield (
                f"min_dispersion_{label}_{n}",
                _runner(buy, ig, "min_dispersion", params),
            )
        for quantity in (5e6, 100e6, 1e9):
            order = oa.Order(security=PR_BOND, side="BUY", quantity=quantity)
            yield f"pro_rata_{quantity:.0e}_{n}", _runner(order, pr, "pro_rata", {})
        yield f"pro_rata_sell_{n}", _runner(sell, pr, "pro_rata", {})


def _runner(
    order: oa.Order, table: oa.AccountTable, method: str, params: dict[str, Any]
) -> Callable[[bool], oa.AllocationResult]:
    def run(as_dict: bool) -> oa.AllocationResult:
        accounts: Any = _columns(table) if as_dict else table
        return oa.allocate(order, accounts, method=method, **params)

    return run


def _hash(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str(part.dtype).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, float):
            h.update(struct.pack("<d", part))
        else:
            h.update(repr(part).encode())
    return h.hexdigest()[:24]


def digest(result: oa.AllocationResult) -> dict[str, str]:
    """One short hash per part of *result* (every bit of every float counts)."""
    summaries = []
    for name, s in result.dispersion.items():
        summaries += [
            name,
            s.std_before,
            s.std_after,
            s.max_deviation_before,
            s.max_deviation_after,
            "none" if s.std_optimum is None else s.std_optimum,
        ]
    solver = result.solver
    return {
        "ideal": _hash(result.ideal, result.share, result.cap),
        "quantity": _hash(result.quantity),
        "reasons": _hash(result.reason_codes.astype(np.int64)),
        "messages": _hash(*(result.message(i) for i in range(0, len(result), 97))),
        "metrics": _hash(*(v for _, v in sorted(result.post_metrics.items()))),
        "dispersion": _hash(*summaries),
        "solver": _hash(
            "none"
            if solver is None
            else (solver.backend, solver.status, solver.iterations, solver.objective)
        ),
        "warnings": _hash(result.warnings, result.unallocated_reason),
    }


def main() -> None:
    """Write the fixture from the code as it is now."""
    out = {name: digest(run(False)) for name, run in cases()}
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(out)} cases to {FIXTURE}")


if __name__ == "__main__":
    main()
