"""The mock's books: orders, executions and block trades, in memory and optionally on disk.

Orders and trades are kept by the same rules (one live entry per external
id, the latest entry found by external id, numbers that only grow), written
once here for both. With a path, the books live in two JSON files
(``orders.json`` and ``orders.trades.json``) that every process using the same
path shares: the ``orderalloc`` command run twice sees the same orders.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

import attrs

from orderalloc.sources.errors import RequestRejectedError
from orderalloc.sources.orders import OrderStatus, OrderTicket, PostedOrder
from orderalloc.sources.trades import BookedTrade, Execution, TradeLine

__all__ = ["ORDERS", "TRADES", "Book", "OrderEntry", "OrderRejectedError", "Rules"]

E = TypeVar("E")


class OrderRejectedError(RequestRejectedError):
    """Raised by `MockAladdin` order operations the order system refuses.

    The port's `~orderalloc.sources.errors.RequestRejectedError`: nothing was applied.

    Attributes:
        code: The ``google.rpc.Code`` Aladdin would answer (3 INVALID_ARGUMENT,
            6 ALREADY_EXISTS, 9 FAILED_PRECONDITION).
    """

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


@attrs.define
class OrderEntry:
    """An order in the book: the ticket as last posted or modified, its status and version."""

    order_id: str
    ticket: OrderTicket
    status: str
    version: int

    def posted(self) -> PostedOrder:
        """The order as the order system reports it."""
        return self.ticket.posted(self.order_id, status=self.status, version=self.version)


@attrs.frozen
class Rules(Generic[E]):
    """How a book reads its entries: external id, liveness, number, and the name of a live one."""

    external: Callable[[E], str | None]
    live: Callable[[E], bool]
    ident: Callable[[E], str]
    what: str

    def latest(self, entries: Iterable[E], external_id: str) -> E | None:
        """The entry carrying *external_id*: a live one first, then the highest number."""
        found = [e for e in entries if self.external(e) == external_id]
        if not found:
            return None
        return max(found, key=lambda e: (self.live(e), int(self.ident(e))))

    def refuse_duplicate(self, entries: Iterable[E], external_id: str) -> None:
        """Raise `OrderRejectedError` (code 6) if a live entry already carries *external_id*."""
        for e in entries:
            if self.external(e) == external_id and self.live(e):
                raise OrderRejectedError(
                    6, f"{self.what} {self.ident(e)} already has external id {external_id!r}"
                )


#: Orders: one live order per external id.
ORDERS: Rules[OrderEntry] = Rules(
    external=lambda o: o.ticket.external_id,
    live=lambda o: o.status in OrderStatus.LIVE,
    ident=lambda o: o.order_id,
    what="a live order",
)
#: Trades: one active trade per external id.
TRADES: Rules[BookedTrade] = Rules(
    external=lambda t: t.external_id,
    live=lambda t: t.is_active,
    ident=lambda t: t.trade_id,
    what="an active trade",
)


def _write(path: Path, data: Any) -> None:
    """Write *data* as JSON atomically: a reader sees the old or the new book."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class Book:
    """Orders (numbered from 70,000,001), executions and trades (sharing one invnum sequence).

    Args:
        path: The orders file (the trades file sits next to it), or None to
            keep everything in memory.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.orders: dict[str, OrderEntry] = {}
        self.executions: dict[str, list[Execution]] = {}
        self.trades: dict[str, BookedTrade] = {}
        self._order_numbers = itertools.count(70_000_001)
        self._invnums = itertools.count(9_000_001)
        self._load_orders()
        self._load_trades()

    def next_order_id(self) -> str:
        """A new order number."""
        return str(next(self._order_numbers))

    def next_invnum(self) -> str:
        """A new trade number (executions and booked trades alike)."""
        return str(next(self._invnums))

    # --- orders ----------------------------------------------------------------------------

    def _load_orders(self) -> None:
        if self.path is None or not self.path.exists():
            return
        from orderalloc._serialization import converter

        for row in json.loads(self.path.read_text()):
            ticket = converter.structure(row["ticket"], OrderTicket)
            self.orders[row["order_id"]] = OrderEntry(
                row["order_id"], ticket, row["status"], row["version"]
            )
        if self.orders:
            last = max(int(k) for k in self.orders)
            self._order_numbers = itertools.count(last + 1)

    def save_orders(self) -> None:
        """Write the orders file (when there is one)."""
        if self.path is None:
            return
        from orderalloc._serialization import converter

        rows = [
            {
                "order_id": o.order_id,
                "ticket": converter.unstructure(o.ticket),
                "status": o.status,
                "version": o.version,
            }
            for o in self.orders.values()
        ]
        _write(self.path, rows)

    # --- executions and trades -------------------------------------------------------------

    @property
    def _trades_path(self) -> Path | None:
        return None if self.path is None else self.path.with_suffix(".trades.json")

    def _load_trades(self) -> None:
        path = self._trades_path
        if path is None or not path.exists():
            return
        data = json.loads(path.read_text())
        for order_id, rows in data["executions"].items():
            self.executions[order_id] = [
                Execution(
                    order_id=order_id,
                    execution_id=r["execution_id"],
                    quantity=r["quantity"],
                    price=r["price"],
                    time=dt.datetime.fromisoformat(r["time"]) if r.get("time") else None,
                )
                for r in rows
            ]
        for r in data["trades"]:
            self.trades[r["trade_id"]] = BookedTrade(
                trade_id=r["trade_id"],
                external_id=r["external_id"],
                security_id=r["security_id"],
                side=r["side"],
                price=r["price"],
                lines=tuple(TradeLine(*line) for line in r["lines"]),
                status=r["status"],
                order_id=r["order_id"],
                trade_date=dt.date.fromisoformat(r["trade_date"]) if r["trade_date"] else None,
            )
        self._invnums = itertools.count(int(data["next_invnum"]))

    def save_trades(self) -> None:
        """Write the trades file (when there is one)."""
        path = self._trades_path
        if path is None:
            return
        next_invnum = next(self._invnums)
        self._invnums = itertools.count(next_invnum)
        data = {
            "next_invnum": next_invnum,
            "executions": {
                order_id: [
                    {
                        "execution_id": e.execution_id,
                        "quantity": e.quantity,
                        "price": e.price,
                        "time": e.time.isoformat() if e.time else None,
                    }
                    for e in rows
                ]
                for order_id, rows in self.executions.items()
            },
            "trades": [
                {
                    "trade_id": t.trade_id,
                    "external_id": t.external_id,
                    "security_id": t.security_id,
                    "side": t.side.value,
                    "price": t.price,
                    "lines": [[line.account_id, line.quantity, line.principal] for line in t.lines],
                    "status": t.status,
                    "order_id": t.order_id,
                    "trade_date": t.trade_date.isoformat() if t.trade_date else None,
                }
                for t in self.trades.values()
            ],
        }
        _write(path, data)
