"""Timing helpers shared by the benchmarks: interleaved best-of-k wall times.

The machine is shared and noisy, so every claim is a *ratio* to a baseline
measured in the same run, and candidates and baselines are timed in turns
(not one after the other) so that a burst of load hits both alike.
"""

from __future__ import annotations

import csv
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def best_of(
    funcs: Mapping[str, Callable[[], object]], *, repeats: int = 15, budget_s: float = 30.0
) -> dict[str, float]:
    """Best wall time in seconds of each function, timed in interleaved rounds."""
    best = {name: float("inf") for name in funcs}
    start = time.perf_counter()
    for _ in range(repeats):
        for name, func in funcs.items():
            t0 = time.perf_counter()
            func()
            best[name] = min(best[name], time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return best


def machine() -> str:
    """One line describing where the figures were measured."""
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{python}, {os.cpu_count()} cores, {platform.machine()}"


def write_table(
    name: str, header: Sequence[str], rows: Sequence[Sequence[object]], note: str
) -> str:
    """Write rows as CSV and Markdown under benchmarks/results/; return the Markdown."""
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"{name}.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
    ]
    text = f"{note}\n\nMeasured on {machine()}.\n\n" + "\n".join(lines) + "\n"
    (RESULTS / f"{name}.md").write_text(text)
    return text
