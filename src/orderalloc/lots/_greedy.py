"""Steps 2 and 3: the greedy fill in multiplier order, and the repair of a small gap.

From a split below the order, `_fill` takes the marginal moves (one
increment, or opening an account at its minimum piece) in the order of their
multiplier, skipping any move larger than what is left. If what is left is
smaller than every move, `_repair` balances one larger move by moves down
elsewhere (e.g. open an account at 2,000 and take 1,000 back from another).
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from ..typing import FloatArray, IntArray
from ._legal import _cost_delta
from ._problem import _Problem

_ACTIVE_SMALL = 48  # below this many accounts on the margin, switch to the exact heap fill


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
    problem: _Problem, q: FloatArray, total: float, first: IntArray, lam_cap: float
) -> tuple[FloatArray, bool]:
    """Take up-moves in multiplier order while they fit in what is left.

    Moves are taken strictly in the order of their multiplier across all
    accounts: the heap holds the *first* accounts' moves up to *lam_cap* (the
    bracket's upper end, beyond which other accounts' moves may come first);
    when it runs dry, the next moves of every account are looked at again.

    Returns the amounts and whether every move was taken in order with none
    skipped for being too large (then the result is a Lagrangian minimiser).
    """
    t, r, legal, keys = problem.t, problem.r, problem.legal, problem.keys
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


def _repair(problem: _Problem, q: FloatArray, total: float) -> FloatArray:
    """Step 3: close a gap smaller than any move with one move up and moves down."""
    t, a, legal = problem.t, problem.a, problem.legal
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
