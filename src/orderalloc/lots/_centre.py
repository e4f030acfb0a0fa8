"""A moving mean: the least dispersion when the mean of a metric moves with the split.

With equal (or custom) weights the mean of a metric moves with the split, so
the dispersion is not separable. But ``sum_i w_i (x_i - c)^2 = V(q) +
(mean(q) - c)^2`` (weights summing to 1), so the least dispersion is the
least, over centres *c*, of the separable optimum at *c*. That optimum is
``c^2`` plus a concave function of *c*, whose chords bound it from below: a
branch and bound over *c* with an exact separable rounding at each point
finds the optimum and proves it (`centre_search`). Where that is not
affordable, `_recentre_small` alternates exact roundings and re-centring.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

from ..typing import FloatArray, IntArray
from ._exact import _WINDOW_ROUNDS, _exact_split, _options, _totals, _window_width
from ._keys import _key_order, _LazyKeys
from ._legal import _Legal

_CENTRE_CELLS = 40_000_000  # cells the centre search's programmes may use together


def _centre_small(
    q: FloatArray,
    a: FloatArray,
    legal: _Legal,
    keys: _LazyKeys,
    live: IntArray,
    mm: MovingMean,
) -> tuple[FloatArray, float] | None:
    """The least dispersion with a moving mean, proven by a search over the centre.

    Each point is the exact programme over totals at one centre; None when
    even a few of them would exceed `_CENTRE_CELLS`.
    """
    order = _key_order(keys, live)
    total = float(q.sum())
    cells = _totals(legal, total) * sum(_options(legal, i, total, None, 0).size for i in order)
    points = min(40, _CENTRE_CELLS // max(cells, 1))
    if points < 8:
        return None

    def split_at(t: FloatArray) -> FloatArray | None:
        found = _exact_split(t, a, legal, total, order, None, 0)
        return None if found is None or found[1] != total else found[0]

    best, bound = centre_search(mm, split_at, q, max_points=points)
    return None if bound == -math.inf else (best, bound)


def _recentre_small(
    q: FloatArray,
    a: FloatArray,
    legal: _Legal,
    keys: _LazyKeys,
    live: IntArray,
    objective: Callable[[FloatArray], float],
    recentre: Callable[[FloatArray], FloatArray],
) -> FloatArray:
    """Alternate exact roundings and re-centring while the true objective falls.

    For a fixed centre the dispersion is separable and the programme is exact;
    the true (moving-mean) dispersion is the minimum over centres, so each
    round can only lower it (a block-coordinate descent on split and centre).
    """
    order = _key_order(keys, live)
    best = objective(q)
    total = float(q.sum())
    for _ in range(_WINDOW_ROUNDS * 2):
        t2 = recentre(q)
        found = _exact_split(t2, a, legal, total, order, None, 0)
        if found is None:
            width = _window_width(legal, total, live.size)
            if width < 1:
                break
            found = _exact_split(t2, a, legal, total, order, q, width)
        if found is None or found[1] != total:
            break
        value = objective(found[0])
        if not value < best:
            break
        q, best = found[0], value
    return q


@attrs.frozen(eq=False)
class MovingMean:
    """A one-metric dispersion whose mean moves with the split: what `centre_search` needs.

    ``F(q, c) = dispersion(q) + kappa * (mean_of(q) - c)^2`` is the dispersion
    measured about a fixed centre *c*; its separable form at *c* has centre
    ``centre_at(c)`` (the curvatures do not depend on *c*). Every legal
    split's mean lies in ``[lo, hi]``.
    """

    centre_at: Callable[[float], FloatArray]
    mean_of: Callable[[FloatArray], float]
    dispersion: Callable[[FloatArray], float]
    kappa: float
    lo: float
    hi: float


def centre_search(
    mm: MovingMean,
    split_at: Callable[[FloatArray], FloatArray | None],
    start: FloatArray,
    *,
    max_points: int = 40,
    rtol: float = 1e-9,
) -> tuple[FloatArray, float]:
    """The split of least dispersion, by branch and bound over the centre.

    Args:
        mm: The dispersion (see `MovingMean`).
        split_at: The exact separable rounding for a centre vector *t*
            (None: not found).
        start: A split to beat.
        max_points: The most separable roundings to compute.
        rtol: Stop when the bound is this close, relatively.

    Returns:
        The best split found and a lower bound on the least dispersion over
        every legal split of the same total (-inf when none could be proven).

    ``G(c) = min_q F(q, c) = min_q V(q) + kappa (mean(q) - c)^2``, so
    ``min_c G(c) = min_q V(q)``, and ``G(c) - kappa c^2`` is a minimum of
    functions linear in *c*: concave, above its chord on any interval. On
    ``[c0, c1]`` the least of ``kappa (c - c0)^2`` plus the chord bounds
    *G* from below; intervals are split at their middle, the one with the
    lowest bound first, until every bound reaches the best dispersion found.
    """
    best_q, best = start, mm.dispersion(start)
    values: dict[float, float] = {}
    kappa = mm.kappa

    def point(c: float) -> bool:
        nonlocal best_q, best
        q = split_at(mm.centre_at(c))
        if q is None:
            return False
        v = mm.dispersion(q)
        values[c] = v + kappa * (mm.mean_of(q) - c) ** 2
        if v < best:
            best_q, best = q, v
        return True

    def floor(c0: float, c1: float) -> float:
        # In u = c - c0 (no cancellation against c^2): G = kappa u^2 + h(u), h concave.
        span = c1 - c0
        if span <= 0:
            return min(values[c0], values[c1])
        h0, h1 = values[c0], values[c1] - kappa * span * span
        slope = (h1 - h0) / span
        u = min(max(-slope / (2.0 * kappa), 0.0), span)
        return kappa * u * u + h0 + slope * u

    lo, hi = mm.lo, mm.hi
    if not (math.isfinite(lo) and math.isfinite(hi) and kappa > 0 and hi >= lo):
        return best_q, -math.inf
    for c in (lo, hi):
        if not point(c):
            return best_q, -math.inf
    pending = [(floor(lo, hi), lo, hi)]
    used = 2
    while pending:
        pending.sort()
        bound, c0, c1 = pending[0]
        if bound >= best - rtol * abs(best) or used >= max_points:
            break
        pending.pop(0)
        c = 0.5 * (c0 + c1)
        if c in (c0, c1):
            continue
        used += 1
        if not point(c):
            return best_q, -math.inf
        pending += [(floor(c0, c), c0, c), (floor(c, c1), c, c1)]
    lower = min([best] + [b for b, _, _ in pending])
    return best_q, lower
