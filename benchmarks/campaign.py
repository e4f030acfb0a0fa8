"""A benchmark campaign: seeded, distinct scenarios; every engine and backend; one table.

Reproduce with::

    python benchmarks/campaign.py --out benchmarks/results [--scenarios 300] [--seed 1]

Without ``--out`` the results go to ``./campaign-out/`` and the tracked tables
in ``benchmarks/results/`` are left alone.

Scenarios are drawn from a seeded numpy generator (``numpy.random.default_rng``),
one independent stream per scenario, so scenario *k* is the same whatever the
count, and each is distinct (checked by a fingerprint of its numbers). They are
realistic books: 2 to ``--max-accounts`` accounts, NAVs log-uniform from $5MM
to $2BN, cash 0.5% to 10% of NAV, spread durations around 5, a few restricted
accounts, min pieces from 1,000 to 200,000, buys and sells. The order is sized
between 5% and 80% of what the group can legally take (cash for buys,
positions for sells), so every scenario has something to allocate.

Each scenario is allocated by every engine and backend, and for each we record:

* ``rate``: allocated / requested face;
* ``change``: the change of the NAV-weighted standard deviation of spread
  duration, as a share of its value before (negative: accounts more alike);
* ``gap``: NAV-weighted variance after rounding over the continuous
  optimum's, minus one. The optimum is the best split *of the same total*, so
  the gap is only defined for runs that placed what the continuous optimum
  placed; a run that placed less is counted under ``placed less`` instead of
  showing a negative gap (a smaller order is not a better split). A gap below
  ``-1e-9`` on a comparable run would beat a bound no legal split can beat: it
  is counted under ``below optimum`` and should always be 0;
* ``ms``: wall time of the whole ``allocate`` call.

SLSQP's time grows like n^3, so it runs on the scenarios with at most 15
accounts; the table reports every method on that same subset (``small``) as
well as the others on every scenario (``all``), so rows compare like with like.

Outputs, in ``--out``: ``campaign.csv`` (one row per scenario and method),
``campaign.md`` (the summary table, with the command) and ``campaign.png``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import orderalloc as oa
from _timing import machine

METHODS: dict[str, dict[str, Any]] = {
    "pro_rata": {"method": "pro_rata"},
    "min_dispersion/exact": {"method": "min_dispersion", "backend": "exact", "fallback": ()},
    "min_dispersion/convex": {"method": "min_dispersion", "backend": "convex", "fallback": ()},
    "min_dispersion/slsqp": {"method": "min_dispersion", "backend": "slsqp", "fallback": ()},
}
SLSQP_MAX_ACCOUNTS = 15  # SLSQP's time grows fast: keep the campaign minutes, not hours
METRIC = "spread_duration"
PIECES = (1_000.0, 2_000.0, 5_000.0, 10_000.0, 100_000.0, 200_000.0)
BELOW_OPTIMUM = -1e-9


def make_scenario(
    seed: int, k: int, max_accounts: int, side: str | None
) -> tuple[oa.Order, oa.AccountTable]:
    """Scenario *k* of the campaign *seed*: its own random stream, so it never depends on others."""
    rng = np.random.default_rng([seed, k])
    n = int(rng.integers(2, max_accounts + 1))
    ids = [f"S{k:04d}-{i:03d}" for i in range(n)]
    nav = np.exp(rng.uniform(math.log(5e6), math.log(2e9), n))
    cash = nav * rng.uniform(0.005, 0.10, n)
    duration = rng.normal(5.0, 1.5, n).clip(0.5, 12.0)
    piece = float(rng.choice(PIECES))
    increment = 1_000.0 if piece < 100_000 else float(rng.choice((1_000.0, 5_000.0)))
    price = float(rng.uniform(80.0, 120.0))
    bond = oa.Security(
        id=f"BOND{k:04d}",
        price=round(price, 4),
        min_piece=piece,
        increment=increment,
        analytics={METRIC: round(float(rng.uniform(1.0, 9.0)), 4)},
    )
    order_side = side or ("BUY" if rng.random() < 0.7 else "SELL")
    # Positions: most accounts hold the bond, in legal amounts.
    held = rng.random(n) < 0.8
    lots = rng.integers(0, 400, n)
    holdings = np.where(held, piece + lots * increment, 0.0)
    restricted = rng.random(n) < 0.05
    table = oa.AccountTable(
        ids=ids,
        nav=nav,
        cash=cash,
        holdings={bond.id: holdings},
        metrics={METRIC: duration},
        restricted={bond.id: restricted},
    )
    if order_side == "BUY":
        capacity = float(cash[~restricted].sum() / (price / 100.0))
    else:
        capacity = float(holdings[~restricted].sum())
    share = float(rng.uniform(0.05, 0.80))
    quantity = max(piece, math.floor(capacity * share / increment) * increment)
    return oa.Order(security=bond, side=order_side, quantity=quantity), table


def fingerprint(order: oa.Order, table: oa.AccountTable) -> str:
    """A hash of the scenario's numbers: equal fingerprints, equal scenarios."""
    h = hashlib.blake2b(digest_size=12)
    h.update(repr((order.side.value, order.quantity, order.security.price)).encode())
    for column in (table.nav, table.cash, table.metrics[METRIC]):
        h.update(np.asarray(column, dtype=np.float64).tobytes())
    return h.hexdigest()


def weighted_variance(result: oa.AllocationResult, table: oa.AccountTable) -> float:
    """NAV-weighted variance of the metric after the trade (min dispersion's objective)."""
    x = result.post_metrics[METRIC]
    w = table.nav / table.nav.sum()
    mean = float(np.sum(w * x))
    return float(np.sum(w * (x - mean) ** 2))


def run_scenario(k: int, order: oa.Order, table: oa.AccountTable) -> list[dict[str, Any]]:
    """Every method on one scenario, with the gap to the exact backend's continuous optimum."""
    rows: list[dict[str, Any]] = []
    optimum: float | None = None
    optimum_total: float | None = None
    for name, params in METHODS.items():
        if name.endswith("slsqp") and len(table) > SLSQP_MAX_ACCOUNTS:
            continue
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            extra = {} if name == "pro_rata" else {"metric": METRIC}
            try:
                result = oa.allocate(order, table, **params, **extra)
            except oa.SolverError:
                rows.append({"scenario": k, "method": name, "failed": 1})
                continue
        ms = (time.perf_counter() - t0) * 1e3
        summary = result.dispersion.get(METRIC)
        change = math.nan
        if summary is not None and summary.std_before > 0:
            change = -summary.improvement / summary.std_before
        if name == "min_dispersion/exact" and result.solver is not None:
            optimum = result.solver.objective
            optimum_total = float(result.ideal.sum())
        rows.append(
            {
                "scenario": k,
                "method": name,
                "accounts": len(table),
                "small": len(table) <= SLSQP_MAX_ACCOUNTS,
                "side": order.side.value,
                "min_piece": order.security.min_piece,
                "rate": result.allocated / result.requested,
                "allocated": result.allocated,
                "change": change,
                "variance": weighted_variance(result, table),
                "ms": ms,
                "failed": 0,
            }
        )
    for row in rows:
        row["optimum"] = optimum
        row["gap"] = math.nan
        row["placed_less"] = False
        if row["failed"] or optimum is None or optimum_total is None:
            continue
        # Comparable only when the run placed the continuous optimum's total
        # (to the increment): a smaller order can look "better" and is not.
        if row["allocated"] < optimum_total - order.security.increment / 2:
            row["placed_less"] = True
        elif optimum > 1e-18:
            row["gap"] = row["variance"] / optimum - 1.0
    return rows


def _task(task: tuple[int, int, int, str | None]) -> list[dict[str, Any]]:
    """One scenario, built and run where it runs (a worker process or here)."""
    seed, k, max_accounts, side = task
    order, table = make_scenario(seed, k, max_accounts, side)
    return run_scenario(k, order, table)


def summarise(rows: list[dict[str, Any]], subset: str) -> list[str]:
    """Markdown rows, one per method, over the scenarios of *subset* ('all' or 'small')."""
    lines = []
    by_method: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if subset == "small" and not row.get("small", True):
            continue
        by_method.setdefault(row["method"], []).append(row)
    for name, group in by_method.items():
        if subset == "all" and name.endswith("slsqp"):
            continue  # reported on the small subset only, where it ran on every scenario
        ok = [r for r in group if not r["failed"]]

        def col(key: str, rows_: list[dict[str, Any]] = ok) -> np.ndarray:
            vals = np.array([r[key] for r in rows_], dtype=float)
            return vals[np.isfinite(vals)]

        def q(vals: np.ndarray, p: float) -> str:
            return f"{np.quantile(vals, p):.3g}" if vals.size else "n/a"

        gaps = col("gap")
        below = int(np.count_nonzero(gaps < BELOW_OPTIMUM))
        less = sum(1 for r in ok if r["placed_less"])
        lines.append(
            f"| {subset} | {name} | {len(group)} | {len(group) - len(ok)} | "
            f"{np.mean(col('rate')):.4f} | {q(col('change'), 0.5)} | {q(col('change'), 0.95)} | "
            f"{gaps.size} | {q(gaps, 0.5)} | {q(gaps, 0.95)} | {below} | {less} | "
            f"{q(col('ms'), 0.5)} | {q(col('ms'), 0.95)} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=300)
    parser.add_argument("--max-accounts", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--side", choices=["BUY", "SELL"], default=None)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("campaign-out"),
        help="Where to write campaign.csv/.md/.png (default ./campaign-out; the tracked "
        "tables are refreshed with --out benchmarks/results).",
    )
    parser.add_argument(
        "--executor",
        choices=["none", "process", "dask"],
        default="none",
        help="Run scenarios on a process pool or a local Dask cluster (times then "
        "include the machine's sharing among workers).",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    scenarios = [
        make_scenario(args.seed, k, args.max_accounts, args.side) for k in range(args.scenarios)
    ]
    prints = {fingerprint(o, t) for o, t in scenarios}
    if len(prints) != len(scenarios):  # pragma: no cover - a generator bug
        sys.exit(f"only {len(prints)} of {len(scenarios)} scenarios are distinct")
    tasks = [(args.seed, k, args.max_accounts, args.side) for k in range(args.scenarios)]
    rows: list[dict[str, Any]] = [
        row for chunk in _run(tasks, args.executor, args.workers) for row in chunk
    ]
    nothing = sum(
        1 for r in rows if r["method"] == "pro_rata" and not r["failed"] and r["rate"] == 0
    )
    small = sum(1 for _, t in scenarios if len(t) <= SLSQP_MAX_ACCOUNTS)
    args.out.mkdir(parents=True, exist_ok=True)
    fields = [
        "scenario", "method", "accounts", "small", "side", "min_piece", "rate", "allocated",
        "change", "variance", "optimum", "gap", "placed_less", "ms", "failed",
    ]  # fmt: skip
    with (args.out / "campaign.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Campaign: {len(scenarios)} distinct seeded scenarios (seed {args.seed}, 2 to "
        f"{args.max_accounts} accounts; {small} with at most {SLSQP_MAX_ACCOUNTS}, the `small` "
        f"subset SLSQP runs on; {nothing} where pro-rata placed nothing). "
        f"`python benchmarks/campaign.py --out {args.out} --scenarios {args.scenarios} "
        f"--seed {args.seed}`. Measured on {machine()}.",
        "",
        "`change`: NAV-weighted std of spread duration after vs before (negative: more "
        "alike). `gap`: variance over the continuous optimum's - 1, on the runs that placed "
        "the optimum's total (`n gap`); `placed less`: runs that did not (no gap shown); "
        "`below optimum`: comparable runs beating the bound (must be 0).",
        "",
        "| subset | method | runs | failed | mean rate | median change | p95 change | n gap "
        "| median gap | p95 gap | below optimum | placed less | median ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *summarise(rows, "all"),
        *summarise(rows, "small"),
    ]
    text = "\n".join(lines) + "\n"
    (args.out / "campaign.md").write_text(text)
    print(text)
    if not args.no_plot:
        plot(rows, args.out / "campaign.png")


def _run(
    tasks: list[tuple[int, int, int, str | None]], executor: str, workers: int
) -> list[list[dict[str, Any]]]:
    from orderalloc.parallel import run_tasks

    if executor == "process":
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            return run_tasks(_task, tasks, executor=pool, chunksize=4)
    if executor == "dask":
        from distributed import Client, LocalCluster

        with (
            LocalCluster(n_workers=workers, threads_per_worker=1) as cluster,
            Client(cluster) as client,
        ):
            return run_tasks(_task, tasks, executor=client.get_executor(), chunksize=4)
    return run_tasks(_task, tasks)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Box plots of change, gap and time per method on the small subset, to *path*."""
    from matplotlib.figure import Figure

    small = [r for r in rows if r.get("small") and not r["failed"]]
    names = list(dict.fromkeys(r["method"] for r in small))
    fig = Figure(figsize=(15, 4.5), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, key, title in zip(
        axes,
        ("change", "gap", "ms"),
        (
            "change of NAV-weighted std (share of before)",
            "variance over the optimum - 1 (same total)",
            "ms per allocate",
        ),
        strict=True,
    ):
        data = []
        for name in names:
            vals = np.array([r.get(key, np.nan) for r in small if r["method"] == name], float)
            data.append(vals[np.isfinite(vals)])
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize="small")
        ax.set_title(title)
        if key == "ms":
            ax.set_yscale("log")
    fig.suptitle(f"{len({r['scenario'] for r in small})} scenarios with every method")
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
