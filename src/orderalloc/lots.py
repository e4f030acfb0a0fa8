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
from collections.abc import Sequence

import attrs
import numpy as np

from .limits import TradeBounds
from .typing import BoolArray, FloatArray, IntArray

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
    """

    q: FloatArray
    total: float
    requested: float
    cost: float
    exchanges: int

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
) -> Rounding:
    """Choose legal amounts close to the ideal split *t* that add up to *total*.

    Args:
        t: The ideal split, array of shape (n_accounts,).
        a: Cost of deviation per account (> 0), array of shape (n_accounts,).
        bounds: Every account's legal set, from `orderalloc.limits.trade_bounds`.
        total: The order size.
        ids: Account ids (only used for tie-breaks).
        seed: Tie-break seed (see `tie_keys`).
        ideal: The continuous optimum within bounds, when *t* is an
            unconstrained centre (min dispersion); the search starts at its
            multiplier.

    Returns:
        The amounts; ``residual`` is what could not be placed.
    """
    legal = _Legal.of(bounds)
    r = 0.5 / a
    keys = _LazyKeys(ids, seed)
    lam0 = 0.0 if ideal is None else _multiplier(ideal, t, r, bounds.max_legal)
    cap = bounds.max_legal
    optimal = False
    touched: IntArray | None = None
    if float(cap.sum()) <= total:
        q, optimal = cap.copy(), True  # every account at its largest amount: no move up
    else:
        q, optimal, touched = _place(t, a, r, legal, total, keys, lam0)
        if float(q.sum()) < total:
            # The marginal search could not reach the order: find the true largest
            # legal total by dynamic programming where that is affordable.
            best = _largest_total(legal, total)
            if best is not None and best > float(q.sum()):
                q, optimal, touched = _place(t, a, r, legal, best, keys, lam0)
                if float(q.sum()) != best:
                    q, optimal, touched = _reconstruct(legal, best, t), False, None
    # A split that is the Lagrangian minimiser at one multiplier is optimal for
    # its total (Everett 1963): no exchange can improve it, so skip the search.
    exchanges = 0
    if not optimal and touched is None:
        q, exchanges = _exchange(q, t, a, legal, keys)
    elif not optimal and touched is not None and touched.size > 1:
        sub_q, exchanges = _exchange(
            q[touched], t[touched], a[touched], legal.take(touched), _SubsetKeys(keys, touched)
        )
        q[touched] = sub_q
    cost = float(np.sum(a * (q - t) ** 2))
    return Rounding(q=q, total=float(q.sum()), requested=total, cost=cost, exchanges=exchanges)


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
) -> tuple[FloatArray, bool, IntArray | None]:
    """Steps 1 to 3 for one total.

    Returns the amounts, True when they are a Lagrangian minimiser, and the
    accounts an improving swap may involve (None: any account may).
    """
    q, optimal, touched = _lagrangian(t, r, legal, total, keys, lam0)
    if float(q.sum()) == total:
        return q, optimal, touched
    repaired = _repair(q, t, a, legal, total, keys)
    if not np.array_equal(repaired, q):
        # The repair moves accounts off the multiplier's split (down moves taken
        # anywhere): after it, a swap may involve any account.
        touched = None
    return repaired, False, touched


_DP_BUDGET = 30_000_000  # cells (accounts x reachable totals) the exact search may use


def _dp_tables(legal: _Legal, total: float) -> tuple[float, list[BoolArray]] | None:
    """Reachable totals (in units of gcd(min piece, increment)) after each account."""
    m, d = int(legal.m), int(legal.d)
    unit = math.gcd(m, d)
    size = int(total // unit) + 1
    n = legal.low.size
    if n * size > _DP_BUDGET:
        return None
    step = d // unit
    reach = np.zeros(size, dtype=bool)
    reach[0] = True
    tables = [reach]
    for i in range(n):
        new = reach.copy()
        low, top, full = legal.low[i], legal.top[i], legal.full[i]
        if np.isfinite(low) and low <= top:
            lo_u, count = int(low // unit), int((top - low) // d) + 1
            new |= _strided_window(reach, lo_u, count, step)
        if np.isfinite(full) and full <= total:
            f_u = int(full // unit)
            new[f_u:] |= reach[: size - f_u]
        reach = new
        tables.append(reach)
    return float(unit), tables


def _strided_window(reach: BoolArray, offset: int, count: int, step: int) -> BoolArray:
    """out[x] = any(reach[x - offset - j * step] for j in range(count))."""
    size = reach.size
    out = np.zeros(size, dtype=bool)
    if offset >= size:
        return out
    # Running sums along each residue class modulo step.
    rows = -(-size // step)
    padded = np.zeros(rows * step, dtype=np.int64)
    padded[:size] = reach
    csum = np.cumsum(padded.reshape(rows, step), axis=0).reshape(-1)[:size]
    x = np.arange(offset, size)
    upper = csum[x - offset]
    lower_idx = x - offset - count * step
    lower = np.where(lower_idx >= 0, csum[np.maximum(lower_idx, 0)], 0)
    out[offset:] = (upper - lower) > 0
    return out


def _largest_total(legal: _Legal, total: float) -> float | None:
    """The largest legal total <= *total*, or None when the search is too large."""
    found = _dp_tables(legal, total)
    if found is None:
        return None
    unit, tables = found
    return float(np.flatnonzero(tables[-1])[-1]) * unit


def _reconstruct(legal: _Legal, best: float, t: FloatArray) -> FloatArray:
    """A split with total *best*, each account as near its ideal as the table allows."""
    found = _dp_tables(legal, best)
    assert found is not None
    unit, tables = found
    n = legal.low.size
    q = np.zeros(n, dtype=np.float64)
    left = best
    for i in range(n - 1, -1, -1):
        before = tables[i]
        options = [0.0]
        if np.isfinite(legal.low[i]) and legal.low[i] <= legal.top[i]:
            options += list(np.arange(legal.low[i], legal.top[i] + legal.d / 2, legal.d))
        if np.isfinite(legal.full[i]):
            options.append(float(legal.full[i]))
        ok = [o for o in options if o <= left and before[int((left - o) // unit)]]
        choice = min(ok, key=lambda o: (abs(o - t[i]), o))
        q[i] = choice
        left -= choice
    return q


class _LazyKeys:
    """Tie-break keys computed only for the accounts that meet in a tie."""

    def __init__(self, ids: Sequence[str], seed: int) -> None:
        self._ids = ids
        self._seed = seed
        self._cache: dict[int, int] = {}

    def __call__(self, i: int) -> int:
        key = self._cache.get(i)
        if key is None:
            key = tie_keys([self._ids[i]], self._seed)[0]
            self._cache[i] = key
        return key

    def pick(self, candidates: IntArray) -> int:
        """The candidate with the smallest key."""
        if candidates.size == 1:
            return int(candidates[0])
        return int(min(candidates.tolist(), key=self))


class _SubsetKeys(_LazyKeys):
    """Tie-break keys of a subset of accounts, looked up by position in the subset."""

    def __init__(self, keys: _LazyKeys, rows: IntArray) -> None:
        self._keys = keys
        self._rows = rows.tolist()

    def __call__(self, i: int) -> int:
        return self._keys(self._rows[i])


def _lagrangian(
    t: FloatArray, r: FloatArray, legal: _Legal, total: float, keys: _LazyKeys, lam0: float
) -> tuple[FloatArray, bool, IntArray | None]:
    """Steps 1 and 2: nearest legal amounts at the multiplier that meets the total.

    The search starts at *lam0*, the multiplier of the continuous optimum, so
    the nearest legal amounts are already within a few moves of the total.
    """
    q = legal.nearest(t + lam0 * r)
    s = float(q.sum())
    if s == total:
        return q, True, None
    bracket = _quick_bracket(q, s, t, r, legal, total, lam0)
    if bracket is None:
        found = _doubling_bracket(q, s, t, r, legal, total, lam0)
        if isinstance(found, np.ndarray):  # landed on the total exactly
            return found, True, None
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
                return q_lo, True, None
        else:
            lam_hi = lam
            q_hi[active] = qa
        moving = q_lo[active] != q_hi[active]
        fixed += float(q_lo[active][~moving].sum())
        active = active[moving]
    # Greedy fill from below in the order of each move's multiplier.
    q, optimal = _fill(q_lo, t, r, legal, total, active, keys, lam_hi)
    # Every account outside `active` is where the multiplier puts it at both ends
    # of the bracket; only `active` and the accounts the fill moved can take part
    # in an improving swap (see `_exchange`).
    touched = np.union1d(active, np.flatnonzero(q != q_lo))
    return q, optimal, touched


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


def _doubling_bracket(
    q: FloatArray, s: float, t: FloatArray, r: FloatArray, legal: _Legal, total: float, lam0: float
) -> _Bracket | FloatArray:
    """Bracket the multiplier by steps that grow fourfold (the general fallback)."""
    step = max(abs(total - s) / float(r.sum()), abs(lam0) * 1e-12, np.finfo(float).tiny)
    lam_lo, lam_hi = (lam0, np.inf) if s < total else (-np.inf, lam0)
    q_lo, q_hi = (q, None) if s < total else (None, q)
    while q_lo is None or q_hi is None:
        lam = (lam_lo + step) if s < total else (lam_hi - step)
        trial = legal.nearest(t + lam * r)
        ts = float(trial.sum())
        if ts == total:
            return trial
        if ts < total:
            lam_lo, q_lo = lam, trial
        else:
            lam_hi, q_hi = lam, trial
        step *= 4.0
    return lam_lo, lam_hi, q_lo.copy(), q_hi.copy()


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
        applied += 1
        touched = np.array([i, j])
        sub = legal.take(touched)
        up[touched] = sub.up(q[touched])
        dn[touched] = sub.down(q[touched])
        d_up[touched] = _cost_delta(q[touched], up[touched], t[touched], a[touched])
        d_dn[touched] = _cost_delta(q[touched], dn[touched], t[touched], a[touched])
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
