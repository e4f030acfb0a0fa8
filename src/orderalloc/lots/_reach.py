"""Step 5: the largest legal total, when the marginal search cannot reach the order.

Reachable totals are kept as unions of arithmetic intervals (`_Reach`), exact
and small even for a thousand accounts, within `_INTERVAL_BUDGET` interval
operations; beyond that the greedy total stands as a best effort, and the
result reports the leftover either way. `_reconstruct` builds a split that
reaches the largest total, each account as near its ideal as the tables allow.
"""

from __future__ import annotations

import math

import numpy as np

from ..typing import FloatArray
from ._legal import _Legal

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
