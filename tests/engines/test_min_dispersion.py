"""Minimum dispersion: legal, close to the continuous optimum, and the same across backends."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import orderalloc as oa
from orderalloc.limits import trade_bounds
from orderalloc.testing import check_allocation
from orderalloc.testing import strategies as oast

IG = oa.Security(
    id="IGBOND",
    price=97.25,
    accrued=1.1,
    min_piece=2_000,
    increment=1_000,
    analytics={"spread_duration": 6.5, "duration": 7.0, "oas": 120.0},
)


def weighted_variance(result: oa.AllocationResult, metric: str, weights: np.ndarray) -> float:
    """The objective min dispersion minimises, recomputed from the result's columns."""
    x = result.post_metrics[metric]
    w = weights / weights.sum()
    mean = float(np.sum(w * x))
    return float(np.sum(w * (x - mean) ** 2))


class TestInvariants:
    """Every hard rule holds for every backend."""

    @pytest.mark.parametrize("backend", ["exact", "convex"])
    @given(case=oast.allocation_cases(max_accounts=25))
    def test_every_invariant(self, backend: str, case: tuple[oa.Order, list[oa.Account]]) -> None:
        """Legal pieces, cash, holdings, stubs, restrictions and limits hold."""
        order, accounts = case
        result = oa.allocate(order, accounts, method="min_dispersion", backend=backend)
        check_allocation(result, accounts)

    @settings(max_examples=40)
    @given(case=oast.allocation_cases(max_accounts=8))
    def test_every_invariant_slsqp(self, case: tuple[oa.Order, list[oa.Account]]) -> None:
        """SLSQP results are just as legal."""
        order, accounts = case
        result = oa.allocate(order, accounts, method="min_dispersion", backend="slsqp")
        check_allocation(result, accounts)

    @given(case=oast.allocation_cases(max_accounts=20))
    def test_places_as_much_as_pro_rata(self, case: tuple[oa.Order, list[oa.Account]]) -> None:
        """Min dispersion never leaves more of the order unplaced than pro-rata does."""
        order, accounts = case
        md = oa.allocate(order, accounts, method="min_dispersion")
        pr = oa.allocate(order, accounts)
        assert md.allocated == pr.allocated


class TestBackendsAgree:
    """The three backends reach the same continuous optimum."""

    @settings(max_examples=60)
    @given(
        case=oast.allocation_cases(max_accounts=12, side="BUY", unknown_cash=False),
        weighting=st.sampled_from(["nav", "equal"]),
        target=st.sampled_from([None, 5.0]),
    )
    def test_same_objective(
        self, case: tuple[oa.Order, list[oa.Account]], weighting: str, target: float | None
    ) -> None:
        """exact, convex and slsqp agree on the optimum to solver tolerance."""
        order, accounts = case
        results = {
            b: oa.allocate(
                order,
                accounts,
                method="min_dispersion",
                backend=b,
                weighting=weighting,
                target=target,
            )
            for b in ("exact", "convex", "slsqp")
        }
        if all(r.allocated == 0 for r in results.values()):
            return  # nothing placeable: no continuous problem to compare
        objectives = {b: r.solver.objective for b, r in results.items() if r.solver is not None}
        assert set(objectives) == {"exact", "convex", "slsqp"}
        ref = objectives["exact"]
        for value in objectives.values():
            assert value == pytest.approx(ref, rel=1e-5, abs=1e-12)

    @pytest.mark.parametrize("group", ["BIG6", "DP-LB-USD", "OPNIC", "PUBLICPRE"])
    @pytest.mark.parametrize("security_id", ["037833DX5", "64971XQM3", "88167AAN1"])
    def test_mock_groups(self, group: str, security_id: str) -> None:
        """On the mock's realistic groups, exact and Clarabel agree and rounding keeps 99%."""
        source = oa.MockAladdin(scenario="high_dispersion")
        security = source.security(security_id)
        accounts = source.accounts(group, security_id)
        order = oa.Order(security=security, side="BUY", quantity=5_000_000)
        exact = oa.allocate(order, accounts, method="min_dispersion")
        convex = oa.allocate(order, accounts, method="min_dispersion", backend="convex")
        assert exact.solver is not None
        assert convex.solver is not None
        assert convex.solver.objective == pytest.approx(exact.solver.objective, rel=1e-6)
        check_allocation(exact, accounts)
        summary = exact.dispersion["spread_duration"]
        assert summary.std_after < summary.std_before
        assert summary.captured is not None
        assert summary.captured >= 0.99


class TestRoundingQuality:
    """Rounding keeps the optimum."""

    def test_sma_scale_captures_the_improvement(self) -> None:
        """10,000 accounts, small denominations: at least 99.9% of the reachable improvement."""
        table = oast.random_table(10_000, security=IG, seed=3)
        order = oa.Order(security=IG, side="BUY", quantity=200_000_000)
        result = oa.allocate(order, table, method="min_dispersion")
        check_allocation(result, table)
        summary = result.dispersion["spread_duration"]
        assert summary.captured is not None
        assert summary.captured >= 0.999
        assert result.unallocated == 0

    @settings(max_examples=150)
    @given(
        case=oast.allocation_cases(
            max_accounts=5,
            side="BUY",
            max_quantity=30_000,
            min_nav=5e6,
            max_nav=3e7,
            cash_fraction=(0.0, 0.002),
            unknown_cash=False,
            limits=False,
        )
    )
    def test_within_a_tenth_of_a_percent_of_the_integer_optimum(
        self, case: tuple[oa.Order, list[oa.Account]]
    ) -> None:
        """Brute force over every legal split with the same total never beats ours by 0.1%."""
        order, accounts = case
        result = oa.allocate(order, accounts, method="min_dispersion")
        if result.solver is None or result.solver.backend != "exact":
            return
        table = oa.as_table(accounts)
        bounds = trade_bounds(order, table)
        options = []
        for i in range(len(table)):
            opts = [0.0]
            if bounds.klo[i] <= bounds.khi[i]:
                opts += [
                    bounds.min_piece + k * bounds.increment
                    for k in range(int(bounds.klo[i]), int(bounds.khi[i]) + 1)
                ]
            options.append(opts)
        if np.prod([len(o) for o in options]) > 100_000:
            return
        m = table.metrics["spread_duration"]
        sens = (
            order.security.cash_per_face * order.security.analytics["spread_duration"] / table.nav
        )
        w = table.nav / table.nav.sum()
        best = np.inf
        for combo in itertools.product(*options):
            if sum(combo) != result.allocated:
                continue
            x = m + sens * np.array(combo)
            mean = float(np.sum(w * x))
            best = min(best, float(np.sum(w * (x - mean) ** 2)))
        ours = weighted_variance(result, "spread_duration", table.nav)
        assert ours <= best * 1.001 + 1e-12


class TestFallback:
    """A failing backend falls back, and says so."""

    def test_slsqp_failure_falls_back_to_exact(self) -> None:
        """SLSQP stopped after one iteration hands over to exact, with a warning."""
        table = oast.random_table(40, security=IG, seed=1)
        order = oa.Order(security=IG, side="BUY", quantity=20_000_000)
        result = oa.allocate(
            order, table, method="min_dispersion", backend="slsqp", weighting="equal", max_iter=1
        )
        assert result.solver is not None
        assert result.solver.backend == "exact"
        assert any("slsqp" in w for w in result.warnings)
        check_allocation(result, table)

    def test_every_backend_failing_ends_in_pro_rata(self) -> None:
        """With no fallback backend left, pro-rata by NAV is used and the warning says why."""
        table = oast.random_table(40, security=IG, seed=1)
        order = oa.Order(security=IG, side="BUY", quantity=20_000_000)
        result = oa.allocate(
            order,
            table,
            method="min_dispersion",
            backend="slsqp",
            fallback=(),
            weighting="equal",
            max_iter=1,
        )
        assert result.solver is not None
        assert result.solver.backend == "pro_rata"
        assert any("fell back to pro-rata" in w for w in result.warnings)
        np.testing.assert_array_equal(result.quantity, oa.allocate(order, table).quantity)


class TestTargetAndMetrics:
    """Target mode and several metrics."""

    def test_target_mode_moves_accounts_toward_the_target(self) -> None:
        """Accounts furthest below the target receive the most (per NAV)."""
        accounts = [
            oa.Account(id=f"A{i}", nav=1e8, cash=1e8, metrics={"spread_duration": sd})
            for i, sd in enumerate([3.0, 4.0, 5.0, 6.0])
        ]
        order = oa.Order(security=IG, side="BUY", quantity=3_000_000)
        result = oa.allocate(order, accounts, method="min_dispersion", target=6.5)
        q = result.quantity
        assert q[0] >= q[1] >= q[2] >= q[3]
        assert result.allocated == 3_000_000

    def test_two_metrics(self) -> None:
        """Spread duration and duration together: legal, and no worse on both than pro-rata."""
        table = oast.random_table(500, security=IG, seed=5)
        order = oa.Order(security=IG, side="BUY", quantity=50_000_000)
        result = oa.allocate(
            order, table, method="min_dispersion", metric=("spread_duration", "duration")
        )
        check_allocation(result, table)
        assert set(result.dispersion) >= {"spread_duration", "duration"}

    def test_active_metric_moves_with_the_bond_analytic(self) -> None:
        """active_spread_duration moves with the bond's spread_duration."""
        table = oast.random_table(100, security=IG, seed=2)
        order = oa.Order(security=IG, side="BUY", quantity=5_000_000)
        active = oa.allocate(order, table, method="min_dispersion", metric="active_spread_duration")
        plain = oa.allocate(order, table, method="min_dispersion", metric="spread_duration")
        np.testing.assert_array_equal(active.quantity, plain.quantity)


class TestBadParameters:
    """Bad parameters are named."""

    ACCOUNTS = (oa.Account(id="A", nav=1e8, metrics={"spread_duration": 5.0}),)

    @pytest.mark.parametrize(
        ("params", "match"),
        [
            ({"metric": "beta"}, "metric='beta': the accounts do not carry it"),
            ({"metric": "oas"}, "metric='oas'"),
            ({"backend": "gurobi"}, "backend='gurobi'"),
            ({"weighting": "cap"}, "weighting='cap'"),
            ({"tol": 0}, "tol=0"),
        ],
    )
    def test_named(self, params: dict[str, object], match: str) -> None:
        """Each bad parameter raises InvalidParameterError naming it."""
        order = oa.Order(security=IG, side="BUY", quantity=2_000)
        with pytest.raises(oa.InvalidParameterError, match=match):
            oa.allocate(order, list(self.ACCOUNTS), method="min_dispersion", **params)

    def test_security_without_the_analytic(self) -> None:
        """A bond with no analytic for the metric is refused with what it has."""
        bond = oa.Security(id="NOAN", price=100.0, analytics={"duration": 3.0})
        order = oa.Order(security=bond, side="BUY", quantity=2_000)
        with pytest.raises(oa.InvalidParameterError, match="has no analytic"):
            oa.allocate(order, list(self.ACCOUNTS), method="min_dispersion")

    def test_unknown_metric_for_one_account(self) -> None:
        """An account without the metric is named."""
        accounts = [*self.ACCOUNTS, oa.Account(id="B", nav=1e8)]
        order = oa.Order(security=IG, side="BUY", quantity=2_000)
        with pytest.raises(oa.InvalidParameterError, match=r"accounts\['B'\]"):
            oa.allocate(order, accounts, method="min_dispersion")


class TestReasons:
    """Every min-dispersion line says why."""

    def test_accounts_left_out_say_why(self) -> None:
        """Accounts already above the group get NOT_NEEDED; the low one gets the bond."""
        accounts = [
            oa.Account(id="LOW", nav=1e8, cash=1e8, metrics={"spread_duration": 3.0}),
            oa.Account(id="HIGH", nav=1e8, cash=1e8, metrics={"spread_duration": 7.0}),
        ]
        order = oa.Order(security=IG, side="BUY", quantity=1_000_000)
        result = oa.allocate(order, accounts, method="min_dispersion")
        assert result.quantities == {"LOW": 1_000_000, "HIGH": 0}
        assert result.reasons["HIGH"] is oa.Reason.NOT_NEEDED
        assert result.reasons["LOW"] is oa.Reason.DISPERSION_TARGET
        assert "away from the group" in result.line("HIGH").message
