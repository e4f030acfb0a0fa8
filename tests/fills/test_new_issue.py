"""New issues: IOIs as the intent, capped, an allotment split pro rata on the grid."""

from __future__ import annotations

import numpy as np
import pytest
from _fill_checks import check_fill_allocation

import orderalloc as oa

BOND = oa.Security(id="NEW", price=100.0, min_piece=2_000, increment=1_000, asset_class="IG")


class TestNewIssue:
    """IOIs become the intent; the allotment follows them."""

    def test_iois_capped_at_nav(self) -> None:
        """An IOI above the NAV cap is cut to the cap and the warning says by how much."""
        accounts = [oa.Account(id="BIG", nav=1e9), oa.Account(id="SMALL", nav=10e6)]
        order = oa.Order(security=BOND, side="BUY", quantity=10_000_000)
        nii = oa.new_issue_intent(
            order, accounts, {"BIG": 5_000_000, "SMALL": 5_000_000}, max_pct_nav=0.02
        )
        assert nii.intents == {"BIG": 5_000_000, "SMALL": 200_000}
        assert nii.capped.tolist() == [False, True]
        assert "capped at 2.00% of NAV" in nii.warnings[0]

    def test_allotment_far_below_the_order(self) -> None:
        """A 7% allotment is split pro rata to the IOIs on the lot grid, exactly."""
        rng = np.random.default_rng(5)
        n = 300
        table = oa.AccountTable(ids=[f"F{i:03d}" for i in range(n)], nav=rng.uniform(5e6, 2e9, n))
        iois = {i: float(rng.integers(1, 500)) * 10_000 for i in table.ids}
        nii = oa.new_issue_intent(
            oa.Order(security=BOND, side="BUY", quantity=1), table, iois, max_pct_nav=0.05
        )
        order = oa.Order(security=BOND, side="BUY", quantity=nii.total)
        allotment = round(nii.total * 0.07 / 1_000) * 1_000
        fa = oa.allocate_fills(
            order, table, intent=nii.intents, fills=[oa.Fill(quantity=allotment, price=99.5)]
        )
        check_fill_allocation(fa, table)
        assert fa.allocated == allotment
        share = fa.quantity / np.maximum(fa.target, 1)
        got = fa.quantity > 0
        assert share[got] == pytest.approx(0.07, abs=0.035)
        # Nobody is a full piece behind 7% of its IOI.
        assert np.all(fa.credit < BOND.min_piece)

    def test_bad_cap(self) -> None:
        """A cap outside (0, 1] names the parameter."""
        with pytest.raises(oa.InvalidParameterError, match="max_pct_nav"):
            oa.new_issue_intent(
                oa.Order(security=BOND, side="BUY", quantity=1),
                [oa.Account(id="A", nav=1e8)],
                {"A": 1_000},
                max_pct_nav=2,
            )
