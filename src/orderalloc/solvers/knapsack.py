"""The continuous quadratic knapsack: the one convex problem every engine reduces to.

Minimise ``sum_i a_i (q_i - t_i)^2`` subject to ``sum_i q_i = total`` and
``lo_i <= q_i <= hi_i``, with every ``a_i > 0``.

The KKT conditions give ``q_i(lam) = clip(t_i - lam * r_i, lo_i, hi_i)`` with
``r_i = 1 / (2 a_i)``; ``S(lam) = sum_i q_i(lam)`` is continuous, piecewise
linear and non-increasing, so the multiplier is the root of ``S(lam) = total``.
We find it by Newton's method on that piecewise-linear function, safeguarded by
a bracket that every step shrinks (a step that leaves the bracket is replaced by
bisection). On the right linear piece Newton lands on the root exactly, so the
search ends after a handful of O(n) passes (Helgason et al. 1980; Brucker 1984;
Kiwiel 2008 for the safeguards).

Pro-rata with caps is this problem with ``t = 0`` and ``a_i = 1/w_i``: the
solution is ``min(hi_i, theta * w_i)``, water-filling to a common level, and
the share an account cannot take goes to the others in proportion to *w*.
Minimum dispersion solves it at a fixed centre (see `orderalloc.solvers.exact`).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from ..typing import FloatArray

__all__ = ["KnapsackSolution", "solve_quadratic_knapsack"]


@attrs.frozen
class KnapsackSolution:
    """The answer of `solve_quadratic_knapsack`.

    Attributes:
        q: The solution, array of shape (n,).
        lam: The multiplier of the total constraint.
        total: ``sum(q)``: the requested total, or the nearest reachable one
            when the bounds cannot reach it (then *feasible* is False).
        feasible: Whether the requested total lies within ``[sum(lo), sum(hi)]``.
        iterations: Newton or bisection steps taken.
    """

    q: FloatArray
    lam: float
    total: float
    feasible: bool
    iterations: int


def solve_quadratic_knapsack(
    a: FloatArray,
    t: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    total: float,
    *,
    max_iter: int = 200,
) -> KnapsackSolution:
    """Solve the continuous quadratic knapsack exactly (to floating point).

    Args:
        a: Curvatures, array of shape (n,), all > 0 and finite.
        t: Unconstrained targets, array of shape (n,).
        lo: Lower bounds, array of shape (n,).
        hi: Upper bounds, array of shape (n,), ``hi >= lo``, finite.
        total: The required sum.
        max_iter: The most Newton/bisection steps (the bracket halves at least
            every other step, so 200 is far beyond what floats can resolve).

    Returns:
        The solution. When *total* is outside ``[sum(lo), sum(hi)]`` every
        account is at the bound on that side and ``feasible`` is False.
    """
    r = 0.5 / a
    sum_lo = float(lo.sum())
    sum_hi = float(hi.sum())
    if total <= sum_lo or total >= sum_hi:
        at_lo = total <= sum_lo
        q = (lo if at_lo else hi).copy()
        reached = sum_lo if at_lo else sum_hi
        feasible = bool(np.isclose(total, reached, rtol=1e-12, atol=1e-9))
        return KnapsackSolution(q=q, lam=0.0, total=reached, feasible=feasible, iterations=0)

    # Start from the root of the unbounded problem, which is often on the right piece.
    lam = (float(t.sum()) - total) / float(r.sum())
    # The bracket [lam_lo, lam_hi] shrinks with every evaluation; its outer ends
    # (every q_i at hi, every q_i at lo) are only computed if bisection needs them.
    lam_lo, lam_hi = -math.inf, math.inf
    scale = max(abs(total), 1.0)
    z = np.empty_like(t)
    q = np.empty_like(t)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        np.multiply(r, -lam, out=z)
        z += t
        np.clip(z, lo, hi, out=q)
        gap = float(q.sum()) - total  # > 0: lam too small
        if abs(gap) <= 1e-13 * scale:
            break
        if gap > 0:
            lam_lo = lam
        else:
            lam_hi = lam
        free = (z > lo) & (z < hi)
        slope = float(np.sum(r, where=free))
        candidate = lam + gap / slope if slope > 0 else math.nan
        if lam_lo < candidate < lam_hi:
            lam = candidate
            continue
        if math.isinf(lam_lo):
            lam_lo = float(np.min((t - hi) / r))
        if math.isinf(lam_hi):
            lam_hi = float(np.max((t - lo) / r))
        mid = 0.5 * (lam_lo + lam_hi)
        if mid in (lam_lo, lam_hi):  # the bracket cannot shrink further
            break
        lam = mid
    # Remove the last rounding error by spreading it over the free accounts.
    gap = total - float(q.sum())
    if gap != 0.0:
        free = (z > lo) & (z < hi)
        if free.any():
            share = r[free] / float(r[free].sum())
            q[free] = np.clip(q[free] + gap * share, lo[free], hi[free])
    return KnapsackSolution(
        q=q, lam=lam, total=float(q.sum()), feasible=True, iterations=iterations
    )
