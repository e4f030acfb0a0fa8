"""Independent checks of a fill allocation: every rule, re-derived from the inputs.

Nothing here calls the allocator's internals: legality comes from the
security and the account columns, so a bug in the allocator cannot hide in
its own checker.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import orderalloc as oa
from orderalloc.fills import FillAllocation


def legal_face(x: np.ndarray, m: float, d: float) -> np.ndarray:
    """True where *x* is 0 or ``m + k d`` for a whole ``k >= 0``."""
    k = (x - m) / d
    return (x == 0) | ((k >= 0) & (k == np.floor(k)))


def cumulative_ok(c: np.ndarray, order: oa.Order, table: oa.AccountTable) -> tuple[np.ndarray, str]:
    """True where a cumulative amount respects holdings, no stub, restrictions and limits."""
    sec = order.security
    m = sec.min_piece
    ok = legal_face(c, m, sec.increment)
    ok &= ~(table.is_restricted(sec.id) & (c > 0))
    assert table.max_face is not None
    assert table.min_allocation is not None
    ok &= np.isnan(table.max_face) | (c <= table.max_face)
    ok &= np.isnan(table.min_allocation) | (c == 0) | (c >= table.min_allocation)
    if order.side is oa.Side.SELL:
        pos = np.maximum(np.floor(table.holding(sec.id)), 0.0)
        left = pos - c
        ok &= (left >= 0) & ((left == 0) | (left >= m) | (c == 0))
    return ok, "cumulative amount breaks a bound"


def check_fill_allocation(fa: FillAllocation, table: oa.AccountTable) -> None:
    """Assert every hard rule of *fa* over *table* (accounts as at the order)."""
    order = fa.order
    sec = order.security
    m, d = sec.min_piece, sec.increment
    assert fa.account_ids == table.ids
    n = len(table)
    held = np.zeros(n)
    spent = np.zeros(n)
    cash = table.cash if table.cash is not None else np.full(n, np.nan)
    for k, (fill, x) in enumerate(zip(fa.fills, fa.tickets, strict=True)):
        assert x.shape == (n,)
        assert np.all(x >= 0), f"fill {k}: negative ticket"
        assert legal_face(x, m, d).all(), f"fill {k}: a ticket is not a legal denomination"
        placed = float(x.sum())
        assert placed == fa.placed_by_fill[k]
        assert placed <= fill.quantity, f"fill {k}: placed more than filled"
        held = held + x
        # Cash at the fill's own price, cumulative over the fills.
        cpf = sec.factor * (fill.price + sec.accrued) / 100.0
        spent = spent + x * cpf
        if order.side is oa.Side.BUY:
            known = ~np.isnan(cash)
            over = known & (spent > cash + 1e-6 * np.maximum(1.0, np.abs(cash)))
            assert not over.any(), f"fill {k}: a buy exceeds the account's cash"
        ok, what = cumulative_ok(held, order, table)
        assert ok.all(), f"fill {k}: {what} ({table.ids[int(np.flatnonzero(~ok)[0])]})"
        if placed < fill.quantity:
            assert fa.unallocated_reason
            assert f"fill {k}:" in fa.unallocated_reason
    np.testing.assert_array_equal(held, fa.quantity)
    assert np.all(fa.quantity <= fa.target), "an account received more than its intent"
    assert np.all(fa.target <= fa.intent), "the legal intent exceeds the intent given"
    # Principal: the block's cents, split exactly.
    cents = np.round(fa.principal * 100.0)
    assert int(cents.sum()) == sum(fa.block_cents), "principal does not add up to the block"
    if fa.price_mode == "vwap" and fa.allocated > 0:
        exact = fa.quantity * (sum(fa.block_cents) / fa.allocated)
        assert np.all(np.abs(cents - exact) < 1.0 + 1e-6), "an account is a cent off its share"
        prices = fa.average_prices[fa.quantity > 0]
        np.testing.assert_allclose(prices, fa.vwap)
    elif fa.allocated > 0:
        notional = sum(t * f.price for t, f in zip(fa.tickets, fa.fills, strict=True))
        filled = fa.quantity > 0
        np.testing.assert_allclose(
            fa.average_prices[filled], notional[filled] / fa.quantity[filled], rtol=1e-12
        )
        lo, hi = min(f.price for f in fa.fills), max(f.price for f in fa.fills)
        assert np.all(
            (fa.average_prices[filled] >= lo - 1e-9) & (fa.average_prices[filled] <= hi + 1e-9)
        )
    if fa.unallocated > 0:
        assert fa.unallocated_reason
        assert any("unallocated" in w for w in fa.warnings)


def no_ticket_fits(fa: FillAllocation, table: oa.AccountTable, k: int) -> bool:
    """Whether, after fill *k*, no account could take one more step in the face left over.

    The smallest step of an account is one increment more if it has a ticket
    in fill *k*, else a first ticket (one min piece, or its minimum
    allocation); a seller may also sell its whole remaining position. Caps
    are upper bounds, so if the smallest grid step is refused, so is any
    larger one.
    """
    order, sec = fa.order, fa.order.security
    m, d = sec.min_piece, sec.increment
    fill = fa.fills[k]
    left = fill.quantity - fa.placed_by_fill[k]
    if left <= 0:
        return True
    n = len(table)
    before = sum((fa.tickets[j] for j in range(k)), np.zeros(n))
    x = fa.tickets[k]
    spent = sum(
        (
            fa.tickets[j] * sec.factor * (fa.fills[j].price + sec.accrued) / 100.0
            for j in range(k + 1)
        ),
        np.zeros(n),
    )
    cpf = sec.factor * (fill.price + sec.accrued) / 100.0
    cash = table.cash if table.cash is not None else np.full(n, np.nan)
    assert table.min_allocation is not None
    min_alloc = np.where(np.isnan(table.min_allocation), 0.0, table.min_allocation)
    first = m + np.ceil(np.maximum(min_alloc - m, 0.0) / d) * d
    first = np.where(before > 0, m, first)
    candidates = [np.where(x > 0, x + d, first)]
    if order.side is oa.Side.SELL:
        pos = np.maximum(np.floor(table.holding(sec.id)), 0.0)
        candidates.append(pos - before)
    for cand in candidates:
        grow = cand - x
        cum = before + cand
        ok, _ = cumulative_ok(cum, order, table)
        ok &= (grow > 0) & (grow <= left) & legal_face(cand, m, d) & (cum <= fa.target)
        if math.fmod(m, d) != 0:
            ok &= before == 0
        if order.side is oa.Side.BUY:
            ok &= np.isnan(cash) | (spent + grow * cpf <= cash - 1e-6)
        if ok.any():
            return False
    return True


def cash_limited(fa: FillAllocation, table: oa.AccountTable) -> np.ndarray:
    """True where, at some fill, cash at that fill's price bought less than the intent left."""
    sec = fa.order.security
    n = len(table)
    out = np.zeros(n, dtype=bool)
    if fa.order.side is not oa.Side.BUY or table.cash is None:
        return out
    held = np.zeros(n)
    spent = np.zeros(n)
    for fill, x in zip(fa.fills, fa.tickets, strict=True):
        cpf = sec.factor * (fill.price + sec.accrued) / 100.0
        for before, paid in ((held, spent), (held + x, spent + x * cpf)):
            room = np.floor(np.maximum(table.cash - paid, 0.0) / cpf)
            tight = ~np.isnan(table.cash) & (room < fa.target - before)
            out |= tight
        held = held + x
        spent = spent + x * cpf
    return out


def credits_after_each_fill(fa: FillAllocation) -> list[np.ndarray]:
    """The credit ``w Phi + e - C`` of every account after every fill (e from ledger_in)."""
    target = fa.target
    part = target > 0
    w = target / target.sum() if target.sum() > 0 else np.zeros_like(target)
    carried = fa.ledger_in.credits(fa.book)
    e = np.array([carried.get(i, 0.0) for i in fa.account_ids])
    e = np.where(part, e, 0.0)
    excess = math.fsum(e[part].tolist())
    if excess > 0:
        e = e - excess * w
    out = []
    held = np.zeros_like(target)
    for x in fa.tickets:
        held = held + x
        out.append(np.where(part, w * held.sum() + e - held, 0.0))
    return out


def permuted(table: oa.AccountTable, perm: Any) -> oa.AccountTable:
    """The same accounts in another order, ids travelling with their rows."""
    return table.take(np.asarray(perm))
