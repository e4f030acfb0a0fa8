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


class TestStrictNumbers:
    """Bools, bytes and text are never numbers; ranges are named."""

    @pytest.mark.parametrize("value", [True, b"5", "5", 10**400, 1e300])
    def test_security_price(self, value: object) -> None:
        """Each is refused naming security.price (10**400 is no OverflowError)."""
        with pytest.raises(oa.InvalidSecurityError, match=r"security\.price"):
            oa.Security(id="X", price=value)  # type: ignore[arg-type]

    def test_quantity_true_is_not_one_face(self) -> None:
        """quantity=True was once read as 1 face."""
        with pytest.raises(oa.InvalidOrderError, match=r"order\.quantity"):
            oa.Order(security=BOND, side="BUY", quantity=True)

    @pytest.mark.parametrize(("field", "value"), [("restricted", 5), ("limits", 5), ("name", 5)])
    def test_account_containers(self, field: str, value: object) -> None:
        """restricted=5 (TypeError once) and limits=5 (AttributeError later) are refused now."""
        with pytest.raises(oa.InvalidAccountError, match=field):
            oa.Account(id="A", nav=1e6, **{field: value})  # type: ignore[arg-type]

    def test_ids_string_is_not_two_accounts(self) -> None:
        """ids="AB" was once accounts "A" and "B"."""
        with pytest.raises(oa.InvalidAccountError, match=r"accounts\.ids"):
            oa.AccountTable(ids="AB", nav=[1e6, 2e6])

    def test_bool_column_named_by_account(self) -> None:
        """A bool in a NAV list names the account and the column."""
        with pytest.raises(oa.InvalidAccountError, match=r"accounts\['B'\]\.nav=True"):
            oa.AccountTable(ids=["A", "B"], nav=[1e6, True])

    def test_numpy_columns_are_vectorised(self) -> None:
        """float64 arrays go through as they are, checked with one pass."""
        nav = np.linspace(1e6, 2e6, 1000)
        table = oa.AccountTable(ids=[f"A{i}" for i in range(1000)], nav=nav)
        np.testing.assert_array_equal(table.nav, nav)

    def test_extreme_nav_refused_with_range(self) -> None:
        """A NAV of 5e-324 (which overflowed numpy once) names the accepted range."""
        with pytest.raises(oa.InvalidAccountError, match=r"must be in \[1e-06, 1e\+15\]"):
            oa.Account(id="A", nav=5e-324)


class TestFrames:
    """DataFrames: ids from anywhere sensible, no column lost, round trips."""

    pd = pytest.importorskip("pandas")

    def test_restricted_true_is_kept(self) -> None:
        """A `restricted` column of True keeps the account from the bond (issue 9, item 5)."""
        frame = self.pd.DataFrame(
            {"id": ["A", "B"], "nav": [1e6, 1e6], "restricted": [True, False]}
        )
        order = oa.Order(security=BOND, side="BUY", quantity=10_000)
        result = oa.allocate(order, frame)
        assert result.quantities["A"] == 0
        assert result.reasons["A"] is oa.Reason.RESTRICTED
        assert result.allocated == 10_000

    @pytest.mark.parametrize("bad", [[np.nan, 0.0], ["False", "True"]])
    def test_restricted_nan_or_text_refused(self, bad: list[object]) -> None:
        """NaN or the text "False" is not a restriction flag: refused, naming the column."""
        frame = self.pd.DataFrame({"id": ["A", "B"], "nav": [1e6, 1e6], "restricted": bad})
        with pytest.raises(oa.InvalidAccountError, match="restricted"):
            oa.as_table(frame)

    def test_unknown_column_refused_with_hint(self) -> None:
        """A metric column without the prefix is an error that suggests `metric:NAME`."""
        frame = self.pd.DataFrame({"id": ["A"], "nav": [1e6], "duration": [4.0]})
        with pytest.raises(oa.InvalidAccountError, match="metric:duration"):
            oa.as_table(frame)
        table = oa.AccountTable.from_frame(frame, ignore=["duration"])
        assert table.metrics == {}

    @pytest.mark.parametrize("ident", [None, np.nan])
    def test_missing_id_refused(self, ident: object) -> None:
        """An id of None or NaN is refused (it once became the account "nan")."""
        frame = self.pd.DataFrame({"id": ["A", ident], "nav": [1e6, 1e6]})
        with pytest.raises(oa.InvalidAccountError, match=r"frame\.ids\[1\]"):
            oa.as_table(frame)

    def test_text_nav_refused_by_column(self) -> None:
        """A text NAV column names the account and the column (once a foreign error)."""
        frame = self.pd.DataFrame({"id": ["A", "B"], "nav": ["1e6", "x"]})
        with pytest.raises(oa.InvalidAccountError, match=r"accounts\['A'\]\.nav"):
            oa.as_table(frame)

    def test_ids_from_index_or_account_id(self) -> None:
        """An account-indexed frame, and the account_id column, both give the ids."""
        indexed = self.pd.DataFrame(
            {"nav": [1e6, 2e6]}, index=self.pd.Index(["A", "B"], name="acct")
        )
        assert oa.as_table(indexed).ids == ("A", "B")
        column = self.pd.DataFrame({"account_id": ["A", "B"], "nav": [1e6, 2e6]})
        assert oa.as_table(column).ids == ("A", "B")

    def test_round_trip(self) -> None:
        """from_frame(to_frame()) gives back every column, names and restrictions included."""
        table = oa.AccountTable(
            ids=["A", "B"],
            nav=[1e6, 2e6],
            cash=[np.nan, 5.0],
            holdings={"X": [0.0, 1000.0]},
            metrics={"sd": [4.0, np.nan]},
            restricted={"X": [True, False], "*": [False, True]},
            names=["a", None],
            max_pct_nav=[0.1, np.nan],
        )
        frame = table.to_frame()
        assert frame.index.name == "account_id"
        back = oa.AccountTable.from_frame(frame)
        assert back.ids == table.ids
        assert back.names == table.names
        for name in ("nav", "cash", "max_face", "max_pct_nav", "min_allocation"):
            np.testing.assert_array_equal(getattr(back, name), getattr(table, name))
        np.testing.assert_array_equal(back.metrics["sd"], table.metrics["sd"])
        np.testing.assert_array_equal(back.holdings["X"], table.holdings["X"])
        assert back.restricted.keys() == table.restricted.keys()
        np.testing.assert_array_equal(back.is_restricted("X"), [True, True])

    def test_result_frame_indexed_by_account(self) -> None:
        """A result's frame is indexed by account id, and reads back as a table's ids."""
        accounts = [oa.Account(id="A", nav=1e6), oa.Account(id="B", nav=1e6)]
        result = oa.allocate(oa.Order(security=BOND, side="BUY", quantity=10_000), accounts)
        frame = result.to_frame()
        assert list(frame.index) == ["A", "B"]
        assert frame.index.name == "account_id"
        assert float(frame.loc["B", "quantity"]) == result.quantities["B"]
