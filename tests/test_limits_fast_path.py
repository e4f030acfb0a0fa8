"""Groups without per-account limits skip the limits' arithmetic and get the same bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import orderalloc as oa
from orderalloc import limits
from orderalloc.limits import TradeBounds, trade_bounds
from orderalloc.testing import strategies as oast

_FIELDS = ("cap", "klo", "khi", "kx", "cap_reason", "restricted", "cash_checked")


def _general(order: oa.Order, table: oa.AccountTable) -> TradeBounds:
    """The bounds with every limit column taken through the general arithmetic."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(limits, "_absent", lambda column: False)
        return trade_bounds(order, table)


def _assert_same(fast: TradeBounds, general: TradeBounds) -> None:
    assert fast.min_piece == general.min_piece
    assert fast.increment == general.increment
    for name in _FIELDS:
        got, want = getattr(fast, name), getattr(general, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)


class TestNoLimitsFastPath:
    """The fast path for absent limits changes no bound, for buys and sells."""

    @given(
        case=oast.allocation_cases(columns=True, max_accounts=12),
        limits_given=st.booleans(),
    )
    def test_same_bounds_as_the_general_arithmetic(
        self, case: tuple[oa.Order, oa.AccountTable], limits_given: bool
    ) -> None:
        """Absent, all-NaN or partly given limit columns give the general path's bounds exactly."""
        order, table = case
        if not limits_given:  # drop the columns: they arrive absent (one NaN broadcast)
            table = oa.AccountTable(
                ids=table.ids,
                nav=table.nav,
                cash=table.cash,
                holdings=table.holdings,
                metrics=table.metrics,
                restricted=table.restricted,
            )
        _assert_same(trade_bounds(order, table), _general(order, table))

    @pytest.mark.parametrize("side", ["BUY", "SELL"])
    def test_benchmark_group(self, side: str) -> None:
        """A 10,000-account group without limits gets the general path's bounds exactly."""
        bond = oa.Security(id="B", price=99.0, min_piece=2_000, increment=1_000)
        table = oast.random_table(10_000, security=bond, seed=3)
        order = oa.Order(security=bond, side=side, quantity=50e6)
        assert limits._absent(table.max_face)
        _assert_same(trade_bounds(order, table), _general(order, table))

    def test_absent_means_nan_everywhere(self) -> None:
        """A column counts as absent only when every account's value is NaN."""
        assert limits._absent(np.broadcast_to(np.float64(np.nan), (5,)))
        assert limits._absent(np.full(3, np.nan))
        assert not limits._absent(np.array([np.nan, 1e6, np.nan]))
        assert not limits._absent(np.broadcast_to(np.float64(1.0), (5,)))
