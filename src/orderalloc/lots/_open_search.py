"""Open-set search: change which accounts are closed, open or sold out, and re-solve the rest.

The rounding is hard only because an account either takes nothing or at
least its first amount; once the set of open accounts is fixed, the problem
is a separable convex one over whole increments, which the Lagrangian
rounding solves exactly. The search moves between open sets (close one
account, open another, or both at once) and re-solves the convex problem for
each: every other account's amount follows, so one move is an exchange of
unequal amounts among any number of accounts. It polishes groups up to
`_OPEN_SET_MAX_ACCOUNTS` accounts.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from ..typing import BoolArray, FloatArray, IntArray
from ._lagrange import _lagrangian, _NoBracketError
from ._legal import _Legal
from ._problem import _Problem
from ._swaps import _polish

_OPEN_SET_MAX_ACCOUNTS = 1_000  # the open-set search runs up to this size


def _open_sets(problem: _Problem, q: FloatArray) -> FloatArray:
    """Polish by moving between sets of open accounts (`open_set_search`)."""
    better, moves = open_set_search(problem, q)
    if moves:
        better = _polish(problem, better)
    return better if problem.cost(better) < problem.cost(q) else q


_OPEN_ROUNDS = 12  # open-set moves applied at most

_OPEN_CANDIDATES = 32  # single state changes tried per round

_OPEN_PAIRS = 12  # ... the cheapest this many also tried in pairs


def solve_open_set(
    problem: _Problem, total: float, is_open: BoolArray, sold: BoolArray
) -> FloatArray | None:
    """The cheapest split with exactly the accounts *is_open* in their ranges, *sold* sold out.

    Every open account takes ``low_i + y_i`` with ``y_i`` a whole number of
    increments up to ``top_i - low_i``: a convex separable problem, which the
    Lagrangian rounding solves exactly. None when no such split adds up to
    *total*.
    """
    t, legal = problem.t, problem.legal
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
    sub = _Legal(d, d, np.where(has, d, np.inf), np.where(has, span, -np.inf), inf)
    try:
        shifted = attrs.evolve(problem.take(rows, sub), t=t[rows] - legal.low[rows])
        y, _, _, _ = _lagrangian(shifted, rest, 0.0)
    except _NoBracketError:
        return None
    if float(y.sum()) != rest:
        return None
    q[rows] += y
    return q


def open_set_search(problem: _Problem, q: FloatArray) -> tuple[FloatArray, int]:
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
    t, a, legal, keys = problem.t, problem.a, problem.legal, problem.keys
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
    best_q = _solve_states(problem, total, state)
    if best_q is None or problem.cost(best_q) >= problem.cost(q):
        best_q = q
    best = problem.cost(best_q)
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
            cand = _solve_states(problem, total, trial)
            if cand is None:
                continue
            c = problem.cost(cand)
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


def _solve_states(problem: _Problem, total: float, state: IntArray) -> FloatArray | None:
    """`solve_open_set` for a state per account (closed, open, sold out)."""
    return solve_open_set(problem, total, state == _OPEN, state == _SOLD)
