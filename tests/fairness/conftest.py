"""Fixtures for the fairness tests: a year of trading through the desk, biased and fair."""

from __future__ import annotations

import pytest
from _year import FAVOURED, GROUP, YEAR, Year, trade_year


@pytest.fixture(name="biased_year", scope="session")
def _biased_year() -> Year:
    """250 orders allocated by the cherry-picking engine in favour of OPN-05."""
    return trade_year(
        group=GROUP, days=YEAR, method="favour", params={"favoured": FAVOURED}, seed=11
    )


@pytest.fixture(name="fair_year", scope="session")
def _fair_year() -> Year:
    """250 orders allocated pro rata by the library's own engine."""
    return trade_year(group=GROUP, days=YEAR, seed=12)
