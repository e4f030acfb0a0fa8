"""Switches: the accounts that sell A buy B with the proceeds, neutral where lots allow."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import orderalloc as oa
from orderalloc.testing import check_allocation

OLD = oa.Security(
    id="OLD",
    price=101.0,
    accrued=0.5,
    min_piece=1_000,
    increment=1_000,
    analytics={"spread_duration": 4.0, "duration": 4.5},
)
NEW = oa.Security(
    id="NEW",
    price=96.0,
    min_piece=1_000,
    increment=1_000,
    analytics={"spread_duration": 6.0, "duration": 7.5},
)


def group(holdings: list[float], cash: float | None = 0.0) -> list[oa.Account]:
    """Accounts holding OLD, with little or no cash of their own."""
    return [
        oa.Account(
            id=f"ACC{i:03d}",
            nav=50e6 * (1 + i),
            cash=cash,
            holdings={"OLD": h},
            metrics={"spread_duration": 5.0 + 0.1 * i, "duration": 6.0 - 0.1 * i},
        )
        for i, h in enumerate(holdings)
    ]


class TestSwitch:
    """The buy leg follows the sell leg account by account."""

    @given(
        holdings=st.lists(st.sampled_from([0.0, 5e4, 2.5e5, 1e6, 3e6]), min_size=1, max_size=12),
        fraction=st.floats(0.05, 1.0),
        neutral=st.sampled_from([None, "duration", "spread_duration"]),
        data=st.data(),
    )
    def test_pairing_per_account(
        self, holdings: list[float], fraction: float, neutral: str | None, data: st.DataObject
    ) -> None:
        """Each account buys its proceeds' worth (or metric-neutral amount) of B, within a lot."""
        accounts = group(holdings)
        held = sum(holdings)
        quantity = max(1_000.0, round(held * fraction / 1_000) * 1_000)
        switch = oa.Switch(
            sell=oa.Order(security=OLD, side="SELL", quantity=quantity), buy=NEW, neutral=neutral
        )
        shuffled = data.draw(st.permutations(accounts))
        basket = oa.allocate_basket([], shuffled, "pro_rata", switches=[switch])
        sell = basket.result("OLD")
        check_allocation(sell, shuffled)
        if sell.allocated == 0:
            assert len(basket.results) == 1
            assert any("nothing is bought" in w for w in basket.warnings)
            return
        buy = basket.result("NEW")
        # Cash is zero: the buy is paid by the sale, so it is checked against the proceeds.
        funded = [
            oa.Account(id=a.id, nav=a.nav, cash=float(p), holdings=a.holdings, metrics=a.metrics)
            for a, p in zip(shuffled, basket.proceeds, strict=True)
        ]
        check_allocation(buy, funded)
        assert buy.allocated == buy.requested  # the leg's total is exact by construction
        wanted = sell.quantity * switch.ratio
        cap = basket.proceeds / NEW.cash_per_face
        # Within one increment of the wanted face, unless the proceeds cap it.
        short = np.minimum(wanted, cap) - buy.quantity
        assert np.all(np.abs(short) <= NEW.increment + 1e-9 * wanted)
        if neutral is not None:
            before, after = basket.pre_metrics[neutral], basket.post_metrics[neutral]
            lot_move = (
                NEW.increment
                * NEW.cash_per_face
                * NEW.analytics[neutral]
                / np.array([a.nav for a in shuffled])
            )
            uncapped = wanted <= cap
            assert np.all(np.abs(after - before)[uncapped] <= lot_move[uncapped] * (1 + 1e-9))

    def test_value_neutral_reinvests_the_proceeds(self) -> None:
        """Market-value neutral: every account spends its proceeds, to less than one lot."""
        accounts = group([1e6, 2e6, 5e5])
        switch = oa.Switch(sell=oa.Order(security=OLD, side="SELL", quantity=3_500_000), buy=NEW)
        basket = oa.allocate_basket([], accounts, switches=[switch])
        left = basket.cash_after
        assert np.all(left >= 0)
        assert np.all(left < NEW.increment * NEW.cash_per_face)

    def test_switch_with_other_orders_shares_cash(self) -> None:
        """A switch's buy leg is paid first from its proceeds; other buys share what is left."""
        accounts = group([1e6, 1e6], cash=100_000.0)
        other = oa.Security(id="ZZZ", price=100.0, min_piece=1_000, increment=1_000)
        switch = oa.Switch(sell=oa.Order(security=OLD, side="SELL", quantity=2_000_000), buy=NEW)
        buy = oa.Order(security=other, side="BUY", quantity=1_000_000)
        basket = oa.allocate_basket([buy], accounts, switches=[switch])
        assert [r.order.security.id for r in basket.results] == ["ZZZ", "OLD", "NEW"]
        assert basket.result("NEW").allocated > 0
        assert np.all(basket.cash_after >= -1e-6)
        assert basket.result("ZZZ").allocated <= 200_000

    def test_bad_switches(self) -> None:
        """A buy order as the sell leg, the same bond twice, or a missing analytic is refused."""
        with pytest.raises(oa.InvalidOrderError, match=r"switch\.sell\.side"):
            oa.Switch(sell=oa.Order(security=OLD, side="BUY", quantity=1_000), buy=NEW)
        with pytest.raises(oa.InvalidOrderError, match=r"switch\.buy"):
            oa.Switch(sell=oa.Order(security=OLD, side="SELL", quantity=1_000), buy=OLD)
        bare = oa.Security(id="BARE", price=100.0)
        with pytest.raises(oa.InvalidParameterError, match="OLD"):
            oa.Switch(
                sell=oa.Order(security=OLD, side="SELL", quantity=1_000), buy=bare, neutral="oas"
            )

    def test_json_round_trip(self) -> None:
        """A switch survives to_json / from_json."""
        switch = oa.Switch(
            sell=oa.Order(security=OLD, side="SELL", quantity=1_000), buy=NEW, neutral="duration"
        )
        assert oa.from_json(oa.to_json(switch), oa.Switch) == switch
