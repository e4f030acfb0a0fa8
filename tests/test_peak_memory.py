"""A large allocation's peak memory stays within a few times its numeric input (issue 15)."""

from __future__ import annotations

import tracemalloc
from typing import Any

import orderalloc as oa
from orderalloc.testing.strategies import random_table

BOND = oa.Security(
    id="IGBENCH",
    price=97.25,
    accrued=1.1,
    min_piece=2_000,
    increment=1_000,
    analytics={"spread_duration": 6.5, "duration": 7.0},
)


def test_min_dispersion_peak_within_four_times_the_input() -> None:
    """Min dispersion of 100,000 accounts from a dict of columns peaks below 4x its input bytes."""
    n = 100_000
    table = random_table(n, security=BOND, seed=n)
    columns: dict[str, Any] = {
        "ids": list(table.ids),
        "nav": table.nav,
        "cash": table.cash,
        "holdings": dict(table.holdings),
        "metrics": dict(table.metrics),
        "restricted": dict(table.restricted),
    }
    numeric = [table.nav, table.cash, *table.holdings.values(), *table.metrics.values()]
    numeric += list(table.restricted.values())
    input_bytes = sum(a.nbytes for a in numeric if a is not None)
    order = oa.Order(security=BOND, side="BUY", quantity=2e9)
    oa.allocate(order, columns, method="min_dispersion")  # imports and caches first
    tracemalloc.start()
    try:
        result = oa.allocate(order, columns, method="min_dispersion")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.allocated == 2e9
    assert peak <= 4 * input_bytes, f"peak {peak / input_bytes:.2f}x the numeric input"
