"""Where accounts, securities and orders come from.

Layout: ``protocol`` (the `DataSource` / `AsyncDataSource` ports and the
optional `TradeSource` / `AsyncTradeSource` capability), ``orders``
(order-operation values), ``trades`` (executions and block trades), ``mock``
(`MockAladdin`, deterministic, in memory), ``aladdin/`` (the httpx clients for
BlackRock's Aladdin APIs).
`default_source` picks Aladdin when credentials are in the environment and the
mock otherwise.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from orderalloc.sources.mock import WELL_KNOWN, AsyncMockAladdin, MockAladdin
from orderalloc.sources.orders import (
    ComplianceViolation,
    OrderLine,
    OrderStatus,
    OrderTicket,
    PostedOrder,
    WhatIfReport,
)
from orderalloc.sources.protocol import AsyncDataSource, AsyncTradeSource, DataSource, TradeSource
from orderalloc.sources.trades import BookedTrade, Execution, TradeLine, TradeStatus, TradeTicket

__all__ = [
    "WELL_KNOWN",
    "AsyncDataSource",
    "AsyncMockAladdin",
    "AsyncTradeSource",
    "BookedTrade",
    "ComplianceViolation",
    "DataSource",
    "Execution",
    "MockAladdin",
    "OrderLine",
    "OrderStatus",
    "OrderTicket",
    "PostedOrder",
    "TradeLine",
    "TradeSource",
    "TradeStatus",
    "TradeTicket",
    "WhatIfReport",
    "default_source",
    "describe_source",
]

logger = logging.getLogger("orderalloc.sources")


def default_source(
    environ: Mapping[str, str] | None = None, *, scenario: str = "default"
) -> DataSource:
    """The real Aladdin client when credentials are in the environment, else `MockAladdin`.

    Credentials mean ``ALADDIN_HOST``, ``ALADDIN_API_KEY`` and either
    ``ALADDIN_CLIENT_ID`` + ``ALADDIN_CLIENT_SECRET`` or ``ALADDIN_USERNAME`` +
    ``ALADDIN_PASSWORD`` (see `AladdinConfig.from_env`). The choice is logged
    at INFO on the ``orderalloc.sources`` logger; `describe_source` says it in words.

    Args:
        environ: The environment to read (default ``os.environ``).
        scenario: The `MockAladdin` scenario when the mock is chosen.

    Raises:
        AladdinConfigError: Credentials are present but a setting is invalid.
    """
    env = os.environ if environ is None else environ
    from orderalloc.sources.aladdin.config import AladdinConfig

    source: DataSource
    if AladdinConfig.credentials_in_env(env):
        from orderalloc.sources.aladdin.client import AladdinClient

        source = AladdinClient(AladdinConfig.from_env(env))
    else:
        source = MockAladdin(scenario=scenario)
    logger.info("data source: %s", describe_source(source))
    return source


def describe_source(source: object) -> str:
    """A one-line, secret-free description of *source* (its ``description`` or its type)."""
    description = getattr(source, "description", None)
    if isinstance(description, str):
        return description
    return type(source).__name__
