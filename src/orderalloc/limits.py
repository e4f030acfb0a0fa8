"""Per-account bounds on a trade: what each account may legally receive.

For one order, every account gets a *legal set* of face amounts:

    {0}  ∪  {min_piece + k * increment : klo <= k <= khi}  ∪  {min_piece + kx * increment}

* the contiguous range ``[klo, khi]`` comes from the caps below (empty when
  ``khi < klo``);
* the isolated point ``kx`` (``-1`` when absent) is a sale of the whole
  position, which is legal even though it is above ``position - min_piece``.

The caps, computed in columns for every account at once:

* **restricted**: nothing;
* **buys**: face whose settlement amount, ``factor * (price + accrued) / 100``
  per face, fits in available cash (cash unknown: not checked); the position
  after the trade within ``max_pct_nav`` of NAV by market value;
* **sells**: at most the position, and never leaving ``0 < position < min_piece``;
  short or empty positions sell nothing;
* ``max_face`` per account, and never more than the order;
* ``min_allocation``: nothing below it (raises ``klo``).

Each account also gets the code of the constraint that binds its cap, which is
what the result's explanation reports.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import cached_property

import attrs
import numpy as np

from ._model import AccountTable, Order, Security, Side
from ._reasons import Reason
from .typing import BoolArray, FloatArray, IntArray

__all__ = ["TradeBounds", "trade_bounds"]

_NO_CAP = np.int8(-1)


@attrs.frozen(eq=False)
class TradeBounds:
    """The legal amounts of one order for every account (see the module docstring).

    Attributes:
        min_piece: The security's minimum piece.
        increment: The security's increment.
        cap: The largest face each account may take ignoring denominations,
            array of shape (n_accounts,), ``>= 0``.
        klo: Lowest ``k`` of the contiguous legal range, int array.
        khi: Highest ``k`` of the contiguous legal range (``< klo``: empty).
        kx: ``k`` of the isolated whole-position sale, or -1.
        cap_reason: Per account, the `Reason` code of the binding cap, or -1
            when only the order size binds.
        restricted: True where the security is restricted for the account.
        cash_checked: True where cash was known and checked (buys).
    """

    min_piece: float
    increment: float
    cap: FloatArray
    klo: IntArray
    khi: IntArray
    kx: IntArray
    cap_reason: IntArray
    restricted: BoolArray
    cash_checked: BoolArray

    @property
    def n(self) -> int:
        """The number of accounts."""
        return int(self.cap.shape[0])

    @cached_property
    def has_range(self) -> BoolArray:
        """True where the contiguous legal range is not empty."""
        return self.klo <= self.khi

    @cached_property
    def low(self) -> FloatArray:
        """The smallest amount of the contiguous range (inf where it is empty)."""
        low: FloatArray = np.where(
            self.has_range, self.min_piece + self.klo * self.increment, np.inf
        )
        return low

    @cached_property
    def top(self) -> FloatArray:
        """The largest amount of the contiguous range (-inf where it is empty)."""
        top: FloatArray = np.where(
            self.has_range, self.min_piece + self.khi * self.increment, -np.inf
        )
        return top

    @cached_property
    def full(self) -> FloatArray:
        """The whole-position sale (inf where there is none)."""
        has_full = self.kx >= 0
        if not has_full.any():
            # Buys, and most sells: one read-only inf seen n times, no memory.
            none: FloatArray = np.broadcast_to(np.float64(np.inf), has_full.shape)
            return none
        full: FloatArray = np.where(has_full, self.min_piece + self.kx * self.increment, np.inf)
        return full

    @cached_property
    def max_legal(self) -> FloatArray:
        """The largest legal amount per account (0 when nothing is legal)."""
        top = np.maximum(self.top, 0.0)
        full = np.where(np.isfinite(self.full), self.full, 0.0)
        best: FloatArray = np.maximum(top, full)
        return best

    @cached_property
    def min_legal(self) -> FloatArray:
        """The smallest non-zero legal amount per account (inf when nothing is legal)."""
        low: FloatArray = np.minimum(self.low, self.full)
        return low

    def restrict(self, allowed: BoolArray) -> TradeBounds:
        """The same bounds with nothing legal where *allowed* is False."""
        if allowed.all():
            return self
        return attrs.evolve(
            self,
            cap=np.where(allowed, self.cap, 0.0),
            khi=np.where(allowed, self.khi, -1),
            kx=np.where(allowed, self.kx, -1),
        )

    def is_legal(self, q: FloatArray) -> BoolArray:
        """True where *q* is in the account's legal set."""
        k = (q - self.min_piece) / self.increment
        whole = k == np.floor(k)
        in_range = whole & (k >= self.klo) & (k <= self.khi)
        legal: BoolArray = (q == 0) | in_range | (whole & (k == self.kx) & (self.kx >= 0))
        return legal


# A float quotient this close to a whole number may sit on the wrong side of it:
# such accounts are decided again in exact arithmetic.
_NEAR_WHOLE = 1e-12  # relative to the terms' size; float error is about 1e-16


def _settlement_per_face(sec: Security) -> Fraction:
    """``factor * (price + accrued) / 100`` in exact decimals (each number as written)."""
    return (
        Fraction(repr(sec.factor)) * (Fraction(repr(sec.price)) + Fraction(repr(sec.accrued))) / 100
    )


def _exact_floor(
    ratio: FloatArray, exact: Callable[[int], Fraction], scale: FloatArray | None = None
) -> FloatArray:
    """``floor(ratio)``, with every value near a whole number recomputed exactly.

    Money and face are compared as the decimals the user wrote (``2078.00``
    cash buys exactly 2,000 face at 103.9, though ``2000 * 1.039`` is above
    2078 in binary floats). Only the few accounts whose float quotient is
    within `_NEAR_WHOLE` (relative to *scale*, the size of the terms that
    made it; default the quotient itself) of a whole number pay for the exact
    check, so a 100,000-account group stays vectorised.
    """
    out = np.floor(ratio)
    # Zero (no cash, no room) is exact, and below zero nothing is allowed anyway.
    finite = np.isfinite(ratio) & (ratio > 0.5 * _NEAR_WHOLE)
    with np.errstate(invalid="ignore"):
        gap = np.abs(ratio - np.round(ratio))
        size = np.abs(ratio) if scale is None else scale
        near = finite & (gap <= _NEAR_WHOLE * np.maximum(size, 1.0))
    for i in np.flatnonzero(near).tolist():
        value = exact(i)
        out[i] = float(value.numerator // value.denominator)
    return out


def _absent(column: FloatArray) -> bool:
    """True when *column* is NaN for every account (no such limit anywhere).

    An absent column is one NaN broadcast to every row (see `AccountTable`),
    recognised by its zero stride without reading it; a real column costs one
    pass. A limit nobody has changes no cap, so `trade_bounds` skips its
    arithmetic (the fast path for groups without per-account limits, issue 15).
    """
    if column.strides == (0,):
        return bool(np.isnan(column[0])) if column.size else True
    return bool(np.isnan(column).all())


def trade_bounds(order: Order, accounts: AccountTable) -> TradeBounds:
    """Compute every account's legal set for *order* (see the module docstring)."""
    sec = order.security
    n = len(accounts)
    m, d = sec.min_piece, sec.increment
    cpf = sec.cash_per_face
    cap = np.full(n, order.quantity, dtype=np.float64)
    reason = np.full(n, _NO_CAP, dtype=np.int64)

    def bind(limit: FloatArray, why: Reason) -> None:
        # Record the reason where this limit is the tightest so far.
        tighter = limit < cap
        np.minimum(cap, limit, out=cap)
        reason[tighter] = why.code

    assert accounts.cash is not None
    assert accounts.max_face is not None
    assert accounts.max_pct_nav is not None
    assert accounts.min_allocation is not None
    position = accounts.holding(sec.id)
    cash_known = ~np.isnan(accounts.cash)
    kx = np.full(n, -1, dtype=np.int64)
    if order.side is Side.BUY:
        # Whole face only, decided in exact decimals (see `_exact_floor`): an
        # amount whose settlement is exactly the cash is affordable.
        cpf_exact = _settlement_per_face(sec)
        cash = accounts.cash
        with np.errstate(invalid="ignore"):
            cash_ratio = np.where(cash_known, np.maximum(cash, 0.0) / cpf, np.inf)
        cash_face = _exact_floor(
            cash_ratio, lambda i: Fraction(repr(max(float(cash[i]), 0.0))) / cpf_exact
        )
        bind(cash_face, Reason.CAPPED_BY_CASH)
        pct = accounts.max_pct_nav
        if not _absent(pct):  # without the limit the room is infinite: no cap to bind
            has_pct = ~np.isnan(pct)
            nav = accounts.nav
            with np.errstate(invalid="ignore"):
                room_mv = pct * nav / cpf
                room_ratio = np.where(has_pct, room_mv - position, np.inf)
            room = _exact_floor(
                room_ratio,
                lambda i: (
                    Fraction(repr(float(pct[i]))) * Fraction(repr(float(nav[i]))) / cpf_exact
                    - Fraction(repr(float(position[i])))
                ),
                np.abs(room_mv) + np.abs(position),
            )
            bind(np.maximum(room, 0.0), Reason.LIMIT_HIT)
        cash_checked = cash_known
    else:
        # Only whole face can be sold; a fractional position (a factored bond)
        # can never be sold out, so its sale must leave at least a min piece.
        whole = position == np.floor(position)
        held = np.maximum(np.floor(position), 0.0)
        bind(held, Reason.CAPPED_BY_HOLDINGS)
        # Selling down to a stub: the contiguous range stops min_piece short of
        # the position (position - m is exact in floats for these magnitudes).
        no_stub = np.maximum(np.floor(position - m), 0.0)
        stub_bound = no_stub < cap
        cap_contiguous = np.minimum(cap, no_stub)
        steps = (held - m) / d
        whole_position = whole & (held >= m) & (steps == np.floor(steps))
        kx = np.where(whole_position, np.floor(np.maximum(steps, 0.0)), -1).astype(np.int64)
        cash_checked = np.zeros(n, dtype=bool)
    max_face = accounts.max_face
    if not _absent(max_face):
        bind(np.where(np.isnan(max_face), np.inf, max_face), Reason.LIMIT_HIT)
    restricted = accounts.is_restricted(sec.id)
    cap[restricted] = 0.0
    reason[restricted] = Reason.RESTRICTED.code

    if order.side is Side.SELL:
        # The whole-position sale must respect every other cap (max face, restriction).
        kx = np.where((m + np.maximum(kx, 0) * d <= cap) & ~restricted, kx, -1)
        contiguous = np.minimum(cap, cap_contiguous)
        # Where the stub rule (not another cap) sets the largest legal sale, say so.
        stub_binds = stub_bound & (kx < 0) & ~restricted & (contiguous < cap) & (cap >= m)
        reason[stub_binds] = Reason.STUB_AVOIDED.code
    else:
        contiguous = cap
    with np.errstate(invalid="ignore"):
        khi = np.floor((contiguous - m) / d)
    khi = np.where(contiguous >= m, khi, -1).astype(np.int64)
    min_alloc = accounts.min_allocation
    if _absent(min_alloc):
        # One read-only zero seen n times: no memory while the rounding runs.
        klo = np.broadcast_to(np.int64(0), (n,))
    else:
        klo = np.where(np.isnan(min_alloc), 0, np.ceil(np.maximum(min_alloc - m, 0.0) / d)).astype(
            np.int64
        )
        kx = np.where((kx >= 0) & (np.isnan(min_alloc) | (m + kx * d >= min_alloc)), kx, -1)
    return TradeBounds(
        min_piece=m,
        increment=d,
        cap=cap,
        klo=klo,
        khi=khi,
        kx=kx.astype(np.int64),
        cap_reason=reason,
        restricted=restricted,
        cash_checked=cash_checked,
    )
