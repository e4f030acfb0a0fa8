"""The rounding against exact integer optima, on thousands of generated groups of up to 40 accounts.

Reproduce with::

    python benchmarks/rounding_campaign.py [--groups 1000] [--start 0] [--jobs 2]

For every engine (pro-rata by NAV, custom weights, min dispersion with NAV and
with equal weighting) and every seed, `tests/rounding_cases.py` generates a
group (1 to 40 accounts), a bond with one of the denominations 2,000/1,000,
5,000/3,000, 7,000/4,000, 1,000/5,000, 10,000/1, 200,000/1,000, a buy or a
sell, cash, positions and minimum allocations. The answer of
``orderalloc.allocate`` is checked for every hard invariant
(`orderalloc.testing.check_allocation`) and compared with the exact optimum of
the engine's documented objective: a plain dynamic programme over totals where
its table fits, otherwise HiGHS with lazy secant cuts; for equal weighting,
whose mean moves with the split, brute force on up to 4 accounts and beyond
that a branch and bound over the centre with an exact programme at each
point (`tests/exact_rounding.py`). Each group is allocated again with its
accounts reversed and shuffled (ids travel with them). The table reports,
per engine, the groups judged, the distribution of the relative gap
``(objective - optimum) / optimum``, the share within 0.1%, invariant
violations, shortfalls against the largest legal total, answers that changed
with the order, reported gaps that were not true bounds, and the CPU seconds
spent (library and referees together).

``--jobs N`` spreads the seeds over N processes (the machine is shared: the
recorded run used 2).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _timing import write_table
from orderalloc.testing import check_allocation
from rounding_cases import ENGINES, allocate, judge, make_case


def run_one(engine: str, seed: int) -> dict[str, object]:
    """Judge one generated group: its gap, invariants, shortfall and order dependence."""
    started = time.process_time()
    case = make_case(seed, engine)
    out: dict[str, object] = {"engine": engine, "seed": seed, "n": len(case.accounts)}
    try:
        verdict = judge(case)
    except AssertionError as exc:  # the referee gave up (time limit)
        out["error"] = str(exc)
        out["cpu"] = time.process_time() - started
        return out
    result = allocate(case)
    try:
        check_allocation(result, case.accounts)
        out["violation"] = ""
    except AssertionError as exc:
        out["violation"] = str(exc)
    out["gap"] = verdict.gap
    out["shortfall"] = verdict.shortfall
    out["unsound"] = False
    if verdict.reported_gap is not None and verdict.value > 0:
        share = (verdict.value - verdict.optimum) / verdict.value
        out["unsound"] = share > verdict.reported_gap + 1e-6
    want = result.quantities
    shuffled = case.accounts[:]
    random.Random(seed).shuffle(shuffled)
    out["order_dependent"] = any(
        allocate(case, accounts).quantities != want for accounts in (case.accounts[::-1], shuffled)
    )
    out["cpu"] = time.process_time() - started
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=1000, help="groups per engine")
    parser.add_argument("--start", type=int, default=0, help="first seed")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--engines", nargs="*", default=list(ENGINES), choices=ENGINES)
    args = parser.parse_args()
    tasks = [(e, s) for e in args.engines for s in range(args.start, args.start + args.groups)]
    started = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            outs = list(pool.map(run_one, *zip(*tasks, strict=True), chunksize=8))
    else:
        outs = [run_one(e, s) for e, s in tasks]
    wall = time.perf_counter() - started
    rows = []
    all_gaps: list[float] = []
    for engine in args.engines:
        mine = [o for o in outs if o["engine"] == engine]
        judged = [o for o in mine if "gap" in o]
        for o in judged:
            if o["gap"] > 1e-3 or o["shortfall"] or o["violation"] or o["order_dependent"]:  # type: ignore[operator]
                print(o, file=sys.stderr)
        for o in mine:
            if "error" in o:
                print(o, file=sys.stderr)
        g = np.array([float(o["gap"]) for o in judged])  # type: ignore[arg-type]
        all_gaps += g.tolist()
        rows.append(
            [
                engine,
                g.size,
                f"{np.median(g):.1e}",
                f"{np.quantile(g, 0.99):.1e}",
                f"{g.max():.1e}",
                f"{100 * np.count_nonzero(g <= 1e-3) / g.size:.2f}%",
                sum(bool(o["violation"]) for o in judged),
                sum(bool(o["shortfall"]) for o in judged),
                sum(bool(o["order_dependent"]) for o in judged),
                sum(bool(o["unsound"]) for o in judged),
                len(mine) - len(judged),
                f"{sum(float(o['cpu']) for o in mine):.0f}",  # type: ignore[arg-type]
            ]
        )
        print(rows[-1], flush=True)
    g = np.array(all_gaps)
    share = 100 * np.count_nonzero(g <= 1e-3) / max(g.size, 1)
    text = write_table(
        "rounding_campaign",
        [
            "engine",
            "groups",
            "median gap",
            "p99 gap",
            "max gap",
            "within 0.1%",
            "invariant violations",
            "shortfalls",
            "order-dependent",
            "unsound gap bounds",
            "referee failures",
            "CPU seconds",
        ],
        rows,
        f"Rounding against exact integer optima, seeds {args.start} to "
        f"{args.start + args.groups - 1} per engine, groups of 1 to 40 accounts "
        f"(`python benchmarks/rounding_campaign.py --groups {args.groups} "
        f"--start {args.start} --jobs {args.jobs}`). All engines: {g.size} groups, "
        f"{share:.2f}% within 0.1% (median {np.median(g):.1e}, p99 "
        f"{np.quantile(g, 0.99):.1e}, max {g.max():.1e}); {wall:.0f} s wall on "
        f"{args.jobs} process(es) of a shared machine (CPU seconds per engine below).",
    )
    print(text)


if __name__ == "__main__":
    main()
