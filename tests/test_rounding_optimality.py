"""Rounding judged against exact integer optima, under permutation, and at its boundaries.

The referees live in `exact_rounding` (a plain dynamic programme over totals,
a mixed-integer programme solved by HiGHS through ``scipy.optimize.milp``, and
brute force) and share nothing with `orderalloc.lots`.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import orderalloc as oa
from exact_rounding import brute_force, dp_optimum, milp_optimum, moving_mean_optimum
from orderalloc import lots
from orderalloc.limits import trade_bounds
from orderalloc.testing import check_allocation
from rounding_cases import ENGINES, allocate, judge, make_case

BOND = oa.Security(id="B", price=100.0, min_piece=2_000, increment=1_000)


def buy(quantity: float, sec: oa.Security = BOND) -> oa.Order:
    return oa.Order(security=sec, side="BUY", quantity=quantity)


def assert_order_free(order: oa.Order, accts: list[oa.Account], rounds: int) -> None:
    """*rounds* shuffles of *accts* (ids with them) all get the same amounts."""
    want = oa.allocate(order, accts).quantities
    shuffler = random.Random(1)
    for _ in range(rounds):
        shuffled = accts[:]
        shuffler.shuffle(shuffled)
        assert oa.allocate(order, shuffled).quantities == want


class TestReproductions:
    """Every case of issue 10 gets the optimal answer."""

    def test_fallback_ignores_input_order_and_follows_the_objective(self) -> None:
        """3,000 goes to MID (chi-square 1.4e7) whatever the order, not SMALL (8.8e8)."""
        accts = [
            oa.Account(id="SMALL", nav=1e6, cash=1e6),
            oa.Account(id="BIG", nav=60e6, cash=2_500.0),
            oa.Account(id="MID", nav=39e6, cash=1e6),
        ]
        want = {"SMALL": 0.0, "BIG": 0.0, "MID": 3_000.0}
        assert oa.allocate(buy(3_000), accts).quantities == want
        assert oa.allocate(buy(3_000), accts[::-1]).quantities == want

    def test_unequal_amounts_are_searched(self) -> None:
        """(2,000, 2,000) beats (0, 4,000) by 44% of the chi-square and is found."""
        accts = [oa.Account(id="A", nav=4e6), oa.Account(id="B", nav=10e6)]
        assert oa.allocate(buy(4_000), accts).quantities == {"A": 2_000.0, "B": 2_000.0}

    def test_min_dispersion_opens_the_second_account(self) -> None:
        """(5,000, 8,000) has a quarter of the variance of (0, 13,000) and is found."""
        sec = oa.Security(
            id="C",
            price=100.0,
            min_piece=5_000,
            increment=1_000,
            analytics={"spread_duration": 5.0},
        )
        accts = [
            oa.Account(id="A", nav=8e6, metrics={"spread_duration": 4.90}),
            oa.Account(id="B", nav=4e6, metrics={"spread_duration": 4.89}),
        ]
        result = oa.allocate(buy(13_000, sec), accts, method="min_dispersion")
        assert result.quantities == {"A": 5_000.0, "B": 8_000.0}

    def test_largest_legal_total_beyond_any_table(self) -> None:
        """An increment of 1 face over 10 million: the whole order is placed, split evenly."""
        sec = oa.Security(id="D", price=100.0, min_piece=10_000, increment=1)
        accts = [
            oa.Account(id="A", nav=1e9, cash=5e6),
            oa.Account(id="B", nav=1e9, cash=5e6),
            oa.Account(id="S", nav=1e5),
        ]
        result = oa.allocate(buy(10_005_000, sec), accts)
        assert result.quantities == {"A": 4_997_500.0, "B": 4_997_500.0, "S": 10_000.0}
        assert result.unallocated == 0
        check_allocation(result, accts)

    def test_exactly_affordable_amounts_are_allowed(self) -> None:
        """2,000 at 103.9 costs exactly 2,078.00; 3,000 is exactly 1% of 311,700."""
        sec = oa.Security(id="E", price=103.9, min_piece=2_000, increment=1_000)
        cash = [oa.Account(id="P", nav=1e6, cash=2_078.00)]
        result = oa.allocate(buy(2_000, sec), cash)
        assert result.quantities == {"P": 2_000.0}
        assert result.reasons["P"] is not oa.Reason.CAPPED_BY_CASH
        pct = [oa.Account(id="P", nav=311_700.0, limits=oa.AccountLimits(max_pct_nav=0.01))]
        assert oa.allocate(buy(3_000, sec), pct).quantities == {"P": 3_000.0}

    def test_one_cent_short_is_refused_with_the_cash_reason(self) -> None:
        """2,077.99 of cash cannot pay 2,078.00: nothing, and the reason says cash."""
        sec = oa.Security(id="E", price=103.9, min_piece=2_000, increment=1_000)
        result = oa.allocate(buy(2_000, sec), [oa.Account(id="P", nav=1e6, cash=2_077.99)])
        assert result.quantities == {"P": 0.0}
        assert result.reasons["P"] is oa.Reason.CAPPED_BY_CASH

    def test_fractional_position_never_sold_into_a_stub(self) -> None:
        """4,000.5 held: selling 4,000 would leave 0.5, so 2,000 is sold and the stub rule named."""
        order = oa.Order(security=BOND, side="SELL", quantity=4_000)
        accts = [oa.Account(id="P", nav=1e6, holdings={"B": 4_000.5})]
        result = oa.allocate(order, accts)
        assert result.quantities == {"P": 2_000.0}
        assert result.reasons["P"] is oa.Reason.STUB_AVOIDED
        check_allocation(result, accts)

    def test_extreme_target_returns(self) -> None:
        """A target of 1e15 (issue 17) is refused by name; a far admitted one ends legally."""
        sec = oa.Security(id="X", price=99, analytics={"sd": 4})
        rng = np.random.default_rng(3)
        navs, sds = rng.uniform(1e6, 3e6, 80), rng.uniform(3, 6, 80)
        accts = [
            oa.Account(id=f"A{i}", nav=float(n), cash=1e6, metrics={"sd": float(s)})
            for i, (n, s) in enumerate(zip(navs, sds, strict=True))
        ]
        order = oa.Order(security=sec, side="BUY", quantity=1e6)
        with pytest.raises(oa.InvalidParameterError, match="target"):
            oa.allocate(order, accts, method="min_dispersion", metric="sd", target=1e15)
        for target in (-1e3, 5e3):  # far outside the metrics (3 to 6) yet admitted
            result = oa.allocate(order, accts, method="min_dispersion", metric="sd", target=target)
            check_allocation(result, accts)
            assert result.unallocated == 0

    def test_pro_rata_sell_of_300_accounts_ignores_input_order(self) -> None:
        """A 300-account sale by holdings allocates every account alike under shuffles."""
        rng = np.random.default_rng(300)
        accts = [
            oa.Account(id=f"ACC{i:03d}", nav=float(nav), holdings={"B": float(h)})
            for i, (nav, h) in enumerate(
                zip(rng.uniform(5e6, 5e8, 300), rng.integers(2, 400, 300) * 1_000.0, strict=False)
            )
        ]
        assert_order_free(oa.Order(security=BOND, side="SELL", quantity=7_777_000), accts, 5)

    def test_custom_weights_seed_169_opens_the_right_accounts(self) -> None:
        """The campaign's one miss (1.2% above the optimum) now gets the integer optimum."""
        case = make_case(169, "custom_weights")
        verdict = judge(case)
        assert not verdict.shortfall
        assert verdict.gap <= 1e-9, verdict

    def test_coarse_grid_never_leaves_a_stub(self) -> None:
        """A whole-position sale snapped to the coarse grid is never booked (it left 1,000)."""
        case = make_case(156, "pro_rata")
        check_allocation(allocate(case), case.accounts)
        assert judge(case).gap <= 1e-9

    def test_selling_out_one_account_for_others(self) -> None:
        """Selling a whole position and cutting three others is found (it was 124% worse)."""
        case = make_case(167, "pro_rata")
        check_allocation(allocate(case), case.accounts)
        assert judge(case).gap <= 1e-9

    def test_rounding_gap_is_reported(self) -> None:
        """A small group is solved exactly: the result says so with a gap of 0."""
        accts = [oa.Account(id="A", nav=4e6), oa.Account(id="B", nav=10e6)]
        assert oa.allocate(buy(4_000), accts).rounding_gap == 0.0


class TestAgainstExactOptima:
    """Generated groups: the largest legal total, and the optimum of the objective."""

    @pytest.mark.parametrize("engine", ENGINES)
    @settings(max_examples=12)
    @given(seed=st.integers(0, 10**9))
    def test_optimal_within_a_tenth_of_a_percent(self, engine: str, seed: int) -> None:
        """Legal, no shortfall, within 0.1% of the integer optimum; the reported gap is a bound."""
        case = make_case(seed, engine, max_accounts=12)
        verdict = judge(case)
        check_allocation(allocate(case), case.accounts)
        assert not verdict.shortfall, verdict
        assert verdict.gap <= 1e-3, verdict
        if verdict.reported_gap is not None and verdict.value > 0:
            true_share = (verdict.value - verdict.optimum) / verdict.value
            assert true_share <= verdict.reported_gap + 1e-6, verdict

    @given(seed=st.integers(0, 10**9), data=st.data())
    def test_lots_is_exact_on_small_menus(self, seed: int, data: st.DataObject) -> None:
        """Any ideal and costs: round_to_lots matches the plain programme's optimum."""
        case = make_case(seed, "pro_rata", max_accounts=8)
        table = oa.as_table(case.accounts)
        bounds = trade_bounds(case.order, table)
        rng = np.random.default_rng(seed)
        t = bounds.max_legal * rng.random(bounds.n)
        a = rng.lognormal(0.0, 1.0, bounds.n)
        found = dp_optimum(bounds, case.order.quantity, a, t, max_cells=2_000_000)
        if found is None:
            return
        rounding = lots.round_to_lots(t, a, bounds, case.order.quantity, ids=table.ids, seed=seed)
        assert rounding.total == found[0]
        assert rounding.cost <= found[1] * (1 + 1e-9) + 1e-9
        assert bool(np.all(bounds.is_legal(rounding.q)))


class TestMovingMean:
    """Equal weighting: the rounding minimises the variance itself, and proves it."""

    @settings(max_examples=15)
    @given(seed=st.integers(0, 10**9), shuffle=st.randoms(use_true_random=False))
    def test_equal_weights_exact_beyond_brute_force(
        self, seed: int, shuffle: random.Random
    ) -> None:
        """6 to 24 accounts: the optimum of the moving-mean variance, whatever the order."""
        case = make_case(seed, "min_dispersion_equal", max_accounts=24)
        if len(case.accounts) < 6:
            return
        verdict = judge(case)
        assert verdict.gap <= 1e-6, verdict
        shuffled = case.accounts[:]
        shuffle.shuffle(shuffled)
        result = allocate(case, shuffled)
        assert result.quantities == allocate(case).quantities
        if verdict.value > 0 and result.rounding_gap is not None:
            assert (verdict.value - verdict.optimum) / verdict.value <= result.rounding_gap + 1e-6

    def test_referee_agrees_with_brute_force(self) -> None:
        """The centre search referee gives brute force's optimum on tiny groups."""
        checked = 0
        for seed in range(12):
            case = make_case(seed, "min_dispersion_equal", max_accounts=4)
            table = oa.as_table(case.accounts)
            bounds = trade_bounds(case.order, table)
            sec = case.order.security
            s = case.order.side.sign * sec.cash_per_face * sec.analytics["sd"] / table.nav
            m = table.metrics["sd"]

            def variance(q: np.ndarray, s: np.ndarray = s, m: np.ndarray = m) -> float:
                x = m + s * q
                return float(np.mean((x - x.mean()) ** 2))

            brute = brute_force(bounds, case.order.quantity, variance)
            if brute is None:
                continue
            found = moving_mean_optimum(bounds, case.order.quantity, m, s, np.ones(len(table)))
            assert found is not None
            assert found[0] == brute[0]
            np.testing.assert_allclose(found[1], brute[1], rtol=1e-7, atol=1e-15)
            checked += 1
        assert checked >= 8


class TestPermutation:
    """Accounts shuffled with their ids get the same amounts, for every engine."""

    @pytest.mark.parametrize("engine", ENGINES)
    @given(seed=st.integers(0, 10**9), shuffle=st.randoms(use_true_random=False))
    def test_same_amounts_in_any_order(
        self, engine: str, seed: int, shuffle: random.Random
    ) -> None:
        """The amount of every account does not depend on where it stands in the input."""
        case = make_case(seed, engine)
        shuffled = case.accounts[:]
        shuffle.shuffle(shuffled)
        assert allocate(case).quantities == allocate(case, shuffled).quantities


class TestLargeGroups:
    """Beyond the exact programme: order independence and the open-set search."""

    def test_six_thousand_accounts_ignore_input_order(self) -> None:
        """Past 5,000 accounts too, a shuffled group gets the same amounts (near-ties included).

        Positions that are multiples of each other put accounts' breakpoints
        on exact ties in exact arithmetic, which float sums taken in input
        order used to break differently from one order to the next.
        """
        rng = np.random.default_rng(1)
        n = 6_000
        held = rng.choice([3_000, 6_000, 9_000, 12_000, 7_000, 14_000, 21_000], n)
        navs = rng.uniform(5e6, 5e8, n)
        accts = [
            oa.Account(id=f"A{i:05d}", nav=float(v), holdings={"B": float(h)})
            for i, (v, h) in enumerate(zip(navs, held, strict=True))
        ]
        assert_order_free(oa.Order(security=BOND, side="SELL", quantity=5_429_000), accts, 3)

    @pytest.mark.parametrize("seed", [202, 204])
    def test_open_set_search_beyond_the_exact_programme(self, seed: int) -> None:
        """80 accounts, custom weights, 200,000 / 1,000: HiGHS's optimum (was 0.2% / 0.3% off)."""
        rng = np.random.default_rng(seed)
        sec = oa.Security(id="B", price=101.0, min_piece=200_000, increment=1_000)
        raw = rng.random(80) ** 2 + 0.01
        accts = [oa.Account(id=f"P{i:02d}", nav=1e8) for i in range(80)]
        weights = {a.id: float(x) for a, x in zip(accts, raw / raw.sum(), strict=True)}
        quantity = float(int(rng.integers(20, 60)) * 200_000 + 1_000 * int(rng.integers(0, 99)))
        order = buy(quantity, sec)
        result = oa.allocate(order, accts, method="custom_weights", weights=weights)
        check_allocation(result, accts)
        w = raw / raw.sum()
        bounds = trade_bounds(order, oa.as_table(accts))
        best, optimum = milp_optimum(bounds, quantity, 1 / w, result.ideal, hint=result.quantity)
        value = float(np.sum((result.quantity - result.ideal) ** 2 / w))
        assert result.allocated == best
        assert value <= optimum * (1 + 1e-9)


class TestReferees:
    """The exact referees agree with each other (so a failure above is the library's)."""

    @settings(max_examples=30)
    @given(seed=st.integers(0, 10**9))
    def test_milp_programme_and_brute_force_agree(self, seed: int) -> None:
        """HiGHS, the plain programme and brute force give the same optimum on tiny groups."""
        case = make_case(seed, "pro_rata", max_accounts=4)
        bounds = trade_bounds(case.order, oa.as_table(case.accounts))
        rng = np.random.default_rng(seed)
        t = bounds.max_legal * rng.random(bounds.n)
        a = rng.lognormal(0.0, 1.0, bounds.n)
        brute = brute_force(bounds, case.order.quantity, lambda q: float(np.sum(a * (q - t) ** 2)))
        if brute is None:
            return
        mip = milp_optimum(bounds, case.order.quantity, a, t)
        assert brute[0] == mip[0]
        np.testing.assert_allclose(mip[1], brute[1], rtol=1e-7, atol=1e-7)
        plain = dp_optimum(bounds, case.order.quantity, a, t)
        if plain is not None:  # affordable menus only
            assert plain[0] == brute[0]
            np.testing.assert_allclose(plain[1], brute[1], rtol=1e-9, atol=1e-9)
