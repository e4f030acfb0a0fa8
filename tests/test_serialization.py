"""JSON round trips of every public type."""

from __future__ import annotations

import datetime as dt
import json
import math

import attrs
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


def _account_json(**changes: object) -> str:
    data = json.loads(oa.to_json(oa.Account(id="A", nav=1e6, limits=oa.AccountLimits(max_face=5))))
    data.update(changes)
    return json.dumps(data)


class TestStrictJson:
    """Every malformed JSON shape is refused with its JSON path, never coerced."""

    @pytest.mark.parametrize(
        ("changes", "path"),
        [
            ({"restricted": "abc"}, "$.restricted"),  # once read as {'a', 'b', 'c'}
            ({"id": None}, "$.id"),  # once read as "None"
            ({"limits": "x"}, "$.limits"),  # once read as no limits
            ({"nav": "5"}, "$.nav"),
            ({"nav": True}, "$.nav"),
            ({"cash": [1]}, "$.cash"),
            ({"holdings": [1]}, "$.holdings"),
            ({"metrics": {"sd": "4"}}, "$.metrics['sd']"),
            ({"restricted": [1]}, "$.restricted"),
            ({"name": 5}, "$.name"),
            ({"bogus": 1}, "$"),
            ({"limits": {"max_face": "5"}}, "$.limits.max_face"),
        ],
    )
    def test_account_field_named(self, changes: dict[str, object], path: str) -> None:
        """A wrong JSON type names its path in the field, with what was found."""
        with pytest.raises(oa.InvalidInputError) as info:
            oa.from_json(_account_json(**changes), oa.Account)
        assert info.value.field == f"Account {path}"

    def test_missing_field_named(self) -> None:
        """A required field that is absent is named."""
        data = json.loads(_account_json())
        del data["nav"]
        with pytest.raises(oa.InvalidInputError, match="required field missing") as info:
            oa.from_json(json.dumps(data), oa.Account)
        assert info.value.field == "Account $.nav"

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("[" * 100_000, "nested too deeply"),
            ("[" * 70 + "]" * 70, "nested"),
            (b"\xff\xfe{}", "not UTF-8"),
            ('{"id": "A", "nav": NaN}', "NaN is not JSON"),
            ('{"id": "A", "nav": Infinity}', "Infinity is not JSON"),
        ],
    )
    def test_unreadable_text(self, text: str | bytes, match: str) -> None:
        """Deep nesting, bad UTF-8 and NaN literals are InvalidInputError, not foreign errors."""
        with pytest.raises(oa.InvalidInputError, match=match):
            oa.from_json(text, oa.Account)

    def test_bad_settle_date(self) -> None:
        """A settle date that is not ISO text is refused when read (and when built)."""
        order = oa.Order(security=oa.Security(id="B", price=100.0), side="BUY", quantity=1000)
        data = json.loads(oa.to_json(order))
        data["settle_date"] = "x"
        with pytest.raises(oa.InvalidInputError, match=r"settle_date"):
            oa.from_json(json.dumps(data), oa.Order)
        with pytest.raises(oa.InvalidOrderError, match="settle_date"):
            oa.Order(security=order.security, side="BUY", quantity=1000, settle_date="x")  # type: ignore[arg-type]

    def test_result_columns_must_match_ids(self) -> None:
        """A result whose columns do not have one value per account is refused on load."""
        bond = oa.Security(id="B", price=100.0)
        order = oa.Order(security=bond, side="BUY", quantity=2000)
        result = oa.allocate(order, [oa.Account(id="A", nav=1e6), oa.Account(id="C", nav=1e6)])
        data = json.loads(oa.to_json(result))
        data["quantity"] = data["quantity"][:1]
        with pytest.raises(oa.InvalidInputError, match="quantity has 1 values for 2 accounts"):
            oa.from_json(json.dumps(data), oa.AllocationResult)

    def test_not_text(self) -> None:
        """Anything but str or bytes is refused by name."""
        with pytest.raises(oa.InvalidInputError, match="json"):
            oa.from_json(5, oa.Account)  # type: ignore[arg-type]


class TestStrictOutput:
    """to_json always writes strict JSON: one rule for NaN and infinity."""

    def test_non_finite_everywhere(self) -> None:
        """NaN is null and infinity "inf", in columns and free-form fields alike; both read back."""
        table = oa.AccountTable(ids=["A", "B"], nav=[1e6, 2e6], cash=[math.nan, 5.0])
        text = oa.to_json(table)
        json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in output"))
        result = oa.allocate(
            oa.Order(security=oa.Security(id="B", price=100.0), side="BUY", quantity=2000), table
        )
        evolved = attrs.evolve(
            result,
            params={"x": math.nan, "y": [math.inf, -math.inf]},
            cap=np.array([math.inf, 1.0]),
        )
        text = oa.to_json(evolved)
        assert "NaN" not in text
        assert "Infinity" not in text
        back = oa.from_json(text, oa.AllocationResult)
        assert back.cap[0] == math.inf
        assert back.params == {"x": None, "y": ["inf", "-inf"]}
