"""Properties of every allocation: legal, complete, within cash, holdings and limits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import orderalloc as oa
from orderalloc.limits import trade_bounds
from orderalloc.testing import check_allocation
from orderalloc.testing import strategies as oast

METHODS = ["pro_rata"]


def legal_options(bounds: oa.limits.TradeBounds, i: int) -> list[float]:
    """Every legal amount of account *i* (small cases only)."""
    m, d = bounds.min_piece, bounds.increment
    opts = [0.0]
    if bounds.klo[i] <= bounds.khi[i]:
        opts += [m + k * d for k in range(int(bounds.klo[i]), int(bounds.khi[i]) + 1)]
    if bounds.kx[i] >= 0:
        opts.append(m + int(bounds.kx[i]) * d)
    return sorted(set(opts))


def best_placeable(order: oa.Order, accounts: list[oa.Account]) -> float:
    """The largest legal total <= the order, by brute force over every combination."""
    bounds = trade_bounds(order, oa.as_table(accounts))
    reachable = {0.0}
    for i in range(len(accounts)):
        opts = legal_options(bounds, i)
        reachable = {r + o for r in reachable for o in opts if r + o <= order.quantity}
    return max(reachable)


class TestInvariants:
    """Every hard rule holds for every generated order and group."""

    @pytest.mark.parametrize("method", METHODS)
    @given(case=oast.allocation_cases(max_accounts=25))
    def test_every_invariant(self, method: str, case: tuple[oa.Order, list[oa.Account]]) -> None:
        """Legal pieces, cash, holdings, stubs, restrictions, limits and the total all hold."""
        order, accounts = case
        result = oa.allocate(order, accounts, method=method)
        check_allocation(result, accounts)

    @given(case=oast.allocation_cases(max_accounts=25, columns=True))
    def test_columns_and_objects_agree(self, case: tuple[oa.Order, oa.AccountTable]) -> None:
        """Accounts given as columns allocate exactly like the same accounts as objects."""
        order, table = case
        from_table = oa.allocate(order, table)
        from_objects = oa.allocate(order, table.to_accounts())
        np.testing.assert_array_equal(from_table.quantity, from_objects.quantity)


class TestMaximalPlacement:
    """No legal split places more of the order than ours (brute force on small groups)."""

    @settings(max_examples=300)
    @given(
        case=oast.allocation_cases(
            max_accounts=4,
            max_quantity=40_000,
            min_nav=5e6,
            max_nav=5e7,
            cash_fraction=(0.0, 0.002),
        )
    )
    def test_no_legal_split_places_more(self, case: tuple[oa.Order, list[oa.Account]]) -> None:
        """The brute-force maximum of legal totals never beats the allocated total."""
        order, accounts = case
        bounds = trade_bounds(order, oa.as_table(accounts))
        sizes = [len(legal_options(bounds, i)) for i in range(len(accounts))]
        if np.prod(sizes) > 200_000:
            return
        result = oa.allocate(order, accounts)
        assert result.allocated == best_placeable(order, accounts)


class TestPermutation:
    """Amounts do not depend on where an account stands in the input list."""

    @given(case=oast.allocation_cases(max_accounts=12), data=st.data())
    def test_permuted_input_same_amounts(
        self, case: tuple[oa.Order, list[oa.Account]], data: st.DataObject
    ) -> None:
        """Shuffling the accounts gives every account the same amount."""
        order, accounts = case
        perm = data.draw(st.permutations(accounts))
        a = oa.allocate(order, accounts).quantities
        b = oa.allocate(order, perm).quantities
        assert a == b


def test_brute_force_helper_counts_combinations() -> None:
    """The brute-force reference itself finds a known optimum (2,000 + 3,000 = 5,000)."""
    bond = oa.Security(id="B", price=100.0, min_piece=2_000, increment=1_000)
    accounts = [
        oa.Account(id="A", nav=1e6, cash=3_000),
        oa.Account(id="C", nav=1e6, cash=2_000),
    ]
    order = oa.Order(security=bond, side="BUY", quantity=5_000)
    assert best_placeable(order, accounts) == 5_000
