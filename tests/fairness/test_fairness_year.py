"""A year through the desk: the cherry-picker is caught, pro rata is not, the numbers add up."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from _year import FAVOURED, GROUP, Year

from orderalloc.audit import EventKind
from orderalloc.fairness import FairnessReport, analyse_fairness

PERMUTATIONS = 9_999


@pytest.fixture(name="biased", scope="module")
def _biased(biased_year: Year) -> FairnessReport:
    """The report of the cherry-picked year, with the next day's prices."""
    desk, _, later = biased_year
    return analyse_fairness(desk.sink, GROUP, prices=later, permutations=PERMUTATIONS, seed=1)


@pytest.fixture(name="fair", scope="module")
def _fair(fair_year: Year) -> FairnessReport:
    """The report of the pro-rata year, with the next day's prices."""
    desk, _, later = fair_year
    return analyse_fairness(desk.sink, GROUP, prices=later, permutations=PERMUTATIONS, seed=1)


class TestPermutationTest:
    """Random reallocations of the same fills tell favouritism from luck."""

    def test_year_is_big_enough(self, biased: FairnessReport) -> None:
        """Hundreds of orders, dozens of accounts, most filled in part."""
        t = biased.trail
        assert t.n_orders == 250
        assert t.n_accounts == 37
        assert biased.records()["partial_orders"] >= 200

    def test_cherry_picker_flagged(self, biased: FairnessReport) -> None:
        """The favoured account gets the winners at p < 0.01, and is the only one flagged."""
        assert biased.permutation is not None
        i = biased.account_ids.index(FAVOURED)
        assert biased.permutation.p_value[i] < 0.01
        assert biased.permutation.p_holm[i] < 0.01
        assert biased.flagged() == (FAVOURED,)
        assert biased.permutation.excess[i] > 0

    def test_pro_rata_not_flagged(self, fair: FairnessReport) -> None:
        """The library's own allocations flag nobody, even before adjusting for 37 tests."""
        assert fair.permutation is not None
        assert fair.flagged() == ()
        assert float(np.nanmin(fair.permutation.p_holm)) > 0.01
        i = fair.account_ids.index(FAVOURED)
        assert fair.permutation.p_value[i] > 0.05

    def test_same_seed_same_p_values(self, fair_year: Year, fair: FairnessReport) -> None:
        """A reviewer who reruns the test with the stated seed gets the same p-values."""
        desk, _, later = fair_year
        again = analyse_fairness(desk.sink, GROUP, prices=later, permutations=PERMUTATIONS, seed=1)
        assert again.permutation is not None
        assert fair.permutation is not None
        np.testing.assert_array_equal(again.permutation.p_value, fair.permutation.p_value)

    def test_null_moments_match_the_draws(self, fair: FairnessReport) -> None:
        """The exact null mean lies inside the drawn quantiles of every account."""
        perm = fair.permutation
        assert perm is not None
        assert np.all(perm.quantiles[:, 0] <= perm.null_mean + 1e-6)
        assert np.all(perm.null_mean <= perm.quantiles[:, -1] + 1e-6)


def _independent(year: Year) -> dict[str, dict[str, float]]:
    """Fill statistics computed from the raw fills, the booked trades and the committed intent."""
    desk, mock, _ = year
    intents: dict[str, dict[str, float]] = {}
    for event in desk.sink.events(kinds={EventKind.COMMITTED}):
        assert event.order_id is not None
        result = desk.get_preview(event.allocation_id).result
        intents[event.order_id] = {
            a: q for a, q in zip(result.account_ids, result.quantity.tolist(), strict=True) if q > 0
        }
    got: dict[str, dict[str, float]] = defaultdict(dict)
    for trade in mock.trades():
        assert trade.order_id is not None
        for line in trade.lines:
            got[trade.order_id][line.account_id] = (
                got[trade.order_id].get(line.account_id, 0.0) + line.quantity
            )
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for order_id, intent in intents.items():
        executed = math.fsum(f.quantity for f in mock.fills(order_id))
        placed = math.fsum(got[order_id].values())
        assert placed == pytest.approx(executed)  # every executed face was booked
        total = math.fsum(intent.values())
        partial = placed < total
        for a, want in intent.items():
            q = got[order_id].get(a, 0.0)
            row = out[a]
            row["intent"] += want
            row["filled"] += q
            row["shortfall"] += want / total * placed - q
            row["zero_fills"] += float(partial and q == 0)
    return out


class TestAgainstRawFills:
    """Fill rates, shortfalls and zero fills equal those computed from the raw fills."""

    @pytest.mark.parametrize("which", ["biased", "fair"])
    def test_fill_rates_and_shortfalls(self, which: str, request: pytest.FixtureRequest) -> None:
        """Every account's fill rate, shortfall and zero-fill count, from the booked trades."""
        year: Year = request.getfixturevalue(f"{which}_year")
        report: FairnessReport = request.getfixturevalue(which)
        want = _independent(year)
        cols = report.columns()
        assert sorted(want) == list(cols["account_id"])
        for i, a in enumerate(cols["account_id"]):
            w = want[a]
            np.testing.assert_allclose(cols["intent"][i], w["intent"])
            np.testing.assert_allclose(cols["filled"][i], w["filled"])
            np.testing.assert_allclose(cols["fill_rate"][i], w["filled"] / w["intent"])
            np.testing.assert_allclose(cols["shortfall"][i], w["shortfall"], atol=1e-3)
            assert cols["zero_fills"][i] == w["zero_fills"]
        assert int(np.sum(cols["zero_fills"])) > 0  # new issues leave small accounts out

    def test_shortfall_path_ends_at_the_total(self, fair: FairnessReport) -> None:
        """The cumulative shortfall over time ends at each account's total shortfall."""
        np.testing.assert_allclose(fair.shortfall_path[-1], fair.stats["shortfall"], atol=1e-6)

    def test_pro_rata_shortfall_is_bounded(self, fair: FairnessReport) -> None:
        """Under the rotation no account ends more than a few lots behind its entitlement."""
        assert float(np.max(np.abs(fair.shortfall_path))) < 0.05 * float(
            np.max(fair.stats["entitled"])
        )


class TestMethodDeviation:
    """Each method's distance from NAV pro rata shows where the cherry-picker tilted."""

    def test_favoured_account_deviates(self, biased: FairnessReport, fair: FairnessReport) -> None:
        """The cherry-picker moves more face away from NAV pro rata than the pro-rata engine."""
        assert biased.methods["favour"]["moved_pct"] > fair.methods["pro_rata"]["moved_pct"]
        i = biased.account_ids.index(FAVOURED)
        assert abs(biased.stats["deviation_pct"][i]) > 0.05
