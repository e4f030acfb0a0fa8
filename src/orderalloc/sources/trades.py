"""Post-trade operations in the library's own terms: executions in, block trades out.

An order is worked in the market and comes back as *executions* (`Execution`:
face at a price, one per fill, several over a day). The desk splits them among
the accounts and books one *block trade* (`TradeTicket`: one security, one
side, one price, one `TradeLine` per account), which the trading system keeps
as a `BookedTrade` until it is cancelled. Every type is an immutable ``attrs``
value; quantities are original face, prices clean per 100.

Idempotency: every ticket carries the caller's *external_id* (Aladdin's
``externalTradeReferences[].externalInvnum1``). Before booking again after an
error whose outcome is unknown, look the trade up with ``find_trade(ticket)``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import attrs

from orderalloc._model import Side
from orderalloc.errors import InvalidOrderError

from .orders import _external_id, _side, account_lines, ticket_fields

__all__ = ["BookedTrade", "Execution", "TradeLine", "TradeStatus", "TradeTicket"]


class TradeStatus:
    """The statuses of a `BookedTrade` (Aladdin's ``status``: ``' '`` active, ``'C'`` cancelled)."""

    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"

    @staticmethod
    def from_wire(raw: str | None) -> str:
        """``"C"`` -> ``CANCELLED``; blank or missing -> ``ACTIVE``."""
        return TradeStatus.CANCELLED if (raw or "").strip().upper() == "C" else TradeStatus.ACTIVE


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise InvalidOrderError(attribute.name, value, "must be a finite number > 0")


@attrs.frozen(kw_only=True)
class Execution:
    """One execution (fill) of an order, as the trading system reports it.

    Args:
        order_id: The order it executes.
        execution_id: The execution's id (a FIX ExecID, Aladdin's invnum).
        quantity: Face executed, > 0.
        price: Clean price per 100, > 0.
        time: When it was executed (UTC), if known.

    Raises:
        InvalidOrderError: A quantity or price that is not a finite number > 0.
    """

    order_id: str
    execution_id: str
    quantity: float = attrs.field(converter=float, validator=_positive)
    price: float = attrs.field(converter=float, validator=_positive)
    time: dt.datetime | None = None


@attrs.frozen
class TradeLine:
    """One account's trade inside a block trade.

    Args:
        account_id: The account (portfolio ticker).
        quantity: Face for this account, > 0.
        principal: The trade's principal in the settlement currency, when the
            caller fixed it (a block's principal split to the cent), else None.
    """

    account_id: str
    quantity: float = attrs.field(converter=float, validator=_positive)
    principal: float | None = None


def _trade_lines(value: object) -> tuple[TradeLine, ...]:
    return account_lines(value, TradeLine, "trade.lines")


@attrs.frozen(kw_only=True)
class TradeTicket:
    """A block trade to book: one security, one side, one price, one line per account.

    Args:
        security_id: The security (CUSIP / Aladdin asset id).
        side: ``Side.BUY`` or ``Side.SELL`` (or the strings).
        price: The block's clean price per 100 (every account gets it).
        lines: One `TradeLine` per account, each account at most once.
        external_id: The caller's idempotency key, 1 to 64 characters.
        order_id: The order the trade fills, if any.
        trade_date: The trade date (default: today, UTC, when booked).
        settle_date: The settlement date, or None for the security's default.

    Raises:
        InvalidOrderError: No lines, a repeated account, a bad side, price or external id.
    """

    security_id: str
    side: Side = attrs.field(converter=_side)
    price: float = attrs.field(converter=float, validator=_positive)
    lines: tuple[TradeLine, ...] = attrs.field(converter=_trade_lines)
    external_id: str = attrs.field(validator=_external_id)
    order_id: str | None = None
    trade_date: dt.date | None = None
    settle_date: dt.date | None = None

    @property
    def quantity(self) -> float:
        """Total face of the block: the sum of its lines."""
        return math.fsum(line.quantity for line in self.lines)

    def booked(self, trade_id: str, *, trade_date: dt.date | None = None) -> BookedTrade:
        """The active `BookedTrade` this ticket is once booked as *trade_id*.

        *trade_date* defaults to the ticket's. For adapters and fakes that
        keep their own book.

        .. versionadded:: 0.2
        """
        when = trade_date or self.trade_date
        return BookedTrade(
            trade_id=trade_id,
            price=self.price,
            order_id=self.order_id,
            trade_date=when,
            **ticket_fields(self),
        )


def _plain(value: Iterable[TradeLine]) -> tuple[TradeLine, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class BookedTrade:
    """A block trade as the trading system holds it.

    Args:
        trade_id: The trading system's id of the block (Aladdin's invnum).
        external_id: The caller's idempotency key.
        security_id: The security.
        side: Buy or sell.
        price: The block's price.
        lines: One `TradeLine` per account.
        status: ``TradeStatus.ACTIVE`` or ``TradeStatus.CANCELLED``.
        order_id: The order it fills, if any.
        trade_date: The trade date, if known.
    """

    trade_id: str
    external_id: str | None
    security_id: str
    side: Side = attrs.field(converter=_side)
    price: float
    lines: tuple[TradeLine, ...] = attrs.field(converter=_plain)
    status: str = TradeStatus.ACTIVE
    order_id: str | None = None
    trade_date: dt.date | None = None

    @property
    def quantity(self) -> float:
        """Total face of the block."""
        return math.fsum(line.quantity for line in self.lines)

    @property
    def is_active(self) -> bool:
        """Whether the trade stands (not cancelled)."""
        return self.status == TradeStatus.ACTIVE
