"""A benchmark campaign: many generated scenarios, every engine and backend, one table.

Reproduce with::

    python benchmarks/campaign.py [--scenarios 300] [--max-accounts 40] [--seed 1]
        [--executor serial|process|dask] [--workers 2] [--scheduler tcp://...]

Scenarios are drawn from `orderalloc.testing.strategies.allocation_cases` (the
same strategies the property tests use: log-uniform NAVs from $5MM to $2BN,
min pieces from 1,000 to 200,000, cash, positions, restrictions, limits, buys
and sells). Each scenario is allocated by every engine and backend below, and
for each we record:

* ``allocation rate``: allocated / requested face;
* ``improvement``: how much the spread-duration dispersion fell, as a share of
  its value before (negative when the trade made accounts less alike);
* ``gap``: the weighted variance after rounding over the continuous optimum's,
  minus one (0 = rounding lost nothing; the optimum is a bound no legal split
  can beat);
* ``ms``: wall time of the whole ``allocate`` call.

Outputs, in ``benchmarks/results/``: ``campaign.csv`` (one row per scenario
and method), ``campaign.md`` (the summary table) and ``campaign.png`` (the
distributions). To aim a campaign at a question, change the strategy's
keyword bounds (e.g. ``--side SELL``, or large pieces in small accounts with
``--max-nav 5e7``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

import orderalloc as oa
from _timing import RESULTS, machine
from orderalloc.parallel import run_tasks
from orderalloc.testing import strategies as oast

METHODS: dict[str, dict[str, Any]] = {
    "pro_rata": {"method": "pro_rata"},
    "min_dispersion/exact": {"method": "min_dispersion", "backend": "exact", "fallback": ()},
    "min_dispersion/convex": {"method": "min_dispersion", "backend": "convex", "fallback": ()},
    "min_dispersion/slsqp": {"method": "min_dispersion", "backend": "slsqp", "fallback": ()},
}
SLSQP_MAX_ACCOUNTS = 15  # SLSQP's time grows fast: keep the campaign minutes, not hours
METRIC = "spread_duration"


def draw_scenarios(
    count: int, seed: int, max_accounts: int, side: str | None, max_nav: float
) -> list[tuple[oa.Order, list[oa.Account]]]:
    """*count* scenarios from the property tests' strategies, reproducibly from *seed*."""
    drawn: list[tuple[oa.Order, list[oa.Account]]] = []

    @hypothesis_seed(seed)  # the same seed, the same scenarios
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        oast.allocation_cases(min_accounts=2, max_accounts=max_accounts, side=side, max_nav=max_nav)
    )
    def collect(case: tuple[oa.Order, list[oa.Account]]) -> None:
        drawn.append(case)

    collect()
    return drawn


def weighted_variance(result: oa.AllocationResult, table: oa.AccountTable) -> float:
    """NAV-weighted variance of the metric after the trade (min dispersion's objective)."""
    x = result.post_metrics[METRIC]
    w = table.nav / table.nav.sum()
    mean = float(np.sum(w * x))
    return float(np.sum(w * (x - mean) ** 2))


def run_scenario(task: tuple[int, oa.Order, list[oa.Account]]) -> list[dict[str, Any]]:
    """Every method on scenario *k*: one row per method (on a worker with ``--executor``)."""
    k, order, accounts = task
    rows: list[dict[str, Any]] = []
    table = oa.as_table(accounts)
    optimum: float | None = None
    for name, params in METHODS.items():
        if name.endswith("slsqp") and len(table) > SLSQP_MAX_ACCOUNTS:
            continue
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = oa.allocate(order, table, **params)
            except oa.SolverError:
                rows.append({"scenario": k, "method": name, "failed": 1})
                continue
        ms = (time.perf_counter() - t0) * 1e3
        summary = result.dispersion.get(METRIC)
        improvement = math.nan
        if summary is not None and summary.std_before > 0:
            improvement = summary.improvement / summary.std_before
        if name == "min_dispersion/exact" and result.solver is not None:
            optimum = result.solver.objective if result.allocated > 0 else None
        rows.append(
            {
                "scenario": k,
                "method": name,
                "accounts": len(table),
                "side": order.side.value,
                "min_piece": order.security.min_piece,
                "rate": result.allocated / result.requested,
                "improvement": improvement,
                "variance": weighted_variance(result, table),
                "optimum": optimum,
                "ms": ms,
                "failed": 0,
            }
        )
    # The optimum is known once exact has run; fill it in for every method.
    for row in rows:
        if optimum is not None:
            row["optimum"] = optimum
    return rows


@contextlib.contextmanager
def make_executor(kind: str, workers: int, scheduler: str | None) -> Iterator[Executor | None]:
    """None (serial), a process pool, or a Dask executor (a LocalCluster, or *scheduler*)."""
    if kind == "serial":
        yield None
    elif kind == "process":
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
    else:
        from distributed import Client, LocalCluster

        if scheduler:
            with Client(scheduler) as client:
                yield client.get_executor()
        else:
            with (
                LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as c,
                Client(c) as client,
            ):
                yield client.get_executor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=300)
    parser.add_argument("--max-accounts", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--side", choices=["BUY", "SELL"], default=None)
    parser.add_argument("--max-nav", type=float, default=2e9)
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--executor",
        choices=["serial", "process", "dask"],
        default="serial",
        help="where scenarios run: here, a process pool, or Dask (results identical)",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes or Dask workers")
    parser.add_argument("--scheduler", default=None, help="a Dask scheduler address (tcp://...)")
    args = parser.parse_args()
    scenarios = draw_scenarios(
        args.scenarios, args.seed, args.max_accounts, args.side, args.max_nav
    )
    tasks = [(k, order, accounts) for k, (order, accounts) in enumerate(scenarios)]
    with make_executor(args.executor, args.workers, args.scheduler) as executor:
        rows = [row for part in run_tasks(run_scenario, tasks, executor=executor) for row in part]
    for row in rows:
        opt, var = row.get("optimum"), row.get("variance")
        row["gap"] = (var / opt - 1.0) if opt and var is not None and opt > 1e-18 else math.nan
    RESULTS.mkdir(exist_ok=True)
    fields = [
        "scenario",
        "method",
        "accounts",
        "side",
        "min_piece",
        "rate",
        "improvement",
        "variance",
        "optimum",
        "gap",
        "ms",
        "failed",
    ]
    with (RESULTS / "campaign.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Campaign: {len(scenarios)} scenarios from `allocation_cases` (seed {args.seed}, up to "
        f"{args.max_accounts} accounts), `python benchmarks/campaign.py`. Measured on {machine()}.",
        "",
        "| method | runs | failed | mean allocation rate | median improvement | p05 improvement "
        "| median gap | p95 gap | median ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_method: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_method.setdefault(row["method"], []).append(row)
    for name, group in by_method.items():
        ok = [r for r in group if not r["failed"]]

        def col(key: str, rows_: list[dict[str, Any]] = ok) -> np.ndarray:
            vals = np.array([r[key] for r in rows_], dtype=float)
            return vals[np.isfinite(vals)]

        def q(vals: np.ndarray, p: float) -> str:
            return f"{np.quantile(vals, p):.4g}" if vals.size else "n/a"

        lines.append(
            f"| {name} | {len(group)} | {len(group) - len(ok)} | {np.mean(col('rate')):.4f} | "
            f"{q(col('improvement'), 0.5)} | {q(col('improvement'), 0.05)} | "
            f"{q(col('gap'), 0.5)} | {q(col('gap'), 0.95)} | {q(col('ms'), 0.5)} | "
            f"{q(col('ms'), 0.95)} |"
        )
    text = "\n".join(lines) + "\n"
    (RESULTS / "campaign.md").write_text(text)
    print(text)
    if not args.no_plot:
        plot(by_method)


def plot(by_method: dict[str, list[dict[str, Any]]]) -> None:
    """Box plots of improvement, gap and time per method, to campaign.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(by_method)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, key, title in zip(
        axes,
        ("improvement", "gap", "ms"),
        ("dispersion improvement (share of before)", "variance over the optimum - 1", "ms"),
        strict=True,
    ):
        data = []
        for name in names:
            vals = np.array([r.get(key, np.nan) for r in by_method[name]], dtype=float)
            data.append(vals[np.isfinite(vals)])
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize="small")
        ax.set_title(title)
        if key == "ms":
            ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(RESULTS / "campaign.png", dpi=110)
    print(f"plot: {RESULTS / 'campaign.png'}")


if __name__ == "__main__":
    main()
