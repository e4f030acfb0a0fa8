"""Helpers shared by the data-source tests."""

from __future__ import annotations

import numpy as np

from orderalloc import AccountTable


def assert_tables_equal(got: object, want: object, security_id: str) -> None:
    """Two AccountTables hold the same accounts and data (metrics to 1e-12)."""
    assert isinstance(got, AccountTable)
    assert isinstance(want, AccountTable)
    assert got.ids == want.ids
    assert got.names == want.names
    np.testing.assert_array_equal(got.nav, want.nav)
    np.testing.assert_array_equal(got.cash, want.cash)
    np.testing.assert_array_equal(got.holding(security_id), want.holding(security_id))
    np.testing.assert_array_equal(got.is_restricted(security_id), want.is_restricted(security_id))
    assert set(got.metrics) == set(want.metrics)
    for name, column in want.metrics.items():
        np.testing.assert_allclose(got.metrics[name], column, rtol=1e-12, atol=1e-12)
