"""The exact programme: the cheapest legal split, by dynamic programming over totals.

For groups (or margins) up to `_EXACT_MAX_ACCOUNTS` accounts, while menus x
totals stays within `_EXACT_BUDGET` cells, every account's legal amounts are
its menu (`_options`) and the programme finds the largest legal total, then
the least cost. Beyond the budget the menus are cut to a window around a
start (exact over that neighbourhood) and re-centred for `_WINDOW_ROUNDS`.
"""

from __future__ import annotations

import math

import numpy as np

from ..typing import FloatArray
from ._legal import _Legal

_EXACT_MAX_ACCOUNTS = 64  # the exact programme runs on groups (or margins) up to this size

_EXACT_BUDGET = 4_000_000  # ... while options x totals stays within this many cells

_WINDOW_ROUNDS = 4


def _totals(legal: _Legal, total: float) -> int:
    """How many totals the programme tracks: 0 to *total* in units of gcd(min piece, increment)."""
    return int(total // math.gcd(int(legal.m), int(legal.d))) + 1


def _window_width(legal: _Legal, total: float, n: int) -> int:
    """The widest window (steps either side of a start) that keeps *n* menus within budget."""
    return (_EXACT_BUDGET // (_totals(legal, total) * max(n, 1)) - 4) // 2


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
    size = _totals(legal, total)
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


def _at_edge(legal: _Legal, i: int, opts: FloatArray, k: int, limit: float) -> bool:
    """Whether menu entry *k* borders a legal amount the windowed menu left out."""
    q, d = float(opts[k]), legal.d
    if q == 0 or q == legal.full[i]:
        return False
    below = q - d >= legal.low[i] and (k == 0 or opts[k - 1] < q - d)
    above = q + d <= min(legal.top[i], limit) and (k + 1 == opts.size or opts[k + 1] > q + d)
    return bool(below or above)
