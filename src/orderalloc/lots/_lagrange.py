"""Step 1: the Lagrangian rounding, its multiplier search and its dual bound.

For a multiplier ``lam`` every account takes the legal amount nearest to
``t_i + lam / (2 a_i)``; the total is monotone in ``lam``. A bracketing search
on ``lam``, over fewer accounts at every step, finds the accounts on the
margin, and the greedy fill (`orderalloc.lots._greedy`) places the rest. The
same multipliers give a lower bound on the cost of every legal split
(`_dual_bound`), which `Rounding.gap` reports.
"""

from __future__ import annotations

import math

import numpy as np

from .._bisection import Bracket, bisect
from ..typing import FloatArray, IntArray
from ._greedy import _ACTIVE_SMALL, _breakpoint, _fill, _repair
from ._problem import _Problem

_MAX_FILL_MOVES = 4096  # ... and below this many single moves between the bracket's ends

_MAX_DOUBLINGS = 160  # 4**160 ~ 1e96: far past any multiplier floats can resolve


_Bracket = tuple[float, float, FloatArray, FloatArray]


class _NoBracketError(Exception):
    """The multiplier search ran out of steps (extreme scales); see `_lagrangian`."""


def _multiplier(ideal: FloatArray, t: FloatArray, r: FloatArray, hi: FloatArray) -> float:
    """The multiplier of a continuous optimum: ``ideal = t + lam * r`` where not at a bound."""
    free = (ideal > 0) & (ideal < hi)
    if not free.any():
        return 0.0
    return float(np.median((ideal[free] - t[free]) / r[free]))


def _place(
    problem: _Problem, total: float, lam0: float
) -> tuple[FloatArray, bool, IntArray | None, Bracket | None]:
    """Steps 1 to 3 for one total.

    Returns the amounts, True when they are a Lagrangian minimiser, the
    accounts an improving swap may involve (None: any account may), and the
    multiplier bracket for the dual bound (`_dual_bound`).
    """
    q, optimal, touched, dual = _lagrangian(problem, total, lam0)
    if float(q.sum()) == total:
        return q, optimal, touched, dual
    repaired = _repair(problem, q, total)
    if not np.array_equal(repaired, q):
        # The repair moves accounts off the multiplier's split (down moves taken
        # anywhere): after it, a swap may involve any account.
        touched = None
    return repaired, False, touched, dual


def _lagrangian(
    problem: _Problem, total: float, lam0: float
) -> tuple[FloatArray, bool, IntArray | None, Bracket | None]:
    """Steps 1 and 2: nearest legal amounts at the multiplier that meets the total.

    The search starts at *lam0*, the multiplier of the continuous optimum, so
    the nearest legal amounts are already within a few moves of the total.
    Every account outside the final bracket's rows has the same nearest amount
    anywhere between its ends: the bracket is returned for the dual bound.
    """
    t, r, legal = problem.t, problem.r, problem.legal
    q = legal.nearest(t + lam0 * r)
    s = float(q.sum())
    if s == total:
        return q, True, None, None
    bracket = _quick_bracket(problem, q, s, total, lam0)
    if bracket is None:
        found = _doubling_bracket(problem, q, s, total, lam0)
        if isinstance(found, np.ndarray):  # landed on the total exactly
            return found, True, None, None
        bracket = found
    lam_lo, lam_hi, q_lo, q_hi = bracket
    # Bisect on the accounts that still differ between the two ends.
    active = np.flatnonzero(q_lo != q_hi)
    ends = Bracket(lam_lo, lam_hi, q_lo, q_hi, active, float(q_lo.sum() - q_lo[active].sum()))
    unit = min(legal.m, legal.d)

    def nearest(lam: float, rows: IntArray) -> FloatArray:
        return legal.take(rows).nearest(t[rows] + lam * r[rows])

    def few_left(b: Bracket) -> bool:
        # Stop when few accounts, and few moves between the two ends, are left.
        moves = float(b.q_hi[b.rows].sum() - b.q_lo[b.rows].sum()) / unit
        return b.rows.size <= _ACTIVE_SMALL and moves <= _MAX_FILL_MOVES

    if bisect(ends, total, nearest, few_left):
        return q_lo, True, None, None
    active = ends.rows
    # Greedy fill from below in the order of each move's multiplier.
    q, optimal = _fill(problem, q_lo, total, active, ends.lam_hi)
    # Every account outside `active` is where the multiplier puts it at both ends
    # of the bracket; only `active` and the accounts the fill moved can take part
    # in an improving swap (see `_exchange`).
    touched = np.union1d(active, np.flatnonzero(q != q_lo))
    return q, optimal, touched, ends


def _quick_bracket(
    problem: _Problem, q: FloatArray, s: float, total: float, lam0: float
) -> _Bracket | None:
    """Bracket the multiplier from each account's next breakpoint, in one pass.

    Every move is at least ``min(min_piece, increment)``, so the ``need``-th
    nearest breakpoint moves the total past the order: no search over all
    accounts is needed, only over those whose breakpoint lies in between.
    """
    t, r, legal = problem.t, problem.r, problem.legal
    need = math.ceil(abs(total - s) / min(legal.m, legal.d))
    if s < total:
        brk = _breakpoint(q, legal.up(q), t, r)
    else:
        with np.errstate(invalid="ignore"):
            brk = (0.5 * (q + legal.down(q)) - t) / r
    finite = np.flatnonzero(np.isfinite(brk))
    if finite.size <= need:
        return None
    vals = brk[finite]
    if s < total:
        kth = float(np.partition(vals, need - 1)[need - 1])
        lam = kth + abs(kth) * 1e-9 + 1e-300
        active = finite[vals <= lam]
    else:
        kth = float(np.partition(vals, vals.size - need)[vals.size - need])
        lam = kth - abs(kth) * 1e-9 - 1e-300
        active = finite[vals >= lam]
    moved = q.copy()
    moved[active] = legal.take(active).nearest(t[active] + lam * r[active])
    ms = float(moved.sum())
    if s < total and ms >= total:
        return lam0, lam, q.copy(), moved
    if s > total and ms <= total:
        return lam, lam0, moved, q.copy()
    return None


def _doubling_bracket(
    problem: _Problem, q: FloatArray, s: float, total: float, lam0: float
) -> _Bracket | FloatArray:
    """Bracket the multiplier by steps that grow fourfold (the general fallback).

    Bounded: after `_MAX_DOUBLINGS` steps (or when the multiplier stops being
    finite, or stops moving the split because ``t`` dwarfs ``lam * r`` in
    floats) it raises `_NoBracketError`, and the caller rounds from the continuous
    optimum instead of the centre.
    """
    t, r, legal = problem.t, problem.r, problem.legal
    step = max(abs(total - s) / float(r.sum()), abs(lam0) * 1e-12, np.finfo(float).tiny)
    lam_lo, lam_hi = (lam0, np.inf) if s < total else (-np.inf, lam0)
    q_lo, q_hi = (q, None) if s < total else (None, q)
    for _ in range(_MAX_DOUBLINGS):
        if q_lo is not None and q_hi is not None:
            return lam_lo, lam_hi, q_lo.copy(), q_hi.copy()
        lam = (lam_lo + step) if s < total else (lam_hi - step)
        if not math.isfinite(lam):
            break
        with np.errstate(invalid="ignore", over="ignore"):
            trial = legal.nearest(t + lam * r)
        if not np.isfinite(trial).all():
            break
        ts = float(trial.sum())
        if ts == total:
            return trial
        if ts < total:
            lam_lo, q_lo = lam, trial
        else:
            lam_hi, q_hi = lam, trial
        step *= 4.0
    if q_lo is not None and q_hi is not None:
        return lam_lo, lam_hi, q_lo.copy(), q_hi.copy()
    raise _NoBracketError


def _dual_bound(problem: _Problem, total: float, br: Bracket) -> float:
    """A lower bound on the cost of every legal split of *total* (Lagrangian dual).

    ``D(lam) = lam * total + sum_i min_q (a_i (q - t_i)^2 - lam * q)`` over each
    account's legal set is below the cost of any legal split adding up to
    *total*, for every *lam*; the inner minimum is the nearest legal amount to
    ``t_i + lam * r_i``. Accounts outside the bracket's rows (where the
    multiplier search ended) contribute a fixed amount, so the search for the
    best *lam* (the concave maximum, where the nearest amounts cross *total*)
    runs on those rows only.
    """
    t, a, r, legal = problem.t, problem.a, problem.r, problem.legal
    act = br.rows
    fixed = np.ones(t.size, dtype=bool)
    fixed[act] = False
    q_f = br.q_lo[fixed]
    c_fixed = float(np.sum(a[fixed] * (q_f - t[fixed]) ** 2))
    s_fixed = float(q_f.sum())
    sub = legal.take(act)
    t_a, a_a, r_a = t[act], a[act], r[act]

    def dual(lam: float) -> tuple[float, float]:
        qa = sub.nearest(t_a + lam * r_a)
        value = lam * (total - s_fixed) + c_fixed + float(np.sum(a_a * (qa - t_a) ** 2 - lam * qa))
        return value, s_fixed + float(qa.sum())

    lo, hi = br.lam_lo, br.lam_hi
    best = max(dual(lo)[0], dual(hi)[0])
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        value, reached = dual(mid)
        best = max(best, value)
        if reached < total:
            lo = mid
        elif reached > total:
            hi = mid
        else:
            break
    return best
