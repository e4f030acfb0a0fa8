"""Baskets: joint vs sequential on one large group, and many groups on Dask.

Reproduce with::

    python benchmarks/bench_basket.py [--accounts 10000] [--bonds 50] [--groups 1000]

1. **One group**: a basket of 50 bond purchases (about 0.5% of the group's NAV
   in all, different spread-duration / duration mixes) over 10,000 SMAs with
   scarce cash, by min dispersion on both metrics. Sequential (one bond after
   the other by id, cash and metrics decremented) and joint are timed in
   interleaved rounds; we report the basket's dispersion objective, each
   metric's NAV-weighted standard deviation after, and the face unallocated.
   For scale, allocating every order on its own (each seeing all the cash, as
   a loop over `allocate` does) overspends the accounts counted in the table.
2. **Many groups**: the same 50 bonds, sized to each group, over 1,000 groups
   of 20 accounts: serial vs a 2-worker `distributed.LocalCluster`
   (``processes=True``, one thread per worker) through `Client.get_executor()`,
   interleaved; the results are checked identical. The cluster's start-up is
   reported apart and not in the speedup. This machine has 2 cores.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

import orderalloc as oa
from _timing import machine, write_table
from orderalloc.testing.strategies import random_table

METRICS = ("spread_duration", "duration")


def make_bonds(n: int, seed: int = 14) -> list[oa.Security]:
    """*n* bonds with different mixes of spread duration and duration."""
    rng = np.random.default_rng(seed)
    return [
        oa.Security(
            id=f"BOND{j:03d}",
            price=round(float(rng.uniform(85, 110)), 3),
            accrued=round(float(rng.uniform(0, 2)), 3),
            min_piece=float(rng.choice([1_000, 2_000, 5_000, 25_000])),
            increment=1_000,
            analytics={
                "spread_duration": float(rng.uniform(0.1, 9.0)),
                "duration": float(rng.uniform(1.0, 14.0)),
            },
        )
        for j in range(n)
    ]


def make_orders(
    bonds: list[oa.Security], nav_total: float, share: float, seed: int = 15
) -> list[oa.Order]:
    """Buys of every bond adding up to *share* of *nav_total* at market value."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(len(bonds)))
    orders = []
    for bond, w in zip(bonds, weights, strict=True):
        face = max(
            bond.min_piece, math.floor(w * share * nav_total / bond.cash_per_face / 1e3) * 1e3
        )
        orders.append(oa.Order(security=bond, side="BUY", quantity=face))
    return orders


# The 1-minute load average seen before and after every timed call of the run.
_LOADS: list[float] = []


def timed(funcs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Wall times of each function over interleaved rounds (the load noted around each)."""
    times: dict[str, list[float]] = {name: [] for name in funcs}
    _LOADS.clear()
    for _ in range(rounds):
        for name, func in funcs.items():
            _LOADS.append(os.getloadavg()[0])
            t0 = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - t0)
            _LOADS.append(os.getloadavg()[0])
    return times


def load() -> str:
    """The machine's load: the figures are ratios measured on a shared machine (2 cores)."""
    one, five, _ = os.getloadavg()
    seen = (
        f"; 1-minute load seen around the timed calls: min {min(_LOADS):.1f}, "
        f"median {statistics.median(_LOADS):.1f}, max {max(_LOADS):.1f}"
        if _LOADS
        else ""
    )
    return f"Load average at the end of the run: {one:.1f} (1 min), {five:.1f} (5 min){seen}."


def spread(values: list[float]) -> str:
    """The minimum, median and maximum, in seconds."""
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def one_group(n_accounts: int, n_bonds: int, rounds: int) -> str:
    """Part 1: joint vs sequential over one large group."""
    bonds = make_bonds(n_bonds)
    table = random_table(n_accounts, security=bonds[0], seed=1, cash_fraction=0.01)
    orders = make_orders(bonds, float(table.nav.sum()), share=0.005)
    results: dict[str, oa.BasketResult] = {}

    def run(strategy: str) -> Callable[[], object]:
        def call() -> object:
            results[strategy] = oa.allocate_basket(
                orders, table, "min_dispersion", metric=METRICS, strategy=strategy
            )
            return results[strategy]

        return call

    times = timed({"sequential": run("sequential"), "joint": run("joint")}, rounds)
    seq, joint = results["sequential"], results["joint"]
    # Every order on its own, each seeing all of the cash: how many accounts overspend?
    spent = np.zeros(n_accounts)
    for order in orders:
        alone = oa.allocate(order, table, method="min_dispersion", metric=METRICS)
        spent += alone.quantity * order.security.cash_per_face
    assert table.cash is not None
    overspent = int(np.count_nonzero(spent > table.cash + 1e-6))
    rows = []
    for name, basket in (("sequential", seq), ("joint", joint)):
        rows.append(
            [
                name,
                basket.strategy,
                spread(times[name]),
                f"{statistics.median(times[name]) / statistics.median(times['sequential']):.1f}x",
                f"{basket.objective:.6f}",
                f"{basket.objective / seq.objective - 1:+.3%}",
                *(f"{basket.dispersion[m].std_after:.5f}" for m in METRICS),
                f"{sum(basket.unallocated.values()):,.0f}",
                basket.sweeps,
            ]
        )
    before = seq.dispersion
    note = (
        f"One group: {n_bonds} bond purchases ({sum(o.quantity for o in orders):,.0f} face, "
        f"0.5% of NAV) over {n_accounts:,} accounts, min dispersion on {', '.join(METRICS)}; "
        f"`python benchmarks/bench_basket.py --skip-many --accounts {n_accounts} --bonds {n_bonds} "
        f"--rounds {rounds}`. "
        f"{rounds} interleaved rounds. Std before: "
        + ", ".join(f"{m} {before[m].std_before:.5f}" for m in METRICS)
        + f". Allocating each order on its own with all the cash overspends {overspent:,} "
        f"of {n_accounts:,} accounts; the basket overspends none. {load()}"
    )
    header = [
        "strategy",
        "result",
        "seconds min / median / max",
        "time vs sequential",
        "objective",
        "objective vs sequential",
        *(f"std after {m}" for m in METRICS),
        "face unallocated",
        "sweeps",
    ]
    return write_table("basket_joint", header, rows, note)


def many_groups(
    n_groups: int,
    size: int,
    n_bonds: int,
    rounds: int,
    chunksize: int,
    slices: int,
    strategy: str = "joint",
) -> str:
    """Part 2: the same basket over many groups, serial vs a 2-worker LocalCluster.

    The groups are cut into *slices*; each slice runs serially and on the
    cluster in turn (which goes first alternates), *rounds* times over. Every
    group is thus allocated both ways in every round, and each slice gives one
    paired speedup: min / median / max over slices and rounds, plus the
    speedup of the totals.
    """
    from distributed import Client, LocalCluster

    bonds = make_bonds(n_bonds)
    groups = {
        f"G{g:05d}": random_table(size, security=bonds[0], seed=100 + g, cash_fraction=0.01)
        for g in range(n_groups)
    }
    orders = {
        key: make_orders(bonds, float(table.nav.sum()), share=0.005)
        for key, table in groups.items()
    }
    keys = list(groups)
    cut = [keys[i * n_groups // slices : (i + 1) * n_groups // slices] for i in range(slices)]
    options = {"metric": "spread_duration", "strategy": strategy}
    out: dict[str, dict[str, oa.BasketResult]] = {"serial": {}, "dask": {}}
    totals = {"serial": [0.0] * rounds, "dask": [0.0] * rounds}
    ratios: list[float] = []
    _LOADS.clear()
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        startup = time.perf_counter() - t0
        executor = client.get_executor()
        # Warm up: every worker imports orderalloc and compiles its first basket.
        warm = {k: groups[k] for k in keys[:4]}
        warm_orders = {k: orders[k] for k in warm}
        oa.allocate_basket_many(warm, warm_orders, "min_dispersion", **options)
        oa.allocate_basket_many(
            warm, warm_orders, "min_dispersion", executor=executor, chunksize=1, **options
        )
        for r in range(rounds):
            for i, part in enumerate(cut):
                sub = {k: groups[k] for k in part}
                sub_orders = {k: orders[k] for k in part}
                runs: dict[str, Callable[[], dict[str, oa.BasketResult]]] = {
                    "serial": lambda sub=sub, so=sub_orders: oa.allocate_basket_many(
                        sub, so, "min_dispersion", **options
                    ),
                    "dask": lambda sub=sub, so=sub_orders: oa.allocate_basket_many(
                        sub,
                        so,
                        "min_dispersion",
                        executor=executor,
                        chunksize=chunksize,
                        **options,
                    ),
                }
                order = ["serial", "dask"] if (r + i) % 2 == 0 else ["dask", "serial"]
                took: dict[str, float] = {}
                for name in order:
                    _LOADS.append(os.getloadavg()[0])
                    start = time.perf_counter()
                    out[name].update(runs[name]())
                    took[name] = time.perf_counter() - start
                    _LOADS.append(os.getloadavg()[0])
                    totals[name][r] += took[name]
                ratios.append(took["serial"] / took["dask"])
                print(f"round {r + 1} slice {i + 1}: {took}", flush=True)
    identical = all(
        np.array_equal(a.quantity, b.quantity)
        for key in groups
        for a, b in zip(out["serial"][key].results, out["dask"][key].results, strict=True)
    )
    assert identical, "the Dask results differ from the serial ones"
    base = statistics.median(totals["serial"])
    rows = [
        [
            name,
            spread(t),
            f"{base / statistics.median(t):.2f}x",
            f"{statistics.median(t) / n_groups * 1e3:.1f}",
        ]
        for name, t in (("serial", totals["serial"]), ("dask (2 workers)", totals["dask"]))
    ]
    rows.append(
        [
            f"per slice of {n_groups // slices} groups ({len(ratios)} pairs)",
            "",
            f"{min(ratios):.2f}x / {statistics.median(ratios):.2f}x / {max(ratios):.2f}x",
            "",
        ]
    )
    note = (
        f"Many groups: {n_bonds} bonds sized to each group (0.5% of its NAV) over {n_groups:,} "
        f"groups of {size} accounts, min dispersion (spread duration), {strategy}; "
        f"`python benchmarks/bench_basket.py --skip-one --groups {n_groups} --bonds {n_bonds} "
        f"--rounds {rounds} --slices {slices} --strategy {strategy}`. {rounds} round(s) over "
        f"all groups, in "
        f"{slices} slices run serially and on the cluster in turn (alternating which goes "
        f"first); chunks of {chunksize} groups. The last row: the per-slice speedups, min / "
        f"median / max. Cluster start-up {startup:.1f} s and a warm-up run on 4 groups, not "
        f"included. Results identical "
        f"to the serial run. {load()}"
    )
    header = [
        "executor",
        "seconds for all groups min / median / max",
        "speedup (median)",
        "ms per group",
    ]
    return write_table("basket_dask", header, rows, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--bonds", type=int, default=50)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--group-size", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunksize", type=int, default=25)
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--strategy", choices=["joint", "sequential"], default="joint")
    parser.add_argument("--skip-one", action="store_true")
    parser.add_argument("--skip-many", action="store_true")
    args = parser.parse_args()
    print(f"Measured on {machine()}.")
    if not args.skip_one:
        print(one_group(args.accounts, args.bonds, args.rounds))
    if not args.skip_many:
        print(
            many_groups(
                args.groups,
                args.group_size,
                args.bonds,
                args.rounds,
                args.chunksize,
                args.slices,
                args.strategy,
            )
        )


if __name__ == "__main__":
    main()
