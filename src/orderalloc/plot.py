"""Pictures of an allocation (the ``plot`` extra: ``pip install 'orderalloc[plot]'``).

Every function returns a matplotlib ``Figure`` and leaves matplotlib's state
alone: importing this module never picks a backend, and a figure made here
without an ``ax=`` is a plain ``matplotlib.figure.Figure`` that pyplot does
not track, so nothing is left open however many pictures a notebook draws.
Jupyter shows a returned figure as the cell's output; in a script, save it
(``path=``) or pass an ``ax=`` from ``plt.subplots()`` and call ``plt.show()``.

* `plot_result`: the overview, one panel per metric the trade moves (each
  account before and after, the group's weighted mean and the target) and
  the amounts, bars coloured by reason.
* `plot_metric`: one metric, as levels or as the distance from the group's
  weighted mean (or the target), before and after.
* `plot_amounts`: face per account in millions, or as % of NAV.
* `plot_compare`: several results of the same order (pro-rata and min
  dispersion) side by side, on the same weighting and the same scales.

Groups larger than *max_accounts* are drawn as distributions (histograms and
counts by reason) unless ``view="accounts"`` asks for the largest allocations,
and the title then says how many accounts are shown. Every metric picture
names its weighting (NAV unless min dispersion was given another), the one
the result's dispersion summary uses, so numbers compare across methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .errors import MissingExtraError

try:
    from matplotlib.figure import Figure
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingExtraError("orderalloc.plot", "matplotlib", "plot") from exc

from ._reasons import Reason
from ._render import weighting_label as _weighting_label
from ._result import AllocationResult
from .errors import InvalidParameterError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .typing import FloatArray, IntArray

__all__ = ["REASON_COLOURS", "plot_amounts", "plot_compare", "plot_metric", "plot_result"]

View = Literal["auto", "accounts", "histogram"]
Unit = Literal["face", "pct_nav"]

#: The colour of each reason in every picture (filled shares blue, caps
#: orange, too-small shares grey, restrictions red, min dispersion's
#: "not needed" purple).
REASON_COLOURS: dict[Reason, str] = {
    Reason.FULL_SHARE: "#1f77b4",
    Reason.ROUNDED_UP: "#4c9bd6",
    Reason.ROUNDED_DOWN: "#17588a",
    Reason.REDISTRIBUTED: "#17becf",
    Reason.DISPERSION_TARGET: "#1f77b4",
    Reason.CAPPED_BY_CASH: "#ff7f0e",
    Reason.CAPPED_BY_HOLDINGS: "#e6a000",
    Reason.STUB_AVOIDED: "#bcbd22",
    Reason.LIMIT_HIT: "#8c564b",
    Reason.BELOW_MIN_PIECE: "#9a9a9a",
    Reason.BELOW_MIN_ALLOCATION: "#bdbdbd",
    Reason.RESTRICTED: "#d62728",
    Reason.ZERO_WEIGHT: "#7f7f7f",
    Reason.NOT_NEEDED: "#9467bd",
}
_BEFORE, _AFTER, _MEAN, _TARGET = "#9a9a9a", "#1f77b4", "#2ca02c", "#d62728"


# --- helpers -----------------------------------------------------------------------------------


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    fig = Figure(figsize=size, layout="constrained")
    axes: Axes = fig.add_subplot()
    return axes


def _save(fig: Any, path: str | Path | None) -> None:
    if path is not None:
        fig.savefig(path, dpi=120)


def _metric_name(result: AllocationResult, metric: str | None) -> str:
    names = list(result.post_metrics)
    if not names:
        raise InvalidParameterError(
            "metric", metric, "the result has no metric the trade moves: nothing to draw"
        )
    if metric is None:
        chosen = result.params.get("metric")
        return chosen if isinstance(chosen, str) and chosen in names else names[0]
    if metric not in result.post_metrics:
        raise InvalidParameterError("metric", metric, f"not in the result (it has {names})")
    return metric


def _weights(result: AllocationResult, metric: str) -> tuple[FloatArray, str]:
    """The dispersion weights of the result (summing to 1) and their name."""
    summary = result.dispersion.get(metric)
    if result.dispersion_weights is not None:
        w = np.asarray(result.dispersion_weights, dtype=np.float64)
        return w / float(w.sum()), summary.weighting if summary else "nav"
    # A record written before results kept their weights: say it is equal-weighted.
    return np.full(len(result), 1.0 / max(len(result), 1)), "equal"


def _weighted_mean(values: FloatArray, w: FloatArray) -> float:
    known = ~np.isnan(values)
    if not known.any():
        return float("nan")
    return float(np.sum(values[known] * w[known]) / np.sum(w[known]))


def _target(result: AllocationResult, metric: str) -> float | None:
    target = result.params.get("target")
    if isinstance(target, (int, float)) and not isinstance(target, bool):
        return float(target)
    if isinstance(target, dict) and metric in target:
        return float(target[metric])
    return None


def _use_histogram(result: AllocationResult, view: View, max_accounts: int) -> bool:
    if view not in ("auto", "accounts", "histogram"):
        raise InvalidParameterError("view", view, "must be 'auto', 'accounts' or 'histogram'")
    if max_accounts < 1:
        raise InvalidParameterError("max_accounts", max_accounts, "must be at least 1")
    return view == "histogram" or (view == "auto" and len(result) > max_accounts)


def _shown(result: AllocationResult, metric: str | None, max_accounts: int) -> IntArray:
    """The rows drawn in the accounts view: the largest allocations, ordered by metric."""
    rows = np.argsort(-result.quantity, kind="stable")[:max_accounts]
    if metric is not None:
        rows = rows[np.argsort(result.pre_metrics[metric][rows], kind="stable")]
    else:
        rows = np.sort(rows)
    return rows


def _count_note(result: AllocationResult, rows: IntArray) -> str:
    if len(rows) == len(result):
        return f"{len(result):,} accounts"
    return f"largest {len(rows):,} allocations of {len(result):,} accounts"


def _verb(result: AllocationResult) -> str:
    return "sold" if result.order.side.value == "SELL" else "bought"


def _std_text(result: AllocationResult, metric: str) -> str:
    summary = result.dispersion.get(metric)
    if summary is None:
        return ""
    change = -summary.improvement_pct
    change = 0.0 if abs(change) < 0.05 else change  # no "-0.0%"
    return f"std {summary.std_before:.3f} \u2192 {summary.std_after:.3f} ({change:+.1f}%)"


# --- one metric --------------------------------------------------------------------------------


def plot_metric(
    result: AllocationResult,
    metric: str | None = None,
    *,
    relative: bool = False,
    view: View = "auto",
    max_accounts: int = 60,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Any:
    """Draw one metric of every account before and after the trade.

    The weighted mean after (the result's dispersion weighting, named in the
    legend) and min dispersion's target are drawn as lines.

    Args:
        result: The allocation.
        metric: The metric (default: the one the engine worked on, else the
            first the trade moves).
        relative: Draw the distance from the group's weighted mean (or from
            the target, when min dispersion had one) instead of levels.
        view: ``"accounts"`` (one point per account), ``"histogram"`` (the
            distribution before and after) or ``"auto"``: histogram when the
            group has more than *max_accounts* accounts.
        max_accounts: In the accounts view, draw at most this many accounts,
            the largest allocations (the title says so).
        ax: Draw into these axes (default: a new figure).
        path: Save the figure there (PNG, SVG or PDF by the suffix).

    Returns:
        The matplotlib Figure.

    Raises:
        InvalidParameterError: The result has no such metric, or *view* or
            *max_accounts* is not valid.
    """
    name = _metric_name(result, metric)
    histogram = _use_histogram(result, view, max_accounts)
    rows = None if histogram else _shown(result, name, max_accounts)
    fig = _draw_metric(result, name, relative, rows, ax)
    _save(fig, path)
    return fig


def _draw_metric(
    result: AllocationResult,
    name: str,
    relative: bool,
    rows: IntArray | None,
    ax: Axes | None,
) -> Any:
    """Draw *name*: a histogram when *rows* is None, else those accounts in that order."""
    w, weighting = _weights(result, name)
    before = np.asarray(result.pre_metrics[name], dtype=np.float64)
    after = np.asarray(result.post_metrics[name], dtype=np.float64)
    target = _target(result, name)
    mean_before, mean_after = _weighted_mean(before, w), _weighted_mean(after, w)
    if relative:
        # From the target when there is one, else from the group's mean at each time.
        before = before - (target if target is not None else mean_before)
        after = after - (target if target is not None else mean_after)
        label = "distance from " + (
            "target" if target is not None else _weighting_label(weighting) + " mean"
        )
    n_shown = len(result) if rows is None else len(rows)
    axes = _new_axes(ax, (max(7.0, min(0.22 * n_shown + 3, 14.0)), 4.0))
    if rows is None:
        known = ~np.isnan(before)
        lo = float(np.nanmin(np.concatenate([before[known], after[known]])))
        hi = float(np.nanmax(np.concatenate([before[known], after[known]])))
        bins = np.linspace(lo, hi if hi > lo else lo + 1e-9, 41).tolist()
        axes.hist(after[known], bins=bins, color=_AFTER, alpha=0.55, label="after")
        axes.hist(
            before[known], bins=bins, color="#444444", histtype="step", lw=1.2, label="before"
        )
        axes.set_xlabel(label if relative else name)
        axes.set_ylabel("accounts")
        note = f"{len(result):,} accounts"
        mean_label = f"{_weighting_label(weighting)} mean after"
        _reference_lines(axes.axvline, relative, mean_after, mean_label, target)
    else:
        x = np.arange(len(rows))
        b, a = before[rows], after[rows]
        axes.vlines(x, b, a, color=_AFTER, alpha=0.35, zorder=1)
        axes.scatter(x, b, label="before", color=_BEFORE, zorder=2, s=18)
        axes.scatter(x, a, label="after", color=_AFTER, zorder=3, s=18)
        scope = "" if len(rows) == len(result) else " (all accounts)"
        mean_label = f"{_weighting_label(weighting)} mean after{scope}"
        _reference_lines(axes.axhline, relative, mean_after, mean_label, target)
        axes.set_xticks(x, [result.account_ids[i] for i in rows], rotation=90, fontsize="x-small")
        axes.set_ylabel(label if relative else name)
        note = _count_note(result, rows)
    std = _std_text(result, name)
    axes.set_title(
        f"{name}, {result.method}, {note}\n{_weighting_label(weighting)} {std}", fontsize="medium"
    )
    axes.legend(loc="best", fontsize="small")
    return axes.figure


def _reference_lines(
    line: Callable[..., Any],
    relative: bool,
    mean_after: float,
    mean_label: str,
    target: float | None,
) -> None:
    """Mark the metric's references with *line* (``axvline`` or ``axhline``, by the view).

    Relative values get their zero; levels get the weighted mean after the
    trade and min dispersion's target, if it had one.
    """
    if relative:
        line(0.0, color="black", linewidth=0.8)
        return
    line(mean_after, color=_MEAN, linestyle="--", label=mean_label)
    if target is not None:
        line(target, color=_TARGET, linestyle=":", label="target")


# --- amounts -----------------------------------------------------------------------------------


def _amount_values(result: AllocationResult, unit: Unit) -> tuple[FloatArray, str]:
    verb = _verb(result)
    if unit == "face":
        return result.quantity / 1e6, f"face {verb} (mm)"
    if unit == "pct_nav":
        if result.nav is None:
            raise InvalidParameterError(
                "unit", unit, "this result does not carry NAVs (a record from an older version)"
            )
        value = result.quantity * result.order.security.cash_per_face
        return 100.0 * value / np.asarray(result.nav), f"{verb}, % of NAV"
    raise InvalidParameterError("unit", unit, "must be 'face' or 'pct_nav'")


def plot_amounts(
    result: AllocationResult,
    *,
    unit: Unit = "face",
    view: View = "auto",
    max_accounts: int = 60,
    order_by: str | None = None,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Any:
    """Draw what each account received, bars coloured by reason.

    Accounts that received nothing are marked on the axis in their reason's
    colour (restricted, capped, below the min piece, not needed), so they
    are seen, not just missing.

    Args:
        result: The allocation.
        unit: ``"face"`` (millions, "bought" or "sold") or ``"pct_nav"``
            (market value as % of the account's NAV).
        view: ``"accounts"`` (one bar per account), ``"histogram"`` (accounts
            and face per reason) or ``"auto"``: by the group's size.
        max_accounts: In the accounts view, draw at most this many accounts,
            the largest allocations (the title says so).
        order_by: A metric to order the accounts by (as `plot_metric` does),
            default: account order.
        ax: Draw into these axes (default: a new figure).
        path: Save the figure there.

    Returns:
        The matplotlib Figure.

    Raises:
        InvalidParameterError: *unit*, *view* or *max_accounts* is not valid.
    """
    values, label = _amount_values(result, unit)
    histogram = _use_histogram(result, view, max_accounts)
    metric = order_by if order_by in result.pre_metrics else None
    rows = None if histogram else _shown(result, metric, max_accounts)
    fig = _draw_amounts(result, values, label, unit, rows, ax)
    _save(fig, path)
    return fig


def _draw_amounts(
    result: AllocationResult,
    values: FloatArray,
    label: str,
    unit: Unit,
    rows: IntArray | None,
    ax: Axes | None,
) -> Any:
    """Draw the amounts: counts by reason when *rows* is None, else those accounts' bars."""
    codes = np.asarray(result.reason_codes)
    if rows is None:
        present = [r for r in Reason if np.any(codes == r.code)]
        axes = _new_axes(ax, (8.0, 0.4 * len(present) + 1.8))
        counts = [int(np.count_nonzero(codes == r.code)) for r in present]
        totals = [float(values[codes == r.code].sum()) for r in present]
        y = np.arange(len(present))
        axes.barh(y, counts, color=[REASON_COLOURS[r] for r in present])
        axes.set_yticks(y, [r.value for r in present], fontsize="small")
        axes.invert_yaxis()
        axes.set_xlabel("accounts")
        unit_text = "mm" if unit == "face" else "% NAV summed"
        for yi, count, total in zip(y, counts, totals, strict=True):
            axes.annotate(
                f" {count:,} accounts, {total:,.2f} {unit_text}",
                (count, yi),
                va="center",
                fontsize="small",
            )
        axes.set_xlim(0, max(counts) * 1.6)
        axes.set_title(
            f"{label} by reason, {len(result):,} accounts\n"
            f"{result.allocated / 1e6:,.2f}mm of {result.requested / 1e6:,.2f}mm placed",
            fontsize="medium",
        )
    else:
        axes = _new_axes(ax, (max(7.0, min(0.22 * len(rows) + 3, 14.0)), 3.5))
        x = np.arange(len(rows))
        reasons = [Reason.from_code(int(c)) for c in codes[rows]]
        colours = [REASON_COLOURS[r] for r in reasons]
        axes.bar(x, values[rows], color=colours)
        zero = values[rows] == 0
        if zero.any():
            axes.scatter(
                x[zero],
                np.zeros(int(zero.sum())),
                marker="x",
                color=[c for c, z in zip(colours, zero, strict=True) if z],
                zorder=3,
            )
        seen: dict[Reason, None] = dict.fromkeys(reasons)
        handles = [
            _legend_patch(REASON_COLOURS[r], r.value.lower().replace("_", " ")) for r in seen
        ]
        axes.legend(handles=handles, loc="best", fontsize="x-small")
        axes.set_xticks(x, [result.account_ids[i] for i in rows], rotation=90, fontsize="x-small")
        axes.set_ylabel(label)
        axes.set_title(
            f"{label}, {_count_note(result, rows)}\n"
            f"{result.allocated / 1e6:,.2f}mm of {result.requested / 1e6:,.2f}mm placed",
            fontsize="medium",
        )
    return axes.figure


def _legend_patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


# --- overview and comparison -------------------------------------------------------------------


def plot_result(
    result: AllocationResult,
    *,
    metric: str | Sequence[str] | None = None,
    relative: bool = False,
    unit: Unit = "face",
    view: View = "auto",
    max_accounts: int = 60,
    path: str | Path | None = None,
) -> Any:
    """The overview: one panel per metric, then the amounts coloured by reason.

    Args:
        result: The allocation.
        metric: The metric or metrics to draw (default: every metric the
            trade moves).
        relative: Draw distances from the weighted mean (or target) instead
            of levels (see `plot_metric`).
        unit: The amounts panel's unit: ``"face"`` or ``"pct_nav"``.
        view: ``"accounts"``, ``"histogram"`` or ``"auto"`` (see `plot_metric`).
        max_accounts: The most accounts drawn one by one.
        path: Save the figure there (PNG, SVG or PDF by the suffix).

    Returns:
        The matplotlib Figure.

    Raises:
        InvalidParameterError: The result has no such metric, or another
            argument is not valid.
    """
    if metric is None:
        names = list(result.post_metrics)
        if not names:
            _metric_name(result, None)  # raises, naming the problem
    elif isinstance(metric, str):
        names = [_metric_name(result, metric)]
    else:
        names = [_metric_name(result, m) for m in metric]
    histogram = _use_histogram(result, view, max_accounts)
    # One account order for every panel (by the engine's metric), so columns line up.
    rows = None if histogram else _shown(result, _metric_name(result, None), max_accounts)
    width = 9.0 if histogram else max(7.0, min(0.22 * min(len(result), max_accounts) + 3, 14.0))
    fig = Figure(figsize=(width, 3.2 * len(names) + 3.4), layout="constrained")
    axes = fig.subplots(len(names) + 1, 1, height_ratios=[2.0] * len(names) + [1.6])
    for ax, name in zip(axes[:-1], names, strict=True):
        _draw_metric(result, name, relative, rows, ax)
    values, label = _amount_values(result, unit)
    _draw_amounts(result, values, label, unit, rows, axes[-1])
    _save(fig, path)
    return fig


def plot_compare(
    results: Sequence[AllocationResult],
    *,
    metric: str | None = None,
    unit: Unit = "face",
    view: View = "auto",
    max_accounts: int = 60,
    path: str | Path | None = None,
) -> Any:
    """Several allocations of the same order side by side (e.g. pro-rata and min dispersion).

    Each column shows one result: the distance of each account's metric
    from the group's weighted mean before and after, then the amounts.
    Rows share their scales, and every column uses the same accounts in the
    same order, so the eye compares like with like.

    Args:
        results: Results of the same order on the same accounts.
        metric: The metric (default: the first result's).
        unit: The amounts' unit: ``"face"`` or ``"pct_nav"``.
        view: ``"accounts"``, ``"histogram"`` or ``"auto"``.
        max_accounts: The most accounts drawn one by one (chosen by the
            first result's allocations).
        path: Save the figure there.

    Returns:
        The matplotlib Figure.

    Raises:
        InvalidParameterError: Fewer than two results, results of different
            accounts or weightings, or an unknown metric.
    """
    if len(results) < 2:
        raise InvalidParameterError("results", len(results), "needs two results or more")
    first = results[0]
    name = _metric_name(first, metric)
    weightings = set()
    for other in results:
        _metric_name(other, name)
        if other.account_ids != first.account_ids:
            raise InvalidParameterError(
                "results", other.method, "allocate different accounts: nothing to compare"
            )
        weightings.add(_weights(other, name)[1])
    if len(weightings) > 1:
        raise InvalidParameterError(
            "results",
            sorted(weightings),
            "use different dispersion weightings: their numbers do not compare",
        )
    histogram = _use_histogram(first, view, max_accounts)
    n = len(first) if histogram else min(len(first), max_accounts)
    width = (6.5 if histogram else max(6.0, min(0.16 * n + 2.5, 9.0))) * len(results)
    fig = Figure(figsize=(width, 8.5), layout="constrained")
    axes = fig.subplots(2, len(results), sharey="row", height_ratios=(2.0, 1.4), squeeze=False)
    # Every column draws the same accounts in the same order, so they line up.
    rows = None if histogram else _shown(first, name, max_accounts)
    for col, res in enumerate(results):
        _draw_metric(res, name, True, rows, axes[0, col])
        values, label = _amount_values(res, unit)
        _draw_amounts(res, values, label, unit, rows, axes[1, col])
    fig.suptitle(
        f"{first.order.side.value} {first.requested:,.0f} {first.order.security.id}: "
        f"{' vs '.join(r.method for r in results)}"
    )
    _save(fig, path)
    return fig
