"""Pro-rata and custom weights: the shares users expect, with reasons."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import orderalloc as oa
from orderalloc.testing import check_allocation

BOND = oa.Security(
    id="912828YW0",
    price=98.5,
    min_piece=2_000,
    increment=1_000,
    analytics={"spread_duration": 3.8, "duration": 4.2, "oas": 85.0},
)


def buy(quantity: float, security: oa.Security = BOND) -> oa.Order:
    return oa.Order(security=security, side="BUY", quantity=quantity)


class TestReadmeExample:
    """The example of the foundation issue gives the documented answer."""

    def test_restricted_and_cash_capped(self) -> None:
        """ACC002 is restricted, ACC001 is capped by cash, the rest is unallocated."""
        accounts = [
            oa.Account(
                id="ACC001",
                nav=100e6,
                cash=5e6,
                holdings={"912828YW0": 1e6},
                metrics={"spread_duration": 5.2, "duration": 4.8},
            ),
            oa.Account(id="ACC002", nav=150e6, cash=8e6, restricted=frozenset({"912828YW0"})),
        ]
        result = oa.allocate(buy(10_000_000), accounts, method="pro_rata")
        # 5,000,000 / 0.985 = 5,076,142 face of cash; the largest legal piece below is 5,076,000.
        assert result.quantities == {"ACC001": 5_076_000.0, "ACC002": 0.0}
        assert result.unallocated == 4_924_000
        assert result.reasons == {
            "ACC001": oa.Reason.CAPPED_BY_CASH,
            "ACC002": oa.Reason.RESTRICTED,
        }
        assert any("unallocated" in w for w in result.warnings)
        check_allocation(result, accounts)


class TestProRata:
    """Shares follow the basis; what one account cannot take goes to the others."""

    def test_exact_shares_need_no_rounding(self) -> None:
        """NAVs 1:3 split 4MM into 1MM and 3MM, each its full share."""
        accounts = [oa.Account(id="A", nav=1e8, cash=1e8), oa.Account(id="B", nav=3e8, cash=3e8)]
        result = oa.allocate(buy(4_000_000), accounts)
        assert result.quantities == {"A": 1_000_000, "B": 3_000_000}
        assert set(result.reasons.values()) == {oa.Reason.FULL_SHARE}

    def test_cash_cap_redistributes_in_proportion(self) -> None:
        """A capped account's excess goes to the others in proportion to NAV."""
        accounts = [
            oa.Account(id="A", nav=1e8, cash=985_000),  # buys at most 1,000,000 at 98.5
            oa.Account(id="B", nav=1e8, cash=1e9),
            oa.Account(id="C", nav=2e8, cash=1e9),
        ]
        result = oa.allocate(buy(8_000_000), accounts)
        # Plain shares 2MM / 2MM / 4MM; A takes 1MM, the other 1MM goes 1:2 to B and C.
        assert result.quantities["A"] == 1_000_000
        assert abs(result.quantities["B"] - 2_333_333) <= 1_000
        assert abs(result.quantities["C"] - 4_666_667) <= 1_000
        assert result.allocated == 8_000_000
        assert result.reasons["A"] is oa.Reason.CAPPED_BY_CASH

    def test_small_accounts_below_min_piece(self) -> None:
        """Accounts whose share is far below the min piece get 0 and say why."""
        bond = oa.Security(id="MUNI", price=100.0, min_piece=100_000, increment=5_000)
        accounts = [oa.Account(id=f"S{i}", nav=1e6) for i in range(10)] + [
            oa.Account(id="BIG", nav=1e9)
        ]
        result = oa.allocate(buy(200_000, bond), accounts)
        assert result.quantities["BIG"] == 200_000
        assert all(result.reasons[f"S{i}"] is oa.Reason.BELOW_MIN_PIECE for i in range(10))

    def test_ties_rotate_with_the_seed(self) -> None:
        """Three equal accounts split 10,000: who gets the extra 1,000 changes with the seed."""
        bond = oa.Security(id="B", price=100.0, min_piece=1_000, increment=1_000)
        accounts = [oa.Account(id=x, nav=1e8) for x in ("A", "B", "C")]
        winners = Counter()
        for seed in range(300):
            result = oa.allocate(buy(10_000, bond), accounts, seed=seed)
            assert sorted(result.quantity.tolist()) == [3_000, 3_000, 4_000]
            winners[max(result.quantities, key=result.quantities.__getitem__)] += 1
        assert min(winners.values()) >= 60  # each about a third of the time

    def test_same_seed_same_answer(self) -> None:
        """The default seed is derived from the order: the same order gives the same split."""
        bond = oa.Security(id="B", price=100.0, min_piece=1_000, increment=1_000)
        accounts = [oa.Account(id=x, nav=1e8) for x in ("A", "B", "C")]
        first = oa.allocate(buy(10_000, bond), accounts).quantities
        assert all(oa.allocate(buy(10_000, bond), accounts).quantities == first for _ in range(5))

    def test_basis_metric(self) -> None:
        """basis='duration' splits in proportion to that metric."""
        accounts = [
            oa.Account(id="A", nav=1e8, metrics={"duration": 1.0}),
            oa.Account(id="B", nav=1e8, metrics={"duration": 3.0}),
        ]
        result = oa.allocate(buy(4_000_000), accounts, basis="duration")
        assert result.quantities == {"A": 1_000_000, "B": 3_000_000}

    def test_unknown_basis(self) -> None:
        """An unknown basis names the choices."""
        with pytest.raises(oa.InvalidParameterError, match="basis='beta'"):
            oa.allocate(buy(4_000), [oa.Account(id="A", nav=1e8)], basis="beta")

    def test_limits(self) -> None:
        """max_face, max_pct_nav and min_allocation each hold and are reported."""
        accounts = [
            oa.Account(id="F", nav=1e8, limits=oa.AccountLimits(max_face=100_000)),
            oa.Account(id="P", nav=1e8, limits=oa.AccountLimits(max_pct_nav=0.001)),
            oa.Account(id="M", nav=1e6, limits=oa.AccountLimits(min_allocation=200_000)),
            oa.Account(id="X", nav=1e8),
        ]
        result = oa.allocate(buy(3_000_000), accounts)
        check_allocation(result, accounts)
        assert result.quantities["F"] == 100_000
        assert result.reasons["F"] is oa.Reason.LIMIT_HIT
        # 0.1% of 100MM is 100,000 of market value: 101,522 face at 98.5, 101,000 legal.
        assert result.quantities["P"] == 101_000
        assert result.quantities["M"] == 0
        assert result.reasons["M"] is oa.Reason.BELOW_MIN_ALLOCATION
        assert result.allocated == 3_000_000


class TestSells:
    """Sells never exceed holdings nor leave stubs."""

    def test_sell_pro_rata_by_holdings(self) -> None:
        """By default sells split in proportion to the positions."""
        accounts = [
            oa.Account(id="A", nav=1e8, holdings={BOND.id: 1_000_000}),
            oa.Account(id="B", nav=1e8, holdings={BOND.id: 3_000_000}),
            oa.Account(id="C", nav=1e8),
        ]
        order = oa.Order(security=BOND, side="SELL", quantity=2_000_000)
        result = oa.allocate(order, accounts)
        assert result.quantities == {"A": 500_000, "B": 1_500_000, "C": 0}
        assert result.reasons["C"] is oa.Reason.ZERO_WEIGHT

    def test_no_stub_left(self) -> None:
        """A 3,000 position with a 2,000 min piece sells all or nothing."""
        accounts = [
            oa.Account(id="A", nav=1e8, holdings={BOND.id: 3_000}),
            oa.Account(id="B", nav=1e8, holdings={BOND.id: 100_000}),
        ]
        order = oa.Order(security=BOND, side="SELL", quantity=50_000)
        result = oa.allocate(order, accounts)
        check_allocation(result, accounts)
        assert result.quantities["A"] in (0, 3_000)
        assert result.allocated == 50_000

    def test_sell_more_than_held(self) -> None:
        """Selling more than the group holds places the holdings and reports the rest."""
        accounts = [oa.Account(id="A", nav=1e8, holdings={BOND.id: 10_000})]
        order = oa.Order(security=BOND, side="SELL", quantity=50_000)
        result = oa.allocate(order, accounts)
        assert result.quantities == {"A": 10_000}
        assert result.unallocated == 40_000
        assert result.unallocated_reason is not None
        assert "at most 10,000" in result.unallocated_reason


class TestCustomWeights:
    """Weights by account id, validated."""

    ACCOUNTS = tuple(oa.Account(id=x, nav=1e8) for x in ("A", "B", "C"))

    def test_split_by_weights(self) -> None:
        """Weights 0.5 / 0.25 / 0.25 split 4MM into 2MM / 1MM / 1MM."""
        result = oa.allocate(
            buy(4_000_000),
            self.ACCOUNTS,
            method="custom_weights",
            weights={"A": 0.5, "B": 0.25, "C": 0.25},
        )
        assert result.quantities == {"A": 2_000_000, "B": 1_000_000, "C": 1_000_000}

    def test_unnamed_account_gets_zero(self) -> None:
        """An account without a weight gets nothing, with reason ZERO_WEIGHT."""
        result = oa.allocate(
            buy(4_000_000), self.ACCOUNTS, method="custom_weights", weights={"A": 1.0}
        )
        assert result.quantities["B"] == 0
        assert result.reasons["B"] is oa.Reason.ZERO_WEIGHT

    @pytest.mark.parametrize(
        ("weights", "match"),
        [
            ({"A": 0.5, "B": 0.6}, "must sum to 1"),
            ({"A": -0.5, "B": 1.5}, r"weights\['A'\]=-0.5"),
            ({"A": float("nan"), "B": 1.0}, r"weights\['A'\]"),
            ({"Z": 1.0}, "weights='Z': is not an account"),
        ],
    )
    def test_bad_weights(self, weights: dict[str, float], match: str) -> None:
        """Bad weights raise InvalidParameterError naming the weight."""
        with pytest.raises(oa.InvalidParameterError, match=match):
            oa.allocate(buy(4_000), self.ACCOUNTS, method="custom_weights", weights=weights)


class TestFrontDoor:
    """allocate() and the registry."""

    def test_unknown_method(self) -> None:
        """An unknown method lists the available ones."""
        with pytest.raises(oa.UnknownMethodError, match="pro_rata"):
            oa.allocate(buy(2_000), [oa.Account(id="A", nav=1e8)], method="fifo")

    def test_unknown_parameter(self) -> None:
        """A parameter the engine does not take is named."""
        with pytest.raises(oa.InvalidParameterError, match="metric"):
            oa.allocate(buy(2_000), [oa.Account(id="A", nav=1e8)], metric="duration")

    def test_registry(self) -> None:
        """Engines are found by name, with - and _ alike."""
        assert {"pro_rata", "custom_weights"} <= set(oa.engines.available())
        assert oa.engines.get("Pro-Rata") is oa.engines.ProRata

    def test_result_columns_for_large_groups(self) -> None:
        """Results keep columns; lines and frames are built on request."""
        n = 5_000
        table = oa.AccountTable(ids=[f"A{i}" for i in range(n)], nav=np.linspace(1e7, 1e9, n))
        result = oa.allocate(buy(50_000_000), table)
        assert result.quantity.shape == (n,)
        assert result.allocated == 50_000_000
        line = result.line("A10")
        assert line.quantity == result.quantity[10]
        assert line.message.startswith(line.reason.description)
