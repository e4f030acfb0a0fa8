"""The data-source ports: what an allocation needs from the outside world.

`DataSource` is the synchronous port and `AsyncDataSource` its ``async``
twin. The Aladdin client (`orderalloc.sources.aladdin`), the in-memory
`~orderalloc.sources.mock.MockAladdin` and any user adapter (a file, Aladdin
Data Cloud, an in-house system) implement them; engines and the desk depend
only on these Protocols, never on an adapter.

Identifiers: a *group* is a portfolio group ticker, an *account id* is a
portfolio ticker, a *security id* is the CUSIP / Aladdin asset id. Quantities
are original face.

**Caches.** A source that caches reads (the Aladdin client keeps a TTL cache)
takes ``fresh=True`` on ``groups``, ``accounts``, ``security`` and
``search_securities`` to skip it. The desk asks for fresh reads when it
re-checks inputs before a commit and when it re-allocates for a modification:
a change in cash or holdings since the preview must be seen. A source without
the keyword is called without it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from orderalloc._model import AccountTable, Security

from .orders import OrderTicket, PostedOrder, WhatIfReport
from .trades import BookedTrade, Execution, TradeTicket

__all__ = [
    "AsyncDataSource",
    "AsyncTradeSource",
    "BatchOrderSource",
    "DataSource",
    "TradeSource",
]


@runtime_checkable
class DataSource(Protocol):
    """**Protocol:** where accounts, securities and orders come from (synchronous).

    Implementations raise `~orderalloc.errors.NotFoundError` for an unknown
    group, security or order and another `~orderalloc.errors.DataSourceError`
    when they cannot answer.
    """

    def groups(self) -> tuple[str, ...]:
        """The portfolio groups this source can load, sorted."""
        ...

    def accounts(self, group: str, security_id: str) -> AccountTable:
        """Every account of *group*, ready to allocate *security_id*.

        The table holds, per account (leaf portfolio of the group, nested
        groups expanded):

        * ``nav``: NAV (intraday when known, else start of day);
        * ``cash``: cash available to settle a buy (NaN when unknown);
        * ``holdings[security_id]``: original face held, counting trades and
          open orders (Aladdin's ``SOD+Trades+Orders`` positions);
        * ``metrics``: at least ``spread_duration``, ``duration`` and ``oas``
          contributions (market-value-weighted sums over the holdings divided
          by NAV), plus ``active_spread_duration`` when the group has a
          benchmark;
        * ``restricted[security_id]``: True where the account must not receive it;
        * ``names``: display names.

        Raises:
            NotFoundError: No such group.
        """
        ...

    def security(self, security_id: str) -> Security:
        """The security with its price, accrued, factor, minimum piece and increment.

        ``analytics`` holds at least ``spread_duration``, ``duration`` and
        ``oas``, and where known ``convexity``, ``ytw``, ``modified_duration``
        and ``z_spread``.

        Raises:
            NotFoundError: No such security.
        """
        ...

    def search_securities(self, query: str, *, limit: int = 20) -> tuple[Security, ...]:
        """Securities whose id starts with *query* or whose ticker is *query*.

        Case-insensitive, sorted by id, at most *limit* results (empty when
        nothing matches).
        """
        ...

    def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        """Run pre-trade compliance on *ticket* without booking anything.

        Safe to call any number of times: nothing is created.
        """
        ...

    def post_order(self, ticket: OrderTicket) -> PostedOrder:
        """Create the order; it is live (``OPEN``) when this returns.

        Not idempotent by itself: when the outcome of a post is unknown (a
        timeout, a 5xx), call `find_order` with the ticket's ``external_id``
        before posting again.

        Raises:
            DataSourceError: The order was refused or could not be sent.
        """
        ...

    def find_order(self, external_id: str) -> PostedOrder | None:
        """The order posted with *external_id*, or None.

        When several orders carry the id (a cancelled one, then a new one),
        the live one wins, then the most recent.
        """
        ...

    def get_order(self, order_id: str) -> PostedOrder:
        """The order with the order system's id *order_id*.

        Raises:
            NotFoundError: No such order.
        """
        ...

    def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        """Replace the lines (and comment, settle date) of a live order.

        The security and side must stay the same; the ``version`` of the
        answer is higher than before.

        Raises:
            NotFoundError: No such order.
            DataSourceError: The order is not live or the change was refused.
        """
        ...

    def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        """Cancel a live order, recording *reason*; the answer's status is ``CANCELLED``.

        Raises:
            NotFoundError: No such order.
            DataSourceError: The order is not live or the cancel was refused.
        """
        ...


@runtime_checkable
class BatchOrderSource(Protocol):
    """**Protocol:** many orders posted in one request, an optional capability of a `DataSource`.

    Aladdin's ``orders:batchPost`` (the client splits the tickets into
    requests of at most 1,000 and waits for each long-running operation);
    the mock posts them one after the other. A basket commit
    (`~orderalloc.desk.BasketDesk`) uses it where the source has it, and
    ``post_order`` per ticket where not.

    .. versionadded:: 0.1
    """

    def post_orders(self, tickets: Sequence[OrderTicket]) -> tuple[PostedOrder, ...]:
        """Create every order; the answers in the tickets' order.

        Not idempotent, and not atomic: when it raises, any of the orders
        may have been created. Look each one up with ``find_order`` (its
        ``external_id``) before posting it again.

        Raises:
            DataSourceError: An order was refused, or the request failed.
        """
        ...


@runtime_checkable
class TradeSource(Protocol):
    """**Protocol:** executions and trade booking, an optional capability of a `DataSource`.

    A source that can report the fills of an order and book the block trade
    that allocates them implements these four methods besides `DataSource`'s;
    the desk checks ``isinstance(source, TradeSource)`` before post-trade work.
    Quantities are original face, prices clean per 100.

    .. versionadded:: 0.1
    """

    def fills(self, order_id: str) -> tuple[Execution, ...]:
        """The executions of order *order_id* so far, oldest first (empty if none).

        Raises:
            NotFoundError: No such order.
        """
        ...

    def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        """Book the block trade with its per-account trades; active when this returns.

        Not idempotent by itself: when the outcome is unknown (a timeout, a
        5xx), call `find_trade` with the ticket before booking again.

        Raises:
            DataSourceError: The trade was refused or could not be sent.
        """
        ...

    def find_trade(self, ticket: TradeTicket) -> BookedTrade | None:
        """The trade booked for *ticket* (matched by its ``external_id``), or None.

        When several carry the id (a cancelled one, then a new one), the active
        one wins, then the most recent.
        """
        ...

    def cancel_trade(self, trade: BookedTrade) -> BookedTrade:
        """Cancel a booked block trade (all its per-account trades); the answer is cancelled.

        Raises:
            NotFoundError: No such trade.
            DataSourceError: The cancel was refused.
        """
        ...


@runtime_checkable
class AsyncTradeSource(Protocol):
    """**Protocol:** the ``async`` twin of `TradeSource`.

    .. versionadded:: 0.1
    """

    async def fills(self, order_id: str) -> tuple[Execution, ...]:
        """See `TradeSource.fills`."""
        ...

    async def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        """See `TradeSource.book_trade`."""
        ...

    async def find_trade(self, ticket: TradeTicket) -> BookedTrade | None:
        """See `TradeSource.find_trade`."""
        ...

    async def cancel_trade(self, trade: BookedTrade) -> BookedTrade:
        """See `TradeSource.cancel_trade`."""
        ...


@runtime_checkable
class AsyncDataSource(Protocol):
    """**Protocol:** the ``async`` twin of `DataSource`: same methods, same meaning."""

    async def groups(self) -> tuple[str, ...]:
        """See `DataSource.groups`."""
        ...

    async def accounts(self, group: str, security_id: str) -> AccountTable:
        """See `DataSource.accounts`."""
        ...

    async def security(self, security_id: str) -> Security:
        """See `DataSource.security`."""
        ...

    async def search_securities(self, query: str, *, limit: int = 20) -> tuple[Security, ...]:
        """See `DataSource.search_securities`."""
        ...

    async def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        """See `DataSource.what_if`."""
        ...

    async def post_order(self, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.post_order`."""
        ...

    async def find_order(self, external_id: str) -> PostedOrder | None:
        """See `DataSource.find_order`."""
        ...

    async def get_order(self, order_id: str) -> PostedOrder:
        """See `DataSource.get_order`."""
        ...

    async def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.modify_order`."""
        ...

    async def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        """See `DataSource.cancel_order`."""
        ...


def read_fresh(source: object, name: str, *args: Any) -> Any:
    """Call the read *name* of *source* bypassing its cache when it has one (``fresh=True``).

    Private to the package: the desk and `~orderalloc.testing.FaultySource` use it.
    """
    method: Callable[..., Any] = getattr(source, name)
    try:
        takes_fresh = "fresh" in inspect.signature(method).parameters
    except (TypeError, ValueError):  # a builtin or a C callable: no keyword to pass
        takes_fresh = False
    return method(*args, fresh=True) if takes_fresh else method(*args)
