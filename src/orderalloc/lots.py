"""Denominations: turn an ideal split into legal, tradable amounts with the exact total.

Every engine produces an ideal continuous split *t* (face per account) and a
curvature *a* per account saying how much a face of deviation costs. This module
chooses legal amounts *q* (each 0 or ``min_piece + k * increment`` within the
account's bounds, see `orderalloc.limits`) that

1. place the whole order whenever some legal split can, and otherwise as much
   of it as the legal sets allow (the rest is reported as unallocated), and
2. among those, keep ``sum_i a_i (q_i - t_i)^2`` as small as we can find.

For pro-rata ``a_i = 1 / w_i``, so the measure is the chi-square distance to
the proportional split: a face of deviation costs more in a small account than
in a large one. For minimum dispersion *a* and *t* come from the optimum's
separable form, so the measure is the dispersion itself.

How (all steps work on whole denominations, never on float remainders):

1. **Lagrangian rounding.** For a multiplier ``lam`` every account takes the
   legal amount nearest to ``t_i + lam / (2 a_i)``; the total is monotone in
   ``lam``. A bracketing search on ``lam``, over fewer accounts at every step,
   finds the accounts on the margin.
2. **Greedy fill.** From the side below the order size, the marginal moves
   (one increment, or opening an account at its minimum piece) are taken in
   the order of their multiplier, skipping any move larger than what is left.
3. **Repair.** If what is left is smaller than every possible move, one
   larger move is balanced by moves down elsewhere (e.g. open an account at
   2,000 and take 1,000 back from another).
4. **Exchange search.** Balanced swaps (one increment for one, opening one
   account for closing another of the same size) are applied while one lowers
   the cost. It is skipped when steps 1-2 ended on a Lagrangian minimiser,
   which is optimal for its total (Everett 1963).
   Beyond the exact programme (up to 1,000 accounts) an open-set search
   follows: it changes which accounts are closed, open or sold out (one or
   two at a time) and re-solves the rest exactly for each choice
   (`orderalloc._rounding_search`).
5. **Largest legal total.** If steps 1-3 cannot reach the order, a dynamic
   programme over reachable totals (in units of ``gcd(min_piece, increment)``)
   finds the largest legal total when accounts x totals stays within
   `_DP_BUDGET` cells (small groups, where such gaps arise); beyond that the
   greedy total stands, and the result reports the leftover either way.

Ties are broken by a key hashed from the account id and a seed, never by
position in the input, so a permutation of the accounts gives the same
amounts, and a seed that changes from order to order rotates who wins ties.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np

from .limits import TradeBounds
from .typing import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:
    from ._rounding_search import MovingMean

__all__ = ["Rounding", "round_to_lots", "tie_keys"]

_ACTIVE_SMALL = 48  # below this many accounts on the margin, switch to the exact heap fill
_MAX_FILL_MOVES = 4096  # ... and below this many single moves between the bracket's ends
_MAX_EXCHANGE_ROUNDS = 400


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


def tie_keys(ids: Sequence[str], seed: int) -> list[int]:
    """A 64-bit tie-break key per account id, independent of list position.

    The key depends only on the id and *seed*: sorting by it favours no
    account for where it stands in the input, and a seed that changes from
    order to order changes who wins the ties.
    """
    prefix = f"{seed}:".encode()
    return [
        int.from_bytes(hashlib.blake2b(prefix + i.encode(), digest_size=8).digest(), "big")
        for i in ids
    ]


class _Legal:
    """The legal sets of a subset of accounts, as arrays (see orderalloc.limits).

    ``low`` / ``top``: the ends of the contiguous range (inf / -inf when it is
    empty); ``full``: the whole-position sale (inf when there is none).
    """

    __slots__ = ("d", "full", "has_full", "low", "m", "top")

    def __init__(self, m: float, d: float, low: FloatArray, top: FloatArray, full: FloatArray):
        self.m, self.d, self.low, self.top, self.full = m, d, low, top, full
        # Whole-position sales exist only for sells: buys skip that branch everywhere.
        self.has_full = bool(np.isfinite(full).any())

    @classmethod
    def of(cls, bounds: TradeBounds) -> _Legal:
        return cls(bounds.min_piece, bounds.increment, bounds.low, bounds.top, bounds.full)

    @property
    def max_legal(self) -> FloatArray:
        """The largest legal amount per account (0 when nothing is legal)."""
        full = np.where(np.isfinite(self.full), self.full, 0.0)
        top: FloatArray = np.maximum(np.maximum(self.top, 0.0), full)
        return top

    def take(self, idx: IntArray) -> _Legal:
        return _Legal(self.m, self.d, self.low[idx], self.top[idx], self.full[idx])

    def nearest(self, z: FloatArray) -> FloatArray:
        """The legal amount nearest to *z* per account; exact ties go to the lower one."""
        m, d = self.m, self.d
        # Nearest point of the grid, ties down, then into [low, top] (-inf if empty).
        grid = z - m
        grid /= d
        grid -= 0.5
        np.ceil(grid, out=grid)
        grid *= d
        grid += m
        np.maximum(grid, self.low, out=grid)
        np.minimum(grid, self.top, out=grid)
        dist = np.abs(z - grid)
        best = np.where(dist < np.abs(z), grid, 0.0)
        if not self.has_full:
            return best
        with np.errstate(invalid="ignore"):
            gap_full = np.abs(z - self.full)
        return np.where(gap_full < np.abs(z - best), self.full, best)

    def up(self, q: FloatArray) -> FloatArray:
        """The next legal amount above *q* per account (inf where there is none)."""
        inside = (q >= self.low) & (q < self.top)
        beyond: FloatArray | float
        if self.has_full:
            beyond = np.where(self.full > q, self.full, np.inf)
            first = np.minimum(self.low, self.full)
        else:
            beyond, first = np.inf, self.low
        nxt = np.where(inside, q + self.d, beyond)
        return np.where(q == 0, first, nxt)

    def down(self, q: FloatArray) -> FloatArray:
        """The next legal amount below *q* per account (-inf where there is none)."""
        above_low = (q > self.low) & (q <= self.top)
        after_range: FloatArray | float
        if self.has_full:
            after_range = np.where(np.isfinite(self.top) & (q > self.top), self.top, 0.0)
        else:
            after_range = 0.0
        prev = np.where(above_low, q - self.d, after_range)
        return np.where(q == 0, -np.inf, prev)


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
            and proves it (`orderalloc._rounding_search.centre_search`).

    Returns:
        The amounts; ``residual`` is what could not be placed.
    """
    legal = _Legal.of(bounds)
    r = 0.5 / a
    keys = _LazyKeys(ids, seed)
    cap = bounds.max_legal
    exact = False
    best_effort = False
    dual: _DualBracket | None = None
    exchanges = 0
    live = np.flatnonzero(cap > 0)
    small = None
    if float(cap.sum()) <= total:
        q, exact = cap.copy(), True  # every account at its largest amount: the only split
    else:
        if live.size <= _EXACT_MAX_ACCOUNTS:
            small = _round_small(t, a, r, legal, total, keys, live, ideal)
        if small is not None:
            q, exact, dual = small
        else:
            q, exact, dual, best_effort, exchanges = _round_large(
                t, a, r, legal, total, keys, ideal, bounds.max_legal
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
    cost = float(np.sum(a * (q - t) ** 2))
    if exact:
        bound = cost
    elif dual is not None and float(q.sum()) == total:
        bound = min(cost, _dual_bound(t, a, r, legal, total, dual))
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
    from ._rounding_search import centre_search  # deferred: it imports this module

    order = _key_order(keys, live)
    total = float(q.sum())
    size = int(total // math.gcd(int(legal.m), int(legal.d))) + 1
    cells = size * sum(_options(legal, i, total, None, 0).size for i in order)
    points = min(40, _CENTRE_CELLS // max(cells, 1))
    if points < 8:
        return None

    def split_at(t: FloatArray) -> FloatArray | None:
        found = _exact_split(t, a, legal, total, order, None, 0)
        return None if found is None or found[1] != total else found[0]

    best, bound = centre_search(mm, split_at, q, max_points=points)
    return None if bound == -math.inf else (best, bound)


def _key_order(keys: _LazyKeys, rows: IntArray) -> list[int]:
    """*rows* sorted by tie key (then id): an order that ignores input position."""
    return sorted(rows.tolist(), key=lambda i: (keys(i), keys.ids[i]))


def _round_small(
    t: FloatArray,
    a: FloatArray,
    r: FloatArray,
    legal: _Legal,
    total: float,
    keys: _LazyKeys,
    live: IntArray,
    ideal: FloatArray | None,
) -> tuple[FloatArray, bool, _DualBracket | None] | None:
    """Exact rounding of a small group: the dynamic programme over totals.

    With every legal amount on each account's menu the answer is the optimum
    (the largest legal total, then the least cost). When that is too large, the
    menus are cut to a window around the Lagrangian rounding, re-centred while
    the optimum touches a window's edge (exact over that neighbourhood; the
    dual bound says how far from optimal it can be). None: not affordable.
    """
    order = _key_order(keys, live)
    found = _exact_split(t, a, legal, total, order, None, 0)
    if found is not None:
        return found[0], True, None
    size = int(total // math.gcd(int(legal.m), int(legal.d))) + 1
    width = (_EXACT_BUDGET // (size * max(live.size, 1)) - 4) // 2
    # Start from the large-group rounding (the largest legal total, a local optimum).
    start, optimal, dual, best_effort, _ = _round_large(
        t, a, r, legal, total, keys, ideal, legal.max_legal
    )
    if optimal:
        return start, True, None
    if best_effort:
        return None
    coarse = _coarse_round(t, a, r, legal, float(start.sum()), order, keys)
    if coarse is not None and _cost(coarse, t, a) < _cost(start, t, a):
        start = coarse
    q = start
    for _ in range(_WINDOW_ROUNDS if width >= 1 else 0):
        found = _exact_split(t, a, legal, total, order, q, width)
        if found is None or found[1] < float(q.sum()):
            break
        better = found[1] > float(q.sum()) or _cost(found[0], t, a) < _cost(q, t, a)
        if not better:
            break
        q = found[0]
        if not found[2]:
            break
    q = _open_sets(q, t, a, r, legal, keys)
    return q, False, dual


def _open_sets(
    q: FloatArray, t: FloatArray, a: FloatArray, r: FloatArray, legal: _Legal, keys: _LazyKeys
) -> FloatArray:
    """Polish by moving between sets of open accounts (see `orderalloc._rounding_search`)."""
    from ._rounding_search import open_set_search  # deferred: it imports this module

    better, moves = open_set_search(q, t, a, r, legal, keys)
    if moves:
        better = _polish(better, t, a, legal, keys)
    return better if _cost(better, t, a) < _cost(q, t, a) else q


_COARSE_FACTORS = (2, 3, 4, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000)


def _coarse_round(
    t: FloatArray,
    a: FloatArray,
    r: FloatArray,
    legal: _Legal,
    total: float,
    order: list[int],
    keys: _LazyKeys,
) -> FloatArray | None:
    """Which accounts to open, decided exactly on a coarser grid, then the amounts refined.

    When the programme over every amount is too large (an increment of 1 face
    under a min piece of 10,000, say), the same programme runs with every
    *c*-th amount only (``min_piece + j * c * increment``), which fixes the
    hard, combinatorial part: which accounts open and roughly how much each
    takes. The rest of the order is then filled in multiplier order and the
    split polished by exchanges (for a fixed set of open accounts the problem
    is convex, where exchanges are exact). None when no factor fits.
    """
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
        candidates = [_refine(found[0], full_c, t, a, r, legal, total, keys)]
        # The fill starts from the coarse split with its snapped whole-position
        # sales made whole again (a snapped amount is not legal: it leaves a stub).
        sold_out = np.isfinite(full_c) & (found[0] == full_c)
        start = np.where(sold_out, legal.full, found[0])
        if float(start.sum()) <= total:
            q, _ = _fill(start, t, r, legal, total, np.asarray(order), keys, math.inf)
            if float(q.sum()) != total:
                q = _repair(q, t, a, legal, total, keys)
            if float(q.sum()) == total:
                candidates.append(_polish(q, t, a, legal, keys))
        done = [x for x in candidates if x is not None and bool(_is_legal(legal, x).all())]
        return min(done, key=lambda x: _cost(x, t, a)) if done else None
    return None


def _polish(
    q: FloatArray, t: FloatArray, a: FloatArray, legal: _Legal, keys: _LazyKeys
) -> FloatArray:
    q, _ = _exchange(q, t, a, legal, keys)
    q, _ = _wide_exchange(q, t, a, legal, keys)
    return q


def _refine(
    coarse_q: FloatArray,
    full_c: FloatArray,
    t: FloatArray,
    a: FloatArray,
    r: FloatArray,
    legal: _Legal,
    total: float,
    keys: _LazyKeys,
) -> FloatArray | None:
    """The best split with the coarse answer's choice of closed, open and sold-out accounts.

    Sold-out accounts sell their whole position; the open ones share the rest
    by the Lagrangian rounding over their ranges (for a fixed choice the
    problem is convex), then exchanges polish the whole.
    """
    sold_out = np.isfinite(full_c) & (coarse_q == full_c)
    rest = total - float(legal.full[sold_out].sum())
    rows = np.flatnonzero((coarse_q > 0) & ~sold_out)
    if rest < 0 or (rows.size == 0 and rest > 0):
        return None
    q = np.zeros_like(t)
    q[sold_out] = legal.full[sold_out]
    if rows.size:
        sub = _Legal(legal.m, legal.d, legal.low[rows], legal.top[rows], np.full(rows.size, np.inf))
        try:
            qs, _, _, _ = _place(t[rows], a[rows], r[rows], sub, rest, _SubsetKeys(keys, rows), 0.0)
        except _NoBracketError:
            return None
        if float(qs.sum()) != rest:
            return None
        q[rows] = qs
    return _polish(q, t, a, legal, keys)


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
            size = int(total // math.gcd(int(legal.m), int(legal.d))) + 1
            width = (_EXACT_BUDGET // (size * max(live.size, 1)) - 4) // 2
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


def _round_large(
    t: FloatArray,
    a: FloatArray,
    r: FloatArray,
    legal: _Legal,
    total: float,
    keys: _LazyKeys,
    ideal: FloatArray | None,
    cap: FloatArray,
) -> tuple[FloatArray, bool, _DualBracket | None, bool, int]:
    """Steps 1 to 5 (see the module docstring) for groups beyond the exact programme.

    Returns the amounts, whether they are proven optimal, the dual bracket,
    whether the total is only a best effort, and the exchanges applied.
    """
    lam0 = 0.0 if ideal is None else _multiplier(ideal, t, r, cap)
    best_effort = False
    try:
        q, optimal, touched, dual = _place(t, a, r, legal, total, keys, lam0)
    except _NoBracketError:
        # Extreme scales (a centre far beyond floats' reach of the multiplier):
        # round from the continuous optimum itself, which is at the order's scale.
        q, optimal, touched, dual = None, False, None, None
        if ideal is not None:
            try:
                q, optimal, touched, dual = _place(ideal, a, r, legal, total, keys, 0.0)
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
                q, optimal, touched, dual = _place(t, a, r, legal, best, keys, lam0)
            except _NoBracketError:
                q = None
            if q is None or float(q.sum()) != best:
                q, optimal, touched, dual = _reconstruct(found, t), False, None, None
    assert q is not None
    # A split that is the Lagrangian minimiser at one multiplier is optimal for
    # its total (Everett 1963): no exchange can improve it, so skip the search.
    exchanges = 0
    if not optimal and touched is None:
        q, exchanges = _exchange(q, t, a, legal, keys)
        if q.size <= _WIDE_MAX_ACCOUNTS:
            q, more = _wide_exchange(q, t, a, legal, keys)
            exchanges += more
    elif not optimal and touched is not None and touched.size > 1:
        sub_legal, sub_keys = legal.take(touched), _SubsetKeys(keys, touched)
        sub_q, exchanges = _exchange(q[touched], t[touched], a[touched], sub_legal, sub_keys)
        if touched.size <= _WIDE_MAX_ACCOUNTS:
            sub_q, more = _wide_exchange(sub_q, t[touched], a[touched], sub_legal, sub_keys)
            exchanges += more
        q[touched] = sub_q
    if not optimal and _EXACT_MAX_ACCOUNTS < q.size <= _OPEN_SET_MAX_ACCOUNTS:
        q = _open_sets(q, t, a, r, legal, keys)  # small groups run it after their windows
    return q, optimal, dual, best_effort, exchanges


def _cost(q: FloatArray, t: FloatArray, a: FloatArray) -> float:
    return float(np.sum(a * (q - t) ** 2))


def _multiplier(ideal: FloatArray, t: FloatArray, r: FloatArray, hi: FloatArray) -> float:
    """The multiplier of a continuous optimum: ``ideal = t + lam * r`` where not at a bound."""
    free = (ideal > 0) & (ideal < hi)
    if not free.any():
        return 0.0
    return float(np.median((ideal[free] - t[free]) / r[free]))


def _place(
    t: FloatArray,
    a: FloatArray,
    r: FloatArray,
    legal: _Legal,
    total: float,
    keys: _LazyKeys,
    lam0: float,
) -> tuple[FloatArray, bool, IntArray | None, _DualBracket | None]:
    """Steps 1 to 3 for one total.

    Returns the amounts, True when they are a Lagrangian minimiser, the
    accounts an improving swap may involve (None: any account may), and the
    multiplier bracket for the dual bound.
    """
    q, optimal, touched, dual = _lagrangian(t, r, legal, total, keys, lam0)
    if float(q.sum()) == total:
        return q, optimal, touched, dual
    repaired = _repair(q, t, a, legal, total, keys)
    if not np.array_equal(repaired, q):
        # The repair moves accounts off the multiplier's split (down moves taken
        # anywhere): after it, a swap may involve any account.
        touched = None
    return repaired, False, touched, dual


def _dual_bound(
    t: FloatArray, a: FloatArray, r: FloatArray, legal: _Legal, total: float, br: _DualBracket
) -> float:
    """A lower bound on the cost of every legal split of *total* (Lagrangian dual).

    ``D(lam) = lam * total + sum_i min_q (a_i (q - t_i)^2 - lam * q)`` over each
    account's legal set is below the cost of any legal split adding up to
    *total*, for every *lam*; the inner minimum is the nearest legal amount to
    ``t_i + lam * r_i``. Accounts outside the bracket's active set contribute
    a fixed amount, so the search for the best *lam* (the concave maximum,
    where the nearest amounts cross *total*) runs on the active accounts only.
    """
    act = br.active
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


_INTERVAL_BUDGET = 2_000_000  # interval operations the largest-total search may use


class _Reach:
    """Reachable totals as unions of arithmetic intervals, in units of ``gcd(m, d)``.

    Every non-zero legal amount is ``min_piece + k * increment``, so a sum of
    them has a residue modulo ``step = increment / unit`` that depends only on
    how many accounts are open, and for a fixed choice of open accounts the
    reachable sums form one interval of that residue class. The search keeps,
    per residue, the union of such intervals, merged: a handful even for a
    thousand accounts, where a table over totals would need millions of cells.
    """

    def __init__(self, legal: _Legal, total: float) -> None:
        m, d = int(legal.m), int(legal.d)
        self.unit = math.gcd(m, d)
        self.step = d // self.unit
        self.cap = int(total // self.unit)
        self.legal = legal

    def options(self, i: int) -> tuple[tuple[int, int] | None, int | None]:
        """Account *i*'s range ``(low, top)`` and whole-position sale, in units."""
        low, top, full = self.legal.low[i], self.legal.top[i], self.legal.full[i]
        rng = None
        if np.isfinite(low) and low <= top and low <= self.cap * self.unit:
            rng = (int(low) // self.unit, int(top) // self.unit)
        point = int(full) // self.unit if np.isfinite(full) else None
        return rng, point

    def add(
        self, reach: dict[int, list[tuple[int, int]]], i: int
    ) -> tuple[dict[int, list[tuple[int, int]]], int]:
        """The totals reachable after account *i* joins; and the work it took."""
        rng, point = self.options(i)
        step, cap = self.step, self.cap
        grown: dict[int, list[tuple[int, int]]] = {r: list(v) for r, v in reach.items()}
        work = 0
        for shift_lo, shift_hi in ([rng] if rng else []) + ([(point, point)] if point else []):
            for ivs in reach.values():
                for lo, hi in ivs:
                    work += 1
                    nlo, nhi = lo + shift_lo, hi + shift_hi
                    if nlo > cap:
                        continue
                    if nhi > cap:
                        nhi -= (nhi - cap + step - 1) // step * step
                    grown.setdefault(nlo % step, []).append((nlo, nhi))
        for r, ivs in grown.items():
            ivs.sort()
            merged = [ivs[0]]
            for lo, hi in ivs[1:]:
                plo, phi = merged[-1]
                if lo <= phi + step:
                    merged[-1] = (plo, max(phi, hi))
                else:
                    merged.append((lo, hi))
            grown[r] = merged
            work += len(ivs)
        return grown, work


def _largest_total(
    legal: _Legal, total: float, budget: int = _INTERVAL_BUDGET
) -> tuple[float, list[dict[int, list[tuple[int, int]]]], _Reach] | None:
    """The largest legal total <= *total*, with the tables to build a split of it.

    Exact (see `_Reach`); None when the search would exceed *budget* interval
    operations (then the caller reports its total as a best effort).
    """
    space = _Reach(legal, total)
    reach: dict[int, list[tuple[int, int]]] = {0: [(0, 0)]}
    tables = [reach]
    work = 0
    for i in range(legal.low.size):
        reach, spent = space.add(reach, i)
        work += spent
        if work > budget:
            return None
        tables.append(reach)
    best = max(hi for ivs in reach.values() for _, hi in ivs)
    return float(best * space.unit), tables, space


def _contains(reach: dict[int, list[tuple[int, int]]], v: int, step: int) -> bool:
    return any(lo <= v <= hi for lo, hi in reach.get(v % step, ()))


def _reconstruct(
    found: tuple[float, list[dict[int, list[tuple[int, int]]]], _Reach], t: FloatArray
) -> FloatArray:
    """A split with the largest total, each account as near its ideal as the tables allow."""
    best, tables, space = found
    unit, step = space.unit, space.step
    n = len(tables) - 1
    q = np.zeros(n, dtype=np.float64)
    left = int(best // unit)
    for i in range(n - 1, -1, -1):
        before = tables[i]
        rng, point = space.options(i)
        want = float(t[i]) / unit
        choices: list[int] = []
        if _contains(before, left, step):
            choices.append(0)
        if point is not None and point <= left and _contains(before, left - point, step):
            choices.append(point)
        if rng is not None:
            low, top = rng
            # o = left - x with x reachable before: x in an interval of o's residue class.
            for lo, hi in before.get((left - low) % step, ()):
                o_hi, o_lo = min(top, left - lo), max(low, left - hi)
                if o_lo > o_hi:
                    continue
                k = round((want - o_lo) / step) if want > o_lo else 0
                o = min(max(o_lo + k * step, o_lo), o_lo + (o_hi - o_lo) // step * step)
                choices.append(o)
        choice = min(choices, key=lambda o: (abs(o - want), o))
        q[i] = float(choice * unit)
        left -= choice
    return q


def _at_edge(legal: _Legal, i: int, opts: FloatArray, k: int, limit: float) -> bool:
    """Whether menu entry *k* borders a legal amount the windowed menu left out."""
    q, d = float(opts[k]), legal.d
    if q == 0 or q == legal.full[i]:
        return False
    below = q - d >= legal.low[i] and (k == 0 or opts[k - 1] < q - d)
    above = q + d <= min(legal.top[i], limit) and (k + 1 == opts.size or opts[k + 1] > q + d)
    return bool(below or above)


_EXACT_MAX_ACCOUNTS = 64  # the exact programme runs on groups (or margins) up to this size
_EXACT_BUDGET = 4_000_000  # ... while options x totals stays within this many cells
_WINDOW_ROUNDS = 4


def _options(legal: _Legal, i: int, limit: float, around: float | None, width: int) -> FloatArray:
    """Account *i*'s legal amounts up to *limit*; within *width* steps of *around* if given.

    0, the range's first amount and the whole-position sale are always included,
    so opening and closing an account are always on the menu.
    """
    low, top, full, d = legal.low[i], legal.top[i], legal.full[i], legal.d
    out = [0.0]
    if np.isfinite(low) and low <= top and low <= limit:
        hi = min(top, low + math.floor((limit - low) / d) * d)
        if around is None:
            out.extend(np.arange(low, hi + d / 2, d).tolist())
        else:
            out.append(float(low))
            k = round((around - low) / d)
            lo_k = max(0, k - width)
            hi_k = min(round((hi - low) / d), k + width)
            if lo_k <= hi_k:
                out.extend((low + d * np.arange(lo_k, hi_k + 1)).tolist())
    if np.isfinite(full) and full <= limit:
        out.append(float(full))
    return np.unique(np.asarray(out, dtype=np.float64))


def _exact_split(
    t: FloatArray,
    a: FloatArray,
    legal: _Legal,
    total: float,
    order: list[int],
    around: FloatArray | None,
    width: int,
    budget: int = _EXACT_BUDGET,
) -> tuple[FloatArray, float, bool] | None:
    """The cheapest legal split with the largest reachable total <= *total*.

    A dynamic programme over totals (units of gcd(min piece, increment)),
    accounts taken in *order* (a fixed order independent of the input, so
    ties fall the same way whatever the input order). With *around* each
    account's menu is limited to *width* steps around it (plus 0 and its first
    amount): exact over that neighbourhood. Returns the split, its total and
    whether any account ended at the edge of its menu; None when the cells
    would exceed *budget*.
    """
    m, d = int(legal.m), int(legal.d)
    unit = math.gcd(m, d)
    size = int(total // unit) + 1
    if size * max(len(order), 1) > budget:
        return None  # every menu holds at least 0: over budget before any is built
    menus = []
    cells = 0
    for i in order:
        opts = _options(legal, i, total, None if around is None else float(around[i]), width)
        menus.append(opts)
        cells += opts.size * size
        if cells > budget:
            return None
    cost = np.full(size, np.inf)
    cost[0] = 0.0
    picks = []
    for i, opts in zip(order, menus, strict=True):
        units = (opts // unit).astype(np.int64)
        c = a[i] * (opts - t[i]) ** 2
        new = np.full(size, np.inf)
        arg = np.zeros(size, dtype=np.int32)
        for k in range(opts.size):
            u = int(units[k])
            if u >= size:
                break
            cand = cost[: size - u] + c[k]
            tail = new[u:]
            better = cand < tail
            tail[better] = cand[better]
            arg[u:][better] = k
        cost = new
        picks.append(arg)
    reached = np.flatnonzero(np.isfinite(cost))
    x = int(reached[-1])
    q = np.zeros(t.size, dtype=np.float64)
    edge = False
    for pos in range(len(order) - 1, -1, -1):
        i, opts = order[pos], menus[pos]
        k = int(picks[pos][x])
        q[i] = opts[k]
        x -= int(opts[k] // unit)
        if around is not None:
            edge |= _at_edge(legal, i, opts, k, total)
    return q, float(q.sum()), edge


class _LazyKeys:
    """Tie-break keys computed only for the accounts that meet in a tie."""

    def __init__(self, ids: Sequence[str], seed: int) -> None:
        self.ids = ids
        self._ids = ids
        self._seed = seed
        self._cache: dict[int, int] = {}

    def __call__(self, i: int) -> int:
        key = self._cache.get(i)
        if key is None:
            key = tie_keys([self._ids[i]], self._seed)[0]
            self._cache[i] = key
        return key

    def many(self, rows: list[int]) -> list[int]:
        """The keys of *rows*, hashing the missing ones in one call."""
        missing = [i for i in rows if i not in self._cache]
        if missing:
            fresh = tie_keys([self._ids[i] for i in missing], self._seed)
            self._cache.update(zip(missing, fresh, strict=True))
        return [self._cache[i] for i in rows]

    def pick(self, candidates: IntArray) -> int:
        """The candidate with the smallest key."""
        if candidates.size == 1:
            return int(candidates[0])
        return int(min(candidates.tolist(), key=self))


class _SubsetKeys(_LazyKeys):
    """Tie-break keys of a subset of accounts, looked up by position in the subset."""

    def __init__(self, keys: _LazyKeys, rows: IntArray) -> None:
        self.ids = [keys.ids[i] for i in rows.tolist()]
        self._keys = keys
        self._rows = rows.tolist()

    def __call__(self, i: int) -> int:
        return self._keys(self._rows[i])


@attrs.frozen(eq=False)
class _DualBracket:
    """Where the multiplier search ended, for the dual bound.

    Every account outside *active* has the same nearest amount (in *q_lo*)
    anywhere between *lam_lo* and *lam_hi*.
    """

    lam_lo: float
    lam_hi: float
    q_lo: FloatArray
    active: IntArray


def _lagrangian(
    t: FloatArray, r: FloatArray, legal: _Legal, total: float, keys: _LazyKeys, lam0: float
) -> tuple[FloatArray, bool, IntArray | None, _DualBracket | None]:
    """Steps 1 and 2: nearest legal amounts at the multiplier that meets the total.

    The search starts at *lam0*, the multiplier of the continuous optimum, so
    the nearest legal amounts are already within a few moves of the total.
    """
    q = legal.nearest(t + lam0 * r)
    s = float(q.sum())
    if s == total:
        return q, True, None, None
    bracket = _quick_bracket(q, s, t, r, legal, total, lam0)
    if bracket is None:
        found = _doubling_bracket(q, s, t, r, legal, total, lam0)
        if isinstance(found, np.ndarray):  # landed on the total exactly
            return found, True, None, None
        bracket = found
    lam_lo, lam_hi, q_lo, q_hi = bracket
    # Bisect on the accounts that still differ between the two ends.
    active = np.flatnonzero(q_lo != q_hi)
    fixed = float(q_lo.sum() - q_lo[active].sum())
    unit = min(legal.m, legal.d)
    for _ in range(200):
        # Stop when few accounts, and few moves between the two ends, are left.
        moves = float(q_hi[active].sum() - q_lo[active].sum()) / unit
        if active.size <= _ACTIVE_SMALL and moves <= _MAX_FILL_MOVES:
            break
        lam = 0.5 * (lam_lo + lam_hi)
        if lam in (lam_lo, lam_hi):
            break
        sub = legal.take(active)
        qa = sub.nearest(t[active] + lam * r[active])
        s_mid = fixed + float(qa.sum())
        if s_mid <= total:
            lam_lo = lam
            q_lo[active] = qa
            if s_mid == total:
                return q_lo, True, None, None
        else:
            lam_hi = lam
            q_hi[active] = qa
        moving = q_lo[active] != q_hi[active]
        fixed += float(q_lo[active][~moving].sum())
        active = active[moving]
    dual = _DualBracket(lam_lo, lam_hi, q_lo.copy(), active)
    # Greedy fill from below in the order of each move's multiplier.
    q, optimal = _fill(q_lo, t, r, legal, total, active, keys, lam_hi)
    # Every account outside `active` is where the multiplier puts it at both ends
    # of the bracket; only `active` and the accounts the fill moved can take part
    # in an improving swap (see `_exchange`).
    touched = np.union1d(active, np.flatnonzero(q != q_lo))
    return q, optimal, touched, dual


_Bracket = tuple[float, float, FloatArray, FloatArray]


def _quick_bracket(
    q: FloatArray, s: float, t: FloatArray, r: FloatArray, legal: _Legal, total: float, lam0: float
) -> _Bracket | None:
    """Bracket the multiplier from each account's next breakpoint, in one pass.

    Every move is at least ``min(min_piece, increment)``, so the ``need``-th
    nearest breakpoint moves the total past the order: no search over all
    accounts is needed, only over those whose breakpoint lies in between.
    """
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


_MAX_DOUBLINGS = 160  # 4**160 ~ 1e96: far past any multiplier floats can resolve


class _NoBracketError(Exception):
    """The multiplier search ran out of steps (extreme scales); see `_lagrangian`."""


def _doubling_bracket(
    q: FloatArray, s: float, t: FloatArray, r: FloatArray, legal: _Legal, total: float, lam0: float
) -> _Bracket | FloatArray:
    """Bracket the multiplier by steps that grow fourfold (the general fallback).

    Bounded: after `_MAX_DOUBLINGS` steps (or when the multiplier stops being
    finite, or stops moving the split because ``t`` dwarfs ``lam * r`` in
    floats) it raises `_NoBracketError`, and the caller rounds from the continuous
    optimum instead of the centre.
    """
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


def _breakpoint(q: FloatArray, nxt: FloatArray, t: FloatArray, r: FloatArray) -> FloatArray:
    """The multiplier at which an account moves from *q* up to *nxt* (its midpoint)."""
    with np.errstate(invalid="ignore"):
        return (0.5 * (q + nxt) - t) / r


def _up1(q: float, low: float, top: float, full: float, d: float) -> float:
    """`_Legal.up` for one account, in plain floats (the fill's inner loop)."""
    if q == 0:
        return min(low, full)
    if low <= q < top:
        return q + d
    return full if full > q else math.inf


def _fill(
    q: FloatArray,
    t: FloatArray,
    r: FloatArray,
    legal: _Legal,
    total: float,
    first: IntArray,
    keys: _LazyKeys,
    lam_cap: float,
) -> tuple[FloatArray, bool]:
    """Take up-moves in multiplier order while they fit in what is left.

    Moves are taken strictly in the order of their multiplier across all
    accounts: the heap holds the *first* accounts' moves up to *lam_cap* (the
    bracket's upper end, beyond which other accounts' moves may come first);
    when it runs dry, the next moves of every account are looked at again.

    Returns the amounts and whether every move was taken in order with none
    skipped for being too large (then the result is a Lagrangian minimiser).
    """
    q = q.copy()
    skipped = False
    left = total - float(q.sum())
    candidates = first
    d = legal.d
    cap = lam_cap
    while left > 0 and candidates.size:
        idx = candidates.tolist()
        spec = {
            i: (
                float(legal.low[i]),
                float(legal.top[i]),
                float(legal.full[i]),
                float(t[i]),
                float(r[i]),
            )
            for i in idx
        }
        heap = []
        for i in idx:
            low, top, full, ti, ri = spec[i]
            qi = float(q[i])
            p = _up1(qi, low, top, full, d)
            lam = (0.5 * (qi + p) - ti) / ri
            if p - qi <= left:
                if lam <= cap:
                    heap.append((lam, keys(i), i))
            elif p < math.inf:
                skipped = True
        heapq.heapify(heap)
        while heap and left > 0:
            _, _, i = heapq.heappop(heap)
            low, top, full, ti, ri = spec[i]
            qi = float(q[i])
            p = _up1(qi, low, top, full, d)
            if p - qi > left:
                skipped = True
                continue
            left -= p - qi
            q[i] = p
            p2 = _up1(p, low, top, full, d)
            lam2 = (0.5 * (p + p2) - ti) / ri
            if p2 - p <= left:
                if lam2 <= cap:  # beyond the cap, other accounts' moves may come first
                    heapq.heappush(heap, (lam2, keys(i), i))
            elif p2 < math.inf and left > 0:
                skipped = True
        if left <= 0:
            break
        # The moves up to the cap are taken: look again at every account's next move.
        nxt_all = legal.up(q)
        size = nxt_all - q
        fits = np.flatnonzero(size <= left)
        if np.isfinite(nxt_all).any() and bool((np.isfinite(size) & (size > left)).any()):
            skipped = True  # some account's next move is too large: the order is broken
        if fits.size == 0:
            break
        lam_all = _breakpoint(q[fits], nxt_all[fits], t[fits], r[fits])
        keep = min(fits.size, max(_ACTIVE_SMALL, 4 * int(left / legal.d) + 1))
        if keep < fits.size:
            order = np.argpartition(lam_all, keep - 1)[:keep]
            cap = float(lam_all[order].max())
        else:
            order = np.arange(fits.size)
            cap = math.inf
        candidates = fits[order]
    return q, not skipped


def _cost_delta(q: FloatArray, p: FloatArray, t: FloatArray, a: FloatArray) -> FloatArray:
    """``a (p - t)^2 - a (q - t)^2``, factored; +inf where *p* is +-inf (no such move)."""
    diff = p - q
    diff *= p + q - 2.0 * t
    diff *= a
    return diff


def _repair(
    q: FloatArray, t: FloatArray, a: FloatArray, legal: _Legal, total: float, keys: _LazyKeys
) -> FloatArray:
    """Step 3: close a gap smaller than any move with one move up and moves down."""
    left = total - float(q.sum())
    if left <= 0:
        return q
    up = legal.up(q)
    dn = legal.down(q)
    up_size = up - q
    dn_size = q - dn
    d_up = _cost_delta(q, up, t, a)
    d_dn = _cost_delta(q, dn, t, a)
    best: tuple[float, int, list[int]] | None = None
    over = np.flatnonzero(np.isfinite(up) & (up_size > left))
    if over.size == 0:
        return q
    # The cheapest few overshooting moves, each balanced by the cheapest moves down.
    k = min(over.size, 64)
    over = over[np.argpartition(d_up[over], k - 1)[:k]]
    d_order = np.argsort(d_dn, kind="stable")
    for j in over.tolist():
        excess = float(up_size[j] - left)
        # One move down of exactly the excess ...
        exact = np.flatnonzero((dn_size == excess) & (np.arange(q.size) != j) & np.isfinite(d_dn))
        if exact.size:
            i = int(exact[np.argmin(d_dn[exact])])
            gain = float(d_up[j] + d_dn[i])
            if best is None or gain < best[0]:
                best = (gain, j, [i])
        # ... or several single increments from distinct accounts.
        if excess % legal.d == 0:
            need = int(excess // legal.d)
            picks = [
                int(i)
                for i in d_order[: need + 1 + 8 * need].tolist()
                if i != j and dn_size[i] == legal.d and np.isfinite(d_dn[i])
            ][:need]
            if len(picks) == need:
                gain = float(d_up[j] + d_dn[picks].sum())
                if best is None or gain < best[0]:
                    best = (gain, j, picks)
    if best is None:
        return q
    _, j, downs = best
    q = q.copy()
    q[j] = up[j]
    q[downs] = dn[downs]
    return q


def _swap_sizes(legal: _Legal) -> list[float]:
    """The move sizes that can balance each other: the increment, and opening sizes."""
    sizes = {legal.d}
    opening = legal.low[np.isfinite(legal.low)]
    if opening.size:
        first = float(opening[0])
        if (opening != first).any():  # minimum allocations make opening sizes differ
            sizes.update(np.unique(opening).tolist()[:15])
        else:
            sizes.add(first)
    full = np.isfinite(legal.full)
    if full.any():
        # A whole-position sale moves the account from the top of its range (or 0).
        tops = np.where(np.isfinite(legal.top[full]), legal.top[full], 0.0)
        sizes.update(np.unique(legal.full[full] - tops).tolist()[:15])
    return sorted(sizes)


def _exchange(
    q: FloatArray, t: FloatArray, a: FloatArray, legal: _Legal, keys: _LazyKeys
) -> tuple[FloatArray, int]:
    """Step 4: apply balanced swaps (same face out of one account, into another) that help."""
    q = q.copy()
    applied = 0
    sizes = _swap_sizes(legal)
    up = legal.up(q)
    dn = legal.down(q)
    d_up = _cost_delta(q, up, t, a)
    d_dn = _cost_delta(q, dn, t, a)
    for _ in range(_MAX_EXCHANGE_ROUNDS):
        up_size = up - q
        dn_size = q - dn
        best = (0.0, -1, -1)
        for size in sizes:
            gain, j, i = _best_pair(d_up, d_dn, up_size == size, dn_size == size, keys)
            if gain < best[0]:
                best = (gain, j, i)
        gain, j, i = best
        if j < 0 or gain >= -1e-12 * max(abs(float(d_up[j])), abs(float(d_dn[i])), 1e-300):
            break
        q[j] = up[j]
        q[i] = dn[i]
        _extend(q, j, i, t, a, legal)
        applied += 1
        touched = np.array([i, j])
        sub = legal.take(touched)
        up[touched] = sub.up(q[touched])
        dn[touched] = sub.down(q[touched])
        d_up[touched] = _cost_delta(q[touched], up[touched], t[touched], a[touched])
        d_dn[touched] = _cost_delta(q[touched], dn[touched], t[touched], a[touched])
    return q, applied


def _extend(q: FloatArray, j: int, i: int, t: FloatArray, a: FloatArray, legal: _Legal) -> None:
    """After one increment moved from *i* to *j*, move on to the pair's best transfer.

    Within both accounts' ranges the pair's cost is a convex quadratic in the
    number *k* of further increments, minimised at the nearest whole number to
    its continuous minimiser: one step replaces thousands of one-increment swaps
    (e.g. an increment of 1 face).
    """
    d = legal.d
    if not (legal.low[j] <= q[j] <= legal.top[j] and legal.low[i] <= q[i] <= legal.top[i]):
        return
    k_max = min((legal.top[j] - q[j]) // d, (q[i] - legal.low[i]) // d)
    if k_max <= 0:
        return
    k_star = (a[i] * (q[i] - t[i]) - a[j] * (q[j] - t[j])) / (d * (a[i] + a[j]))
    k = min(max(round(float(k_star)), 0), int(k_max))
    if k > 0:
        q[j] += k * d
        q[i] -= k * d


_OPEN_SET_MAX_ACCOUNTS = 1_000  # the open-set search runs up to this size
_WIDE_MAX_ACCOUNTS = 5_000  # the wide exchange (any size, close/open) runs up to this size
_WIDE_ROUNDS = 200


def _is_legal(legal: _Legal, p: FloatArray) -> BoolArray:
    """True where *p* is in the account's legal set (vectorised)."""
    with np.errstate(invalid="ignore"):
        on_grid = np.mod(p - legal.m, legal.d) == 0
        ok: BoolArray = (
            (p == 0) | ((p >= legal.low) & (p <= legal.top) & on_grid) | (p == legal.full)
        )
    return ok


def _wide_exchange(
    q: FloatArray, t: FloatArray, a: FloatArray, legal: _Legal, keys: _LazyKeys
) -> tuple[FloatArray, int]:
    """Balanced moves of any size between two accounts, while one lowers the cost.

    Sizes tried: one to four increments, every current amount (close one
    account, give it to another: opening it or topping it up) and every opening
    size (open one account, take it from another). Each applied move is then
    extended to the pair's best transfer (`_extend`).
    """
    q = q.copy()
    applied = 0
    d = legal.d
    base = a * (q - t) ** 2
    for _ in range(_WIDE_ROUNDS):
        sizes = {d * k for k in range(1, 5)}
        sizes.update(np.unique(q[q > 0]).tolist()[:64])
        sizes.update(np.unique(legal.low[np.isfinite(legal.low)]).tolist()[:16])
        if q.size <= _EXACT_MAX_ACCOUNTS:
            # Jumps to an account's special amounts (first, last, whole position),
            # balanced by one other account: e.g. sell a whole position and take
            # the difference off another account's sale.
            for special in (legal.low, legal.top, legal.full):
                with np.errstate(invalid="ignore"):
                    jump = np.abs(special - q)
                sizes.update(jump[np.isfinite(jump) & (jump > 0)].tolist())
        best = (0.0, -1, -1, 0.0)
        for size in sorted(sizes):
            up = q + size
            dn = q - size
            with np.errstate(invalid="ignore"):
                c_up = np.where(_is_legal(legal, up), a * (up - t) ** 2 - base, np.inf)
                c_dn = np.where(_is_legal(legal, dn) & (dn >= 0), a * (dn - t) ** 2 - base, np.inf)
            if not (np.isfinite(c_up).any() and np.isfinite(c_dn).any()):
                continue
            gain, j, i = _best_pair(c_up, c_dn, np.isfinite(c_up), np.isfinite(c_dn), keys)
            if j >= 0 and gain < best[0]:
                best = (gain, j, i, size)
        gain, j, i, size = best
        scale = max(float(base[j]) if j >= 0 else 0.0, float(base[i]) if i >= 0 else 0.0, 1e-300)
        if j < 0 or gain >= -1e-12 * scale:
            break
        q[j] += size
        q[i] -= size
        _extend(q, j, i, t, a, legal)
        for k in (i, j):
            base[k] = a[k] * (q[k] - t[k]) ** 2
        applied += 1
    return q, applied


def _best_pair(
    d_up: FloatArray,
    d_dn: FloatArray,
    up_mask: BoolArray,
    dn_mask: BoolArray,
    keys: _LazyKeys,
) -> tuple[float, int, int]:
    """The cheapest (up j, down i) pair with i != j among the masked moves."""
    ups = np.flatnonzero(up_mask)
    dns = np.flatnonzero(dn_mask)
    if ups.size == 0 or dns.size == 0:
        return 0.0, -1, -1
    cu = d_up[ups]
    cd = d_dn[dns]
    ju = _argmin_keyed(ups, cu, keys)
    idn = _argmin_keyed(dns, cd, keys)
    if ju != idn:
        return float(d_up[ju] + d_dn[idn]), ju, idn
    # The same account is cheapest both ways: pair it with the runner-up on one side.
    options: list[tuple[float, int, int]] = []
    other_up = ups[ups != ju]
    if other_up.size:
        j2 = _argmin_keyed(other_up, d_up[other_up], keys)
        options.append((float(d_up[j2] + d_dn[idn]), j2, idn))
    other_dn = dns[dns != idn]
    if other_dn.size:
        i2 = _argmin_keyed(other_dn, d_dn[other_dn], keys)
        options.append((float(d_up[ju] + d_dn[i2]), ju, i2))
    return min(options) if options else (0.0, -1, -1)


def _argmin_keyed(idx: IntArray, cost: FloatArray, keys: _LazyKeys) -> int:
    low = cost.min()
    tied = idx[cost == low]
    return keys.pick(tied)
