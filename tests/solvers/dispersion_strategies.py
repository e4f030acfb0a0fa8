"""Hypothesis strategies and reference checks for the min-dispersion solver tests.

The arrays are drawn from a numpy generator seeded by Hypothesis, so large
groups stay cheap to generate; the choices that matter for the algorithms
(size, metrics, mode, weighting, which bounds bind, degenerate accounts) are
drawn by Hypothesis itself so that failures shrink to them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from orderalloc.solvers import DispersionProblem, capacity_split, objective
from orderalloc.typing import FloatArray

WEIGHTINGS = ("nav", "equal", "random")


def make_problem(
    n: int,
    n_metrics: int = 1,
    *,
    weighting: str = "nav",
    target_mode: bool = False,
    fraction: float = 0.3,
    side: float = 1.0,
    positive_lo: bool = False,
    zero_weight: bool = False,
    zero_sensitivity: bool = False,
    seed: int = 0,
) -> DispersionProblem:
    """A realistic group: lognormal NAVs, spread durations around 5, cash caps."""
    rng = np.random.default_rng(seed)
    nav = np.exp(rng.uniform(np.log(5e6), np.log(2e9), n))
    m = rng.normal(5.0, 1.0, (n, n_metrics))
    b = rng.normal(4.0, 1.0, n_metrics)
    price = rng.uniform(0.9, 1.1)
    s = side * price * b[None, :] / nav[:, None]
    if zero_sensitivity and n > 1:
        s[0] = 0.0
    if weighting == "nav":
        raw = nav.copy()
    elif weighting == "equal":
        raw = np.ones(n)
    else:
        raw = rng.uniform(0.0, 1.0, n) + 1e-3
    if zero_weight and n > 1:
        raw[-1] = 0.0
    w = raw / raw.sum()
    cap = nav * rng.uniform(0.005, 0.08, n)
    lo = cap * rng.uniform(0.0, 0.3, n) * rng.integers(0, 2, n) if positive_lo else np.zeros(n)
    hi = lo + cap
    total = float(lo.sum() + fraction * (hi - lo).sum())
    target = rng.normal(5.0, 0.5, n_metrics) if target_mode else None
    c = rng.uniform(0.5, 2.0, n_metrics) if n_metrics > 1 else np.ones(1)
    return DispersionProblem(m=m, s=s, w=w, c=c, lo=lo, hi=hi, total=total, target=target)


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    min_n: int = 1,
    max_n: int = 30,
    max_metrics: int = 2,
    target_mode: bool | None = None,
    weightings: tuple[str, ...] = WEIGHTINGS,
    degenerate: bool = True,
) -> DispersionProblem:
    """Problems of every mode, weighting and binding pattern, sized *min_n..max_n*."""
    options: dict[str, Any] = {
        "weighting": draw(st.sampled_from(weightings)),
        "target_mode": draw(st.booleans()) if target_mode is None else target_mode,
        "fraction": draw(st.one_of(st.sampled_from([0.0, 1.0, 0.999]), st.floats(0.01, 0.99))),
        "side": draw(st.sampled_from([1.0, -1.0])),
        "positive_lo": draw(st.booleans()),
        "zero_weight": degenerate and draw(st.booleans()),
        "zero_sensitivity": degenerate and draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }
    return make_problem(
        draw(st.integers(min_n, max_n)), draw(st.integers(1, max_metrics)), **options
    )


def assert_feasible(problem: DispersionProblem, q: FloatArray) -> None:
    """Bounds hold exactly and the total to 1e-9 relative."""
    assert q.shape == (problem.n_accounts,)
    assert (q >= problem.lo).all(), np.min(q - problem.lo)
    assert (q <= problem.hi).all(), np.max(q - problem.hi)
    np.testing.assert_allclose(q.sum(), problem.total, rtol=1e-9, atol=1e-6)


def gradient(problem: DispersionProblem, q: FloatArray) -> FloatArray:
    """``df/dq_i = 2 w_i sum_j c_j s_ij (x_ij - mu_j)`` (the mean's own term vanishes)."""
    x = problem.m + problem.s * q[:, None]
    mu = problem.target if problem.target is not None else problem.w @ x
    return np.asarray(2.0 * problem.w * ((problem.s * (x - mu)) @ problem.c), dtype=np.float64)


def assert_kkt(problem: DispersionProblem, q: FloatArray, *, rtol: float = 1e-6) -> None:
    """The KKT conditions of ``min f`` s.t. bounds and total, checked directly.

    There must be a multiplier ``lam`` with ``grad_i + lam`` zero on free
    accounts, ``>= 0`` at the lower bound and ``<= 0`` at the upper bound,
    all to *rtol* times the gradient's scale (its size at *q* or at the
    capacity split, whichever is larger: at a perfect equalisation the
    gradient is all rounding noise).
    """
    g = gradient(problem, q)
    g_start = gradient(problem, capacity_split(problem))
    scale = max(float(np.abs(g).max()), float(np.abs(g_start).max()), 1e-300)
    span = np.maximum(problem.hi - problem.lo, 1e-300)
    at_lo = (q - problem.lo) <= 1e-9 * span
    at_hi = (problem.hi - q) <= 1e-9 * span
    free = ~at_lo & ~at_hi
    if free.any():
        lam = -float(np.median(g[free]))
        np.testing.assert_allclose(g[free] + lam, 0.0, atol=rtol * scale)
    else:  # any lam between the bounds' requirements will do
        lo_need = -float(g[at_lo & ~at_hi].min()) if (at_lo & ~at_hi).any() else -np.inf
        hi_need = -float(g[at_hi & ~at_lo].max()) if (at_hi & ~at_lo).any() else np.inf
        assert lo_need - rtol * scale <= hi_need + rtol * scale
        lam = lo_need if np.isfinite(lo_need) else (hi_need if np.isfinite(hi_need) else 0.0)
    only_lo = at_lo & ~at_hi
    only_hi = at_hi & ~at_lo
    assert (g[only_lo] + lam >= -rtol * scale).all()
    assert (g[only_hi] + lam <= rtol * scale).all()


def reference_knapsack(
    a: FloatArray, t: FloatArray, lo: FloatArray, hi: FloatArray, total: float
) -> FloatArray:
    """Quadratic knapsack by sorting every breakpoint and interpolating on one segment.

    ``S(lam) = sum_i clip(t_i - lam / (2 a_i), lo_i, hi_i)`` is piecewise linear
    and non-increasing with kinks at the breakpoints; the root lies on the
    segment whose ends straddle *total*, where *S* is linear.
    """
    r = 0.5 / a
    if total <= lo.sum():
        return np.array(lo, dtype=np.float64)
    if total >= hi.sum():
        return np.array(hi, dtype=np.float64)
    points = np.sort(np.concatenate([(t - hi) / r, (t - lo) / r]))

    def s_of(lam: float) -> float:
        return float(np.clip(t - lam * r, lo, hi).sum())

    values = np.array([s_of(p) for p in points])
    # values is non-increasing; find k with values[k] >= total >= values[k + 1].
    k = int(np.searchsorted(-values, -total, side="right")) - 1
    k = min(max(k, 0), len(points) - 2)
    left, right = points[k], points[k + 1]
    s_left, s_right = values[k], values[k + 1]
    if s_left == s_right:
        lam = left
    else:
        lam = left + (s_left - total) / (s_left - s_right) * (right - left)
    return np.asarray(np.clip(t - lam * r, lo, hi), dtype=np.float64)


def random_feasible_split(problem: DispersionProblem, seed: int) -> FloatArray:
    """A feasible split other than the optimum: random shares of the room."""
    rng = np.random.default_rng(seed)
    room = problem.hi - problem.lo
    extra = problem.total - problem.lo.sum()
    weights = room * rng.uniform(0.0, 1.0, problem.n_accounts)
    if weights.sum() <= 0:
        return np.asarray(problem.lo + room * (extra / max(room.sum(), 1e-300)))
    q = problem.lo + np.minimum(room, extra * weights / weights.sum())
    # Top up (water-fill) what the caps cut off.
    for _ in range(50):
        gap = problem.total - q.sum()
        free = problem.hi - q
        if gap <= 1e-9 * max(1.0, abs(problem.total)) or free.sum() <= 0:
            break
        q = q + np.minimum(free, gap * free / free.sum())
    return np.asarray(q, dtype=np.float64)


def worse_or_equal(problem: DispersionProblem, q_opt: FloatArray, q_other: FloatArray) -> bool:
    """Whether *q_other* is no better than *q_opt* (to rounding)."""
    best, other = objective(problem, q_opt), objective(problem, q_other)
    return best <= other * (1 + 1e-9) + 1e-15
