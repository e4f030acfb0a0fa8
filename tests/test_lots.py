"""The rounding itself: local optimality and exact totals, on random ideals."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import orderalloc as oa
from orderalloc import lots
from orderalloc.limits import trade_bounds
from orderalloc.lots._keys import _LazyKeys
from orderalloc.lots._legal import _Legal
from orderalloc.lots._problem import _Problem
from orderalloc.lots._swaps import _exchange
from orderalloc.testing import strategies as oast


@given(
    case=oast.allocation_cases(min_accounts=2, max_accounts=40, columns=True),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_balanced_swap_improves_the_result(
    case: tuple[oa.Order, oa.AccountTable], seed: int
) -> None:
    """After rounding, a full exchange search over every account finds nothing to improve.

    The rounding only searches swaps among the accounts near the margin; this
    checks that no better pair was left elsewhere, whatever the ideal and costs.
    """
    order, table = case
    bounds = trade_bounds(order, table)
    rng = np.random.default_rng(seed)
    hi = bounds.max_legal
    t = hi * rng.random(len(table))
    if rng.random() < 0.5 and hi.sum() > 0:  # an ideal that adds up to what can be placed
        t *= min(order.quantity, float(hi.sum())) / max(float(t.sum()), 1e-9)
    a = rng.lognormal(0.0, 1.0, len(table))
    result = lots.round_to_lots(t, a, bounds, order.quantity, ids=table.ids, seed=seed)
    assert bool(np.all(bounds.is_legal(result.q)))
    assert result.total <= order.quantity
    problem = _Problem(t, a, 0.5 / a, _Legal.of(bounds), _LazyKeys(table.ids, seed))
    _, applied = _exchange(problem, result.q)
    assert applied == 0


class TestHugeOrders:
    """The exact programme's budget is checked before any menu is built."""

    def test_quadrillion_face_order(self) -> None:
        """A 1e15-face pro-rata buy over 3 accounts is placed whole, not a MemoryError."""
        import orderalloc as oa

        bond = oa.Security(id="B", price=100.0, min_piece=2_000, increment=1_000)
        accounts = [oa.Account(id=f"A{i}", nav=1e15 / (i + 1)) for i in range(3)]
        result = oa.allocate(oa.Order(security=bond, side="BUY", quantity=1e15), accounts)
        assert result.allocated == 1e15
        assert all(q == 0 or (q - 2_000) % 1_000 == 0 for q in result.quantities.values())
