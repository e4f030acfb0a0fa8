"""Benchmark the continuous minimum-dispersion backends on realistic groups.

Usage::

    python benchmarks/bench_continuous.py [--sizes 10,100,1000,10000,100000]
                                          [--out benchmarks/results] [--repeat 5]

For each group size it generates one realistic instance (lognormal NAVs from
$5MM to $2BN, spread durations around 5 with dispersion, a bond of spread
duration about 4, cash caps of 0.5-5% of NAV, an order of 3% of the capacity)
and times, in the same run:

* ``numpy pass``: one pass over the inputs (``s = price * b / nav``, the
  weights and the weighted mean): the floor any method pays;
* ``exact``: NAV weights (the mean is fixed by the total: one knapsack solve);
* ``exact (equal w)``: equal weights, where the mean has to be searched for;
* ``convex cold``: cvxpy + Clarabel, first solve of this shape (compiles);
* ``convex re-solve``: the same shape with new data, reusing the compiled
  problem (up to ``DPP_MAX_ACCOUNTS`` accounts; above that the problem is
  rebuilt with constants each time, see `orderalloc.solvers.convex`);
* ``slsqp``: SciPy's SLSQP, in a child process killed after ``--slsqp-limit``
  seconds; once a size exceeds the limit the larger sizes are skipped.

Times are best-of-*k* wall clock (fewer repeats for runs over a second). The
objective gap is relative to the exact backend on the same instance. A
Markdown table is printed and written, with a CSV, to the *out* folder.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from orderalloc.solvers import (
    DPP_MAX_ACCOUNTS,
    ContinuousSolution,
    DispersionProblem,
    solve_convex,
    solve_exact,
    solve_slsqp,
)
from orderalloc.solvers.convex import _compiled

BOND_SPREAD_DURATION = 4.0
ORDER_SHARE_OF_CAPACITY = 0.03


def make_inputs(n: int, seed: int) -> dict[str, Any]:
    """Raw account data for *n* accounts: NAVs, metrics, cash caps, the bond."""
    rng = np.random.default_rng(seed)
    nav = np.clip(rng.lognormal(np.log(1.5e8), 1.3, n), 5e6, 2e9)
    spread_duration = np.clip(rng.normal(5.0, 1.2, n), 0.5, None)
    price = 0.985  # cash per unit of face
    cash = nav * rng.uniform(0.005, 0.05, n)
    return {
        "nav": nav,
        "m": spread_duration,
        "price": price,
        "b": BOND_SPREAD_DURATION * rng.uniform(0.95, 1.05),
        "hi": cash / price,
    }


def numpy_pass(inputs: dict[str, Any]) -> float:
    """The baseline: one vectorised pass that computes s, w and the weighted mean."""
    nav = inputs["nav"]
    s = inputs["price"] * inputs["b"] / nav
    w = nav / nav.sum()
    return float(w @ inputs["m"] + s.mean())


def make_problem(inputs: dict[str, Any], weighting: str) -> DispersionProblem:
    """The problem the engine would build from the raw data (a buy, mean mode)."""
    nav = inputs["nav"]
    n = nav.shape[0]
    s = inputs["price"] * inputs["b"] / nav
    w = nav / nav.sum() if weighting == "nav" else np.full(n, 1.0 / n)
    hi = inputs["hi"]
    return DispersionProblem(
        m=inputs["m"][:, None],
        s=s[:, None],
        w=w,
        c=np.ones(1),
        lo=np.zeros(n),
        hi=hi,
        total=ORDER_SHARE_OF_CAPACITY * float(hi.sum()),
    )


def best_of(run: Callable[[], Any], repeat: int, budget: float = 10.0) -> tuple[float, Any, int]:
    """Best wall time of up to *repeat* runs (stopping once *budget* seconds are spent)."""
    best, result, spent, runs = np.inf, None, 0.0, 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
        best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
        if spent > budget:
            break
    return best, result, runs


def _slsqp_child(problem: DispersionProblem, queue: Any) -> None:
    try:
        start = time.perf_counter()
        solution = solve_slsqp(problem)
        queue.put((time.perf_counter() - start, solution.objective, solution.status))
    except Exception as exc:  # report any failure to the parent
        queue.put((np.nan, np.nan, f"{type(exc).__name__}: {exc}"))


def time_slsqp(problem: DispersionProblem, limit: float) -> tuple[float, float, str]:
    """One SLSQP solve in a child process; (nan, nan, "timeout") past *limit* seconds."""
    context = mp.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_slsqp_child, args=(problem, queue))
    process.start()
    process.join(limit)
    if process.is_alive():
        process.terminate()  # our own child, by its handle
        process.join()
        return np.nan, np.nan, f"> {limit:.0f} s, skipped larger sizes"
    elapsed, value, status = queue.get()
    return float(elapsed), float(value), str(status)


def run(sizes: list[int], repeat: int, slsqp_limit: float, seed: int) -> list[dict[str, Any]]:
    """Time every method at every size; one row per (size, method)."""
    rows: list[dict[str, Any]] = []
    slsqp_on = True
    for n in sizes:
        inputs = make_inputs(n, seed)
        other = make_inputs(n, seed + 1)  # same shape, new values: the re-solve
        nav_problem = make_problem(inputs, "nav")
        equal_problem = make_problem(inputs, "equal")
        resolve_problem = make_problem(other, "nav")

        t_numpy, _, _ = best_of(partial(numpy_pass, inputs), max(repeat, 20))
        t_exact, exact, _ = best_of(partial(solve_exact, nav_problem), max(repeat, 10))
        t_equal, _, _ = best_of(partial(solve_exact, equal_problem), max(repeat, 10))
        exact_resolve = solve_exact(resolve_problem)

        _compiled.cache_clear()
        start = time.perf_counter()
        cold = solve_convex(nav_problem)
        t_cold = time.perf_counter() - start
        t_resolve, resolved, _ = best_of(partial(solve_convex, resolve_problem), repeat)

        results: list[tuple[str, float, ContinuousSolution | None, float, str]] = [
            ("numpy pass", t_numpy, None, np.nan, ""),
            ("exact", t_exact, exact, exact.objective, f"{exact.iterations} knapsack solve(s)"),
            ("exact (equal w)", t_equal, None, np.nan, "mean searched; other weighting"),
            ("convex cold", t_cold, cold, cold.objective, f"Clarabel, {cold.status}, compiles"),
            (
                "convex re-solve",
                t_resolve,
                resolved,
                resolved.objective,
                "reuses compiled problem"
                if n <= DPP_MAX_ACCOUNTS
                else "rebuilt with constants (no DPP)",
            ),
        ]
        if slsqp_on:
            t_slsqp, value, status = time_slsqp(nav_problem, slsqp_limit)
            if np.isnan(t_slsqp):
                slsqp_on = "timeout" not in status and not status.startswith(">")
            results.append(("slsqp", t_slsqp, None, value, status))
        else:
            results.append(("slsqp", np.nan, None, np.nan, "skipped (a smaller size timed out)"))

        for method, seconds, _, value, note in results:
            reference = exact_resolve.objective if method == "convex re-solve" else exact.objective
            gap = (value - reference) / reference if np.isfinite(value) else np.nan
            rows.append(
                {
                    "n_accounts": n,
                    "method": method,
                    "best_ms": seconds * 1e3,
                    "vs_clarabel": seconds / t_resolve,
                    "vs_numpy_pass": seconds / t_numpy,
                    "objective_gap": gap,
                    "note": note,
                }
            )
        print(f"n={n:>7,d} done", flush=True)
    return rows


def _fmt(value: float, spec: str, suffix: str = "") -> str:
    return "—" if not np.isfinite(value) else format(value, spec) + suffix


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| accounts | method | best time (ms) | vs Clarabel re-solve | vs numpy pass "
        "| objective gap vs exact | note |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['n_accounts']:,} | {row['method']} | {_fmt(row['best_ms'], '.3g')} "
            f"| {_fmt(row['vs_clarabel'], '.3g', 'x')} | {_fmt(row['vs_numpy_pass'], '.3g', 'x')} "
            f"| {_fmt(row['objective_gap'], '.1e')} | {row['note']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000,100000")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--slsqp-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]

    started = time.perf_counter()
    rows = run(sizes, args.repeat, args.slsqp_limit, args.seed)
    header = (
        f"Continuous min-dispersion backends, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, total run {time.perf_counter() - started:.0f} s; "
        f"best of up to {args.repeat} runs.\n"
    )
    table = to_markdown(rows)
    print()
    print(header)
    print(table)

    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "bench_continuous.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "bench_continuous.md").write_text(header + "\n" + table + "\n")


if __name__ == "__main__":
    main()
