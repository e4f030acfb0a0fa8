"""A large allocation's peak memory stays within a few times its numeric input (issue 15)."""

from __future__ import annotations

import tracemalloc

import orderalloc as oa
from orderalloc.testing.strategies import random_table
from reference_cases import IG_BOND, _columns


def test_min_dispersion_peak_within_four_times_the_input() -> None:
    """Min dispersion of 100,000 accounts from a dict of columns peaks below 4x its input bytes."""
    n = 100_000
    table = random_table(n, security=IG_BOND, seed=n)
    columns = _columns(table)
    numeric = [table.nav, table.cash, *table.holdings.values(), *table.metrics.values()]
    numeric += list(table.restricted.values())
    input_bytes = sum(a.nbytes for a in numeric if a is not None)
    order = oa.Order(security=IG_BOND, side="BUY", quantity=2e9)
    oa.allocate(order, columns, method="min_dispersion")  # imports and caches first
    tracemalloc.start()
    try:
        result = oa.allocate(order, columns, method="min_dispersion")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.allocated == 2e9
    assert peak <= 4 * input_bytes, f"peak {peak / input_bytes:.2f}x the numeric input"
