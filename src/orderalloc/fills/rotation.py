"""The rotation: every fill's pieces go to the accounts whose share falls due first.

Notation (face amounts; *i* is an account of the order):

* ``A_i``: the account's intent, as a legal amount (0 or a denomination);
* ``w_i = A_i / sum(A)``: its pro-rata weight;
* ``e_i``: its credit carried in from earlier orders of the same book
  (`orderalloc.fills.ledger`), positive when it is behind;
* ``Phi``: the face placed so far in this order (all fills);
* ``T_i(Phi) = w_i Phi + e_i``: its *entitlement* when ``Phi`` is placed;
* ``C_i``: the face it holds so far (the sum of its tickets).

A *move* raises one account's cumulative amount to its next legal value
``v`` (the first ticket of a fill is at least one min piece, each further
step one increment). The move falls *due* when the entitlement reaches it,
at ``Phi = D = (v - e_i) / w_i``, its *deadline*.

**The rule.** Within a fill, moves are taken in the order of their
deadlines (ties: a key hashed from the account id and the order's seed,
`orderalloc.lots.tie_keys`), each as long as it fits in what is left of the
fill; a move that does not fit is passed over for this fill only and stays
first in line for the next. When the fill is too small for every account to
get a piece, this is a deterministic rotation that serves the accounts
furthest behind their entitlement first: an account that just received a
piece moves to the back of the line by the size of its piece.

For speed the moves up to a multiplier are taken at once: at ``lam`` every
account holds its largest legal ticket ``x`` with ``C_i + x <= T_i(lam)``,
which is exactly the set of moves with deadline ``<= lam`` (the largest
``lam`` whose total fits is found by bisection); the last few moves are then
taken one by one from a heap, in deadline order, as the rule says.

The bound this keeps, and its proof, are in ``docs/explain/fills.md``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import attrs
import numpy as np

from .._bisection import Bracket, bisect
from ..lots._keys import _LazyKeys
from ..typing import BoolArray, FloatArray, IntArray

__all__ = ["FillRotation", "Tickets", "rotate_fill", "ticket_sets"]

_HEAP_MOVES = 64  # stop bisecting when this few moves are left for the heap
_MIN_CANDIDATES = 48


@attrs.frozen(eq=False)
class Tickets:
    """Every account's legal tickets for one fill.

    A ticket is 0, or ``lo + k * d`` up to ``hi``, or the isolated ``full``
    (a sale of the whole remaining position). ``lo`` is inf and ``hi`` -inf
    where the contiguous range is empty; ``full`` is inf where there is none.
    """

    d: float
    lo: FloatArray
    hi: FloatArray
    full: FloatArray

    @property
    def largest(self) -> FloatArray:
        """The largest ticket per account (0 when none is legal)."""
        top = np.where(np.isfinite(self.hi), self.hi, 0.0)
        return np.where(np.isfinite(self.full), np.maximum(self.full, top), top)

    def floor(self, y: FloatArray, idx: IntArray | None = None) -> FloatArray:
        """The largest ticket ``<= y`` per account (0 when none); *idx* selects accounts."""
        lo, hi, full = (
            (self.lo, self.hi, self.full)
            if idx is None
            else (self.lo[idx], self.hi[idx], self.full[idx])
        )
        with np.errstate(invalid="ignore"):
            grid = lo + np.floor((y - lo) / self.d) * self.d
        grid = np.minimum(grid, hi)
        ok = (y >= lo) & (lo <= hi)
        out = np.where(ok, grid, 0.0)
        return np.where(full <= y, full, out)

    def next_above(self, x: FloatArray, idx: IntArray) -> FloatArray:
        """The next ticket above *x* for the accounts *idx* (inf where there is none)."""
        lo, hi, full = self.lo[idx], self.hi[idx], self.full[idx]
        grid_ok = lo <= hi
        first = np.minimum(np.where(grid_ok, lo, np.inf), full)
        inside = grid_ok & (x >= lo) & (x < hi)
        beyond = np.where(full > x, full, np.inf)
        return np.where(x == 0, first, np.where(inside, x + self.d, beyond))

    def next_one(self, i: int, x: float) -> float:
        """`next_above` for one account, in plain floats (the heap's inner loop)."""
        lo, hi, full = float(self.lo[i]), float(self.hi[i]), float(self.full[i])
        if x == 0:
            return min(lo if lo <= hi else math.inf, full)
        if lo <= x < hi:
            return x + self.d
        return full if full > x else math.inf


def ticket_sets(
    *,
    min_piece: float,
    increment: float,
    held: FloatArray,
    low: FloatArray,
    top: FloatArray,
    full: FloatArray,
    intent: FloatArray,
    cash_room: FloatArray,
) -> Tickets:
    """The legal tickets of one fill, given what each account holds already.

    Args:
        min_piece: The security's minimum piece.
        increment: The security's increment.
        held: Face each account holds from earlier fills (``C_i``).
        low: Smallest legal cumulative amount of the contiguous range (inf: none).
        top: Largest legal cumulative amount of that range (-inf: none).
        full: The isolated whole-position sale (inf: none).
        intent: The legal intent ``A_i`` (no account goes above it).
        cash_room: Face the account's remaining cash buys at this fill's
            price (inf: not checked).

    Every ticket is itself a legal denomination, and so is the cumulative
    amount after it: an account that already holds face can take a second
    ticket only when the min piece is a whole number of increments.
    """
    m, d = min_piece, increment
    reopen = math.fmod(m, d) == 0
    fresh = held == 0
    ceiling = np.minimum(np.minimum(top, intent), held + cash_room)
    # First ticket: the group's legal range itself; later tickets start at m.
    start = np.where(fresh, low, np.where(reopen, held + m, np.inf))
    with np.errstate(invalid="ignore"):
        last = start + np.floor((ceiling - start) / d) * d
    has_grid = np.isfinite(start) & (ceiling >= start)
    lo = np.where(has_grid, start - held, np.inf)
    hi = np.where(has_grid, last - held, -np.inf)
    xf = full - held
    full_ok = (
        np.isfinite(full)
        & (full <= intent)
        & (full <= held + cash_room)
        & (fresh | reopen)
        & (xf >= m)
        & ~(has_grid & (xf <= hi))
    )
    return Tickets(d=d, lo=lo, hi=hi, full=np.where(full_ok, xf, np.inf))


@attrs.frozen(eq=False)
class FillRotation:
    """What `rotate_fill` decided for one fill.

    Attributes:
        tickets: Face per account, array of shape (n_accounts,).
        placed: ``sum(tickets)``.
        out_of_turn: Face taken by moves due later than a move passed over
            for not fitting (the ``X`` of the bound; 0 in most fills).
        passed_over: Accounts whose due move did not fit what was left.
    """

    tickets: FloatArray
    placed: float
    out_of_turn: float
    passed_over: int


def rotate_fill(
    quantity: float,
    *,
    held: FloatArray,
    credit: FloatArray,
    weight: FloatArray,
    tickets: Tickets,
    ids: Sequence[str],
    seed: int,
) -> FillRotation:
    """Split one fill of *quantity* face by the rotation (see the module docstring).

    Args:
        quantity: The fill's face.
        held: ``C_i`` before the fill.
        credit: ``e_i``, the credit carried in (face).
        weight: ``w_i`` (0 for accounts outside the order).
        tickets: The legal tickets of this fill (`ticket_sets`).
        ids: Account ids (tie-breaks only).
        seed: Tie-break seed.
    """
    n = held.shape[0]
    q = np.zeros(n, dtype=np.float64)
    largest = tickets.largest
    active = np.flatnonzero((weight > 0) & (largest > 0))
    if active.size == 0:
        return FillRotation(tickets=q, placed=0.0, out_of_turn=0.0, passed_over=0)
    w, e, c = weight[active], credit[active], held[active]
    room = largest[active]
    # Everything fits: every account takes its largest ticket.
    if float(room.sum()) <= quantity:
        q[active] = room
        return FillRotation(tickets=q, placed=float(room.sum()), out_of_turn=0.0, passed_over=0)
    # Bisect on the multiplier: tickets(lam) = floor(w lam + e - C) on the ticket grid.
    first = tickets.next_above(np.zeros(active.size), active)
    due_first = (c + first - e) / w
    due_last = (c + room - e) / w
    lam_lo = float(due_first.min())
    lam_lo -= max(1.0, abs(lam_lo)) * 1e-6 + 1.0
    lam_hi = float(due_last.max())
    lam_hi += max(1.0, abs(lam_hi)) * 1e-6 + 1.0
    bracket = Bracket(
        lam_lo, lam_hi, np.zeros(active.size), room.copy(), np.arange(active.size), 0.0
    )
    unit = min(float(np.nanmin(np.where(np.isfinite(tickets.lo), tickets.lo, np.inf))), tickets.d)
    unit = unit if math.isfinite(unit) else tickets.d

    def amounts(lam: float, sub: IntArray) -> FloatArray:
        return tickets.floor(w[sub] * lam + e[sub] - c[sub], active[sub])

    def few_left(b: Bracket) -> bool:
        # Few enough moves are left for the heap to take them in deadline order.
        gap = quantity - b.fixed - float(b.q_lo[b.rows].sum())
        return gap / unit <= _HEAP_MOVES

    bisect(bracket, quantity, amounts, few_left)
    q[active] = bracket.q_lo
    return _sequential(quantity, q, held, credit, weight, tickets, active, _LazyKeys(ids, seed))


def _sequential(
    quantity: float,
    q: FloatArray,
    held: FloatArray,
    credit: FloatArray,
    weight: FloatArray,
    tickets: Tickets,
    active: IntArray,
    keys: _LazyKeys,
) -> FillRotation:
    """Take the remaining moves one by one in deadline order, passing over those too large."""
    left = quantity - float(q.sum())
    passed_due = math.inf  # earliest deadline of a move passed over
    passed: set[int] = set()
    out_of_turn = 0.0
    candidates = active
    while left > 0:
        nxt = tickets.next_above(q[candidates], candidates)
        size = nxt - q[candidates]
        finite: BoolArray = np.isfinite(nxt)
        too_big = finite & (size > left)
        if too_big.any():
            big = candidates[too_big]
            due = (held[big] + nxt[too_big] - credit[big]) / weight[big]
            passed_due = min(passed_due, float(due.min()))
            passed.update(big[due <= passed_due].tolist())
        fits = finite & ~too_big
        cand = candidates[fits]
        if cand.size == 0:
            break
        due = (held[cand] + nxt[fits] - credit[cand]) / weight[cand]
        unit = max(float(size[fits].min()), 1.0)
        keep = min(cand.size, max(_MIN_CANDIDATES, 2 * int(left / unit) + 1))
        if keep < cand.size:
            cap = float(np.partition(due, keep - 1)[keep - 1])
            # Every account tied at the cap comes in: which ones argpartition
            # picks would depend on their position in the input.
            sel = due <= cap
            cand, due = cand[sel], due[sel]
        else:
            cap = math.inf
        heap = list(zip(due.tolist(), keys.many(cand.tolist()), cand.tolist(), strict=True))
        heapq.heapify(heap)
        while heap and left > 0:
            d_i, _, i = heapq.heappop(heap)
            x = float(q[i])
            p = tickets.next_one(i, x)
            if p - x > left:
                if d_i < passed_due:
                    passed_due = d_i
                passed.add(i)
                continue
            if d_i > passed_due:
                out_of_turn += p - x
            q[i] = p
            left -= p - x
            p2 = tickets.next_one(i, p)
            if p2 < math.inf:
                d2 = (float(held[i]) + p2 - float(credit[i])) / float(weight[i])
                if p2 - p > left:
                    if d2 < passed_due:
                        passed_due = d2
                    passed.add(i)
                elif d2 <= cap:
                    heapq.heappush(heap, (d2, keys(i), i))
        if cap == math.inf:
            break
        candidates = active
    return FillRotation(
        tickets=q,
        placed=quantity - left,
        out_of_turn=out_of_turn,
        passed_over=len(passed),
    )
