"""`MockAladdin`: the mock market (`.market`) with an in-memory order and trade system on top.

Orders posted are kept in a `.book.Book`: `find_order` by external id,
`get_order`, `modify_order` and `cancel_order` work as on Aladdin; an order
with a blocking what-if violation is posted in status ``COMPL_PENDING``.
Executions and trades (the `~orderalloc.sources.protocol.TradeSource`
capability): `MockAladdin.execute` records one fill, `simulate_fills` works
an order for a day and `allot_new_issue` gives a new issue's allotment, all
seeded; `book_trade`, `find_trade` and `cancel_trade` keep block trades.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np

from orderalloc._model import AccountTable, Security, Side
from orderalloc.errors import NotFoundError
from orderalloc.sources.orders import (
    ComplianceViolation,
    OrderStatus,
    OrderTicket,
    PostedOrder,
    WhatIfReport,
)
from orderalloc.sources.trades import BookedTrade, Execution, TradeStatus, TradeTicket

from .book import ORDERS, TRADES, Book, OrderEntry, OrderRejectedError
from .market import Market

__all__ = ["AsyncMockAladdin", "MockAladdin"]


class MockAladdin(Market):
    """A deterministic Aladdin look-alike in memory: a `~orderalloc.sources.DataSource`.

    Args:
        scenario: One of `SCENARIOS` (see `orderalloc.sources.mock`).
        seed: The seed of every random draw.
        extra_groups: More SMA-like groups, name -> number of accounts.
        orders_path: A JSON file that holds the order book, so that
            separate processes (the ``orderalloc`` command run twice) see
            the same orders; None keeps orders in memory only.

    Raises:
        InvalidInputError: Unknown scenario or a bad extra group (also a ValueError).
    """

    def __init__(
        self,
        scenario: str = "default",
        *,
        seed: int = 20240611,
        extra_groups: Mapping[str, int] | None = None,
        orders_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(scenario, seed=seed, extra_groups=extra_groups)
        self._book = Book(None if orders_path is None else Path(orders_path))

    def __repr__(self) -> str:
        return f"MockAladdin(scenario={self.scenario!r}, seed={self.seed})"

    @property
    def description(self) -> str:
        """A one-line description of the source."""
        return f"MockAladdin (scenario {self.scenario!r}, seed {self.seed}; no network)"

    # --- orders ----------------------------------------------------------------------------

    def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        """See `DataSource.what_if`.

        Rules: unknown portfolio, restricted bond, selling more than held (all
        blocking), buying more than the cash (a warning), and in the
        ``compliance_violation`` scenario an issuer-concentration breach for
        every third line.
        """
        bond = self.bond(ticket.security_id)
        j = self.column(bond.id)
        out: list[ComplianceViolation] = []

        def flag(who: str, rule: str, message: str, severity: str = "RESTRICTION") -> None:
            violation = ComplianceViolation(
                account_id=who, rule=rule, message=message, severity=severity
            )
            out.append(violation)

        for n, line in enumerate(ticket.lines):
            who = line.account_id
            where = self.locate(who)
            if where is None:
                flag(who, "UNKNOWN_PORTFOLIO", f"no portfolio {who!r}")
                continue
            data, i = where
            if ticket.side is Side.BUY and data.restricted[i, j]:
                flag(who, "RESTRICTED_ASSET", f"{bond.id} is restricted for {who}")
            if ticket.side is Side.SELL and line.quantity > data.holdings[i, j]:
                held = data.holdings[i, j]
                flag(who, "NO_SHORT_SALES", f"sells {line.quantity:,.0f} but holds {held:,.0f}")
            if ticket.side is Side.BUY and bond.security.market_value(line.quantity) > data.cash[i]:
                cash = f"{data.cash[i]:,.2f}"
                flag(who, "CASH_OVERDRAFT", f"costs more than the {cash} cash available", "WARNING")
            if self.scenario == "compliance_violation" and n % 3 == 0:
                ticker = bond.security.ticker
                flag(who, "ISSUER_CONC_3PCT", f"{ticker} above 3% of NAV after the trade")
        return WhatIfReport(tuple(out))

    def post_order(self, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.post_order`.

        Raises:
            OrderRejectedError: A live order already has this external id (code 6).
            NotFoundError: Unknown security.
        """
        report = self.what_if(ticket)
        with self._lock:
            ORDERS.refuse_duplicate(self._book.orders.values(), ticket.external_id)
            status = OrderStatus.OPEN if report.passed else OrderStatus.COMPL_PENDING
            order = OrderEntry(self._book.next_order_id(), ticket, status, 1)
            self._book.orders[order.order_id] = order
            self._book.save_orders()
            return order.posted()

    def post_orders(self, tickets: Sequence[OrderTicket]) -> tuple[PostedOrder, ...]:
        """Post several orders (what ``orders:batchPost`` does)."""
        return tuple(self.post_order(t) for t in tickets)

    def find_order(self, external_id: str) -> PostedOrder | None:
        """See `DataSource.find_order`."""
        with self._lock:
            found = ORDERS.latest(self._book.orders.values(), external_id)
            return None if found is None else found.posted()

    def _order(self, order_id: str) -> OrderEntry:
        order = self._book.orders.get(order_id)
        if order is None:
            raise NotFoundError(f"no order {order_id!r}")
        return order

    def get_order(self, order_id: str) -> PostedOrder:
        """See `DataSource.get_order`."""
        with self._lock:
            return self._order(order_id).posted()

    def _live(self, order_id: str) -> OrderEntry:
        order = self._order(order_id)
        if order.status not in OrderStatus.LIVE:
            raise OrderRejectedError(9, f"order {order_id} is {order.status}, not live")
        return order

    def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.modify_order`.

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: Not live (code 9), or another security or side (code 3).
        """
        with self._lock:
            order = self._live(order_id)
            if (
                ticket.security_id != order.ticket.security_id
                or ticket.side is not order.ticket.side
            ):
                raise OrderRejectedError(3, "a modification keeps the security and the side")
            report = self.what_if(ticket)
            order.ticket = ticket
            order.version += 1
            order.status = OrderStatus.OPEN if report.passed else OrderStatus.COMPL_PENDING
            self._book.save_orders()
            return order.posted()

    def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        """See `DataSource.cancel_order`.

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: Not live (code 9).
        """
        with self._lock:
            order = self._live(order_id)
            order.status = OrderStatus.CANCELLED
            order.version += 1
            order.ticket = attrs.evolve(order.ticket, comment=reason)
            self._book.save_orders()
            return order.posted()

    def orders(self) -> tuple[PostedOrder, ...]:
        """Every order posted so far, oldest first."""
        with self._lock:
            return tuple(o.posted() for o in self._book.orders.values())

    # --- executions and trades (`TradeSource`) -----------------------------------------

    def execute(
        self, order_id: str, quantity: float, price: float, *, time: dt.datetime | None = None
    ) -> Execution:
        """Record one execution of a live order (what the street reports back).

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: The order is not live (code 9), or the executions
                would exceed its quantity (code 3).
        """
        with self._lock:
            order = self._live(order_id)
            done = self._filled(order_id)
            if done + quantity > order.ticket.quantity + 0.5:
                raise OrderRejectedError(
                    3,
                    f"order {order_id}: {quantity:,.0f} more would fill {done + quantity:,.0f} "
                    f"of {order.ticket.quantity:,.0f}",
                )
            execution = Execution(
                order_id=order_id,
                execution_id=self._book.next_invnum(),
                quantity=quantity,
                price=price,
                time=time or dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
            )
            self._book.executions.setdefault(order_id, []).append(execution)
            self._book.save_trades()
            return execution

    def _filled(self, order_id: str) -> float:
        return math.fsum(e.quantity for e in self._book.executions.get(order_id, []))

    def _rng(self, order_id: str, seed: int | None, salt: str) -> np.random.Generator:
        key = zlib.crc32(f"{salt}/{order_id}".encode())
        return np.random.default_rng([self.seed if seed is None else seed, key])

    def _lots(self, order_id: str) -> tuple[float, float, float, float, float]:
        """The order's quantity, what is left, the bond's minimum piece, increment and price."""
        with self._lock:
            order = self._live(order_id)
            done = self._filled(order_id)
        security = self.bond(order.ticket.security_id).security
        return (
            order.ticket.quantity,
            order.ticket.quantity - done,
            security.min_piece,
            security.increment,
            security.price,
        )

    def simulate_fills(
        self,
        order_id: str,
        *,
        count: int | None = None,
        fraction: float | None = None,
        seed: int | None = None,
        day: dt.date | None = None,
    ) -> tuple[Execution, ...]:
        """Work a live order for a day: *count* partial fills at several prices.

        Deterministic for a given seed and order id. The fills together take
        *fraction* of the order (default: drawn in 40%-100%), each a whole
        number of increments and at least one minimum piece; prices walk from
        the bond's price in steps of a few cents (rounded to 1/1000); times
        spread over the US session (13:30-20:00 UTC) of *day* (default today).

        Returns:
            The executions recorded, oldest first.

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: The order is not live.
        """
        total, left, piece, step, base = self._lots(order_id)
        rng = self._rng(order_id, seed, "fills")
        n = int(count if count is not None else rng.integers(2, 6))
        share = float(fraction if fraction is not None else rng.uniform(0.4, 1.0))
        target = min(left, math.floor(share * total / step) * step)
        weights = rng.dirichlet(np.ones(max(n, 1)))
        sizes: list[float] = []
        rest = target
        for k in range(n):
            share_k = max(piece, math.floor(weights[k] * target / step) * step)
            size = min(rest if k == n - 1 else share_k, rest)
            if size < piece:
                break
            sizes.append(size)
            rest -= size
        prices = np.round(base + np.cumsum(rng.normal(0.0, 0.06, len(sizes))), 3)
        start = dt.datetime.combine(
            day or dt.datetime.now(dt.timezone.utc).date(), dt.time(13, 30), dt.timezone.utc
        )
        offsets = np.sort(rng.uniform(0.0, 6.5 * 3600.0, len(sizes)))
        return tuple(
            self.execute(
                order_id,
                size,
                float(price),
                time=start + dt.timedelta(seconds=int(offset)),
            )
            for size, price, offset in zip(sizes, prices, offsets, strict=True)
        )

    def allot_new_issue(
        self, order_id: str, *, seed: int | None = None, day: dt.date | None = None
    ) -> Execution:
        """Allot a new issue to a live order: one fill of 5%-20% of it (seeded) at the bond's price.

        The allotment is rounded down to the lot grid and is at least one
        minimum piece: the scarce, far-below-the-order fill that new issues give.

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: The order is not live.
        """
        total, left, piece, step, base = self._lots(order_id)
        rng = self._rng(order_id, seed, "new-issue")
        share = float(rng.uniform(0.05, 0.20))
        size = min(left, max(piece, math.floor(share * total / step) * step))
        price = round(base, 3)
        when = dt.datetime.combine(
            day or dt.datetime.now(dt.timezone.utc).date(), dt.time(15, 0), dt.timezone.utc
        )
        return self.execute(order_id, size, price, time=when)

    def fills(self, order_id: str) -> tuple[Execution, ...]:
        """See `TradeSource.fills`.

        Raises:
            NotFoundError: No such order.
        """
        with self._lock:
            self._order(order_id)
            return tuple(self._book.executions.get(order_id, ()))

    def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        """See `TradeSource.book_trade`.

        Raises:
            OrderRejectedError: An active trade already has this external id
                (code 6), or a line names an unknown portfolio (code 3).
            NotFoundError: Unknown security.
        """
        self.bond(ticket.security_id)
        with self._lock:
            TRADES.refuse_duplicate(self._book.trades.values(), ticket.external_id)
            unknown = [
                line.account_id for line in ticket.lines if self.locate(line.account_id) is None
            ]
            if unknown:
                raise OrderRejectedError(3, f"no portfolio {unknown[0]!r}")
            today = dt.datetime.now(dt.timezone.utc).date()
            trade = ticket.booked(self._book.next_invnum(), trade_date=ticket.trade_date or today)
            self._book.trades[trade.trade_id] = trade
            self._book.save_trades()
            return trade

    def find_trade(self, ticket: TradeTicket) -> BookedTrade | None:
        """See `TradeSource.find_trade`."""
        with self._lock:
            return TRADES.latest(self._book.trades.values(), ticket.external_id)

    def cancel_trade(self, trade: BookedTrade) -> BookedTrade:
        """See `TradeSource.cancel_trade`.

        Raises:
            NotFoundError: No such trade.
            OrderRejectedError: Already cancelled (code 9).
        """
        with self._lock:
            stored = self._book.trades.get(trade.trade_id)
            if stored is None:
                raise NotFoundError(f"no trade {trade.trade_id!r}")
            if not stored.is_active:
                raise OrderRejectedError(9, f"trade {trade.trade_id} is already cancelled")
            cancelled = attrs.evolve(stored, status=TradeStatus.CANCELLED)
            self._book.trades[trade.trade_id] = cancelled
            self._book.save_trades()
            return cancelled

    def trades(self) -> tuple[BookedTrade, ...]:
        """Every trade booked so far, oldest first."""
        with self._lock:
            return tuple(self._book.trades.values())


class AsyncMockAladdin:
    """An `~orderalloc.sources.AsyncDataSource` over a `MockAladdin` (no real awaiting)."""

    def __init__(self, mock: MockAladdin | None = None) -> None:
        self.mock = mock or MockAladdin()

    async def groups(self) -> tuple[str, ...]:
        """See `DataSource.groups`."""
        return self.mock.groups()

    async def accounts(self, group: str, security_id: str) -> AccountTable:
        """See `DataSource.accounts`."""
        return self.mock.accounts(group, security_id)

    async def security(self, security_id: str) -> Security:
        """See `DataSource.security`."""
        return self.mock.security(security_id)

    async def search_securities(self, query: str, *, limit: int = 20) -> tuple[Security, ...]:
        """See `DataSource.search_securities`."""
        return self.mock.search_securities(query, limit=limit)

    async def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        """See `DataSource.what_if`."""
        return self.mock.what_if(ticket)

    async def post_order(self, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.post_order`."""
        return self.mock.post_order(ticket)

    async def find_order(self, external_id: str) -> PostedOrder | None:
        """See `DataSource.find_order`."""
        return self.mock.find_order(external_id)

    async def get_order(self, order_id: str) -> PostedOrder:
        """See `DataSource.get_order`."""
        return self.mock.get_order(order_id)

    async def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.modify_order`."""
        return self.mock.modify_order(order_id, ticket)

    async def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        """See `DataSource.cancel_order`."""
        return self.mock.cancel_order(order_id, reason)

    async def fills(self, order_id: str) -> tuple[Execution, ...]:
        """See `TradeSource.fills`."""
        return self.mock.fills(order_id)

    async def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        """See `TradeSource.book_trade`."""
        return self.mock.book_trade(ticket)

    async def find_trade(self, ticket: TradeTicket) -> BookedTrade | None:
        """See `TradeSource.find_trade`."""
        return self.mock.find_trade(ticket)

    async def cancel_trade(self, trade: BookedTrade) -> BookedTrade:
        """See `TradeSource.cancel_trade`."""
        return self.mock.cancel_trade(trade)
