"""JSON round trips of every public type."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given

import orderalloc as oa
from orderalloc.testing import strategies as oast


class TestRoundTrip:
    """What is written as JSON reads back equal."""

    @given(case=oast.allocation_cases(max_accounts=8))
    def test_inputs_round_trip(self, case: tuple[oa.Order, list[oa.Account]]) -> None:
        """Orders and accounts read back equal to what was written."""
        order, accounts = case
        assert oa.from_json(oa.to_json(order), oa.Order) == order
        for account in accounts:
            assert oa.from_json(oa.to_json(account), oa.Account) == account

    @given(case=oast.allocation_cases(max_accounts=8, columns=True))
    def test_result_round_trips(self, case: tuple[oa.Order, oa.AccountTable]) -> None:
        """A result's columns, reasons, summary and warnings read back unchanged."""
        order, table = case
        result = oa.allocate(order, table)
        back = oa.from_json(oa.to_json(result), oa.AllocationResult)
        np.testing.assert_array_equal(back.quantity, result.quantity)
        np.testing.assert_array_equal(back.reason_codes, result.reason_codes)
        assert back.account_ids == result.account_ids
        assert back.order == result.order
        assert back.warnings == result.warnings
        assert back.dispersion == result.dispersion
        assert back.created_at == result.created_at
        assert back.quantities == result.quantities

    def test_table_with_unknown_cash_round_trips(self) -> None:
        """NaN (unknown cash, no limit) survives JSON as null."""
        table = oa.AccountTable(ids=["A", "B"], nav=[1e6, 2e6], cash=[np.nan, 5.0])
        back = oa.from_json(oa.to_json(table), oa.AccountTable)
        assert back.cash is not None
        assert np.isnan(back.cash[0])
        assert back.cash[1] == 5.0

    def test_order_dates_are_iso(self) -> None:
        """Settle dates are written as ISO 8601 text."""
        bond = oa.Security(id="B", price=100.0)
        order = oa.Order(
            security=bond, side="SELL", quantity=5_000, settle_date=dt.date(2026, 12, 1)
        )
        assert '"settle_date": "2026-12-01"' in oa.to_json(order)


class TestBadJson:
    """Unreadable JSON gets an error naming what failed."""

    def test_not_json(self) -> None:
        """Text that is not JSON raises InvalidInputError."""
        with pytest.raises(oa.InvalidInputError, match="is not JSON"):
            oa.from_json("{not json", oa.Order)

    def test_invalid_field_value(self) -> None:
        """A negative price read from JSON is refused with the field named."""
        text = oa.to_json(oa.Security(id="B", price=100.0)).replace('"price": 100.0', '"price": -1')
        with pytest.raises(oa.InvalidInputError, match=r"security\.price"):
            oa.from_json(text, oa.Security)
