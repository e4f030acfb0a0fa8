"""`check_allocation`: every hard invariant of an allocation, asserted."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model import Side, as_table
from ..reasons import Reason
from ..result import AllocationResult

__all__ = ["check_allocation"]


def _fail(result: AllocationResult, i: int, what: str) -> None:
    raise AssertionError(
        f"account {result.account_ids[i]!r}: {what} "
        f"(quantity {float(result.quantity[i]):,.0f}, reason "
        f"{Reason.from_code(int(result.reason_codes[i])).value})"
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
        AssertionError: An invariant is broken; the message names the account.
    """
    table = as_table(accounts)
    order = result.order
    sec = order.security
    m, d = sec.min_piece, sec.increment
    q = result.quantity
    assert result.account_ids == table.ids, "result accounts differ from the input accounts"
    assert q.shape == (len(table),), f"quantity has shape {q.shape}, expected ({len(table)},)"
    assert np.all(np.isfinite(q)), "a quantity is not finite"
    assert result.reason_codes.shape == q.shape, "a line has no reason"
    for i in np.flatnonzero(q < 0):
        _fail(result, int(i), "negative amount")
    k = (q - m) / d
    illegal = (q != 0) & ((k < 0) | (k != np.floor(k)))
    for i in np.flatnonzero(illegal)[:1]:
        _fail(result, int(i), f"not 0 nor {m:,.0f} + k x {d:,.0f}")
    total = float(q.sum())
    assert total <= order.quantity, f"allocated {total:,.0f} > order {order.quantity:,.0f}"
    if total < order.quantity:
        assert result.unallocated_reason, "face unallocated with no cause given"
        assert any("unallocated" in w for w in result.warnings), "no warning for unallocated face"
    restricted = table.is_restricted(sec.id)
    for i in np.flatnonzero(restricted & (q > 0))[:1]:
        _fail(result, int(i), "restricted account received the security")
    position = table.holding(sec.id)
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
