"""The desk: preview -> what-if -> commit -> modify / cancel, every step audited first.

A `Desk` joins a data source (Aladdin, the mock, your adapter) and an audit sink::

    desk = Desk(AladdinClient(AladdinConfig.from_env()))     # SQLite trail by default
    preview = desk.preview("BIG6", "91282CJL6", "BUY", 5_000_000)
    receipt = desk.commit(preview.allocation_id)

What it records, in order, for one allocation (``allocation_id``)::

    PREVIEWED            inputs' fingerprint, the full result: the allocation can be
                         rebuilt from the trail alone, by another process
    COMPLIANCE_CHECKED   what-if violations, whether the inputs moved since the preview
    OVERRIDDEN           who overrode blocking violations, and why (only then)
    COMMIT_STARTED       attempt n, written before the order is sent (MODIFIED for a change)
    COMMITTED            order id, version, status: once per allocation, ever
    COMMIT_FAILED        outcome: rejected, not_booked, unknown (retry), refused (checks)
    CANCELLED            the order was cancelled

**Idempotency.** The order carries the allocation id as its external id. A write
whose outcome is unknown (a timeout, a 5xx after sending, a dropped connection,
a process killed mid-commit) is never re-sent blindly: whenever the trail holds
an attempt, `Desk.commit` first asks the source (``find_order``) whether the
order exists, and records ``COMMITTED`` if it does. ``COMMITTED`` has a fixed
event id per allocation and ``COMMIT_STARTED`` one per attempt, so two
processes racing on one allocation cannot both record either: the loser gets
`CommitInProgressError`.

**Outcome unknown.** A request that timed out may still be booked seconds
later: the order system was processing it when the client gave up. Not
finding the order at once proves nothing, so such an attempt is recorded
``COMMIT_FAILED`` with outcome ``unknown`` and stays open: until the order is
seen or the attempt's *commit lease* has passed, every commit looks it up and
sends nothing (`CommitOutcomeUnknownError`, with ``retry_at``). After the
lease, a commit re-reads the inputs and the what-if, then looks the order up
once more right before it sends, and only then closes the old attempt as
``not_booked``. Only a send that certainly never left the client (no
connection could be opened) is ``not_booked`` at once.

The errors the desk raises, under `~orderalloc.errors.DeskError`::

    DeskError
    ├── UnknownAllocationError (also LookupError)   no preview with that id in the trail
    ├── UnknownOrderError (also LookupError)        no committed allocation for that order
    ├── NothingToCommitError                        the preview allocated nothing
    ├── StalePreviewError                           the preview is older than max_age
    ├── InputsChangedError                          a line no longer fits fresh inputs
    ├── ComplianceRefusedError                      blocking what-if violations, no override
    ├── CommitInProgressError                       another process holds this attempt
    └── CommitFailedError                           refused by the order system, or not booked
        └── CommitOutcomeUnknownError               cannot tell whether it was booked (yet)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import logging
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs

from ._desk_fills import (
    BookingReceipt,
    FillPreview,
    FillsChangedError,
    NothingToBookError,
    PostTrade,
)
from ._desk_records import (
    OUTCOME_NOT_BOOKED,
    OUTCOME_REFUSED,
    OUTCOME_REJECTED,
    OUTCOME_UNKNOWN,
    AllocationTrail,
    fingerprint,
    is_ambiguous,
    jsonable,
    line_problems,
    never_sent,
    result_from_payload,
    violation_payload,
)
from ._desk_records import EventConflictError as _ConflictError
from ._desk_types import (
    CommitFailedError,
    CommitInProgressError,
    CommitOutcomeUnknownError,
    CommitReceipt,
    ComplianceRefusedError,
    InputsChangedError,
    NothingToCommitError,
    Preview,
    StalePreviewError,
    UnknownAllocationError,
    UnknownOrderError,
)
from .allocation import allocate
from .audit import AuditEvent, AuditSink, EventKind, SQLiteAuditSink
from .audit.events import SOURCE_KEY, format_time
from .errors import AuditSinkError, DeskError
from .model import AccountTable, Order, Security, Side
from .serialization import to_json
from .sources import source_stamp
from .sources.orders import ComplianceViolation, OrderLine, OrderStatus, OrderTicket, PostedOrder
from .sources.protocol import DataSource, read_fresh
from .sources.trades import BookedTrade, TradeTicket

__all__ = [
    "BookingReceipt",
    "CommitFailedError",
    "CommitInProgressError",
    "CommitOutcomeUnknownError",
    "CommitReceipt",
    "ComplianceRefusedError",
    "Desk",
    "FillPreview",
    "FillsChangedError",
    "InputsChangedError",
    "NothingToBookError",
    "NothingToCommitError",
    "Preview",
    "StalePreviewError",
    "UnknownAllocationError",
    "UnknownOrderError",
    "fingerprint",
]

logger = logging.getLogger("orderalloc.desk")

# What the exactly-once core (`Desk._send_once`) sends, gets back and returns:
# an order (commit, modify) or a block trade (book).
_Ticket = OrderTicket | TradeTicket
_Sent = PostedOrder | BookedTrade
_Receipt = CommitReceipt | BookingReceipt


# A sink that fails an append may still have stored it (a lost acknowledgement);
# appends are idempotent by event id, so the desk retries with the same events.
_APPEND_ATTEMPTS = 3


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "unknown"


# --- the desk -----------------------------------------------------------------------------------


class Desk(PostTrade):
    """Previews, commits, modifies and cancels orders, recording each step before it happens.

    Every decision is read back from the audit trail, not from memory: a
    preview made in one process can be committed, or an interrupted commit
    resumed, by another.

    Args:
        source: Where accounts and securities come from and orders go to.
        sink: The audit trail. Defaults to a `~orderalloc.audit.SQLiteAuditSink`
            in the user's data directory (closed by `close`).
        actor: Who is acting, recorded on every event. Defaults to the login name.
        max_age: How old a preview `commit` still accepts.
        commit_lease: How long an attempt whose outcome is not known stays
            open: one with no recorded outcome (another process may still be
            sending: `CommitInProgressError`) or one whose send failed
            ambiguously (a timeout: `CommitOutcomeUnknownError`). Within it, a
            `commit` that cannot find the order sends nothing: the order
            system may still book the first send. Make it longer than the
            order system can take to process a write it received (the
            client's timeouts and retries included).
        clock: Returns the current time, timezone-aware (tests pass a fake).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        source: DataSource,
        sink: AuditSink | None = None,
        *,
        actor: str | None = None,
        max_age: dt.timedelta = dt.timedelta(minutes=15),
        commit_lease: dt.timedelta = dt.timedelta(minutes=2),
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._source = source
        # Every event says which source it was about (mock or real, and where).
        self._source_stamp = source_stamp(source)
        self._owns_sink = sink is None
        if sink is None:  # say where: a silent default would hide the trail from its owner
            sink = SQLiteAuditSink()
            warnings.warn(
                f"Desk: no sink given, recording the audit trail in {sink.path}", stacklevel=2
            )
        self._sink: AuditSink = sink
        self._actor = actor or _default_actor()
        self._max_age = max_age
        self._commit_lease = commit_lease
        self._clock = clock
        # Attempts this desk saw end without booking for certain (refused, or never
        # sent) but could not record so: no lease for those. An ambiguous end (a
        # timeout) is not in here: the order system may still book it.
        self._settled_here: set[tuple[str, int]] = set()

    def __repr__(self) -> str:
        return f"Desk(source={self._source!r}, sink={self._sink!r}, actor={self._actor!r})"

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

    def close(self) -> None:
        """Close the audit sink if the desk opened it (the default one)."""
        if self._owns_sink:
            self._sink.close()

    def __enter__(self) -> Desk:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- preview ------------------------------------------------------------------------

    def preview(
        self,
        group: str,
        security_id: str,
        side: Side | str,
        quantity: float,
        method: str = "pro_rata",
        seed: int | None = None,
        **params: Any,
    ) -> Preview:
        """Allocate an order across *group* and record it (``PREVIEWED``); nothing is sent.

        Args:
            group: The portfolio group.
            security_id: The security (CUSIP / Aladdin asset id).
            side: ``"BUY"`` or ``"SELL"``.
            quantity: Original face to allocate.
            method: The engine (see `orderalloc.allocate`); pro-rata by NAV by
                default, as everywhere (`orderalloc.allocate`, the command line).
            seed: Tie-break seed (default: derived from the order).
            **params: The engine's parameters; recorded, and reused by `modify`.

        Returns:
            The allocation, its id and the inputs' fingerprint.

        Raises:
            NotFoundError: No such group or security.
            InvalidInputError: The order or a parameter is invalid.
            AuditSinkError: The preview could not be recorded (then it does not exist).
        """
        return self._preview(group, security_id, side, quantity, method, seed, params, None)

    def get_preview(self, allocation_id: str) -> Preview:
        """Rebuild a preview from the audit trail alone (any process, after a restart).

        Raises:
            UnknownAllocationError: No such preview in the trail.
        """
        trail = self._trail(allocation_id)
        payload = trail.payload
        return Preview(
            allocation_id=allocation_id,
            group=str(payload["group"]),
            result=result_from_payload(payload["result"]),
            created_at=trail.created_at,
            fingerprint=str(payload["fingerprint"]),
        )

    def _preview(
        self,
        group: str,
        security_id: str,
        side: Side | str,
        quantity: float,
        method: str,
        seed: int | None,
        params: Mapping[str, Any],
        modifies: Mapping[str, Any] | None,
    ) -> Preview:
        # A modification re-allocates on today's inputs: no cached reads.
        security: Security = (
            self._source.security(security_id)
            if modifies is None
            else read_fresh(self._source, "security", security_id)
        )
        order = Order(security=security, side=side, quantity=quantity)
        accounts = self._accounts(group, order, modifies, fresh=modifies is not None)
        as_of = self._now()
        result = allocate(order, accounts, method=method, seed=seed, **params)
        allocation_id = str(uuid.uuid4())
        digest = fingerprint(order, accounts)
        created = self._now()
        allocated = [
            ident
            for ident, q in zip(result.account_ids, result.quantity.tolist(), strict=True)
            if q > 0
        ]
        payload: dict[str, Any] = {
            "group": group,
            "security_id": security_id,
            "side": order.side.value,
            "quantity": order.quantity,
            "allocated": result.allocated,
            "method": method,
            "params": jsonable(to_json(dict(params))),
            "seed": seed,
            "fingerprint": digest,
            "inputs_as_of": format_time(as_of),
            "result": jsonable(to_json(result)),
            SOURCE_KEY: self._source_stamp,
        }
        if modifies is not None:
            payload["modifies"] = dict(modifies)
        event = AuditEvent(
            allocation_id=allocation_id,
            kind=EventKind.PREVIEWED,
            actor=self._actor,
            payload=payload,
            at=created,
            account_ids=allocated,
            security_id=security_id,
            order_id=None if modifies is None else str(modifies["order_id"]),
        )
        self._record([event])
        return Preview(
            allocation_id=allocation_id,
            group=group,
            result=result,
            created_at=event.at,
            fingerprint=digest,
        )

    # --- commit -------------------------------------------------------------------------

    def commit(
        self,
        allocation_id: str,
        *,
        comment: str | None = None,
        override_warnings: bool = False,
    ) -> CommitReceipt:
        """Send a recorded preview to the order system, exactly once.

        Safe to call again after any failure, from any process: an allocation
        already committed returns its order; an attempt whose outcome is unknown
        is looked up (``find_order``) before anything is sent.

        Args:
            allocation_id: The preview's id.
            comment: Stored with the order, and with the override if any.
            override_warnings: Post despite blocking what-if violations
                (recorded as ``OVERRIDDEN``).

        Returns:
            The order; see `CommitReceipt` for how it was obtained.

        Raises:
            UnknownAllocationError: No such preview.
            NothingToCommitError: The preview allocated nothing.
            StalePreviewError: The preview is older than ``max_age``.
            InputsChangedError: A line no longer fits the reloaded accounts.
            ComplianceRefusedError: Blocking violations and no override.
            CommitInProgressError: Another process is committing this allocation.
            CommitFailedError: The order system refused it, or it was never sent.
            CommitOutcomeUnknownError: Whether it was booked cannot be told yet
                (the send failed ambiguously and the order is not visible, or the
                look-up failed): nothing more is sent before the order is seen
                or ``retry_at`` (the lease) has passed. Commit again.
            DataSourceError: A read (accounts, what-if) failed; nothing was sent.
            AuditSinkError: A step could not be recorded; if the order was booked,
                the next commit records it.
        """
        trail = self._trail(allocation_id)
        if trail.committed is not None:
            return self._already_committed(trail, trail.committed)
        lines = trail.lines
        if not lines:
            raise NothingToCommitError(f"preview {allocation_id} allocated nothing: no order")
        ticket = OrderTicket(
            security_id=str(trail.payload["security_id"]),
            side=trail.side,
            lines=lines,
            external_id=trail.external_id,
            comment=comment,
        )
        if trail.attempts:
            resumed = self._resume(trail, ticket)
            if resumed is not None:
                assert isinstance(resumed, CommitReceipt)
                return resumed
        overridden, checks = self._check(trail, ticket, override_warnings, comment)
        receipt = self._send_once(
            trail,
            ticket,
            checks,
            overridden,
            {
                "external_id": ticket.external_id,
                "lines": len(ticket.lines),
                "quantity": ticket.quantity,
                "comment": comment,
            },
        )
        assert isinstance(receipt, CommitReceipt)
        return receipt

    def _send_once(
        self,
        trail: AllocationTrail,
        ticket: _Ticket,
        checks: Sequence[AuditEvent],
        overridden: tuple[ComplianceViolation, ...],
        details: Mapping[str, Any],
    ) -> _Receipt:
        """Record the attempt, send it, and settle its outcome: the exactly-once core.

        Shared by order commits, modifications and trade bookings (`book`):
        the attempt (*details* in its payload) is recorded with *checks* before
        anything is sent, under an event id per attempt, so two processes can
        never both send it; any earlier attempt is looked up right before, and
        an open one within its lease stops the send.
        """
        settle: list[AuditEvent] = []
        if trail.attempts:
            # Re-reading the inputs and the what-if took time, during which an
            # earlier attempt's order may have appeared: look again right before
            # sending, and only then close an expired attempt as not booked.
            found = self._look(trail, ticket)
            if found is not None:
                last = int(trail.attempts[-1].payload["attempt"])
                return self._done(trail, last, found, recovered=True, overridden=())
            self._hold(trail)
            settle = self._settle_expired(trail)
        attempt = len(trail.attempts) + 1
        aid = trail.allocation_id
        started = self._event(
            trail,
            trail.started_kind,
            {"attempt": attempt, **details},
            event_id=f"{aid}/{trail.started_kind.value.lower()}/{attempt}",
        )
        try:
            self._record([*settle, *checks, started])
        except _ConflictError as exc:
            raise CommitInProgressError(
                f"allocation {aid}: attempt {attempt} was started by "
                f"{exc.stored.actor} at {format_time(exc.stored.at)}; nothing sent"
            ) from None
        try:
            sent = self._send(trail, ticket)
        except Exception as exc:
            return self._after_failure(trail, ticket, attempt, exc, overridden, started)
        return self._done(trail, attempt, sent, recovered=False, overridden=overridden)

    def _done(
        self,
        trail: AllocationTrail,
        attempt: int,
        sent: _Sent,
        *,
        recovered: bool,
        overridden: tuple[ComplianceViolation, ...],
    ) -> _Receipt:
        """Record the success of *attempt*: ``COMMITTED`` for an order, ``BOOKED`` for a trade."""
        if isinstance(sent, BookedTrade):
            return self._booked_receipt(trail, attempt, sent, recovered=recovered)
        return self._committed(trail, attempt, sent, recovered=recovered, overridden=overridden)

    def _resume(self, trail: AllocationTrail, ticket: _Ticket) -> _Receipt | None:
        """Look up what earlier attempts sent; hold an open one within its lease."""
        found = self._look(trail, ticket)
        if found is not None:
            last = int(trail.attempts[-1].payload["attempt"])
            return self._done(trail, last, found, recovered=True, overridden=())
        self._hold(trail)
        return None

    def _look(self, trail: AllocationTrail, ticket: _Ticket) -> _Sent | None:
        """`_lookup`, or `CommitOutcomeUnknownError` (nothing sent) when it fails."""
        try:
            return self._lookup(trail, ticket)
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
                {
                    "attempt": open_attempt,
                    "outcome": OUTCOME_NOT_BOOKED,
                    "error": f"no {trail.noun} found for the attempt, looked up right before "
                    "sending again",
                },
                event_id=f"{trail.allocation_id}/settled/{open_attempt}",
            )
        ]

    def _check(
        self,
        trail: AllocationTrail,
        ticket: OrderTicket,
        override: bool,
        comment: str | None,
    ) -> tuple[tuple[ComplianceViolation, ...], list[AuditEvent]]:
        """Age, inputs, compliance; the violations overridden and the events to record."""
        aid = trail.allocation_id
        age = self._now() - trail.created_at
        if age > self._max_age:
            error: DeskError = StalePreviewError(aid, age, self._max_age)
            self._refuse(trail, "stale", error, {"age_seconds": age.total_seconds()})
            raise error
        order = trail.order
        # Fresh reads (no client cache): a change since the preview must show here.
        security: Security = read_fresh(self._source, "security", order.security.id)
        fresh = attrs.evolve(order, security=security)
        accounts = self._accounts(str(trail.payload["group"]), fresh, trail.modifies, fresh=True)
        problems = line_problems(fresh, ticket.lines, accounts)
        if problems:
            error = InputsChangedError(aid, problems)
            self._refuse(trail, "inputs_changed", error, {"problems": problems})
            raise error
        report = self._source.what_if(ticket)
        blocking = tuple(v for v in report.violations if v.blocking)
        digest = fingerprint(fresh, accounts)
        checked = self._event(
            trail,
            EventKind.COMPLIANCE_CHECKED,
            {
                "passed": report.passed,
                "blocking": len(blocking),
                "violations": [violation_payload(v) for v in report.violations],
                "inputs_fingerprint": digest,
                "inputs_changed": digest != trail.payload["fingerprint"],
            },
        )
        if blocking and not override:
            quantities = {line.account_id: line.quantity for line in ticket.lines}
            error = ComplianceRefusedError(aid, report.violations, quantities)
            self._refuse(trail, "compliance", error, {}, before=[checked])
            raise error
        events = [checked]
        if blocking:
            events.append(
                self._event(
                    trail,
                    EventKind.OVERRIDDEN,
                    {
                        "by": self._actor,
                        "comment": comment,
                        "violations": [violation_payload(v) for v in blocking],
                    },
                )
            )
        return blocking, events

    def _send(self, trail: AllocationTrail, ticket: _Ticket) -> _Sent:
        if isinstance(ticket, TradeTicket):
            return self._trade_source().book_trade(ticket)
        mod = trail.modifies
        if mod is None:
            return self._source.post_order(ticket)
        return self._source.modify_order(str(mod["order_id"]), ticket)

    def _lookup(self, trail: AllocationTrail, ticket: _Ticket) -> _Sent | None:
        """What an attempt booked, or None: by external id, or for a change by content."""
        if isinstance(ticket, TradeTicket):
            return self._find_booking(ticket)
        mod = trail.modifies
        if mod is None:
            return self._source.find_order(ticket.external_id)
        posted = self._source.get_order(str(mod["order_id"]))
        applied = posted.version > int(mod["base_version"]) and _same_lines(
            posted.lines, ticket.lines
        )
        return posted if applied else None

    def _after_failure(
        self,
        trail: AllocationTrail,
        ticket: _Ticket,
        attempt: int,
        exc: Exception,
        overridden: tuple[ComplianceViolation, ...],
        started: AuditEvent,
    ) -> _Receipt:
        aid = trail.allocation_id
        noun, verb = trail.noun, trail.verb
        cause = f"{type(exc).__name__}: {exc}"
        if never_sent(exc):
            self._settled_here.add((aid, attempt))
            self._record_quietly(trail, attempt, OUTCOME_NOT_BOOKED, cause)
            raise CommitFailedError(
                aid, f"the {noun} was never sent ({cause}); {verb} again", retryable=True
            ) from exc
        if not is_ambiguous(exc):
            self._settled_here.add((aid, attempt))
            self._record_quietly(trail, attempt, OUTCOME_REJECTED, cause)
            raise CommitFailedError(
                aid, f"the {noun} was refused ({cause})", retryable=False
            ) from exc
        until = started.at + self._commit_lease
        later = (
            f"nothing is sent again before the {noun} is seen or {format_time(until)} "
            f"passes; {verb} again (it looks the {noun} up first)"
        )
        try:
            found = self._lookup(trail, ticket)
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
            return self._done(trail, attempt, found, recovered=True, overridden=overridden)
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

    def _committed(
        self,
        trail: AllocationTrail,
        attempt: int,
        posted: PostedOrder,
        *,
        recovered: bool,
        overridden: tuple[ComplianceViolation, ...],
    ) -> CommitReceipt:
        event = self._event(
            trail,
            EventKind.COMMITTED,
            {
                "attempt": attempt,
                "external_id": posted.external_id,
                "version": posted.version,
                "status": posted.status,
                "quantity": posted.quantity,
                "lines": len(posted.lines),
                "recovered": recovered,
            },
            event_id=f"{trail.allocation_id}/committed",
            order_id=posted.order_id,
        )
        try:
            self._record([event])
        except _ConflictError as exc:  # another process recorded it first
            return self._already_committed(trail, exc.stored)
        except AuditSinkError as exc:
            raise AuditSinkError(
                f"order {posted.order_id} was booked for allocation {trail.allocation_id} "
                f"but COMMITTED could not be recorded ({exc}); commit it again to record it"
            ) from exc
        return CommitReceipt(
            allocation_id=trail.allocation_id,
            order=posted,
            recovered=recovered,
            overridden=overridden,
        )

    def _already_committed(self, trail: AllocationTrail, committed: AuditEvent) -> CommitReceipt:
        assert committed.order_id is not None  # every COMMITTED names its order
        return CommitReceipt(
            allocation_id=trail.allocation_id,
            order=self._source.get_order(committed.order_id),
            already_committed=True,
            recovered=bool(committed.payload.get("recovered", False)),
        )

    def _accounts(
        self,
        group: str,
        order: Order,
        modifies: Mapping[str, Any] | None,
        *,
        fresh: bool = False,
    ) -> AccountTable:
        """The group's accounts; for a modification, without the live order's own lines.

        A source whose holdings count open orders (Aladdin's ``SOD+Trades+Orders``,
        see ``positions_include_open_orders``) already shows the order being
        modified in its positions: a re-allocation on those numbers would count it
        twice (a sell could not re-sell what the order itself is selling). Its
        lines are taken back out of the holdings. Cash is left as the source
        reports it.
        """
        accounts: AccountTable = (
            read_fresh(self._source, "accounts", group, order.security.id)
            if fresh
            else self._source.accounts(group, order.security.id)
        )
        if modifies is None or not getattr(self._source, "positions_include_open_orders", False):
            return accounts
        live = self._source.get_order(str(modifies["order_id"]))
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

    # --- modify and cancel --------------------------------------------------------------

    def modify(
        self,
        order_id: str,
        *,
        quantity: float,
        comment: str | None = None,
        override_warnings: bool = False,
    ) -> CommitReceipt:
        """Re-allocate a live order to a new *quantity* and replace its lines.

        The order's allocation is found in the audit trail; the new allocation uses
        its method, parameters and seed on fresh inputs, is recorded as a new
        preview linked to the order (``PREVIEWED`` with ``modifies``), and is then
        committed like any preview (what-if, ``MODIFIED`` before sending,
        ``COMMITTED`` with the new version). The order keeps its external id.

        Returns:
            The receipt of the new allocation (``receipt.allocation_id``).

        Raises:
            UnknownOrderError: No committed allocation made this order.
            CommitFailedError: The order system refused the change (e.g. not live).
            DeskError, DataSourceError, AuditSinkError: As `commit`.
        """
        pending = self._pending_modification(order_id, quantity)
        if pending is not None:
            return pending
        current = self._current_trail(order_id)
        posted = self._source.get_order(order_id)
        p = current.payload
        modifies = {
            "order_id": order_id,
            "allocation_id": current.allocation_id,
            "external_id": posted.external_id or current.external_id,
            "base_version": posted.version,
        }
        preview = self._preview(
            str(p["group"]),
            str(p["security_id"]),
            str(p["side"]),
            quantity,
            str(p["method"]),
            p["seed"],
            dict(p["params"]),
            modifies,
        )
        return self.commit(
            preview.allocation_id, comment=comment, override_warnings=override_warnings
        )

    def _pending_modification(self, order_id: str, quantity: float) -> CommitReceipt | None:
        """Settle an earlier modification of *order_id* that may have been applied.

        A change whose send failed ambiguously (a timeout) may be applied by the
        order system later. Before another change is made, it is looked up: if
        it was applied it is recorded (and returned when it asked for the same
        *quantity*: modifying again is then a no-op); within its lease nothing
        is sent (`CommitOutcomeUnknownError` names it).
        """
        changes = {
            e.allocation_id
            for e in self._sink.events(kinds={EventKind.PREVIEWED})
            if e.order_id == order_id and e.payload.get("modifies") is not None
        }
        sent = {
            e.allocation_id
            for e in self._sink.events(kinds={EventKind.MODIFIED})
            if e.allocation_id in changes
        }
        for allocation_id in sorted(sent):
            trail = self._trail(allocation_id)
            if trail.committed is not None or trail.open_attempt is None:
                continue
            ticket = OrderTicket(
                security_id=str(trail.payload["security_id"]),
                side=trail.side,
                lines=trail.lines,
                external_id=trail.external_id,
            )
            receipt = self._resume(trail, ticket)
            assert receipt is None or isinstance(receipt, CommitReceipt)
            if receipt is not None and float(trail.payload["quantity"]) == float(quantity):
                return receipt
            if receipt is None:  # its lease has passed and no change is visible
                with contextlib.suppress(_ConflictError):  # another process settled it
                    self._record(self._settle_expired(trail))
        return None

    def cancel(self, order_id: str, reason: str) -> PostedOrder:
        """Cancel an order the desk committed, and record it (``CANCELLED``).

        Cancelling twice is harmless: an order already cancelled is returned as
        it is, and recorded once.

        Raises:
            UnknownOrderError: No committed allocation made this order.
            DataSourceError: The cancel failed and the order is not cancelled.
            AuditSinkError: The cancel happened but could not be recorded (cancel
                again to record it).
        """
        current = self._current_trail(order_id)
        if any(e.kind is EventKind.CANCELLED for e in current.events):
            return self._source.get_order(order_id)
        try:
            posted = self._source.cancel_order(order_id, reason)
        except Exception:
            # Refused because it is no longer live, or the answer was lost: look.
            posted = self._source.get_order(order_id)
            if posted.status != OrderStatus.CANCELLED:
                raise
        # Recorded after the fact: a cancel cannot be undone, and one that died
        # before this line is found (not live any more) and recorded by the next call.
        event = self._event(
            current,
            EventKind.CANCELLED,
            {"reason": reason, "version": posted.version, "status": posted.status},
            event_id=f"{current.allocation_id}/cancelled",
            order_id=order_id,
        )
        with contextlib.suppress(_ConflictError):  # another process recorded the cancel first
            self._record([event])
        return posted

    # --- reading the trail --------------------------------------------------------------

    def history(self, allocation_id: str) -> list[AuditEvent]:
        """Every event of an allocation, in the order recorded.

        Raises:
            UnknownAllocationError: The trail holds nothing for it.
        """
        events = self._sink.events(allocation_id=allocation_id)
        if not events:
            raise UnknownAllocationError(allocation_id)
        return events

    def status(self, allocation_id: str) -> str:
        """Where an allocation stands: the kind of its latest lifecycle event.

        ``"PREVIEWED"``, ``"COMMIT_STARTED"`` or ``"MODIFIED"`` (sent; outcome not
        recorded yet), ``"COMMITTED"``, ``"COMMIT_FAILED"`` (a later commit may
        retry) or ``"CANCELLED"``. Compliance checks and overrides do not change it.

        Raises:
            UnknownAllocationError: The trail holds nothing for it.
        """
        lifecycle = [
            e
            for e in self.history(allocation_id)
            if e.kind not in (EventKind.COMPLIANCE_CHECKED, EventKind.OVERRIDDEN)
        ]
        return lifecycle[-1].kind.value

    def _trail(self, allocation_id: str) -> AllocationTrail:
        events = tuple(self._sink.events(allocation_id=allocation_id))
        if not any(e.kind is EventKind.PREVIEWED for e in events):
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
        payload: Mapping[str, Any],
        *,
        event_id: str | None = None,
        order_id: str | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            allocation_id=trail.allocation_id,
            kind=kind,
            actor=self._actor,
            payload={**payload, SOURCE_KEY: self._source_stamp},
            at=self._now(),
            event_id=event_id or str(uuid.uuid4()),
            security_id=str(trail.payload["security_id"]),
            order_id=order_id,
        )

    def _failed(self, trail: AllocationTrail, attempt: int, outcome: str, error: str) -> AuditEvent:
        return self._event(
            trail,
            trail.failed_kind,
            {"attempt": attempt, "outcome": outcome, "error": error},
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
            {"outcome": OUTCOME_REFUSED, "check": check, "error": str(error), **details},
        )
        try:
            self._record([*before, event])
        except (AuditSinkError, _ConflictError) as exc:
            logger.warning("could not record the refusal of %s: %s", trail.allocation_id, exc)

    def _record_quietly(
        self, trail: AllocationTrail, attempt: int, outcome: str, error: str
    ) -> None:
        """Record a failed attempt; if the trail is down too, the next commit settles it."""
        try:
            self._record([self._failed(trail, attempt, outcome, error)])
        except (AuditSinkError, _ConflictError) as exc:
            logger.warning(
                "could not record COMMIT_FAILED for %s attempt %d: %s",
                trail.allocation_id,
                attempt,
                exc,
            )

    def _record(self, events: Sequence[AuditEvent]) -> None:
        """Append *events* atomically, retrying a failed append with the same events.

        Raises:
            _ConflictError: An event id is stored for a different event.
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
                raise _ConflictError(stored)
        return all(stored is not None for stored in found)


def _same_lines(a: Sequence[OrderLine], b: Sequence[OrderLine]) -> bool:
    return {line.account_id: line.quantity for line in a} == {
        line.account_id: line.quantity for line in b
    }


# Reprs, tracebacks and docs say orderalloc.desk.X, where users import them from.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__ in (
        "orderalloc._desk_types",
        "orderalloc._desk_fills",
    ):
        if attrs.has(_obj):
            attrs.resolve_types(_obj)  # in their own module, before it changes
        _obj.__module__ = __name__
del _name, _obj
