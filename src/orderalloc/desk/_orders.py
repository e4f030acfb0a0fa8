"""The desk's order half: preview, what-if, commit, modify and cancel.

`~orderalloc.desk.Desk` inherits these methods. Orders are sent through the
exactly-once core (`~orderalloc.desk._core.DeskCore._send_once`) along an
`_OrderRoute`: a new order is posted and found by its external id; a change is
applied with ``modify_order`` and found by its content (a newer version with the
same lines).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from typing_extensions import Self

from .._allocation import allocate
from .._model import Order, Security, Side
from .._result import AllocationResult
from .._serialization import to_json
from ..audit import AuditEvent, EventKind
from ..audit.events import SOURCE_KEY, format_time
from ..sources.orders import ComplianceViolation, OrderLine, OrderStatus, OrderTicket, PostedOrder
from ..sources.protocol import read_fresh
from ._core import DeskCore
from ._records import (
    AttemptStarted,
    Cancelled,
    Committed,
    ComplianceChecked,
    Modifies,
    Overridden,
    Previewed,
    Violation,
    decode,
    encode,
)
from ._trail import (
    AllocationTrail,
    EventConflictError,
    fingerprint,
    jsonable,
    line_problems,
    result_from_payload,
)
from ._values import CommitReceipt, Preview
from .errors import (
    ComplianceRefusedError,
    InputsChangedError,
    NothingToCommitError,
    StalePreviewError,
)

__all__ = ["OrderDesk", "PreviewRequest"]


@attrs.frozen(kw_only=True)
class PreviewRequest:
    """What `OrderDesk._preview` allocates: the order, the engine, and what a change modifies."""

    group: str
    security_id: str
    side: Side | str
    quantity: float
    method: str
    seed: int | None
    params: Mapping[str, Any]
    modifies: Modifies | None = None


class OrderDesk(DeskCore):
    """Previews, commits, modifications and cancels; mixed into `~orderalloc.desk.Desk`."""

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
        return self._preview(
            PreviewRequest(
                group=group,
                security_id=security_id,
                side=side,
                quantity=quantity,
                method=method,
                seed=seed,
                params=params,
            )
        )

    def get_preview(self, allocation_id: str) -> Preview:
        """Rebuild a preview from the audit trail alone (any process, after a restart).

        Raises:
            UnknownAllocationError: No such preview in the trail.
        """
        trail = self._trail(allocation_id)
        previewed = trail.previewed
        return Preview(
            allocation_id=allocation_id,
            group=previewed.group,
            result=result_from_payload(previewed.result),
            created_at=trail.created_at,
            fingerprint=previewed.fingerprint,
        )

    def _preview(self, request: PreviewRequest) -> Preview:
        """Allocate *request* and record it (``PREVIEWED``)."""
        modifies = request.modifies
        live = None if modifies is None else modifies.order_id
        # A modification re-allocates on today's inputs: no cached reads.
        security: Security = (
            self._source.security(request.security_id)
            if modifies is None
            else read_fresh(self._source, "security", request.security_id)
        )
        order = Order(security=security, side=request.side, quantity=request.quantity)
        accounts = self._accounts(request.group, order, live, fresh=modifies is not None)
        as_of = self._now()
        result = allocate(
            order, accounts, method=request.method, seed=request.seed, **request.params
        )
        event, preview = self._previewed(
            request, result, fingerprint(order, accounts), as_of=as_of, at=self._now()
        )
        self._record([event])
        return preview

    def _previewed(
        self,
        request: PreviewRequest,
        result: AllocationResult,
        digest: str,
        *,
        as_of: dt.datetime,
        at: dt.datetime,
        **basket: Any,
    ) -> tuple[AuditEvent, Preview]:
        """The ``PREVIEWED`` event of *result* under a new allocation id, and its `Preview`.

        *digest* is the fingerprint of the inputs read at *as_of*; *basket* is
        an order's ``basket_id`` and ``basket_position`` in a basket
        (`~orderalloc.desk.BasketDesk`, which records the event with its basket's).
        """
        allocation_id = str(uuid.uuid4())
        order = result.order
        previewed = Previewed(
            group=request.group,
            security_id=request.security_id,
            side=order.side.value,
            quantity=order.quantity,
            allocated=result.allocated,
            method=request.method,
            params=jsonable(to_json(dict(request.params))),
            seed=request.seed,
            fingerprint=digest,
            inputs_as_of=format_time(as_of),
            result=jsonable(to_json(result)),
            modifies=request.modifies,
            **basket,
        )
        allocated = [
            ident
            for ident, q in zip(result.account_ids, result.quantity.tolist(), strict=True)
            if q > 0
        ]
        event = AuditEvent(
            allocation_id=allocation_id,
            kind=EventKind.PREVIEWED,
            actor=self._actor,
            payload={**encode(previewed), SOURCE_KEY: self._source_stamp},
            at=at,
            account_ids=allocated,
            security_id=request.security_id,
            order_id=None if request.modifies is None else request.modifies.order_id,
        )
        preview = Preview(
            allocation_id=allocation_id,
            group=request.group,
            result=result,
            created_at=event.at,
            fingerprint=digest,
        )
        return event, preview

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
        if not trail.lines:
            raise NothingToCommitError(f"preview {allocation_id} allocated nothing: no order")
        route = _OrderRoute.of(self, trail, comment)
        if trail.attempts:
            resumed = self._recovered(route)
            if resumed is not None:
                return resumed
        overridden, checks = self._check(trail, route.ticket, override_warnings, comment)
        return self._send_once(
            route,
            checks,
            overridden,
            AttemptStarted.of(route.ticket, comment),
        )

    def _check(
        self,
        trail: AllocationTrail,
        ticket: OrderTicket,
        override: bool,
        comment: str | None,
    ) -> tuple[tuple[ComplianceViolation, ...], list[AuditEvent]]:
        """Age, inputs, compliance; the violations overridden and the events to record."""
        aid = trail.allocation_id
        self._check_age(trail)
        order = trail.order
        # Fresh reads (no client cache): a change since the preview must show here.
        security: Security = read_fresh(self._source, "security", order.security.id)
        fresh = attrs.evolve(order, security=security)
        previewed = trail.previewed
        live = None if previewed.modifies is None else previewed.modifies.order_id
        accounts = self._accounts(previewed.group, fresh, live, fresh=True)
        problems = line_problems(fresh, ticket.lines, accounts)
        if problems:
            error = InputsChangedError(aid, problems)
            self._refuse(trail, "inputs_changed", error, {"problems": problems})
            raise error
        return self._compliance(trail, ticket, fingerprint(fresh, accounts), override, comment)

    def _check_age(self, trail: AllocationTrail) -> None:
        """Refuse (and record the refusal of) a preview older than ``max_age``."""
        age = self._now() - trail.created_at
        if age > self._max_age:
            error = StalePreviewError(trail.allocation_id, age, self._max_age)
            self._refuse(trail, "stale", error, {"age_seconds": age.total_seconds()})
            raise error

    def _compliance(
        self,
        trail: AllocationTrail,
        ticket: OrderTicket,
        digest: str,
        override: bool,
        comment: str | None,
        *,
        basket_id: str | None = None,
    ) -> tuple[tuple[ComplianceViolation, ...], list[AuditEvent]]:
        """The what-if of *ticket*: refused on blocking violations unless *override*.

        *digest* is the fingerprint of the fresh inputs the lines were checked
        on. Returns the violations overridden and the events to record with
        the attempt (``COMPLIANCE_CHECKED``, and ``OVERRIDDEN`` if any).
        """
        report = self._source.what_if(ticket)
        blocking = tuple(v for v in report.violations if v.blocking)
        checked = self._event(
            trail,
            EventKind.COMPLIANCE_CHECKED,
            ComplianceChecked(
                passed=report.passed,
                blocking=len(blocking),
                violations=tuple(Violation.of(v) for v in report.violations),
                inputs_fingerprint=digest,
                inputs_changed=digest != trail.previewed.fingerprint,
                basket_id=basket_id,
            ),
        )
        if blocking and not override:
            quantities = {line.account_id: line.quantity for line in ticket.lines}
            error = ComplianceRefusedError(trail.allocation_id, report.violations, quantities)
            self._refuse(trail, "compliance", error, {}, before=[checked])
            raise error
        events = [checked]
        if blocking:
            events.append(
                self._event(
                    trail,
                    EventKind.OVERRIDDEN,
                    Overridden(
                        by=self._actor,
                        comment=comment,
                        violations=tuple(Violation.of(v) for v in blocking),
                    ),
                )
            )
        return blocking, events

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
            Committed(
                attempt=attempt,
                external_id=posted.external_id,
                version=posted.version,
                status=posted.status,
                quantity=posted.quantity,
                lines=len(posted.lines),
                recovered=recovered,
            ),
            event_id=f"{trail.allocation_id}/committed",
            order_id=posted.order_id,
        )
        stored = self._record_done(trail, event, f"order {posted.order_id}")
        if stored is not None:
            return self._already_committed(trail, stored)
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
            recovered=decode(Committed, committed.payload).recovered,
        )

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
        p = current.previewed
        modifies = Modifies(
            order_id=order_id,
            allocation_id=current.allocation_id,
            external_id=posted.external_id or current.external_id,
            base_version=posted.version,
        )
        preview = self._preview(
            PreviewRequest(
                group=p.group,
                security_id=p.security_id,
                side=p.side,
                quantity=quantity,
                method=p.method,
                seed=p.seed,
                params=dict(p.params),
                modifies=modifies,
            )
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
            if e.order_id == order_id and decode(Previewed, e.payload).modifies is not None
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
            receipt = self._recovered(_OrderRoute.of(self, trail))
            if receipt is not None and trail.previewed.quantity == float(quantity):
                return receipt
            if receipt is None:  # its lease has passed and no change is visible
                with contextlib.suppress(EventConflictError):  # another process settled it
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
            Cancelled(reason=reason, version=posted.version, status=posted.status),
            event_id=f"{current.allocation_id}/cancelled",
            order_id=order_id,
        )
        with contextlib.suppress(EventConflictError):  # another process recorded the cancel
            self._record([event])
        return posted


def _same_lines(a: Sequence[OrderLine], b: Sequence[OrderLine]) -> bool:
    return {line.account_id: line.quantity for line in a} == {
        line.account_id: line.quantity for line in b
    }


@attrs.frozen
class _OrderRoute:
    """An order's way to the source: posted (or, for a change, modified) and found again."""

    desk: OrderDesk
    trail: AllocationTrail
    ticket: OrderTicket

    @classmethod
    def of(
        cls, desk: OrderDesk, trail: AllocationTrail, comment: str | None = None, **more: Any
    ) -> Self:
        """The route of *trail*'s order: its lines in a ticket carrying *comment*.

        *more* are a subclass's own fields (a basket's order: its basket).
        """
        ticket = OrderTicket(
            security_id=trail.security_id,
            side=trail.side,
            lines=trail.lines,
            external_id=trail.external_id,
            comment=comment,
        )
        return cls(desk, trail, ticket, **more)

    def send(self) -> PostedOrder:
        source = self.desk.source
        mod = self.trail.modifies
        if mod is None:
            return source.post_order(self.ticket)
        return source.modify_order(mod.order_id, self.ticket)

    def lookup(self) -> PostedOrder | None:
        """What an attempt booked, or None: by external id, or for a change by content."""
        source = self.desk.source
        mod = self.trail.modifies
        if mod is None:
            return source.find_order(self.ticket.external_id)
        posted = source.get_order(mod.order_id)
        applied = posted.version > mod.base_version and _same_lines(posted.lines, self.ticket.lines)
        return posted if applied else None

    def done(
        self,
        attempt: int,
        sent: PostedOrder,
        *,
        recovered: bool,
        overridden: tuple[ComplianceViolation, ...],
    ) -> CommitReceipt:
        return self.desk._committed(
            self.trail, attempt, sent, recovered=recovered, overridden=overridden
        )
