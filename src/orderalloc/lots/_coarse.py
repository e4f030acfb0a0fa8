"""The exact programme on a coarser grid: which accounts open, then the amounts refined.

Used for small groups whose programme over every legal amount is over budget
(an increment of 1 face under a min piece of 10,000, say): the coarse answer
fixes the combinatorial part, and the Lagrangian rounding, the fill and the
exchanges finish the convex rest.
"""

from __future__ import annotations

import math

import numpy as np

from ..typing import FloatArray
from ._exact import _EXACT_BUDGET, _exact_split
from ._greedy import _fill, _repair
from ._lagrange import _NoBracketError, _place
from ._legal import _is_legal, _Legal
from ._problem import _Problem
from ._swaps import _polish

_COARSE_FACTORS = (2, 3, 4, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000)


def _coarse_round(problem: _Problem, total: float, order: list[int]) -> FloatArray | None:
    """Which accounts to open, decided exactly on a coarser grid, then the amounts refined.

    When the programme over every amount is too large (an increment of 1 face
    under a min piece of 10,000, say), the same programme runs with every
    *c*-th amount only (``min_piece + j * c * increment``), which fixes the
    hard, combinatorial part: which accounts open and roughly how much each
    takes. The rest of the order is then filled in multiplier order and the
    split polished by exchanges (for a fixed set of open accounts the problem
    is convex, where exchanges are exact). None when no factor fits.
    """
    t, a, legal = problem.t, problem.a, problem.legal
    m, d = legal.m, legal.d
    klo = np.where(np.isfinite(legal.low), np.round((legal.low - m) / d), 0.0)
    khi = np.where(np.isfinite(legal.top), np.round((legal.top - m) / d), -1.0)
    kx = np.where(np.isfinite(legal.full), np.round((legal.full - m) / d), -1.0)
    for c in _COARSE_FACTORS:
        step = c * d
        unit = math.gcd(int(m), int(step))
        lo_j, hi_j = np.ceil(klo / c), np.floor(khi / c)
        menus = np.where(hi_j >= lo_j, hi_j - lo_j + 2, 1.0)
        cells = float(menus[order].sum()) * (total // unit + 1)
        if cells > _EXACT_BUDGET:
            continue
        ok = hi_j >= lo_j
        # A whole-position sale off the coarse grid is offered at the grid point
        # below it: the coarse programme only decides that the account sells out.
        snapped = np.where(kx >= 0, m + np.floor(kx / c) * step, np.inf)
        top_c = np.where(ok, m + hi_j * step, -np.inf)
        full_c = np.where(snapped > top_c, snapped, np.inf)
        coarse = _Legal(m, step, np.where(ok, m + lo_j * step, np.inf), top_c, full_c)
        found = _exact_split(t, a, coarse, total, order, None, 0)
        if found is None:
            return None
        candidates = [_refine(problem, found[0], full_c, total)]
        # The fill starts from the coarse split with its snapped whole-position
        # sales made whole again (a snapped amount is not legal: it leaves a stub).
        sold_out = np.isfinite(full_c) & (found[0] == full_c)
        start = np.where(sold_out, legal.full, found[0])
        if float(start.sum()) <= total:
            q, _ = _fill(problem, start, total, np.asarray(order), math.inf)
            if float(q.sum()) != total:
                q = _repair(problem, q, total)
            if float(q.sum()) == total:
                candidates.append(_polish(problem, q))
        done = [x for x in candidates if x is not None and bool(_is_legal(legal, x).all())]
        return min(done, key=problem.cost) if done else None
    return None


def _refine(
    problem: _Problem, coarse_q: FloatArray, full_c: FloatArray, total: float
) -> FloatArray | None:
    """The best split with the coarse answer's choice of closed, open and sold-out accounts.

    Sold-out accounts sell their whole position; the open ones share the rest
    by the Lagrangian rounding over their ranges (for a fixed choice the
    problem is convex), then exchanges polish the whole.
    """
    legal = problem.legal
    sold_out = np.isfinite(full_c) & (coarse_q == full_c)
    rest = total - float(legal.full[sold_out].sum())
    rows = np.flatnonzero((coarse_q > 0) & ~sold_out)
    if rest < 0 or (rows.size == 0 and rest > 0):
        return None
    q = np.zeros_like(problem.t)
    q[sold_out] = legal.full[sold_out]
    if rows.size:
        sub = _Legal(legal.m, legal.d, legal.low[rows], legal.top[rows], np.full(rows.size, np.inf))
        try:
            qs, _, _, _ = _place(problem.take(rows, sub), rest, 0.0)
        except _NoBracketError:
            return None
        if float(qs.sum()) != rest:
            return None
        q[rows] = qs
    return _polish(problem, q)
