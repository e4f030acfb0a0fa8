"""The values the desk returns: previews and receipts; `orderalloc.desk` re-exports them."""

from __future__ import annotations

import datetime as dt

import attrs

from .._basket import BasketResult
from .._result import AllocationResult
from ..fills import FillAllocation
from ..sources.orders import ComplianceViolation, PostedOrder
from ..sources.trades import BookedTrade, Execution, TradeTicket

__all__ = [
    "BasketPreview",
    "BasketReceipt",
    "BookingReceipt",
    "CommitReceipt",
    "FillPreview",
    "Preview",
]


@attrs.frozen(kw_only=True)
class Preview:
    """An allocation computed and recorded (``PREVIEWED``), not yet sent.

    Attributes:
        allocation_id: The allocation's id (a UUID4); the order's external id.
        group: The portfolio group.
        result: The allocation.
        created_at: When it was recorded (UTC); `Desk.commit` refuses it after ``max_age``.
        fingerprint: sha256 of the inputs (see `fingerprint`).
    """

    allocation_id: str
    group: str
    result: AllocationResult
    created_at: dt.datetime
    fingerprint: str


@attrs.frozen(kw_only=True)
class CommitReceipt:
    """What `Desk.commit` and `Desk.modify` return: the order as the order system holds it.

    Attributes:
        allocation_id: The allocation committed.
        order: The order (its id, version, status and lines).
        already_committed: True when the allocation had been committed before this
            call: nothing was sent.
        recovered: True when the order was found by its external id after an
            ambiguous failure or an interrupted earlier attempt, not from the
            answer to this call's send.
        overridden: The blocking violations overridden to post it.
    """

    allocation_id: str
    order: PostedOrder
    already_committed: bool = False
    recovered: bool = False
    overridden: tuple[ComplianceViolation, ...] = ()


@attrs.frozen(kw_only=True)
class FillPreview:
    """A fill allocation computed and recorded (``FILLS_ALLOCATED``), not yet booked.

    Attributes:
        fill_allocation_id: Its id (a UUID4): what `Desk.book` takes.
        order_id: The order the fills execute.
        allocation: The `~orderalloc.FillAllocation` (cumulative over every
            fill allocated so far, those booked before included).
        fills: Every fill allocated, earliest first.
        new_fill_ids: The fills this allocation would book (those no booking covers).
        previous: The booked fill allocation it extends, or None.
        ticket: The block trade `Desk.book` sends: one line per account, the
            new fills' average price, each line's principal to the cent.
        created_at: When it was recorded (UTC).

    .. versionadded:: 0.1
    """

    fill_allocation_id: str
    order_id: str
    allocation: FillAllocation
    fills: tuple[Execution, ...]
    new_fill_ids: tuple[str, ...]
    previous: str | None
    ticket: TradeTicket
    created_at: dt.datetime


@attrs.frozen(kw_only=True)
class BookingReceipt:
    """What `Desk.book` returns: the block trade as the trading system holds it.

    Attributes:
        fill_allocation_id: The fill allocation booked.
        trade: The block trade (its id, lines, status).
        already_booked: True when it had been booked before this call: nothing was sent.
        recovered: True when the trade was found by its external id after an
            ambiguous failure or an interrupted earlier attempt.

    .. versionadded:: 0.1
    """

    fill_allocation_id: str
    trade: BookedTrade
    already_booked: bool = False
    recovered: bool = False


@attrs.frozen(kw_only=True)
class BasketPreview:
    """A basket allocated and recorded (``BASKET_PREVIEWED``), not yet sent.

    Attributes:
        basket_id: The basket's id (a UUID4): what `BasketDesk.commit` takes.
        group: The portfolio group.
        previews: One `~orderalloc.desk.Preview` per order, in the basket's
            order; each is an allocation of its own (its id is the order's
            external id).
        created_at: When it was recorded (UTC).
        basket: The `~orderalloc.BasketResult` (``None`` when the preview
            was rebuilt from the trail: `BasketDesk.get_preview`).

    .. versionadded:: 0.1
    """

    basket_id: str
    group: str
    previews: tuple[Preview, ...]
    created_at: dt.datetime
    basket: BasketResult | None = None

    @property
    def allocation_ids(self) -> tuple[str, ...]:
        """The orders' allocation ids, in the basket's order."""
        return tuple(p.allocation_id for p in self.previews)


@attrs.frozen(kw_only=True)
class BasketReceipt:
    """What `BasketDesk.commit` returns: every order of the basket as the order system holds it.

    Attributes:
        basket_id: The basket.
        receipts: One `~orderalloc.desk.CommitReceipt` per order that places
            something, in the basket's order.
        empty: The allocation ids of orders that placed nothing (no order sent).
        requests: The post requests this call sent (0: nothing was sent).

    .. versionadded:: 0.1
    """

    basket_id: str
    receipts: tuple[CommitReceipt, ...]
    empty: tuple[str, ...] = ()
    requests: int = 0

    @property
    def already_committed(self) -> bool:
        """Whether every order had been committed before this call (nothing sent)."""
        return all(r.already_committed for r in self.receipts)

    @property
    def recovered(self) -> int:
        """How many orders were found by external id after an ambiguous or interrupted send."""
        return sum(r.recovered for r in self.receipts)
