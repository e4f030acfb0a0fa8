"""Fixtures for the fairness tests: a year of trading through the desk, biased and fair."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(name="fakesnow_kwargs", scope="session")
def _fakesnow_kwargs() -> Iterator[dict[str, Any]]:
    """Connection kwargs of a fakesnow server on 127.0.0.1."""
    fakesnow = pytest.importorskip("fakesnow")
    pytest.importorskip("snowflake.connector")
    logging.getLogger("fakesnow.server").setLevel(logging.CRITICAL)
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    with fakesnow.server() as kwargs:
        yield kwargs
