"""`check_allocation`: every hard invariant of an allocation, asserted."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._model import Side, as_table
from .._reasons import Reason
from .._result import AllocationResult
from ..errors import OrderAllocError

__all__ = ["InvariantError", "check_allocation"]


class InvariantError(OrderAllocError, AssertionError):
    """Raised by `check_allocation` when a result breaks a hard invariant.

    An ``AssertionError`` too, so that test runners report it as a failed check.

    Attributes:
        field: What is wrong, as a dotted name (``"quantity['BIG6-01']"``, ``"total"``).
        value: Its value.
        reason: The invariant it breaks, in words.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")


def _check(ok: Any, field: str, value: Any, reason: str) -> None:
    if not ok:
        raise InvariantError(field, value, reason)


def _fail(result: AllocationResult, i: int, what: str) -> None:
    account = result.account_ids[i]
    reason = Reason.from_code(int(result.reason_codes[i])).value
    raise InvariantError(
        f"quantity[{account!r}]",
        float(result.quantity[i]),
        f"account {account!r}: {what} (reason {reason})",
    )


def check_allocation(result: AllocationResult, accounts: Any) -> None:
    """Assert that *result* is a legal, complete allocation of its order over *accounts*.

    Checks, for every account: the amount is 0 or ``min_piece + k * increment``;
    buys fit in available cash at ``factor * (price + accrued) / 100`` per face;
    sells never exceed the position nor leave ``0 < position < min_piece``;
    restricted accounts get 0; ``max_face``, ``max_pct_nav`` and
    ``min_allocation`` hold. For the whole: every account is present once, in
    input order, with a reason; the total never exceeds the order; any
    unallocated face comes with its cause.

    Args:
        result: What `orderalloc.allocate` returned.
        accounts: The accounts it was given (any accepted shape).

    Raises:
        InvariantError: An invariant is broken (also an ``AssertionError``); it
            names the field (the account's quantity, the total) and its value.
    """
    table = as_table(accounts)
    order = result.order
    sec = order.security
    m, d = sec.min_piece, sec.increment
    q = result.quantity
    ids = result.account_ids
    _check(ids == table.ids, "account_ids", ids, "differ from the input accounts")
    _check(q.shape == (len(table),), "quantity.shape", q.shape, f"expected ({len(table)},)")
    _check(np.all(np.isfinite(q)), "quantity", q[~np.isfinite(q)], "a quantity is not finite")
    codes = result.reason_codes.shape
    _check(codes == q.shape, "reason_codes.shape", codes, "a line has no reason")
    for i in np.flatnonzero(q < 0):
        _fail(result, int(i), "negative amount")
    k = (q - m) / d
    illegal = (q != 0) & ((k < 0) | (k != np.floor(k)))
    for i in np.flatnonzero(illegal)[:1]:
        _fail(result, int(i), f"not 0 nor {m:,.0f} + k x {d:,.0f}")
    total = float(q.sum())
    _check(total <= order.quantity, "total", total, f"above the order {order.quantity:,.0f}")
    if total < order.quantity:
        why = result.unallocated_reason
        _check(why, "unallocated_reason", why, "face unallocated with no cause given")
        warned = any("unallocated" in w for w in result.warnings)
        _check(warned, "warnings", result.warnings, "no warning for unallocated face")
    restricted = table.is_restricted(sec.id)
    for i in np.flatnonzero(restricted & (q > 0))[:1]:
        _fail(result, int(i), "restricted account received the security")
    position = table.holding(sec.id)
    # as_table fills every column (NaN for "no limit"): these only narrow the types.
    assert table.cash is not None
    assert table.max_face is not None
    assert table.max_pct_nav is not None
    assert table.min_allocation is not None
    if order.side is Side.BUY:
        cost = q * sec.cash_per_face
        over = ~np.isnan(table.cash) & (cost > np.maximum(table.cash, 0.0) * (1 + 1e-12) + 1e-6)
        for i in np.flatnonzero(over)[:1]:
            _fail(result, int(i), f"costs {cost[i]:,.2f} > cash {table.cash[i]:,.2f}")
        pct = table.max_pct_nav
        post_mv = (position + q) * sec.cash_per_face
        breach = ~np.isnan(pct) & (q > 0) & (post_mv > pct * table.nav * (1 + 1e-12) + 1e-6)
        for i in np.flatnonzero(breach)[:1]:
            _fail(result, int(i), f"position {post_mv[i]:,.0f} above {pct[i]:.2%} of NAV")
    else:
        held = np.maximum(position, 0.0)
        for i in np.flatnonzero(q > held)[:1]:
            _fail(result, int(i), f"sells more than the position {held[i]:,.0f}")
        left = held - q
        stub = (q > 0) & (left > 0) & (left < m)
        for i in np.flatnonzero(stub)[:1]:
            _fail(result, int(i), f"leaves a stub of {left[i]:,.0f} < min piece {m:,.0f}")
    mf = table.max_face
    for i in np.flatnonzero(~np.isnan(mf) & (q > mf))[:1]:
        _fail(result, int(i), f"above max_face {mf[i]:,.0f}")
    ma = table.min_allocation
    for i in np.flatnonzero(~np.isnan(ma) & (q > 0) & (q < ma))[:1]:
        _fail(result, int(i), f"below min_allocation {ma[i]:,.0f}")
