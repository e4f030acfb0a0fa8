"""Baskets: cash shared across orders, every order legal, joint never worse, order-free."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import orderalloc as oa
from orderalloc.testing import check_allocation
from orderalloc.testing import strategies as oast

PIECES = (1_000.0, 2_000.0, 5_000.0, 25_000.0)


@st.composite
def basket_cases(
    draw: st.DrawFn, /, *, max_bonds: int = 3, max_accounts: int = 8, side: str | None = None
) -> tuple[list[oa.Order], list[oa.Account]]:
    """A few orders on distinct bonds and a group holding some of each, with scarce cash."""
    n_bonds = draw(st.integers(1, max_bonds))
    secs = [
        draw(oast.securities(security_id=f"BOND{j}", min_pieces=PIECES)) for j in range(n_bonds)
    ]
    n = draw(st.integers(1, max_accounts))
    accounts = []
    for i in range(n):
        acc = draw(
            oast.accounts(
                account_id=f"ACC{i:04d}",
                security_id=secs[0].id,
                cash_fraction=(0.0, 0.02),
                min_nav=5e6,
                max_nav=5e8,
            )
        )
        holdings = {
            s.id: draw(st.sampled_from([0.0, 0.0, 3_000.0, 100_000.0, 1e6, 5e6])) for s in secs
        }
        restricted = frozenset(s.id for s in secs if draw(st.integers(0, 9)) == 0)
        accounts.append(attrs.evolve(acc, holdings=holdings, restricted=restricted))
    orders = [draw(oast.orders(s, side=side, max_quantity=20e6)) for s in secs]
    return orders, accounts


def lines(basket: oa.BasketResult) -> dict[str, dict[str, float]]:
    """Face per order (by side and bond) and account id: the basket's decision."""
    return {
        f"{r.order.side.value} {r.order.security.id}": dict(r.quantities) for r in basket.results
    }


def funded(basket: oa.BasketResult, accounts: list[oa.Account]) -> list[oa.Account]:
    """The accounts with their sales' proceeds added to their cash (one settle date)."""
    proceeds = dict(zip(basket.account_ids, basket.proceeds.tolist(), strict=True))
    return [
        acc if acc.cash is None else attrs.evolve(acc, cash=acc.cash + proceeds[acc.id])
        for acc in accounts
    ]


def assert_cash_kept(basket: oa.BasketResult, accounts: list[oa.Account]) -> None:
    """No account pays more for its buys than its cash plus its sales' proceeds."""
    by_id = {a.id: a for a in accounts}
    for i, ident in enumerate(basket.account_ids):
        cash = by_id[ident].cash
        if cash is None:
            continue
        spent = sum(
            r.quantity[i] * r.order.security.cash_per_face
            for r in basket.results
            if r.order.side is oa.Side.BUY
        )
        received = sum(
            r.quantity[i] * r.order.security.cash_per_face
            for r in basket.results
            if r.order.side is oa.Side.SELL
        )
        assert spent <= max(cash, 0.0) + received + 1e-6 * max(1.0, cash), (ident, spent, cash)
        np.testing.assert_allclose(basket.spent[i], spent, rtol=1e-12, atol=1e-6)


class TestInvariants:
    """Every rule holds for every order and for the basket as a whole."""

    @pytest.mark.parametrize("strategy", ["joint", "sequential"])
    @pytest.mark.parametrize("method", ["pro_rata", "min_dispersion"])
    @given(case=basket_cases())
    def test_cash_never_overspent_and_orders_legal(
        self, method: str, strategy: str, case: tuple[list[oa.Order], list[oa.Account]]
    ) -> None:
        """Across the basket no account overspends, and every order passes check_allocation."""
        orders, accounts = case
        basket = oa.allocate_basket(orders, accounts, method, strategy=strategy)
        assert_cash_kept(basket, accounts)
        assert [r.order.security.id for r in basket.results] == [o.security.id for o in orders]
        for result in basket.results:
            # Buys are checked against cash plus the proceeds that fund them.
            check_allocation(result, funded(basket, accounts))

    @given(case=basket_cases(), days=st.lists(st.integers(0, 2), min_size=3, max_size=3))
    def test_cash_kept_on_every_settle_date(
        self, case: tuple[list[oa.Order], list[oa.Account]], days: list[int]
    ) -> None:
        """With settle dates, buys to each date never cost more than cash plus earlier proceeds."""
        orders, accounts = case
        start = dt.date(2026, 3, 2)
        dated = [
            attrs.evolve(o, settle_date=start + dt.timedelta(days=d))
            for o, d in zip(orders, days, strict=False)
        ]
        basket = oa.allocate_basket(dated, accounts, "pro_rata")
        cash = {a.id: a.cash for a in accounts}
        for day in sorted({o.settle_date for o in dated if o.settle_date is not None}):
            for i, ident in enumerate(basket.account_ids):
                if cash[ident] is None:
                    continue
                flow = 0.0
                for r in basket.results:
                    assert r.order.settle_date is not None
                    if r.order.settle_date <= day:
                        value = r.quantity[i] * r.order.security.cash_per_face
                        flow += value if r.order.side is oa.Side.SELL else -value
                tol = 1e-6 * max(1.0, abs(cash[ident] or 0.0))
                assert max(cash[ident] or 0.0, 0.0) + flow >= -tol, (ident, day)

    @given(case=basket_cases(), two=st.booleans())
    def test_joint_never_worse_than_sequential(
        self, case: tuple[list[oa.Order], list[oa.Account]], two: bool
    ) -> None:
        """Joint min dispersion leaves the basket's dispersion no higher than sequential."""
        orders, accounts = case
        metric: str | tuple[str, ...] = ("spread_duration", "duration") if two else "duration"
        joint = oa.allocate_basket(orders, accounts, "min_dispersion", metric=metric)
        seq = oa.allocate_basket(
            orders, accounts, "min_dispersion", metric=metric, strategy="sequential"
        )
        assert joint.objective <= seq.objective
        np.testing.assert_allclose(joint.objective_sequential, seq.objective, rtol=1e-12)
        assert_cash_kept(joint, accounts)
        # The same measure, recomputed from the basket's metrics (one metric: c = 1).
        if not two:
            nav = np.array([next(a.nav for a in accounts if a.id == i) for i in joint.account_ids])
            w = nav / nav.sum()

            def var(b: oa.BasketResult) -> float:
                x = b.post_metrics["duration"]
                return float(np.sum(w * (x - np.sum(w * x)) ** 2))

            assert var(joint) <= var(seq) + 1e-12 * max(var(seq), 1e-300)
            np.testing.assert_allclose(var(joint), joint.objective, rtol=1e-9, atol=1e-15)

    @pytest.mark.parametrize("method", ["pro_rata", "min_dispersion"])
    @given(case=basket_cases(), data=st.data())
    def test_independent_of_the_order_of_orders_and_accounts(
        self, method: str, case: tuple[list[oa.Order], list[oa.Account]], data: st.DataObject
    ) -> None:
        """Shuffling the orders and the accounts (with their ids) changes no amount."""
        orders, accounts = case
        shuffled_orders = data.draw(st.permutations(orders))
        shuffled_accounts = data.draw(st.permutations(accounts))
        first = oa.allocate_basket(orders, accounts, method)
        second = oa.allocate_basket(shuffled_orders, shuffled_accounts, method)
        assert lines(first) == lines(second)
        assert first.strategy == second.strategy
        assert first.objective == second.objective


def _bond(ident: str, sd: float = 5.0, dur: float = 6.0, price: float = 100.0) -> oa.Security:
    return oa.Security(
        id=ident,
        price=price,
        min_piece=1_000,
        increment=1_000,
        analytics={"spread_duration": sd, "duration": dur},
    )


def _account(ident: str, nav: float, cash: float | None, **kw: object) -> oa.Account:
    return oa.Account(
        id=ident,
        nav=nav,
        cash=cash,
        metrics={"spread_duration": kw.pop("sd", 5.0), "duration": kw.pop("dur", 6.0)},  # type: ignore[dict-item]
        **kw,  # type: ignore[arg-type]
    )


class TestCashSharing:
    """How cash and proceeds are shared across the orders."""

    def test_sequential_is_allocate_with_cash_decremented(self) -> None:
        """The baseline: the first bond by id is `allocate` itself; the next sees the cash left."""
        accounts = [_account("A", 100e6, 1e6), _account("B", 300e6, 2e6)]
        a, b = _bond("AAA"), _bond("BBB")
        orders = [
            oa.Order(security=b, side="BUY", quantity=2_000_000),
            oa.Order(security=a, side="BUY", quantity=2_000_000),
        ]
        basket = oa.allocate_basket(orders, accounts, strategy="sequential")
        alone = oa.allocate(orders[1], accounts)
        assert basket.result("AAA").quantities == alone.quantities
        left = [attrs.evolve(acc, cash=acc.cash - alone.quantities[acc.id]) for acc in accounts]
        assert basket.result("BBB").quantities == oa.allocate(orders[0], left).quantities

    def test_joint_pro_rata_shares_the_shortfall(self) -> None:
        """When cash cannot pay for both bonds, joint pro-rata fills each half, not one first."""
        accounts = [_account("A", 100e6, 1e6), _account("B", 100e6, 1e6)]
        orders = [
            oa.Order(security=_bond(name), side="BUY", quantity=2_000_000) for name in ("X", "Y")
        ]
        seq = oa.allocate_basket(orders, accounts, strategy="sequential")
        joint = oa.allocate_basket(orders, accounts)
        assert seq.unallocated == {"BUY X": 0.0, "BUY Y": 2_000_000.0}
        assert joint.strategy == "joint"
        assert joint.unallocated == {"BUY X": 1_000_000.0, "BUY Y": 1_000_000.0}
        np.testing.assert_allclose(joint.cash_after, [0.0, 0.0], atol=1e-6)

    def test_proceeds_fund_buys_that_settle_no_earlier(self) -> None:
        """A sale's proceeds pay for a buy settling the same day or later, never an earlier one."""
        day1, day2 = dt.date(2026, 1, 5), dt.date(2026, 1, 6)
        old, new = _bond("OLD"), _bond("NEW")
        accounts = [_account("A", 100e6, 0.0, holdings={"OLD": 1_000_000})]

        def basket(sell_day: dt.date, buy_day: dt.date, **kw: bool) -> oa.BasketResult:
            orders = [
                oa.Order(security=old, side="SELL", quantity=1_000_000, settle_date=sell_day),
                oa.Order(security=new, side="BUY", quantity=1_000_000, settle_date=buy_day),
            ]
            return oa.allocate_basket(orders, accounts, **kw)

        assert basket(day1, day1).result("NEW").allocated == 1_000_000
        assert basket(day1, day2).result("NEW").allocated == 1_000_000
        assert basket(day2, day1).result("NEW").allocated == 0
        assert basket(day1, day1, use_proceeds=False).result("NEW").allocated == 0

    def test_unknown_cash_is_not_checked_and_said(self) -> None:
        """An account without cash can buy, and the basket warns that it was not checked."""
        accounts = [_account("A", 100e6, None)]
        basket = oa.allocate_basket(
            [oa.Order(security=_bond("X"), side="BUY", quantity=1_000_000)], accounts
        )
        assert basket.result("X").allocated == 1_000_000
        assert any("cash not given" in w for w in basket.warnings)
        assert np.isnan(basket.cash_after[0])


class TestJoint:
    """The joint allocation improves on the sequential one where it can."""

    def test_two_metrics_joint_strictly_better(self) -> None:
        """With bonds that move two metrics differently, the joint pass lowers the dispersion."""
        rng = np.random.default_rng(7)
        bonds = [
            _bond(f"B{j}", sd=float(rng.uniform(1, 9)), dur=float(rng.uniform(1, 12)))
            for j in range(6)
        ]
        table = oast.random_table(300, security=bonds[0], seed=3, cash_fraction=0.5)
        orders = [oa.Order(security=b, side="BUY", quantity=2e8) for b in bonds]
        metric = ("spread_duration", "duration")
        joint = oa.allocate_basket(orders, table, "min_dispersion", metric=metric)
        assert joint.strategy == "joint"
        assert joint.objective < joint.objective_sequential
        assert joint.sweeps >= 1

    def test_a_metric_already_level_does_not_break_the_weights(self) -> None:
        """Two metrics, one level in every account: its huge inverse-variance weight is legal."""
        accounts = [
            _account("A", 100e6, 5e6, sd=5.0, dur=4.0),
            _account("B", 200e6, 5e6, sd=5.0 + 1e-15, dur=8.0),
        ]
        orders = [
            oa.Order(security=_bond("X", sd=3.0, dur=2.0), side="BUY", quantity=1_000_000),
            oa.Order(security=_bond("Y", sd=7.0, dur=9.0), side="BUY", quantity=1_000_000),
        ]
        basket = oa.allocate_basket(
            orders, accounts, "min_dispersion", metric=("spread_duration", "duration")
        )
        assert basket.objective <= basket.objective_sequential
        for order in orders:
            assert basket.result(order.security.id).allocated == 1_000_000

    def test_no_gain_falls_back_to_sequential_and_says_so(self) -> None:
        """A one-order basket gains nothing: the result is the sequential one, with a warning."""
        accounts = [_account("A", 100e6, 5e6, sd=4.0), _account("B", 200e6, 5e6, sd=6.0)]
        order = oa.Order(security=_bond("X"), side="BUY", quantity=1_000_000)
        basket = oa.allocate_basket([order], accounts, "min_dispersion")
        assert basket.strategy == "sequential"
        assert any("not better than the sequential" in w for w in basket.warnings)
        single = oa.allocate(order, accounts, method="min_dispersion")
        assert basket.result("X").quantities == single.quantities


class TestResult:
    """What the basket result offers a desk."""

    def test_json_round_trip(self) -> None:
        """A basket result survives to_json / from_json with every order's lines."""
        accounts = [
            _account("A", 100e6, 1e6, holdings={"OLD": 500_000}),
            _account("B", 300e6, 2e6),
        ]
        orders = [
            oa.Order(security=_bond("NEW"), side="BUY", quantity=1_500_000),
            oa.Order(security=_bond("OLD"), side="SELL", quantity=500_000),
        ]
        basket = oa.allocate_basket(orders, accounts, "min_dispersion")
        back = oa.from_json(oa.to_json(basket), oa.BasketResult)
        assert lines(back) == lines(basket)
        assert back.orders == basket.orders
        np.testing.assert_array_equal(back.cash_used, basket.cash_used)
        assert back.dispersion == basket.dispersion
        assert back.strategy == basket.strategy

    def test_columns_follow_the_accounts_given(self) -> None:
        """Every per-account column of every order is in the order the accounts were given."""
        accounts = [_account("Z", 300e6, 2e6), _account("A", 100e6, 1e6, sd=4.0)]
        orders = [oa.Order(security=_bond(x), side="BUY", quantity=1_000_000) for x in "XY"]
        basket = oa.allocate_basket(orders, accounts, "min_dispersion")
        assert basket.account_ids == ("Z", "A")
        for result in basket.results:
            assert result.account_ids == ("Z", "A")
            if result.nav is not None:
                np.testing.assert_array_equal(result.nav, [300e6, 100e6])
            np.testing.assert_allclose(result.pre_metrics["spread_duration"][1], 4.0, atol=0.1)

    def test_frame_lists_every_line(self) -> None:
        """to_frame has one row per non-zero line, and its face adds up per order."""
        accounts = [_account("A", 100e6, 1e6), _account("B", 300e6, 2e6)]
        orders = [oa.Order(security=_bond(x), side="BUY", quantity=1_000_000) for x in "XY"]
        basket = oa.allocate_basket(orders, accounts)
        frame = basket.to_frame()
        assert frame.groupby("security_id")["quantity"].sum().to_dict() == {
            "X": 1_000_000.0,
            "Y": 1_000_000.0,
        }


class TestErrors:
    """Bad baskets fail early, naming the field and the value."""

    def test_empty(self) -> None:
        """A basket with no order is refused."""
        with pytest.raises(oa.InvalidOrderError, match="orders"):
            oa.allocate_basket([], [_account("A", 1e6, 0.0)])

    def test_duplicate(self) -> None:
        """Two orders on the same bond and side are refused."""
        order = oa.Order(security=_bond("X"), side="BUY", quantity=1_000)
        with pytest.raises(oa.InvalidOrderError, match="BUY X"):
            oa.allocate_basket([order, order], [_account("A", 1e6, 0.0)])

    def test_mixed_settle_dates(self) -> None:
        """Settle dates on some orders but not others are refused."""
        orders = [
            oa.Order(
                security=_bond("X"), side="BUY", quantity=1_000, settle_date=dt.date(2026, 1, 5)
            ),
            oa.Order(security=_bond("Y"), side="BUY", quantity=1_000),
        ]
        with pytest.raises(oa.InvalidOrderError, match="settle_date"):
            oa.allocate_basket(orders, [_account("A", 1e6, 0.0)])

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"strategy": "greedy"}, "strategy"),
            ({"max_sweeps": -1}, "max_sweeps"),
            ({"basis": 3, "metric": "x"}, "metric"),
        ],
    )
    def test_bad_parameters(self, kwargs: dict[str, object], field: str) -> None:
        """An unknown strategy, a negative sweep count or a foreign parameter names itself."""
        order = oa.Order(security=_bond("X"), side="BUY", quantity=1_000)
        with pytest.raises(oa.InvalidParameterError) as info:
            oa.allocate_basket([order], [_account("A", 1e6, 0.0)], **kwargs)  # type: ignore[arg-type]
        assert info.value.field == field

    def test_not_an_order(self) -> None:
        """Something other than an Order in the basket is refused by position."""
        with pytest.raises(oa.InvalidOrderError, match=r"orders\[0\]"):
            oa.allocate_basket(["X"], [_account("A", 1e6, 0.0)])  # type: ignore[list-item]

    @pytest.mark.parametrize(
        "params",
        [
            {"metric": "beta"},
            {"metric": "oas"},
            {"metric": "spread_duration", "weighting": {"Z": 1.0}},
            {"metric": "spread_duration", "weighting": {"A": 0.0}},
        ],
    )
    def test_min_dispersion_refuses_as_the_engine_does(self, params: dict[str, object]) -> None:
        """A metric some account lacks, or a bad weighting, gets the engine's own error."""
        accounts = [
            attrs.evolve(_account("A", 1e8, 1e6), metrics={"spread_duration": 4.0, "beta": 1.0}),
            attrs.evolve(_account("B", 3e8, 2e6), metrics={"spread_duration": 5.0}),
        ]
        orders = [oa.Order(security=_bond(b), side="BUY", quantity=1_000) for b in ("Y", "X")]
        with pytest.raises(oa.InvalidParameterError) as engine:
            oa.allocate(orders[1], accounts, method="min_dispersion", **params)  # type: ignore[arg-type]
        with pytest.raises(oa.InvalidParameterError) as basket:
            oa.allocate_basket(orders, accounts, "min_dispersion", **params)  # type: ignore[arg-type]
        assert str(basket.value) == str(engine.value)
