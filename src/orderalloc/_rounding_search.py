"""Rounding searches beyond pairwise exchanges: which accounts are open, and where the mean sits.

Two ideas that `orderalloc.lots` calls when its exact programme cannot run or
cannot see the true objective:

* **Open-set search.** The rounding is hard only because an account either
  takes nothing or at least its first amount; once the set of open accounts
  is fixed, the problem is a separable convex one over whole increments, which
  the Lagrangian rounding solves exactly. The search moves between open sets
  (close one account, open another, or both at once) and re-solves the
  convex problem for each: every other account's amount follows, so one move
  is an exchange of unequal amounts among any number of accounts.
* **Centre search.** With equal (or custom) weights the mean of a metric
  moves with the split, so the dispersion is not separable. But
  ``sum_i w_i (x_i - c)^2 = V(q) + (mean(q) - c)^2`` (weights summing to 1),
  so the least dispersion is the least, over centres *c*, of the separable
  optimum at *c*. That optimum is ``c^2`` plus a concave function of *c*,
  whose chords bound it from below: a branch and bound over *c* with an exact
  separable rounding at each point finds the optimum and proves it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import numpy as np

from . import lots as _lots
from .typing import FloatArray, IntArray

_OPEN_ROUNDS = 12  # open-set moves applied at most
_OPEN_CANDIDATES = 32  # single state changes tried per round
_OPEN_PAIRS = 12  # ... the cheapest this many also tried in pairs


def _cost(q: FloatArray, t: FloatArray, a: FloatArray) -> float:
    return float(np.sum(a * (q - t) ** 2))


def solve_open_set(
    t: FloatArray,
    r: FloatArray,
    legal: _lots._Legal,
    total: float,
    keys: _lots._LazyKeys,
    is_open: np.ndarray,
    sold: np.ndarray,
) -> FloatArray | None:
    """The cheapest split with exactly the accounts *is_open* in their ranges, *sold* sold out.

    Every open account takes ``low_i + y_i`` with ``y_i`` a whole number of
    increments up to ``top_i - low_i``: a convex separable problem, which the
    Lagrangian rounding solves exactly. None when no such split adds up to
    *total*.
    """
    q = np.zeros_like(t)
    q[sold] = legal.full[sold]
    rows = np.flatnonzero(is_open)
    rest = total - float(q.sum()) - float(legal.low[rows].sum())
    d = legal.d
    if rest < 0 or math.fmod(rest, d) != 0:
        return None
    q[rows] = legal.low[rows]
    if rest == 0:
        return q
    span = legal.top[rows] - legal.low[rows]
    if float(span.sum()) < rest:
        return None
    # The shifted problem: y in {0, d, ..., span}, i.e. a grid with min piece d.
    has = span >= d
    inf = np.full(rows.size, np.inf)
    sub = _lots._Legal(d, d, np.where(has, d, np.inf), np.where(has, span, -np.inf), inf)
    try:
        y, _, _, _ = _lots._lagrangian(
            t[rows] - legal.low[rows], r[rows], sub, rest, _lots._SubsetKeys(keys, rows), 0.0
        )
    except _lots._NoBracketError:
        return None
    if float(y.sum()) != rest:
        return None
    q[rows] += y
    return q


def open_set_search(
    q: FloatArray,
    t: FloatArray,
    a: FloatArray,
    r: FloatArray,
    legal: _lots._Legal,
    keys: _lots._LazyKeys,
) -> tuple[FloatArray, int]:
    """Improve *q* by changing which accounts are closed, open or sold out.

    Every account is in one of three states: closed (0), open (within its
    contiguous range) or sold out (its whole position). A move changes the
    state of one account, or of two at once (close one and open another,
    sell one out and close another, ...); for each, the open accounts are
    re-solved exactly (`solve_open_set`), so every other amount follows.
    Candidates are screened by what the new state costs the account itself
    (at the amount nearest its ideal in that state); the cheapest are tried
    alone and the cheapest few in pairs. The best improving move is applied,
    and the search repeats. Returns the amounts and the moves applied; the
    total never changes.
    """
    total = float(q.sum())
    in_range = (q >= legal.low) & (q <= legal.top) & (q > 0)
    state = np.where(in_range, _OPEN, np.where(q > 0, _SOLD, _CLOSED))
    # The cost of each state to the account alone, at its best amount there.
    own = np.full((3, q.size), np.inf)
    own[_CLOSED] = a * t * t
    has_range = np.isfinite(legal.low) & (legal.low <= legal.top) & (legal.low <= total)
    near = np.clip(t, np.where(has_range, legal.low, 0.0), np.where(has_range, legal.top, 0.0))
    own[_OPEN] = np.where(has_range, a * (near - t) ** 2, np.inf)
    can_sell = np.isfinite(legal.full) & (legal.full <= total)
    own[_SOLD] = np.where(can_sell, a * (np.where(can_sell, legal.full, 0.0) - t) ** 2, np.inf)
    best_q = _solve_states(t, r, legal, total, keys, state)
    if best_q is None or _cost(best_q, t, a) >= _cost(q, t, a):
        best_q = q
    best = _cost(best_q, t, a)
    applied = 0
    rows = np.arange(q.size)
    for _ in range(_OPEN_ROUNDS):
        current = own[state, rows]
        singles: list[tuple[float, int, int]] = []
        for target in (_CLOSED, _OPEN, _SOLD):
            delta = own[target] - current
            ok = np.flatnonzero((state != target) & np.isfinite(delta))
            singles += [(float(delta[i]), int(i), target) for i in ok.tolist()]
        singles.sort(key=lambda x: (x[0], keys(x[1]), x[2]))
        moves: list[tuple[tuple[int, int], ...]] = [
            ((i, st),) for _, i, st in singles[:_OPEN_CANDIDATES]
        ]
        few = singles[:_OPEN_PAIRS]
        moves += [
            ((i, st), (j, u))
            for k, (_, i, st) in enumerate(few)
            for _, j, u in few[k + 1 :]
            if i != j
        ]
        found: tuple[float, tuple[tuple[int, int], ...], FloatArray] | None = None
        for move in moves:
            trial = state.copy()
            for i, target in move:
                trial[i] = target
            cand = _solve_states(t, r, legal, total, keys, trial)
            if cand is None:
                continue
            c = _cost(cand, t, a)
            if c < best * (1 - 1e-12) and (found is None or c < found[0]):
                found = (c, move, cand)
        if found is None:
            break
        best, move, best_q = found
        for i, target in move:
            state[i] = target
        state[(state == _OPEN) & (best_q == 0)] = _CLOSED
        applied += 1
    return best_q, applied


_CLOSED, _OPEN, _SOLD = 0, 1, 2


def _solve_states(
    t: FloatArray,
    r: FloatArray,
    legal: _lots._Legal,
    total: float,
    keys: _lots._LazyKeys,
    state: IntArray,
) -> FloatArray | None:
    """`solve_open_set` for a state per account (closed, open, sold out)."""
    return solve_open_set(t, r, legal, total, keys, state == _OPEN, state == _SOLD)


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
