"""Denominations: turn an ideal split into legal, tradable amounts with the exact total.

Every engine produces an ideal continuous split *t* (face per account) and a
curvature *a* per account saying how much a face of deviation costs. This package
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
   two at a time) and re-solves the rest exactly for each choice.
5. **Largest legal total.** If steps 1-3 cannot reach the order, a search
   over reachable totals (unions of intervals in units of
   ``gcd(min_piece, increment)``) finds the largest legal total within
   ``_reach._INTERVAL_BUDGET`` interval operations; beyond that the greedy
   total stands, and the result reports the leftover either way.

Small groups (up to 64 live accounts) are rounded exactly instead, by a
dynamic programme over totals, and with a moving mean (equal or custom
weights) by a search over the centre.

Ties are broken by a key hashed from the account id and a seed, never by
position in the input, so a permutation of the accounts gives the same
amounts, and a seed that changes from order to order rotates who wins ties.

The layout, one step per private module::

    _round.py        round_to_lots and Rounding: which steps run for which group
    _legal.py        the legal sets as arrays (nearest, next up, next down), the cost
    _problem.py      _Problem: the ideal, the costs, the legal sets and tie keys together
    _keys.py         tie_keys: tie-breaks by account id and seed
    _lagrange.py     step 1: the multiplier search, and the dual bound
    _greedy.py       steps 2 and 3: the greedy fill and the repair
    _swaps.py        step 4: the exchange searches (pairwise and wide)
    _open_search.py  step 4 beyond the exact programme: the open-set search
    _reach.py        step 5: the largest legal total (_INTERVAL_BUDGET)
    _exact.py        small groups: the exact programme over totals, and its windows
    _coarse.py       small groups over budget: the programme on a coarser grid
    _centre.py       a moving mean: the search over the centre (MovingMean)
"""

from __future__ import annotations

from ._keys import tie_keys
from ._round import Rounding, round_to_lots

__all__ = ["Rounding", "round_to_lots", "tie_keys"]

# The public names present themselves as orderalloc.lots.X, where they were defined before.
for _obj in (Rounding, round_to_lots, tie_keys):
    _obj.__module__ = __name__
del _obj
