"""`round_to_lots` and its result: which steps run for which group.

Every account at its largest amount when that is all the order can take; the
exact programme (or its windows, the coarse grid and the open-set search) for
groups up to `_EXACT_MAX_ACCOUNTS` live accounts (`_round_small`); steps 1 to
5 of `orderalloc.lots` beyond (`_round_large`); and, with a moving mean, the
centre search or the re-centring on top.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import attrs
import numpy as np

from .._bisection import Bracket
from ..limits import TradeBounds
from ..typing import FloatArray, IntArray
from ._centre import MovingMean, _centre_small, _recentre_small
from ._coarse import _coarse_round
from ._exact import _EXACT_MAX_ACCOUNTS, _WINDOW_ROUNDS, _exact_split, _window_width
from ._keys import _key_order, _LazyKeys
from ._lagrange import _dual_bound, _multiplier, _NoBracketError, _place
from ._legal import _Legal
from ._open_search import _OPEN_SET_MAX_ACCOUNTS, _open_sets
from ._problem import _Problem
from ._reach import _largest_total, _reconstruct
from ._swaps import _WIDE_MAX_ACCOUNTS, _exchange, _wide_exchange


@attrs.frozen(eq=False)
class Rounding:
    """The legal amounts chosen by `round_to_lots`.

    Attributes:
        q: Legal face per account, array of shape (n_accounts,).
        total: ``sum(q)``.
        requested: The order size.
        cost: ``sum_i a_i (q_i - t_i)^2`` at *q*.
        exchanges: Improving swaps applied by the exchange search.
        lower_bound: No legal split with the same total costs less (NaN:
            no bound was computed).
        exact: *q* is proven to cost the least among legal splits of its total.
        best_effort: The largest legal total could not be proven within the
            search budget; *total* is the largest one found.
        objective_bound: With a moving mean (see `round_to_lots`): no legal
            split of the same total has a lower dispersion (NaN: unknown).
    """

    q: FloatArray
    total: float
    requested: float
    cost: float
    exchanges: int
    lower_bound: float = math.nan
    exact: bool = False
    best_effort: bool = False
    objective_bound: float = math.nan

    @property
    def gap(self) -> float:
        """Upper bound on ``(cost - least cost) / cost``: 0 when proven optimal."""
        if self.exact or self.cost <= 0:
            return 0.0
        if math.isnan(self.lower_bound):
            return math.nan
        return max(0.0, (self.cost - self.lower_bound) / self.cost)

    @property
    def residual(self) -> float:
        """Face of the order left unplaced (0 when the total is exact)."""
        return self.requested - self.total


def round_to_lots(
    t: FloatArray,
    a: FloatArray,
    bounds: TradeBounds,
    total: float,
    *,
    ids: Sequence[str],
    seed: int = 0,
    ideal: FloatArray | None = None,
    objective: Callable[[FloatArray], float] | None = None,
    recentre: Callable[[FloatArray], FloatArray] | None = None,
    moving_mean: MovingMean | None = None,
) -> Rounding:
    """Choose legal amounts close to the ideal split *t* that add up to *total*.

    Args:
        t: The ideal split, array of shape (n_accounts,).
        a: Cost of deviation per account (> 0), array of shape (n_accounts,).
        bounds: Every account's legal set, from `orderalloc.limits.trade_bounds`.
        total: The order size.
        ids: Account ids (tie-breaks, and the order the exact search takes
            accounts in).
        seed: Tie-break seed (see `tie_keys`).
        ideal: The continuous optimum within bounds, when *t* is an
            unconstrained centre (min dispersion); the search starts at its
            multiplier.
        objective: The true objective when ``sum_i a_i (q_i - t_i)^2`` is only
            its separable form at one centre (min dispersion with weights
            that let the mean move); lower is better.
        recentre: With *objective*: the centre *t* of the separable form at a
            split's own centre. Small groups alternate exact roundings and
            re-centring while *objective* improves.
        moving_mean: With *objective*, for one metric: the dispersion as a
            function of its centre. Where the exact programme is affordable,
            a branch and bound over the centre finds the least dispersion
            and proves it (`orderalloc.lots._centre.centre_search`).

    Returns:
        The amounts; ``residual`` is what could not be placed.
    """
    legal = _Legal.of(bounds)
    keys = _LazyKeys(ids, seed)
    problem = _Problem(t, a, 0.5 / a, legal, keys)
    cap = bounds.max_legal
    exact = False
    best_effort = False
    dual: Bracket | None = None
    exchanges = 0
    live = np.flatnonzero(cap > 0)
    small = None
    if float(cap.sum()) <= total:
        q, exact = cap.copy(), True  # every account at its largest amount: the only split
    else:
        if live.size <= _EXACT_MAX_ACCOUNTS:
            small = _round_small(problem, total, live, ideal)
        if small is not None:
            q, exact, dual = small
        else:
            q, exact, dual, best_effort, exchanges = _round_large(
                problem, total, ideal, bounds.max_legal
            )
    objective_bound = math.nan
    if objective is not None and recentre is not None and small is not None and not best_effort:
        centred = None
        if moving_mean is not None and exact:
            centred = _centre_small(q, a, legal, keys, live, moving_mean)
        if centred is None:
            q = _recentre_small(q, a, legal, keys, live, objective, recentre)
        else:
            q, objective_bound = centred
    cost = problem.cost(q)
    if exact:
        bound = cost
    elif dual is not None and float(q.sum()) == total:
        bound = min(cost, _dual_bound(problem, total, dual))
    else:
        bound = math.nan
    return Rounding(
        q=q,
        total=float(q.sum()),
        requested=total,
        cost=cost,
        exchanges=exchanges,
        lower_bound=bound,
        exact=exact,
        best_effort=best_effort,
        objective_bound=objective_bound,
    )


def _round_small(
    problem: _Problem, total: float, live: IntArray, ideal: FloatArray | None
) -> tuple[FloatArray, bool, Bracket | None] | None:
    """Exact rounding of a small group: the dynamic programme over totals.

    With every legal amount on each account's menu the answer is the optimum
    (the largest legal total, then the least cost). When that is too large, the
    menus are cut to a window around the Lagrangian rounding, re-centred while
    the optimum touches a window's edge (exact over that neighbourhood; the
    dual bound says how far from optimal it can be). None: not affordable.
    """
    t, a, legal = problem.t, problem.a, problem.legal
    order = _key_order(problem.keys, live)
    found = _exact_split(t, a, legal, total, order, None, 0)
    if found is not None:
        return found[0], True, None
    width = _window_width(legal, total, live.size)
    # Start from the large-group rounding (the largest legal total, a local optimum).
    start, optimal, dual, best_effort, _ = _round_large(problem, total, ideal, legal.max_legal)
    if optimal:
        return start, True, None
    if best_effort:
        return None
    coarse = _coarse_round(problem, float(start.sum()), order)
    if coarse is not None and problem.cost(coarse) < problem.cost(start):
        start = coarse
    q = start
    for _ in range(_WINDOW_ROUNDS if width >= 1 else 0):
        found = _exact_split(t, a, legal, total, order, q, width)
        if found is None or found[1] < float(q.sum()):
            break
        better = found[1] > float(q.sum()) or problem.cost(found[0]) < problem.cost(q)
        if not better:
            break
        q = found[0]
        if not found[2]:
            break
    q = _open_sets(problem, q)
    return q, False, dual


def _round_large(
    problem: _Problem, total: float, ideal: FloatArray | None, cap: FloatArray
) -> tuple[FloatArray, bool, Bracket | None, bool, int]:
    """Steps 1 to 5 (see the module docstring) for groups beyond the exact programme.

    Returns the amounts, whether they are proven optimal, the dual bracket,
    whether the total is only a best effort, and the exchanges applied.
    """
    t, legal = problem.t, problem.legal
    lam0 = 0.0 if ideal is None else _multiplier(ideal, t, problem.r, cap)
    best_effort = False
    try:
        q, optimal, touched, dual = _place(problem, total, lam0)
    except _NoBracketError:
        # Extreme scales (a centre far beyond floats' reach of the multiplier):
        # round from the continuous optimum itself, which is at the order's scale.
        q, optimal, touched, dual = None, False, None, None
        if ideal is not None:
            try:
                q, optimal, touched, dual = _place(attrs.evolve(problem, t=ideal), total, 0.0)
            except _NoBracketError:
                q = None
    if q is None or float(q.sum()) < total:
        # The marginal search could not reach the order: find the largest legal
        # total (exact, on unions of intervals) and a split that reaches it.
        found = _largest_total(legal, total)
        placed = -1.0 if q is None else float(q.sum())
        if found is None:
            best_effort = True
            if q is None:
                q, optimal, touched, dual = np.zeros_like(t), False, None, None
        elif found[0] > placed:
            best = found[0]
            try:
                q, optimal, touched, dual = _place(problem, best, lam0)
            except _NoBracketError:
                q = None
            if q is None or float(q.sum()) != best:
                q, optimal, touched, dual = _reconstruct(found, t), False, None, None
    assert q is not None
    # A split that is the Lagrangian minimiser at one multiplier is optimal for
    # its total (Everett 1963): no exchange can improve it, so skip the search.
    exchanges = 0
    if not optimal and touched is None:
        q, exchanges = _exchange(problem, q)
        if q.size <= _WIDE_MAX_ACCOUNTS:
            q, more = _wide_exchange(problem, q)
            exchanges += more
    elif not optimal and touched is not None and touched.size > 1:
        sub = problem.take(touched)
        sub_q, exchanges = _exchange(sub, q[touched])
        if touched.size <= _WIDE_MAX_ACCOUNTS:
            sub_q, more = _wide_exchange(sub, sub_q)
            exchanges += more
        q[touched] = sub_q
    if not optimal and _EXACT_MAX_ACCOUNTS < q.size <= _OPEN_SET_MAX_ACCOUNTS:
        q = _open_sets(problem, q)  # small groups run it after their windows
    return q, optimal, dual, best_effort, exchanges
