"""One rounding problem: what every step of the rounding is given.

The ideal split *t*, the cost of a face of deviation *a* (and ``r = 0.5 / a``,
how far a unit of multiplier moves each account's target), the legal sets and
the tie-break keys travel together through every step; `_Problem` holds them,
and `_Problem.take` gives the same problem on a subset of the accounts.
"""

from __future__ import annotations

import attrs

from ..typing import FloatArray, IntArray
from ._keys import _LazyKeys, _SubsetKeys
from ._legal import _cost, _Legal


@attrs.frozen(eq=False)
class _Problem:
    """The ideal, the costs of deviation, the legal sets and the tie-breaks of a group.

    Attributes:
        t: The ideal split, array of shape (n_accounts,).
        a: Cost of deviation per account (> 0), array of shape (n_accounts,).
        r: ``0.5 / a``: the multiplier ``lam`` moves account *i*'s target to
            ``t_i + lam * r_i``.
        legal: The legal sets.
        keys: The tie-break keys.
    """

    t: FloatArray
    a: FloatArray
    r: FloatArray
    legal: _Legal
    keys: _LazyKeys

    def take(self, rows: IntArray, legal: _Legal | None = None) -> _Problem:
        """The same problem over *rows* (with *legal* as their legal sets, if given)."""
        return _Problem(
            self.t[rows],
            self.a[rows],
            self.r[rows],
            self.legal.take(rows) if legal is None else legal,
            _SubsetKeys(self.keys, rows),
        )

    def cost(self, q: FloatArray) -> float:
        """``sum_i a_i (q_i - t_i)^2``: what the rounding keeps small."""
        return _cost(q, self.t, self.a)
