"""The legal sets of the accounts as arrays, and the cost the rounding lowers.

Each account may take 0, any amount ``min_piece + k * increment`` within a
contiguous range ``[low, top]``, or (a sell) its whole position ``full``; see
`orderalloc.limits`. `_Legal` answers the questions every step asks of those
sets: the nearest legal amount, the next one up or down, the largest.
"""

from __future__ import annotations

import numpy as np

from ..limits import TradeBounds
from ..typing import BoolArray, FloatArray, IntArray


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


def _is_legal(legal: _Legal, p: FloatArray) -> BoolArray:
    """True where *p* is in the account's legal set (vectorised)."""
    with np.errstate(invalid="ignore"):
        on_grid = np.mod(p - legal.m, legal.d) == 0
        ok: BoolArray = (
            (p == 0) | ((p >= legal.low) & (p <= legal.top) & on_grid) | (p == legal.full)
        )
    return ok


def _cost(q: FloatArray, t: FloatArray, a: FloatArray) -> float:
    return float(np.sum(a * (q - t) ** 2))


def _cost_delta(q: FloatArray, p: FloatArray, t: FloatArray, a: FloatArray) -> FloatArray:
    """``a (p - t)^2 - a (q - t)^2``, factored; +inf where *p* is +-inf (no such move)."""
    diff = p - q
    diff *= p + q - 2.0 * t
    diff *= a
    return diff
