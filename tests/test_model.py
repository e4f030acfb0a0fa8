"""Bad input is refused at construction with the field and the value named."""

from __future__ import annotations

import math

import numpy as np
import pytest

import orderalloc as oa

BOND = oa.Security(id="912828YW0", price=98.5, min_piece=2_000, increment=1_000)


class TestSecurity:
    """Securities validate prices and denominations."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("price", 0.0),
            ("price", -1.0),
            ("price", math.nan),
            ("min_piece", 0),
            ("min_piece", 1500.5),
            ("increment", 0),
            ("increment", -1000),
            ("factor", 1.5),
            ("accrued", -0.1),
        ],
    )
    def test_bad_field_named(self, field: str, value: float) -> None:
        """Each invalid field raises InvalidSecurityError naming it and its value."""
        kwargs = {"id": "B", "price": 100.0, field: value}
        with pytest.raises(oa.InvalidSecurityError) as info:
            oa.Security(**kwargs)  # type: ignore[arg-type]
        assert info.value.field == f"security.{field}"
        assert f"security.{field}=" in str(info.value)

    def test_cash_per_face_includes_factor_and_accrued(self) -> None:
        """A face of an amortising bond costs factor x (price + accrued) / 100."""
        bond = oa.Security(id="MBS", price=101.0, accrued=1.0, factor=0.5)
        assert bond.cash_per_face == pytest.approx(0.51)

    def test_legal_amounts(self) -> None:
        """0 and min_piece + k x increment are legal; anything else is not."""
        assert BOND.is_legal(0)
        assert BOND.is_legal(2_000)
        assert BOND.is_legal(7_000)
        assert not BOND.is_legal(1_000)
        assert not BOND.is_legal(2_500)


class TestAccount:
    """Accounts validate NAV, cash and metrics."""

    @pytest.mark.parametrize("nav", [0.0, -5.0, math.nan, math.inf])
    def test_bad_nav(self, nav: float) -> None:
        """NAV must be a finite number above zero."""
        with pytest.raises(oa.InvalidAccountError, match=r"account\['A'\]\.nav="):
            oa.Account(id="A", nav=nav)

    def test_nan_metric_named(self) -> None:
        """A NaN metric names the account and the metric."""
        with pytest.raises(oa.InvalidAccountError, match=r"metrics\['duration'\]"):
            oa.Account(id="A", nav=1e6, metrics={"duration": math.nan})

    def test_errors_are_value_errors(self) -> None:
        """Input errors are also ValueError, for code that catches those."""
        with pytest.raises(ValueError, match="nav"):
            oa.Account(id="A", nav=-1)


class TestAccountTable:
    """Columns are checked row by row, naming the first bad account."""

    def test_duplicate_ids(self) -> None:
        """Repeated account ids are refused."""
        with pytest.raises(oa.InvalidAccountError, match="appears more than once"):
            oa.AccountTable(ids=["A", "B", "A"], nav=[1, 2, 3])

    def test_empty(self) -> None:
        """An empty group is refused."""
        with pytest.raises(oa.InvalidAccountError, match="at least one account"):
            oa.as_table([])

    def test_bad_row_named(self) -> None:
        """A non-positive NAV in a column names the account id."""
        with pytest.raises(oa.InvalidAccountError, match=r"accounts\['B'\]\.nav=-2"):
            oa.AccountTable(ids=["A", "B"], nav=[1.0, -2.0])

    def test_wrong_length(self) -> None:
        """A column of the wrong length says how long it must be."""
        with pytest.raises(oa.InvalidAccountError, match="one value per account"):
            oa.AccountTable(ids=["A", "B"], nav=[1.0, 2.0], cash=[1.0])

    def test_missing_metric_is_unknown(self) -> None:
        """A metric one account lacks is NaN (unknown) there, never an invented value."""
        accounts = [
            oa.Account(id="A", nav=1e6, metrics={"duration": 1.0}),
            oa.Account(id="B", nav=1e6),
        ]
        table = oa.as_table(accounts)
        assert np.isnan(table.metrics["duration"][1])
        assert table.to_accounts() == accounts

    def test_infinite_metric_refused(self) -> None:
        """An infinite metric is an error, not unknown."""
        with pytest.raises(oa.InvalidAccountError, match="metrics"):
            oa.AccountTable(ids=["A"], nav=[1.0], metrics={"duration": [math.inf]})

    def test_objects_round_trip_through_columns(self) -> None:
        """Accounts -> table -> accounts gives back equal accounts."""
        accounts = [
            oa.Account(
                id="A",
                nav=1e6,
                cash=5.0,
                holdings={"X": 3_000.0},
                metrics={"duration": 1.0},
                restricted={"Y"},
                limits=oa.AccountLimits(max_face=1e5),
            ),
            oa.Account(id="B", nav=2e6, metrics={"duration": 2.0}),
        ]
        assert oa.as_table(accounts).to_accounts() == accounts

    def test_from_mapping_of_columns(self) -> None:
        """A dict of columns (with 'id') becomes a table."""
        table = oa.as_table({"id": ["A", "B"], "nav": np.array([1.0, 2.0])})
        assert table.ids == ("A", "B")

    def test_from_dataframe(self) -> None:
        """A pandas DataFrame with metric: columns becomes a table."""
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame(
            {"id": ["A", "B"], "nav": [1e6, 2e6], "cash": [1e5, 2e5], "metric:duration": [1.0, 2.0]}
        )
        table = oa.as_table(frame)
        np.testing.assert_array_equal(table.metrics["duration"], [1.0, 2.0])


class TestOrder:
    """Orders validate side and quantity."""

    @pytest.mark.parametrize("quantity", [0, -1_000, math.nan, math.inf, 1_000.5])
    def test_bad_quantity(self, quantity: float) -> None:
        """Quantities must be positive, finite, whole face amounts."""
        with pytest.raises(oa.InvalidOrderError, match=r"order\.quantity="):
            oa.Order(security=BOND, side="BUY", quantity=quantity)

    def test_bad_side(self) -> None:
        """Only BUY and SELL are sides."""
        with pytest.raises(oa.InvalidOrderError, match=r"order\.side='HOLD'"):
            oa.Order(security=BOND, side="HOLD", quantity=1_000)

    def test_side_any_case(self) -> None:
        """'buy' and 'Sell' are accepted."""
        assert oa.Order(security=BOND, side="buy", quantity=2_000).side is oa.Side.BUY
        assert oa.Order(security=BOND, side="Sell", quantity=2_000).side is oa.Side.SELL
