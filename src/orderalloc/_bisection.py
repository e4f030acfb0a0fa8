"""Bisection on a multiplier: the largest ``lam`` whose amounts fit a total.

Rounding an ideal split to legal amounts (`orderalloc.lots`) and splitting a
fill by the rotation (`orderalloc.fills.rotation`) both look for amounts
``q(lam)`` that are non-decreasing and piecewise constant in one multiplier
``lam``, with ``sum(q(lam))`` as close to a total as the grid allows. Both
bisect ``lam`` between a low end whose amounts fit and a high end whose do
not, and both narrow the work as they go: an account whose amount is the same
at both ends stays there, so only the accounts still moving are evaluated.
That search is written here once; each caller supplies its amounts and its
own rule for when to stop and finish by hand.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from .typing import FloatArray, IntArray

__all__ = ["Bracket", "bisect"]


@attrs.define(eq=False)
class Bracket:
    """Two multipliers around the total, and the amounts at each.

    Attributes:
        lam_lo: A multiplier whose amounts total at most the target.
        lam_hi: A multiplier whose amounts total more than the target.
        q_lo: The amounts at *lam_lo* (updated in place).
        q_hi: The amounts at *lam_hi* (updated in place).
        rows: The rows of *q_lo* whose amounts still differ between the ends.
        fixed: The total of every other row (the same at both ends).
    """

    lam_lo: float
    lam_hi: float
    q_lo: FloatArray
    q_hi: FloatArray
    rows: IntArray
    fixed: float


def bisect(
    bracket: Bracket,
    total: float,
    amounts: Callable[[float, IntArray], FloatArray],
    done: Callable[[Bracket], bool],
    *,
    max_steps: int = 200,
) -> bool:
    """Narrow *bracket* in place until *done* says so or the amounts meet *total*.

    Args:
        bracket: The search state, narrowed in place.
        total: The total the low end's amounts may not exceed.
        amounts: The amounts of the given rows at a multiplier.
        done: Whether the caller can finish from here (checked before each step).
        max_steps: The most halvings (the multipliers stop differing long before).

    Returns:
        True when ``q_lo`` totals *total* exactly (the search stopped there).
    """
    b = bracket
    for _ in range(max_steps):
        if done(b):
            break
        lam = 0.5 * (b.lam_lo + b.lam_hi)
        if lam in (b.lam_lo, b.lam_hi):
            break
        rows = b.rows
        qa = amounts(lam, rows)
        reached = b.fixed + float(qa.sum())
        if reached <= total:
            b.lam_lo = lam
            b.q_lo[rows] = qa
            if reached == total:
                return True
        else:
            b.lam_hi = lam
            b.q_hi[rows] = qa
        moving = b.q_lo[rows] != b.q_hi[rows]
        b.fixed += float(b.q_lo[rows][~moving].sum())
        b.rows = rows[moving]
    return False
