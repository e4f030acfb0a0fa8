"""Fill allocation: every rule of issue 12, proved over generated cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _fill_checks import (
    cash_limited,
    check_fill_allocation,
    credits_after_each_fill,
    no_ticket_fits,
    permuted,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import orderalloc as oa
from orderalloc.fills import FillAllocation, FillReason

# (min piece, increment): retail, institutional, and 144A-sized pieces.
PIECES = [(1_000, 1_000), (2_000, 1_000), (5_000, 1_000), (25_000, 5_000), (200_000, 1_000)]


@st.composite
def fill_cases(draw: st.DrawFn, *, max_accounts: int = 1_000, max_fills: int = 20) -> dict:
    """An order, its group (as columns), its pre-trade intent and 1 to 20 fills."""
    m, d = draw(st.sampled_from(PIECES))
    side = draw(st.sampled_from(["BUY", "SELL"]))
    price = draw(st.floats(80.0, 120.0)).__round__(3)
    sec = oa.Security(
        id="BOND",
        price=price,
        min_piece=m,
        increment=d,
        accrued=draw(st.sampled_from([0.0, 1.375])),
        factor=draw(st.sampled_from([1.0, 1.0, 0.85])),
        asset_class="HY",
        analytics={"spread_duration": 4.0},
    )
    n = draw(st.one_of(st.integers(1, 12), st.integers(1, 60), st.integers(60, max_accounts)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    nav = np.exp(rng.uniform(math.log(5e6), math.log(2e9), n))
    units = rng.choice([0, 1, 2, 3, 7, 40, 400], size=n) * m
    held = np.where(rng.random(n) < 0.7, units + rng.choice([0, 0, d], size=n), 0.0)
    cash = nav * rng.uniform(0.0, 0.05, n)
    cash[rng.random(n) < 0.05] = np.nan
    table = oa.AccountTable(
        ids=[f"A{int(i):05d}" for i in rng.permutation(100_000)[:n]],
        nav=nav,
        cash=cash,
        holdings={"BOND": held},
        metrics={"spread_duration": rng.normal(5.0, 1.0, n)},
        restricted={"BOND": rng.random(n) < 0.05},
        max_face=np.where(rng.random(n) < 0.05, 10 * m, np.nan),
        min_allocation=np.where(rng.random(n) < 0.05, 3 * m, np.nan),
    )
    size = draw(st.integers(1, 400)) * m + draw(st.integers(0, 3)) * d
    order = oa.Order(security=sec, side=side, quantity=size)
    if draw(st.booleans()):
        intent = oa.allocate(order, table)
    else:  # intents as recorded by hand: any face, some not legal, some above bounds
        intent = {i: float(rng.integers(0, 50)) * d + rng.choice([0, m]) for i in table.ids}
    k = draw(st.integers(1, max_fills))
    fills = []
    for _ in range(k):
        kind = draw(st.sampled_from(["piece", "pieces", "chunk", "whole"]))
        if kind == "piece":
            q = m
        elif kind == "pieces":
            q = m * draw(st.integers(1, 5)) + d * draw(st.integers(0, 2))
        elif kind == "chunk":
            q = max(m, math.floor(size * draw(st.floats(0.01, 0.5)) / d) * d)
        else:
            q = size
        fills.append(oa.Fill(quantity=q, price=round(price + draw(st.floats(-2.0, 2.0)), 4)))
    return {"order": order, "table": table, "intent": intent, "fills": fills}


def _allocate(case: dict, **kw: object) -> FillAllocation:
    return oa.allocate_fills(
        case["order"], case["table"], intent=case["intent"], fills=case["fills"], **kw
    )


class TestRules:
    """Every rule holds on every generated case."""

    @given(case=fill_cases(), mode=st.sampled_from(["vwap", "per_fill"]))
    def test_every_rule(self, case: dict, mode: str) -> None:
        """Legal tickets and totals, intent never exceeded, cash, holdings, cents, bound."""
        fa = _allocate(case, price_mode=mode)
        table = case["table"]
        check_fill_allocation(fa, table)
        sec = case["order"].security
        m, d = sec.min_piece, sec.increment
        for k in range(len(fa.fills)):
            # Totals exact, or nothing more could legally be placed (cause reported).
            assert no_ticket_fits(fa, table, k), f"fill {k}: a legal ticket was left unplaced"
        # The rotation bound: no account that could still take a ticket is a
        # full move behind its exact share, beyond face given out of turn.
        credits = credits_after_each_fill(fa)[-1]
        x_total = sum(fa.out_of_turn)
        held = fa.quantity
        room = held < fa.target
        assert table.min_allocation is not None
        first = np.where(
            np.isnan(table.min_allocation),
            m,
            m + np.ceil(np.maximum(table.min_allocation - m, 0.0) / d) * d,
        )
        pos = np.maximum(np.floor(table.holding(sec.id)), 0.0)
        whole = np.where(case["order"].side is oa.Side.SELL, pos - held, 0.0)
        move = np.maximum(np.maximum(first, max(m, d)), whole)
        # Accounts whose cash stopped a move are outside the theorem (and say so).
        free = room & ~cash_limited(fa, table)
        assert np.all(credits[free] < move[free] + x_total + 1e-6)
        np.testing.assert_allclose(credits, fa.credit, atol=1e-6)

    @given(case=fill_cases(max_accounts=200, max_fills=8), cut=st.integers(0, 8))
    def test_previous_extends_and_never_decreases(self, case: dict, cut: int) -> None:
        """Allocating fills in two calls (previous=) equals one call, and amounts only grow."""
        fills = case["fills"]
        cut = min(cut, len(fills))
        whole = _allocate(case)
        if cut == 0:
            first = None
        else:
            first = oa.allocate_fills(
                case["order"], case["table"], intent=case["intent"], fills=fills[:cut]
            )
        if first is None:
            second = whole
        else:
            second = oa.allocate_fills(
                case["order"], case["table"], fills=fills[cut:], previous=first
            )
            assert np.all(second.quantity >= first.quantity)
            for a, b in zip(first.tickets, second.tickets, strict=False):
                np.testing.assert_array_equal(a, b)
        for a, b in zip(whole.tickets, second.tickets, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(whole.principal, second.principal)
        assert whole.ledger == second.ledger

    @given(case=fill_cases(max_accounts=300, max_fills=6), data=st.data())
    def test_independent_of_input_order(self, case: dict, data: st.DataObject) -> None:
        """Permuting the accounts (with their ids) changes nothing for any account."""
        fa = _allocate(case, price_mode="per_fill")
        table = case["table"]
        perm = data.draw(st.permutations(range(len(table))))
        other = dict(case, table=permuted(table, perm))
        fb = _allocate(other, price_mode="per_fill")
        assert fb.quantities == fa.quantities
        assert fb.by_fill == fa.by_fill
        assert dict(zip(fb.account_ids, fb.principal.tolist(), strict=True)) == dict(
            zip(fa.account_ids, fa.principal.tolist(), strict=True)
        )
        assert fb.ledger == fa.ledger
        # Determinism: the same call gives the same answer.
        again = _allocate(case, price_mode="per_fill")
        assert again.by_fill == fa.by_fill

    @given(case=fill_cases(max_accounts=100, max_fills=5))
    def test_json_round_trip(self, case: dict) -> None:
        """A fill allocation read back from JSON is the same, and extends the same way."""
        fa = _allocate(case)
        back = oa.from_json(oa.to_json(fa), FillAllocation)
        assert back.quantities == fa.quantities
        assert back.by_fill == fa.by_fill
        assert back.fills == fa.fills
        assert back.ledger == fa.ledger
        np.testing.assert_array_equal(back.principal, fa.principal)
        np.testing.assert_array_equal(back.reason_codes, fa.reason_codes)
        more = [oa.Fill(quantity=case["order"].security.min_piece, price=100.0)]
        a = oa.allocate_fills(case["order"], case["table"], fills=more, previous=fa)
        b = oa.allocate_fills(case["order"], case["table"], fills=more, previous=back)
        assert a.by_fill == b.by_fill


class TestDeviation:
    """The disclosed deviation mode: min dispersion on what was filled."""

    @settings(max_examples=40)
    @given(case=fill_cases(max_accounts=60, max_fills=4))
    def test_deviation_is_legal_bounded_and_explained(self, case: dict) -> None:
        """Deviation tickets are legal, within intent, monotone, and every line says so."""
        fa = _allocate(case, method="deviation", deviation={"metric": "spread_duration"})
        check_fill_allocation(fa, case["table"])
        part = fa.target > 0
        assert np.all(
            fa.reason_codes[part & ~np.isin(fa.reason_codes, [FillReason.RESTRICTED.code])]
            == FillReason.DEVIATION.code
        )
        assert any("deviation" in w for w in fa.warnings)


class TestExamples:
    """The issue's own example, and edge cases, with exact numbers."""

    def test_two_fills_at_two_prices(self) -> None:
        """2MM at 99.10 then 6MM at 99.25 of a 25MM order: pro rata, one VWAP, cents exact."""
        bond = oa.Security(id="XS1", price=99.0, min_piece=2_000, increment=1_000)
        accounts = [oa.Account(id=f"P{i}", nav=(i + 1) * 100e6) for i in range(4)]
        order = oa.Order(security=bond, side="BUY", quantity=25_000_000)
        result = oa.allocate(order, accounts)
        fills = [oa.Fill(quantity=2_000_000, price=99.10), oa.Fill(quantity=6_000_000, price=99.25)]
        fa = oa.allocate_fills(order, accounts, intent=result, fills=fills)
        assert fa.quantities == {"P0": 800_000, "P1": 1_600_000, "P2": 2_400_000, "P3": 3_200_000}
        assert fa.by_fill[0] == {"P0": 200_000, "P1": 400_000, "P2": 600_000, "P3": 800_000}
        assert all(p == pytest.approx(99.2125) for p in fa.average_price.values())
        assert fa.unallocated == 0
        assert round(float(fa.principal.sum()), 2) == round(2e6 * 0.991 + 6e6 * 0.9925, 2)

        assert fa.line("P2")["quantity"] == 2_400_000
        with pytest.raises(oa.UnknownAccountError, match="account_id='P9'"):
            fa.line("P9")

    def test_overfill_is_reported(self) -> None:
        """A fill larger than the intent still unfilled leaves the excess with its cause."""
        bond = oa.Security(id="B", price=100.0, min_piece=1_000, increment=1_000)
        accounts = [oa.Account(id="A", nav=1e8), oa.Account(id="B", nav=1e8)]
        order = oa.Order(security=bond, side="BUY", quantity=10_000)
        fa = oa.allocate_fills(
            order,
            accounts,
            intent={"A": 5_000, "B": 5_000},
            fills=[oa.Fill(quantity=12_000, price=100)],
        )
        assert fa.quantities == {"A": 5_000, "B": 5_000}
        assert fa.unallocated == 2_000
        assert fa.unallocated_reason is not None
        assert "exceeds the intent" in fa.unallocated_reason

    def test_cash_at_the_fill_price(self) -> None:
        """Cash is checked at the fill's price; cash-capped lines say so; the rest is reported."""
        bond = oa.Security(id="B", price=79.0, min_piece=2_000, increment=1_000)
        accounts = [oa.Account(id="A", nav=1e8, cash=29_119.0), oa.Account(id="B", nav=1e8)]
        order = oa.Order(security=bond, side="BUY", quantity=94_000)
        intent = {"A": 47_000, "B": 47_000}
        fa = oa.allocate_fills(
            order, accounts, intent=intent, fills=[oa.Fill(quantity=94_000, price=80.0)]
        )
        assert fa.quantities == {"A": 36_000, "B": 47_000}  # 36,000 x 0.80 <= 29,119
        assert fa.reasons["A"] is FillReason.CAPPED_BY_CASH
        assert fa.unallocated == 11_000
        assert fa.unallocated_reason is not None
        assert "cash at 80" in fa.unallocated_reason

    def test_bad_inputs_name_the_field(self) -> None:
        """Unknown accounts, bad modes and bad fills raise errors naming field and value."""
        bond = oa.Security(id="B", price=100.0)
        accounts = [oa.Account(id="A", nav=1e8)]
        order = oa.Order(security=bond, side="BUY", quantity=10_000)
        fill = oa.Fill(quantity=1_000, price=100)
        with pytest.raises(oa.InvalidParameterError, match="intent\\['Z'\\]"):
            oa.allocate_fills(order, accounts, intent={"Z": 1_000}, fills=[fill])
        with pytest.raises(oa.InvalidParameterError, match="price_mode"):
            oa.allocate_fills(order, accounts, intent={"A": 1_000}, fills=[fill], price_mode="x")
        with pytest.raises(oa.InvalidParameterError, match="fills\\[0\\]"):
            oa.allocate_fills(order, accounts, intent={"A": 1_000}, fills=[1_000])  # type: ignore[list-item]
        with pytest.raises(oa.InvalidInputError, match=r"fill\.quantity"):
            oa.Fill(quantity=-5, price=100)
        with pytest.raises(oa.InvalidInputError, match=r"fill\.price"):
            oa.Fill(quantity=1_000, price=math.nan)
