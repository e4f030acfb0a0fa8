"""Pictures of an allocation (the ``plot`` extra: ``pip install 'orderalloc[plot]'``).

`plot_result` draws each account's metric before and after the trade, the
group's (weighted) mean after, and the target when min dispersion used one,
with the amount allocated to each account below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

try:
    import matplotlib

    matplotlib.use("Agg")  # no screen needed: scripts, notebooks and CI alike
    import matplotlib.pyplot as plt
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("orderalloc.plot needs matplotlib: pip install 'orderalloc[plot]'") from exc

from .result import AllocationResult

__all__ = ["plot_result"]


def plot_result(
    result: AllocationResult,
    *,
    metric: str | None = None,
    path: str | Path | None = None,
    max_accounts: int = 60,
) -> Any:
    """Draw the metric of every account before and after, and the amounts.

    Args:
        result: The allocation.
        metric: The metric to draw (default: the first the trade moves).
        path: Save the figure there (PNG, SVG or PDF by the suffix).
        max_accounts: Draw at most this many accounts, those with the
            largest allocations first (a 10,000-account group is unreadable).

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: The result has no metric the trade moves.
    """
    names = list(result.post_metrics)
    if not names:
        raise ValueError("the result has no metric the trade moves: nothing to draw")
    name = metric or names[0]
    if name not in result.post_metrics:
        raise ValueError(f"metric={name!r}: not in the result (it has {', '.join(names)})")
    order = np.argsort(-result.quantity, kind="stable")[:max_accounts]
    order = order[np.argsort(result.pre_metrics[name][order], kind="stable")]
    before = result.pre_metrics[name][order]
    after = result.post_metrics[name][order]
    ids = [result.account_ids[i] for i in order]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(max(6.0, 0.25 * len(ids) + 3), 6), sharex=True, height_ratios=(2, 1)
    )
    x = np.arange(len(ids))
    top.scatter(x, before, label="before", color="#999999", zorder=2)
    top.scatter(x, after, label="after", color="#1f77b4", zorder=3)
    for xi, b, a in zip(x, before, after, strict=True):
        top.plot([xi, xi], [b, a], color="#1f77b4", alpha=0.4, zorder=1)
    mean_after = float(np.nanmean(result.post_metrics[name]))
    top.axhline(mean_after, color="#2ca02c", linestyle="--", label="mean after")
    target = result.params.get("target") if isinstance(result.params, dict) else None
    if isinstance(target, dict) and name in target:
        top.axhline(float(target[name]), color="#d62728", linestyle=":", label="target")
    summary = result.dispersion.get(name)
    title = f"{name}: {result.method}"
    if summary is not None:
        title += f", std {summary.std_before:.3f} -> {summary.std_after:.3f}"
    top.set_title(title)
    top.set_ylabel(name)
    top.legend(loc="best", fontsize="small")
    bottom.bar(x, result.quantity[order], color="#1f77b4")
    bottom.set_ylabel("face allocated")
    bottom.set_xticks(x, ids, rotation=90, fontsize="x-small")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
