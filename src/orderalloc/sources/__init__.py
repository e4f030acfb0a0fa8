"""Where accounts, securities and orders come from.

Layout: ``protocol`` (the `DataSource` / `AsyncDataSource` ports and the
optional `TradeSource` / `AsyncTradeSource` capability), ``orders``
(order-operation values), ``trades`` (executions and block trades), ``mock``
(`MockAladdin`, deterministic, in memory), ``aladdin/`` (the httpx clients for
BlackRock's Aladdin APIs).
`default_source` builds the source asked for (``auto``: Aladdin when
credentials are in the environment, the mock when none are, and says which).
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap
from collections.abc import Mapping

from orderalloc.errors import InvalidInputError
from orderalloc.sources.mock import WELL_KNOWN, AsyncMockAladdin, MockAladdin
from orderalloc.sources.orders import (
    ComplianceViolation,
    OrderLine,
    OrderStatus,
    OrderTicket,
    PostedOrder,
    WhatIfReport,
)
from orderalloc.sources.protocol import (
    AsyncDataSource,
    AsyncTradeSource,
    BatchOrderSource,
    DataSource,
    TradeSource,
)
from orderalloc.sources.trades import BookedTrade, Execution, TradeLine, TradeStatus, TradeTicket

__all__ = [
    "SOURCE_KINDS",
    "WELL_KNOWN",
    "AsyncDataSource",
    "AsyncMockAladdin",
    "AsyncTradeSource",
    "BatchOrderSource",
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
    "source_stamp",
]

logger = logging.getLogger("orderalloc.sources")


#: What `default_source` (and ``orderalloc --source``) accepts.
SOURCE_KINDS = ("auto", "mock", "aladdin")


def default_source(
    kind: str | Mapping[str, str] = "auto",
    environ: Mapping[str, str] | None = None,
    *,
    scenario: str = "default",
    orders_path: str | os.PathLike[str] | None = None,
) -> DataSource:
    """The data source of *kind*: ``"aladdin"``, ``"mock"``, or ``"auto"`` (the default).

    * ``"aladdin"``: the real client; credentials must be complete, else
      `AladdinConfigError` names each missing variable. Never the mock.
    * ``"mock"``: `MockAladdin` (*scenario*, *orders_path*).
    * ``"auto"``: Aladdin when the environment holds complete credentials,
      the mock when it holds none. Half of them (a host without a key, a
      client id without its secret) is an error, as for ``"aladdin"``: it
      is never silently the mock. The choice is written on stderr, every
      time, and logged at INFO on ``orderalloc.sources``.

    Credentials mean ``ALADDIN_HOST``, ``ALADDIN_API_KEY`` and either
    ``ALADDIN_CLIENT_ID`` + ``ALADDIN_CLIENT_SECRET`` or ``ALADDIN_USERNAME`` +
    ``ALADDIN_PASSWORD`` (see `AladdinConfig.from_env`). Exactly one source is
    built; close it (``close()``) when done.

    Args:
        kind: ``"auto"``, ``"aladdin"`` or ``"mock"``. (A mapping here is read
            as *environ*, as in earlier versions: ``default_source(env)``.)
        environ: The environment to read (default ``os.environ``).
        scenario: The `MockAladdin` scenario when the mock is chosen.
        orders_path: The mock's order-book file (see `MockAladdin`).

    Raises:
        AladdinConfigError: Aladdin was asked for (or credentials are half
            there) and a variable is missing, or a setting is invalid.
        InvalidInputError: *kind* is not one of `SOURCE_KINDS`.

    .. versionchanged:: 0.2
       *kind*; half-given credentials are an error; ``auto`` says its choice on stderr.
    """
    if not isinstance(kind, str):  # default_source(env), the earlier signature
        environ, kind = kind, "auto"
    if kind not in SOURCE_KINDS:
        raise InvalidInputError("source", kind, f"must be one of {', '.join(SOURCE_KINDS)}")
    env = os.environ if environ is None else environ
    from orderalloc.sources.aladdin.config import AladdinConfig
    from orderalloc.sources.aladdin.errors import AladdinConfigError

    use_aladdin = kind == "aladdin" or (
        kind == "auto" and AladdinConfig.any_credentials_in_env(env)
    )
    source: DataSource
    if use_aladdin:
        missing = AladdinConfig.missing_credentials(env)
        if missing:
            how = "" if kind == "aladdin" else " (set them all, or pass --source mock)"
            raise AladdinConfigError(
                f"source {kind!r}: Aladdin needs {', '.join(missing)}: not set{how}"
            )
        from orderalloc.sources.aladdin.client import AladdinClient

        source = AladdinClient(AladdinConfig.from_env(env))
        why = "ALADDIN_* credentials are set"
    else:
        source = MockAladdin(scenario=scenario, orders_path=orders_path)
        why = "no ALADDIN_* credentials are set" if kind == "auto" else "asked for"
    logger.info("data source: %s (%s)", describe_source(source), why)
    if kind == "auto":
        # A notice for a terminal: wrapped to 80 columns like everything the CLI prints.
        notice = f"orderalloc: data source: {describe_source(source)} (auto: {why})"
        print(textwrap.fill(notice, width=80, subsequent_indent="  "), file=sys.stderr)
    return source


def source_stamp(source: object) -> dict[str, str | None]:
    """What the audit trail records about *source*: its ``kind`` and ``host``.

    ``{"kind": "aladdin", "host": "https://acme.blackrock.com"}``, ``{"kind":
    "mock", "host": None}``, or for another source its type name. A wrapper
    with an ``inner`` source (`~orderalloc.testing.FaultySource`) reports
    the source it wraps, so mock and real activity in one trail never mix.
    """
    inner = getattr(source, "inner", None)
    if inner is not None and inner is not source:
        return source_stamp(inner)
    from orderalloc.sources.aladdin.client import AladdinClient, AsyncAladdinClient

    if isinstance(source, (AladdinClient, AsyncAladdinClient)):
        return {"kind": "aladdin", "host": source.config.base_url}
    if isinstance(source, (MockAladdin, AsyncMockAladdin)):
        return {"kind": "mock", "host": None}
    return {"kind": type(source).__name__, "host": None}


def describe_source(source: object) -> str:
    """A one-line, secret-free description of *source* (its ``description`` or its type)."""
    description = getattr(source, "description", None)
    if isinstance(description, str):
        return description
    return type(source).__name__
