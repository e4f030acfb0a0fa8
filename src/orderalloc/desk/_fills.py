"""The desk's post-trade half: fills in, fill allocations previewed, block trades booked once.

`~orderalloc.desk.Desk` inherits these methods. Booking goes through the very
machinery that commits orders (`~orderalloc.desk._core.DeskCore._send_once`,
along a `_TradeRoute`: the attempt recorded before
it is sent, the trade looked up after any ambiguous failure and right before
any re-send, the lease that keeps a second process from re-sending a send that
may still be in flight); nothing here re-implements it.

The events, in order (``allocation_id`` is the fill allocation's id unless said)::

    FILL_RECORDED     a fill from FIX, a file or a user (allocation_id: the order's
                      allocation; one per execution id, ever)
    FILLS_ALLOCATED   the fills, the booked allocation it extends, the whole result,
                      the block it would book (lines, price, principal, external id)
    BOOK_STARTED      attempt n, written before the block is sent
    BOOKED            the trade id: once per fill allocation, ever
    BOOK_FAILED       outcome: rejected, not_booked, unknown (lease held), refused
    TRADE_CANCELLED   the block trade was cancelled

**Reallocation until booked.** `Desk.allocate_fills` may run any number of
times; each run is a new fill allocation that extends the order's last *booked*
one (``previous=``), so what is booked never changes. Only the fills no booking
covers yet are booked, as one block at their volume-weighted average price
(every account the same price) with each account's principal split to the cent.
A booking is refused when another allocation of the same order was booked
since its preview (the fills would be booked twice): allocate again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from .._model import Order
from .._serialization import from_json, to_json
from ..audit import AuditEvent, EventKind, canonical_json
from ..audit.events import SOURCE_KEY
from ..errors import DeskError, InvalidParameterError
from ..fills import Fill, FillAllocation, FillLedger
from ..fills import allocate_fills as _allocate_fills
from ..fills.pricing import split_cents, vwap
from ..sources import describe_source
from ..sources.orders import ComplianceViolation
from ..sources.protocol import TradeSource
from ..sources.trades import BookedTrade, Execution, TradeLine, TradeTicket
from ._core import DeskCore
from ._records import (
    AttemptStarted,
    Booked,
    FillRecorded,
    FillsAllocated,
    TicketRecord,
    TradeCancelled,
    decode,
    encode,
)
from ._trail import AllocationTrail, EventConflictError, jsonable
from ._values import BookingReceipt, FillPreview
from .errors import FillsChangedError, NothingToBookError

__all__ = ["PostTrade", "fill_external_id"]


def fill_external_id(order_id: str, fill_ids: Sequence[str]) -> str:
    """The idempotency key of a booking: the order and the set of fills it covers.

    Two allocations of the same fills carry the same key, so the trading
    system itself refuses (and a look-up finds) a second booking of them.
    """
    digest = hashlib.sha256("\x1f".join([order_id, *sorted(fill_ids)]).encode("utf-8"))
    return f"fills-{digest.hexdigest()[:40]}"


def _time_key(e: Execution) -> tuple[bool, dt.datetime, str]:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (e.time is None, e.time or epoch, e.execution_id)


# --- the desk's post-trade methods ------------------------------------------------------------


class PostTrade(DeskCore):
    """Fills, fill allocations and bookings; mixed into `~orderalloc.desk.Desk`."""

    def _trade_source(self) -> TradeSource:
        if not isinstance(self._source, TradeSource):
            raise DeskError(
                f"{describe_source(self._source)} cannot report fills or book trades: "
                "it does not implement orderalloc.sources.TradeSource"
            )
        return self._source

    # --- fills ------------------------------------------------------------------------

    def record_fill(
        self,
        order_id: str,
        quantity: float,
        price: float,
        *,
        execution_id: str | None = None,
        time: dt.datetime | None = None,
        via: str = "user",
    ) -> Execution:
        """Record a fill of a committed order that the source does not report (``FILL_RECORDED``).

        For fills that arrive by FIX (pass its ExecID as *execution_id*), in a
        file, or from a user. Recording the same execution id again is
        harmless when it says the same; `fills` merges these with the
        source's own executions (by execution id).

        Args:
            order_id: The order (committed by this desk).
            quantity: Face executed.
            price: Clean price per 100.
            execution_id: The execution's id (default: a new one).
            time: When it executed (UTC; default: now).
            via: Where it came from: ``"fix"``, ``"file"``, ``"user"``, ...

        Raises:
            UnknownOrderError: No committed allocation made this order.
            InvalidOrderError: A quantity or price that is not a finite number > 0.
            DeskError: This execution id was recorded with another quantity or price.
        """
        current = self._current_trail(order_id)
        ident = execution_id or f"{order_id}-{uuid.uuid4().hex[:12]}"
        when = (time or self._now()).astimezone(dt.timezone.utc)
        fill = Execution(
            order_id=order_id, execution_id=ident, quantity=quantity, price=price, time=when
        )
        if not via.strip():
            raise InvalidParameterError("via", via, "must name where the fill came from")
        event = self._event(
            current,
            EventKind.FILL_RECORDED,
            FillRecorded.of(fill, via=via),
            event_id=f"{current.allocation_id}/fill/{ident}",
            order_id=order_id,
        )
        stored = self._sink.get(event.event_id)
        if stored is None:
            try:
                self._record([event])
                return fill
            except EventConflictError as exc:  # recorded meanwhile: compare below
                stored = exc.stored
        same = decode(FillRecorded, stored.payload).execution(order_id)
        if (same.quantity, same.price) != (fill.quantity, fill.price):
            raise DeskError(
                f"execution {ident!r} of order {order_id} was recorded as "
                f"{same.quantity:,.0f} at {same.price}, not {fill.quantity:,.0f} at {fill.price}"
            )
        return same

    def fills(self, order_id: str) -> tuple[Execution, ...]:
        """Every fill of an order: the source's executions and those recorded, earliest first.

        The same execution id from both counts once (the source's wins).

        Raises:
            UnknownOrderError: No committed allocation made this order.
        """
        self._current_trail(order_id)
        found: dict[str, Execution] = {}
        if isinstance(self._source, TradeSource):
            for e in self._source.fills(order_id):
                found.setdefault(e.execution_id, e)
        for event in self._sink.events(kinds={EventKind.FILL_RECORDED}):
            if event.order_id == order_id:
                e = decode(FillRecorded, event.payload).execution(order_id)
                found.setdefault(e.execution_id, e)
        return tuple(sorted(found.values(), key=_time_key))

    # --- fill allocations -------------------------------------------------------------

    def allocate_fills(
        self,
        order_id: str,
        *,
        fills: Sequence[Execution] | None = None,
        method: str = "pro_rata",
        deviation: Mapping[str, Any] | None = None,
    ) -> FillPreview:
        """Allocate an order's fills to its committed allocation and record it; nothing is booked.

        The intent is the order's committed lines (recorded before any
        execution); the accounts are read fresh. The allocation extends the
        order's last booked one, so booked amounts never change, and carries
        the rotation ledger of the group's last booked order of the same
        security class. Call it again whenever fills arrive: each call is a
        new preview, until one is booked.

        Args:
            order_id: The order (committed by this desk).
            fills: The fills to allocate (default: `fills`, the source's and
                those recorded).
            method: ``"pro_rata"`` or ``"deviation"`` (see `orderalloc.allocate_fills`).
            deviation: `MinDispersion` parameters for the deviation method.

        Returns:
            The recorded preview, with the block trade `book` would send.

        Raises:
            UnknownOrderError: No committed allocation made this order.
            NothingToBookError: Every fill is booked already.
            InvalidInputError: A parameter is invalid.
            AuditSinkError: It could not be recorded (then it does not exist).
        """
        current = self._current_trail(order_id)
        group = current.previewed.group
        every = tuple(sorted(self.fills(order_id) if fills is None else fills, key=_time_key))
        previous = self._last_booking(order_id)
        booked: set[str] = set()
        before: FillAllocation | None = None
        if previous is not None:
            booked = set(previous.fills_allocated.fill_ids)
            before = self._fill_allocation(previous)
        new = [e for e in every if e.execution_id not in booked]
        if not new:
            raise NothingToBookError(
                f"order {order_id}: no fill to allocate ({len(booked)} booked already)"
            )
        order = current.order
        accounts = self._accounts(group, order, order_id, fresh=True)
        ledger = None if before is not None else self._carried_ledger(group, order, order_id)
        fa = _allocate_fills(
            order,
            accounts,
            intent=None
            if before is not None
            else {ln.account_id: ln.quantity for ln in current.lines},
            fills=[
                Fill(quantity=e.quantity, price=e.price, fill_id=e.execution_id, time=e.time)
                for e in new
            ],
            previous=before,
            ledger=ledger,
            group=None if before is not None else group,
            method=method,
            deviation=deviation,
        )
        k0 = len(fa.fills) - len(new)
        column = np.sum(np.asarray(fa.tickets[k0:]), axis=0)
        placed = list(fa.placed_by_fill[k0:])
        if not column.any():
            raise NothingToBookError(
                f"order {order_id}: the new fills placed nothing: {'; '.join(fa.warnings)}"
            )
        price = vwap(placed, [f.price for f in fa.fills[k0:]])
        cents = split_cents(int(sum(fa.block_cents[k0:])), column, fa.account_ids, fa.seed)
        rows = np.flatnonzero(column > 0).tolist()
        ids = [e.execution_id for e in new]
        last = max((e.time for e in new if e.time is not None), default=None)
        ticket = TradeTicket(
            security_id=order.security.id,
            side=order.side,
            price=round(price, 8),
            lines=[
                TradeLine(fa.account_ids[i], float(column[i]), float(cents[i]) / 100.0)
                for i in rows
            ],
            external_id=fill_external_id(order_id, [*sorted(booked), *ids]),
            order_id=order_id,
            trade_date=(last or self._now()).astimezone(dt.timezone.utc).date(),
        )
        fill_allocation_id = str(uuid.uuid4())
        record = FillsAllocated(
            order_id=order_id,
            order_allocation_id=current.allocation_id,
            group=group,
            security_id=order.security.id,
            side=order.side.value,
            fills=tuple(FillRecorded.of(e) for e in every),
            fill_ids=tuple(sorted([*booked, *ids])),
            new_fill_ids=tuple(ids),
            previous=None if previous is None else previous.allocation_id,
            method=method,
            ticket=TicketRecord.of(ticket),
            unallocated=fa.unallocated,
            warnings=tuple(fa.warnings),
            result=jsonable(to_json(fa)),
        )
        event = AuditEvent(
            allocation_id=fill_allocation_id,
            kind=EventKind.FILLS_ALLOCATED,
            actor=self._actor,
            payload={**encode(record), SOURCE_KEY: self._source_stamp},
            at=self._now(),
            account_ids=[line.account_id for line in ticket.lines],
            security_id=order.security.id,
            order_id=order_id,
        )
        self._record([event])
        return FillPreview(
            fill_allocation_id=fill_allocation_id,
            order_id=order_id,
            allocation=fa,
            fills=every,
            new_fill_ids=tuple(ids),
            previous=record.previous,
            ticket=ticket,
            created_at=event.at,
        )

    def get_fill_preview(self, fill_allocation_id: str) -> FillPreview:
        """Rebuild a fill allocation from the audit trail alone.

        Raises:
            UnknownAllocationError: No such fill allocation in the trail.
        """
        trail = self._fills_trail(fill_allocation_id)
        p = trail.fills_allocated
        return FillPreview(
            fill_allocation_id=fill_allocation_id,
            order_id=p.order_id,
            allocation=self._fill_allocation(trail),
            fills=tuple(f.execution(p.order_id) for f in p.fills),
            new_fill_ids=p.new_fill_ids,
            previous=p.previous,
            ticket=_booking_ticket(trail),
            created_at=trail.created_at,
        )

    # --- booking ----------------------------------------------------------------------

    def book(self, fill_allocation_id: str, *, comment: str | None = None) -> BookingReceipt:
        """Book a fill allocation's block trade with its per-account trades, exactly once.

        The same guarantees as `commit`: ``BOOK_STARTED`` is recorded before
        the block is sent; after an ambiguous failure (a timeout, a 5xx) the
        trade is looked up by its external id, and any later call looks it up
        right before sending again; while an attempt's lease runs nothing is
        re-sent. Safe to call again after any failure, from any process.

        Args:
            fill_allocation_id: The `FillPreview`'s id.
            comment: Recorded with the attempt.

        Returns:
            The block trade; see `BookingReceipt` for how it was obtained.

        Raises:
            UnknownAllocationError: No such fill allocation.
            FillsChangedError: Another allocation of the order was booked since,
                a booking it extends was cancelled, or the order was modified.
            DeskError: The fill allocation's booking was cancelled (allocate again).
            CommitInProgressError: Another process is booking it.
            CommitFailedError: The trading system refused it, or it was never sent.
            CommitOutcomeUnknownError: Whether it was booked cannot be told yet.
            AuditSinkError: A step could not be recorded; if the trade was booked,
                the next call records it.
        """
        trail = self._fills_trail(fill_allocation_id)
        if any(e.kind is EventKind.TRADE_CANCELLED for e in trail.events):
            raise DeskError(
                f"fill allocation {fill_allocation_id} was booked and cancelled: "
                "allocate the fills again"
            )
        if trail.committed is not None:
            return self._already_booked(trail, trail.committed)
        self._trade_source()
        ticket = _booking_ticket(trail)
        route = _TradeRoute(self, trail, ticket)
        if trail.attempts:  # an earlier attempt may have booked it: look first
            resumed = self._recovered(route)
            if resumed is not None:
                return resumed
        checks = self._booking_checks(trail)
        return self._send_once(
            route,
            checks,
            (),
            AttemptStarted.of(ticket, comment),
        )

    def _booking_checks(self, trail: AllocationTrail) -> list[AuditEvent]:
        """Refuse a booking that would book fills twice or on a stale intent."""
        p = trail.fills_allocated
        order_id = p.order_id
        problems: list[str] = []
        current = self._current_trail(order_id)
        if current.allocation_id != p.order_allocation_id:
            problems.append(
                f"order {order_id} was modified since (allocation {current.allocation_id})"
            )
        last = self._last_booking(order_id)
        last_id = None if last is None else last.allocation_id
        if last_id != p.previous:
            problems.append(
                f"the order's last active booking is {last_id}, not {p.previous}: "
                "another allocation of these fills was booked, or one was cancelled"
            )
        if problems:
            error = FillsChangedError(
                f"fill allocation {trail.allocation_id}: {'; '.join(problems)}; "
                "allocate the fills again"
            )
            self._refuse(trail, "fills_changed", error, {"problems": problems})
            raise error
        return []

    def _booked_receipt(
        self, trail: AllocationTrail, attempt: int, trade: BookedTrade, *, recovered: bool
    ) -> BookingReceipt:
        """Record ``BOOKED`` (one event id per fill allocation) and return the receipt."""
        event = self._event(
            trail,
            EventKind.BOOKED,
            Booked.of(trade, attempt=attempt, recovered=recovered),
            event_id=f"{trail.allocation_id}/booked",
            order_id=trail.fills_allocated.order_id,
        )
        stored = self._record_done(trail, event, f"trade {trade.trade_id}")
        if stored is not None:
            return self._already_booked(trail, stored)
        return BookingReceipt(
            fill_allocation_id=trail.allocation_id, trade=trade, recovered=recovered
        )

    def _already_booked(self, trail: AllocationTrail, booked: AuditEvent) -> BookingReceipt:
        ticket = _booking_ticket(trail)
        record = decode(Booked, booked.payload)
        found = self._trade_source().find_trade(ticket)
        trade = found or BookedTrade(
            trade_id=record.trade_id,
            external_id=ticket.external_id,
            security_id=ticket.security_id,
            side=ticket.side,
            price=ticket.price,
            lines=ticket.lines,
            order_id=ticket.order_id,
            trade_date=ticket.trade_date,
        )
        return BookingReceipt(
            fill_allocation_id=trail.allocation_id,
            trade=trade,
            already_booked=True,
            recovered=record.recovered,
        )

    def _find_booking(self, ticket: TradeTicket) -> BookedTrade | None:
        """The active trade an attempt booked (same external id and lines), or None."""
        found = self._trade_source().find_trade(ticket)
        if found is None or not found.is_active:
            return None
        mine = {(ln.account_id, ln.quantity) for ln in ticket.lines}
        theirs = {(ln.account_id, ln.quantity) for ln in found.lines}
        return found if mine == theirs else None

    # --- cancel -----------------------------------------------------------------------

    def cancel_booking(self, fill_allocation_id: str, reason: str) -> BookedTrade:
        """Cancel a booked block trade (``trades:cancel``) and record it (``TRADE_CANCELLED``).

        Its fills are then open again: `allocate_fills` extends the booking
        before it. Cancelling twice is harmless.

        Raises:
            UnknownAllocationError: No such fill allocation.
            DeskError: It was never booked.
            DataSourceError: The cancel failed and the trade stands.
        """
        trail = self._fills_trail(fill_allocation_id)
        booked = trail.committed
        if booked is None:
            raise DeskError(f"fill allocation {fill_allocation_id} was never booked")
        source = self._trade_source()
        ticket = _booking_ticket(trail)
        trade = source.find_trade(ticket)
        if trade is None:
            trade_id = decode(Booked, booked.payload).trade_id
            raise DeskError(f"trade {trade_id} is not found by the source")
        if any(e.kind is EventKind.TRADE_CANCELLED for e in trail.events):
            return trade
        if trade.is_active:
            try:
                trade = source.cancel_trade(trade)
            except Exception:
                again = source.find_trade(ticket)  # refused, or the answer was lost: look
                if again is None or again.is_active:
                    raise
                trade = again
        event = self._event(
            trail,
            EventKind.TRADE_CANCELLED,
            TradeCancelled.of(trade, reason=reason),
            event_id=f"{trail.allocation_id}/cancelled",
            order_id=trail.fills_allocated.order_id,
        )
        with contextlib.suppress(EventConflictError):  # another process recorded it first
            self._record([event])
        return trade

    # --- the trail ---------------------------------------------------------------------

    def _fills_trail(self, fill_allocation_id: str) -> AllocationTrail:
        return self._trail(fill_allocation_id, head=EventKind.FILLS_ALLOCATED)

    def _last_booking(self, order_id: str) -> AllocationTrail | None:
        """The order's latest booked, not cancelled, fill allocation."""
        booked = [e for e in self._sink.events(kinds={EventKind.BOOKED}) if e.order_id == order_id]
        cancelled = {
            e.allocation_id
            for e in self._sink.events(kinds={EventKind.TRADE_CANCELLED})
            if e.order_id == order_id
        }
        for event in reversed(booked):
            if event.allocation_id not in cancelled:
                return self._fills_trail(event.allocation_id)
        return None

    def _fill_allocation(self, trail: AllocationTrail) -> FillAllocation:
        return from_json(canonical_json(trail.fills_allocated.result), FillAllocation)

    def _carried_ledger(self, group: str, order: Order, order_id: str) -> FillLedger | None:
        """The rotation ledger after the group's last booked order of the same security class."""
        for event in reversed(self._sink.events(kinds={EventKind.BOOKED})):
            if event.order_id == order_id:
                continue
            trail = self._fills_trail(event.allocation_id)
            if trail.fills_allocated.group != group:
                continue
            fa = self._fill_allocation(trail)
            if fa.order.security.asset_class == order.security.asset_class:
                return fa.ledger
        return None


def _booking_ticket(trail: AllocationTrail) -> TradeTicket:
    p = trail.fills_allocated
    return p.ticket.ticket(p.security_id, p.side, p.order_id)


@attrs.frozen
class _TradeRoute:
    """A block trade's way to the trading system: booked, and found by external id and lines."""

    desk: PostTrade
    trail: AllocationTrail
    ticket: TradeTicket

    def send(self) -> BookedTrade:
        return self.desk._trade_source().book_trade(self.ticket)

    def lookup(self) -> BookedTrade | None:
        return self.desk._find_booking(self.ticket)

    def done(
        self,
        attempt: int,
        sent: BookedTrade,
        *,
        recovered: bool,
        overridden: tuple[ComplianceViolation, ...],
    ) -> BookingReceipt:
        return self.desk._booked_receipt(self.trail, attempt, sent, recovered=recovered)
