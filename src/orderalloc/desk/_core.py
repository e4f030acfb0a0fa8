"""The desk's exactly-once core: every send recorded before it happens, never repeated blindly.

`DeskCore` holds what the order commits (`~orderalloc.desk._orders`) and the
trade bookings (`~orderalloc.desk._fills`) share: reading an allocation's
trail, recording events (retrying a lost acknowledgement), and `_send_once`,
which sends one *attempt* through a `Route` and settles its outcome:

1. any earlier attempt is looked up first (`Route.lookup`); an open one within
   its lease stops the send (`CommitInProgressError`,
   `CommitOutcomeUnknownError`);
2. the attempt (``COMMIT_STARTED``, ``MODIFIED`` or ``BOOK_STARTED``) is
   recorded under an event id per attempt, so two processes never both send it;
3. it is sent (`Route.send`); success is recorded once (`Route.done`);
4. a failure is classified by `~orderalloc.desk._outcomes.classify` from the
   port's errors alone: not booked (retry at once), unknown (look up, hold the
   lease) or rejected.

A new kind of send (a basket, a new trade type) is a new `Route`; a new rule
for what a failure means lives in `~orderalloc.desk._outcomes`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from .._model import AccountTable, Order
from ..audit import AuditEvent, AuditSink, EventKind
from ..audit.events import SOURCE_KEY, format_time
from ..errors import AuditSinkError, DeskError
from ..sources.orders import ComplianceViolation
from ..sources.protocol import DataSource, read_fresh
from ._outcomes import (
    OUTCOME_NOT_BOOKED,
    OUTCOME_REFUSED,
    OUTCOME_UNKNOWN,
    SETTLED,
    classify,
)
from ._records import RECORDS, AttemptStarted, Failed, encode
from ._trail import AllocationTrail, EventConflictError
from .errors import (
    CommitFailedError,
    CommitInProgressError,
    CommitOutcomeUnknownError,
    UnknownAllocationError,
    UnknownOrderError,
)

__all__ = ["DeskCore", "Route"]

logger = logging.getLogger("orderalloc.desk")

# A sink that fails an append may still have stored it (a lost acknowledgement);
# appends are idempotent by event id, so the desk retries with the same events.
_APPEND_ATTEMPTS = 3

_SentT = TypeVar("_SentT")
_ReceiptT = TypeVar("_ReceiptT", covariant=True)
_S = TypeVar("_S")
_R = TypeVar("_R")


class Route(Protocol[_SentT, _ReceiptT]):
    """**Protocol:** how one attempt of an allocation reaches the source, is found, is recorded.

    An order (commit, modify) and a block trade (book) are routes; the
    exactly-once logic in `DeskCore._send_once` is the same for all of them.
    """

    @property
    def trail(self) -> AllocationTrail:
        """The allocation the attempt belongs to."""
        ...

    def send(self) -> _SentT:
        """Send the ticket once (post, modify, book); raise if it failed."""
        ...

    def lookup(self) -> _SentT | None:
        """What an earlier attempt booked, or None; raise if the source cannot tell."""
        ...

    def done(
        self,
        attempt: int,
        sent: _SentT,
        *,
        recovered: bool,
        overridden: tuple[ComplianceViolation, ...],
    ) -> _ReceiptT:
        """Record the success of *attempt* (once per allocation) and return the receipt."""
        ...


class DeskCore:
    """The state and the exactly-once machinery every part of `~orderalloc.desk.Desk` uses."""

    _source: DataSource
    _source_stamp: Mapping[str, Any]
    _sink: AuditSink
    _actor: str
    _max_age: dt.timedelta
    _commit_lease: dt.timedelta
    _clock: Callable[[], dt.datetime]
    # Attempts this desk saw end without booking for certain (refused, or never
    # sent) but could not record so: no lease for those. An ambiguous end (a
    # timeout) is not in here: the order system may still book it.
    _settled_here: set[tuple[str, int]]

    @property
    def source(self) -> DataSource:
        """The data source."""
        return self._source

    @property
    def sink(self) -> AuditSink:
        """The audit trail."""
        return self._sink

    @property
    def actor(self) -> str:
        """Who the events name."""
        return self._actor

    def _send_once(
        self,
        route: Route[_S, _R],
        checks: Sequence[AuditEvent],
        overridden: tuple[ComplianceViolation, ...],
        opening: AttemptStarted,
    ) -> _R:
        """Record the attempt, send it, and settle its outcome: the exactly-once core.

        Shared by order commits, modifications and trade bookings (`book`):
        the attempt (*opening*, numbered here) is recorded with *checks* before
        anything is sent, under an event id per attempt, so two processes can
        never both send it; any earlier attempt is looked up right before, and
        an open one within its lease stops the send.
        """
        trail = route.trail
        settle: list[AuditEvent] = []
        if trail.attempts:
            # Re-reading the inputs and the what-if took time, during which an
            # earlier attempt's order may have appeared: look again right before
            # sending, and only then close an expired attempt as not booked.
            found = self._recovered(route)
            if found is not None:
                return found
            settle = self._settle_expired(trail)
        attempt = len(trail.attempts) + 1
        aid = trail.allocation_id
        started = self._event(
            trail,
            trail.started_kind,
            attrs.evolve(opening, attempt=attempt),
            event_id=f"{aid}/{trail.started_kind.value.lower()}/{attempt}",
        )
        try:
            self._record([*settle, *checks, started])
        except EventConflictError as exc:
            raise CommitInProgressError(
                f"allocation {aid}: attempt {attempt} was started by "
                f"{exc.stored.actor} at {format_time(exc.stored.at)}; nothing sent"
            ) from None
        try:
            sent = route.send()
        except Exception as exc:
            return self._after_failure(route, attempt, exc, overridden, started)
        return route.done(attempt, sent, recovered=False, overridden=overridden)

    def _recovered(self, route: Route[_S, _R]) -> _R | None:
        """Look up what earlier attempts sent; hold an open one within its lease.

        Returns the receipt of an earlier attempt found booked (recorded now),
        or None when nothing was found and the lease allows a new send.
        """
        trail = route.trail
        found = self._look(route)
        if found is not None:
            last = trail.attempt_number(trail.attempts[-1])
            return route.done(last, found, recovered=True, overridden=())
        self._hold(trail)
        return None

    def _look(self, route: Route[_S, _R]) -> _S | None:
        """`Route.lookup`, or `CommitOutcomeUnknownError` (nothing sent) when it fails."""
        trail = route.trail
        try:
            return route.lookup()
        except Exception as exc:
            raise CommitOutcomeUnknownError(
                trail.allocation_id,
                f"outcome unknown: an earlier attempt may have booked the {trail.noun} and "
                f"the look-up failed ({type(exc).__name__}: {exc}); nothing sent, "
                f"{trail.verb} again later",
                retryable=True,
            ) from exc

    def _hold(self, trail: AllocationTrail) -> None:
        """Refuse to send while the open attempt's lease runs: its order may still appear.

        A send that timed out may be booked by the order system seconds later
        (the request was still being processed when the client gave up). The
        attempt stays open until the order is seen or its lease has passed.
        """
        open_attempt = trail.open_attempt
        if open_attempt is None or (trail.allocation_id, open_attempt) in self._settled_here:
            return
        started = trail.attempts[-1]
        until = started.at + self._commit_lease
        if self._now() >= until:
            return
        aid = trail.allocation_id
        if trail.outcome_unknown(open_attempt):
            raise CommitOutcomeUnknownError(
                aid,
                f"outcome unknown: attempt {open_attempt} failed ambiguously and its "
                f"{trail.noun} is not visible (yet); it may still be booked. Nothing sent; "
                f"{trail.verb} again after {format_time(until)}: the {trail.noun} is looked "
                f"up first and sent only if it was not booked",
                retryable=True,
                retry_at=until,
            )
        raise CommitInProgressError(
            f"allocation {aid}: attempt {open_attempt} was started by "
            f"{started.actor} at {format_time(started.at)} and may still be sending; "
            f"nothing sent; {trail.verb} again after {format_time(until)}"
        )

    def _settle_expired(self, trail: AllocationTrail) -> list[AuditEvent]:
        """The ``*_FAILED`` event (not booked) that closes an open attempt past its lease."""
        open_attempt = trail.open_attempt
        if open_attempt is None:
            return []
        return [
            self._event(
                trail,
                trail.failed_kind,
                Failed(
                    attempt=open_attempt,
                    outcome=OUTCOME_NOT_BOOKED,
                    error=f"no {trail.noun} found for the attempt, looked up right before "
                    "sending again",
                ),
                event_id=f"{trail.allocation_id}/settled/{open_attempt}",
            )
        ]

    def _after_failure(
        self,
        route: Route[_S, _R],
        attempt: int,
        exc: Exception,
        overridden: tuple[ComplianceViolation, ...],
        started: AuditEvent,
    ) -> _R:
        """Settle a failed send: not booked, rejected, or unknown (look it up, hold the lease)."""
        trail = route.trail
        aid = trail.allocation_id
        noun, verb = trail.noun, trail.verb
        cause = f"{type(exc).__name__}: {exc}"
        outcome = classify(exc)
        if outcome in SETTLED:  # certainly not booked: never sent, or refused
            self._settled_here.add((aid, attempt))
            self._record_quietly(trail, attempt, outcome, cause)
            never_sent = outcome == OUTCOME_NOT_BOOKED
            message = (
                f"the {noun} was never sent ({cause}); {verb} again"
                if never_sent
                else f"the {noun} was refused ({cause})"
            )
            raise CommitFailedError(aid, message, retryable=never_sent) from exc
        until = started.at + self._commit_lease
        later = (
            f"nothing is sent again before the {noun} is seen or {format_time(until)} "
            f"passes; {verb} again (it looks the {noun} up first)"
        )
        try:
            found = route.lookup()
        except Exception as lookup_exc:
            self._record_quietly(
                trail, attempt, OUTCOME_UNKNOWN, f"{cause}; look-up failed: {lookup_exc}"
            )
            raise CommitOutcomeUnknownError(
                aid,
                f"outcome unknown: the send failed ambiguously ({cause}) and the look-up "
                f"failed too ({type(lookup_exc).__name__}: {lookup_exc}); {later}",
                retryable=True,
                retry_at=until,
            ) from exc
        if found is not None:
            return route.done(attempt, found, recovered=True, overridden=overridden)
        # Not visible yet is not "not booked": a timed-out request may still be
        # processed. The attempt stays open (lease held) until it is settled.
        self._record_quietly(
            trail, attempt, OUTCOME_UNKNOWN, f"{cause}; the {noun} is not visible yet"
        )
        raise CommitOutcomeUnknownError(
            aid,
            f"outcome unknown: the send failed ambiguously ({cause}) and the {noun} is not "
            f"visible yet; it may still be booked. {later[0].upper()}{later[1:]}",
            retryable=True,
            retry_at=until,
        ) from exc

    def _record_done(
        self, trail: AllocationTrail, event: AuditEvent, what: str
    ) -> AuditEvent | None:
        """Record the success event every allocation has at most once (``COMMITTED``, ``BOOKED``).

        Returns None when it is recorded here, or the event another process
        recorded first under the same id (the receipt to return is built from it).

        Raises:
            AuditSinkError: *what* (``"order 7"``, ``"trade 9"``) was booked but
                could not be recorded; the message says to call again to record it.
        """
        try:
            self._record([event])
        except EventConflictError as exc:  # another process recorded it first
            return exc.stored
        except AuditSinkError as exc:
            label = "fill allocation" if trail.is_booking else "allocation"
            raise AuditSinkError(
                f"{what} was booked for {label} {trail.allocation_id} but {event.kind.value} "
                f"could not be recorded ({exc}); {trail.verb} it again to record it"
            ) from exc
        return None

    def _accounts(
        self,
        group: str,
        order: Order,
        live_order_id: str | None,
        *,
        fresh: bool = False,
    ) -> AccountTable:
        """The group's accounts; for a modification, without the live order's own lines.

        A source whose holdings count open orders (Aladdin's ``SOD+Trades+Orders``,
        see ``positions_include_open_orders``) already shows the order being
        modified in its positions: a re-allocation on those numbers would count it
        twice (a sell could not re-sell what the order itself is selling). Its
        lines are taken back out of the holdings. Cash is left as the source
        reports it. *live_order_id* is that order (None: a new order).
        """
        accounts: AccountTable = (
            read_fresh(self._source, "accounts", group, order.security.id)
            if fresh
            else self._source.accounts(group, order.security.id)
        )
        if live_order_id is None or not getattr(
            self._source, "positions_include_open_orders", False
        ):
            return accounts
        live = self._source.get_order(live_order_id)
        held = accounts.holding(order.security.id).copy()
        sign = live.side.sign
        for line in live.lines:
            try:
                held[accounts.index(line.account_id)] -= sign * line.quantity
            except KeyError:
                continue  # the account has left the group: nothing to take back
        holdings = dict(accounts.holdings)
        holdings[order.security.id] = held
        return attrs.evolve(accounts, holdings=holdings)

    def _trail(
        self, allocation_id: str, *, head: EventKind = EventKind.PREVIEWED
    ) -> AllocationTrail:
        """An allocation's events; *head* opens it (``FILLS_ALLOCATED`` for a booking).

        Raises:
            UnknownAllocationError: The trail holds no *head* event for it.
        """
        events = tuple(self._sink.events(allocation_id=allocation_id))
        if not any(e.kind is head for e in events):
            raise UnknownAllocationError(allocation_id)
        return AllocationTrail(allocation_id, events)

    def _current_trail(self, order_id: str) -> AllocationTrail:
        """The allocation an order currently carries: the last one committed as it."""
        committed = [
            e for e in self._sink.events(kinds={EventKind.COMMITTED}) if e.order_id == order_id
        ]
        if not committed:
            raise UnknownOrderError(order_id)
        return self._trail(committed[-1].allocation_id)

    # --- recording ----------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        now = self._clock()
        if now.utcoffset() is None:
            raise DeskError(f"the desk's clock returned a naive time {now!r}: make it UTC")
        return now.astimezone(dt.timezone.utc)

    def _event(
        self,
        trail: AllocationTrail,
        kind: EventKind,
        payload: object,
        *,
        event_id: str | None = None,
        order_id: str | None = None,
    ) -> AuditEvent:
        """The event of *kind* with *payload*: its record of `~orderalloc.desk._records`.

        The record is encoded by the trail's one converter; the source stamp is added.
        """
        assert isinstance(payload, RECORDS[kind]), (kind, payload)
        payload = encode(payload)
        return AuditEvent(
            allocation_id=trail.allocation_id,
            kind=kind,
            actor=self._actor,
            payload={**payload, SOURCE_KEY: self._source_stamp},
            at=self._now(),
            event_id=event_id or str(uuid.uuid4()),
            security_id=trail.security_id,
            order_id=order_id,
        )

    def _failed(self, trail: AllocationTrail, attempt: int, outcome: str, error: str) -> AuditEvent:
        return self._event(
            trail,
            trail.failed_kind,
            Failed(attempt=attempt, outcome=outcome, error=error),
        )

    def _refuse(
        self,
        trail: AllocationTrail,
        check: str,
        error: DeskError,
        details: Mapping[str, Any],
        *,
        before: Sequence[AuditEvent] = (),
    ) -> None:
        """Record a refusal by the desk's own checks (best effort: the refusal stands)."""
        event = self._event(
            trail,
            trail.failed_kind,
            Failed(outcome=OUTCOME_REFUSED, check=check, error=str(error), **details),
        )
        try:
            self._record([*before, event])
        except (AuditSinkError, EventConflictError) as exc:
            logger.warning("could not record the refusal of %s: %s", trail.allocation_id, exc)

    def _record_quietly(
        self, trail: AllocationTrail, attempt: int, outcome: str, error: str
    ) -> None:
        """Record a failed attempt; if the trail is down too, the next commit settles it."""
        try:
            self._record([self._failed(trail, attempt, outcome, error)])
        except (AuditSinkError, EventConflictError) as exc:
            logger.warning(
                "could not record COMMIT_FAILED for %s attempt %d: %s",
                trail.allocation_id,
                attempt,
                exc,
            )

    def _record(self, events: Sequence[AuditEvent]) -> None:
        """Append *events* atomically, retrying a failed append with the same events.

        Raises:
            EventConflictError: An event id is stored for a different event.
            AuditSinkError: The sink kept failing; none of the missing events is stored.
        """
        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            try:
                self._sink.append(events)
                return
            except AuditSinkError as exc:
                if self._stored(events):
                    return  # stored; only the acknowledgement was lost
                if attempt == _APPEND_ATTEMPTS:
                    raise
                logger.warning("audit append failed (attempt %d), retrying: %s", attempt, exc)

    def _stored(self, events: Sequence[AuditEvent]) -> bool:
        """Whether every event is stored identically; raise on a different one under its id."""
        try:
            found = [self._sink.get(e.event_id) for e in events]
        except AuditSinkError:
            return False
        for event, stored in zip(events, found, strict=True):
            if stored is not None and not stored.same_as(event):
                raise EventConflictError(stored)
        return all(stored is not None for stored in found)
