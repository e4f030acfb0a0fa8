"""What the desk writes to, and reads back from, the audit trail.

The desk's modules keep the flow (preview, checks, commit, recovery); this
module keeps the shapes: the inputs' fingerprint, the allocation result as a
JSON payload and back, the re-check of allocated lines
on fresh inputs, and `AllocationTrail`, an allocation's events read back from a
sink. Everything here is private; the names the desk exports live in
`orderalloc.desk`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from .._model import AccountTable, Order, Side
from .._reasons import Reason
from .._result import AllocationResult
from .._serialization import to_json
from ..audit import AuditEvent, EventKind, canonical_json
from ..limits import trade_bounds
from ..sources.orders import OrderLine
from ._outcomes import OUTCOME_UNKNOWN, SETTLED
from ._records import (
    CONVERTER,
    Attempt,
    Failed,
    FillsAllocated,
    Modifies,
    Previewed,
    decode,
)

__all__ = [
    "AllocationTrail",
    "EventConflictError",
    "fingerprint",
    "jsonable",
    "line_problems",
    "result_from_payload",
]


class EventConflictError(Exception):
    """Internal: an event id of the batch is stored for a different event."""

    def __init__(self, stored: AuditEvent) -> None:
        self.stored = stored
        super().__init__(stored.event_id)


def jsonable(text: str) -> Any:
    """Parse JSON text written by `to_json`, with NaN and infinity as ``None``.

    The audit trail's canonical JSON refuses NaN; the result's unknown values
    (a metric nobody has, a dispersion with no data) become ``null`` and come
    back as NaN through `result_from_payload`.
    """
    return json.loads(text, parse_constant=lambda _: None)


def result_from_payload(payload: Mapping[str, Any]) -> AllocationResult:
    """The `AllocationResult` stored in a ``PREVIEWED`` payload's ``result``."""
    data = json.loads(canonical_json(payload))  # read-only proxies -> plain dicts
    result: AllocationResult = CONVERTER.structure(data, AllocationResult)
    return result


def fingerprint(order: Order, accounts: AccountTable) -> str:
    """sha256 of the canonical JSON of *order* and, per account, what bounds its line.

    Per account: NAV, cash (``None`` when unknown), the face held of the order's
    security and whether it is restricted. Two loads with equal fingerprints
    would give the same allocation.
    """
    sec = order.security.id
    nav = accounts.nav.tolist()
    cash = accounts.cash.tolist() if accounts.cash is not None else [math.nan] * len(nav)
    held = accounts.holding(sec).tolist()
    restricted = accounts.is_restricted(sec).tolist()
    rows = [
        [ident, n, None if math.isnan(c) else c, h, bool(r)]
        for ident, n, c, h, r in zip(accounts.ids, nav, cash, held, restricted, strict=True)
    ]
    doc = {
        "order": jsonable(to_json(order)),
        "accounts": {"columns": ["id", "nav", "cash", "holding", "restricted"], "rows": rows},
    }
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def line_problems(
    order: Order, lines: Sequence[OrderLine], accounts: AccountTable
) -> dict[str, str]:
    """Why each of *lines* no longer fits *accounts* (freshly loaded), by account id.

    Uses the allocation's own rules (`orderalloc.limits.trade_bounds`): a buy's
    settlement amount within cash, a sale within the position and leaving no
    stub, no restricted account, the account limits and the denominations.
    Empty when every line still fits.
    """
    problems: dict[str, str] = {}
    rows: list[int] = []
    kept: list[OrderLine] = []
    for line in lines:
        try:
            rows.append(accounts.index(line.account_id))
        except KeyError:
            problems[line.account_id] = "is no longer an account of the group"
            continue
        kept.append(line)
    if not kept:
        return problems
    bounds = trade_bounds(order, accounts.take(np.asarray(rows)))
    q = np.asarray([line.quantity for line in kept], dtype=np.float64)
    for i in np.flatnonzero(~bounds.is_legal(q)).tolist():
        code = int(bounds.cap_reason[i])
        why = Reason.from_code(code).description if code >= 0 else "the order size"
        problems[kept[i].account_id] = (
            f"{q[i]:,.0f} no longer fits: at most {float(bounds.cap[i]):,.0f} now ({why})"
        )
    return problems


_HEADS = frozenset({EventKind.PREVIEWED, EventKind.FILLS_ALLOCATED})


@attrs.frozen
class AllocationTrail:
    """One allocation's events, read back from the audit trail, and what they say.

    Attributes:
        allocation_id: The allocation.
        events: Its events in append order (the first is ``PREVIEWED``).
    """

    allocation_id: str
    events: tuple[AuditEvent, ...]

    @property
    def preview(self) -> AuditEvent:
        """The event that opened the trail: ``PREVIEWED``, or ``FILLS_ALLOCATED`` for a booking."""
        return next(e for e in self.events if e.kind in _HEADS)

    @property
    def is_booking(self) -> bool:
        """Whether this is a fill allocation, whose attempts book a block trade."""
        return self.preview.kind is EventKind.FILLS_ALLOCATED

    @property
    def done_kind(self) -> EventKind:
        """The kind recorded once on success: ``COMMITTED``, or ``BOOKED``."""
        return EventKind.BOOKED if self.is_booking else EventKind.COMMITTED

    @property
    def failed_kind(self) -> EventKind:
        """The kind of a failed attempt or refusal: ``COMMIT_FAILED``, or ``BOOK_FAILED``."""
        return EventKind.BOOK_FAILED if self.is_booking else EventKind.COMMIT_FAILED

    @property
    def noun(self) -> str:
        """What an attempt sends, for messages: ``"order"`` or ``"trade"``."""
        return "trade" if self.is_booking else "order"

    @property
    def verb(self) -> str:
        """What the caller does again, for messages: ``"commit"`` or ``"book"``."""
        return "book" if self.is_booking else "commit"

    @property
    def payload(self) -> Mapping[str, Any]:
        """The opening event's payload, as stored (prefer `previewed` / `fills_allocated`)."""
        return self.preview.payload

    @property
    def previewed(self) -> Previewed:
        """The ``PREVIEWED`` record of an order allocation."""
        return decode(Previewed, self.preview.payload)

    @property
    def fills_allocated(self) -> FillsAllocated:
        """The ``FILLS_ALLOCATED`` record of a fill allocation."""
        return decode(FillsAllocated, self.preview.payload)

    @property
    def created_at(self) -> dt.datetime:
        """When the preview was made (UTC)."""
        return self.preview.at

    @property
    def modifies(self) -> Modifies | None:
        """For a modification: the order id, its external id and base version."""
        return None if self.is_booking else self.previewed.modifies

    @property
    def started_kind(self) -> EventKind:
        """The kind that opens an attempt: ``COMMIT_STARTED``, ``MODIFIED`` or ``BOOK_STARTED``."""
        if self.is_booking:
            return EventKind.BOOK_STARTED
        return EventKind.MODIFIED if self.modifies is not None else EventKind.COMMIT_STARTED

    @property
    def external_id(self) -> str:
        """The idempotency key the order (or the block trade) carries."""
        if self.is_booking:
            return self.fills_allocated.ticket.external_id
        mod = self.modifies
        return mod.external_id if mod is not None else self.allocation_id

    @property
    def committed(self) -> AuditEvent | None:
        """The ``COMMITTED`` (or ``BOOKED``) event, if any."""
        done = self.done_kind
        return next((e for e in self.events if e.kind is done), None)

    @property
    def attempts(self) -> tuple[AuditEvent, ...]:
        """The events that opened an attempt to send, oldest first."""
        kind = self.started_kind
        return tuple(e for e in self.events if e.kind is kind)

    @property
    def open_attempt(self) -> int | None:
        """The last attempt's number if nothing settled it (it may have booked)."""
        if not self.attempts or self.committed is not None:
            return None
        last = self.attempt_number(self.attempts[-1])
        if any(f.attempt == last and f.outcome in SETTLED for f in self.failures):
            return None
        return last

    @staticmethod
    def attempt_number(started: AuditEvent) -> int:
        """The number of the attempt *started* opened."""
        return decode(Attempt, started.payload).attempt

    @property
    def failures(self) -> tuple[Failed, ...]:
        """Every ``COMMIT_FAILED`` (or ``BOOK_FAILED``) record: attempts' outcomes, refusals."""
        failed = self.failed_kind
        return tuple(decode(Failed, e.payload) for e in self.events if e.kind is failed)

    def outcome_unknown(self, attempt: int) -> bool:
        """Whether *attempt* ended ambiguously (``COMMIT_FAILED`` with outcome ``unknown``)."""
        return any(f.attempt == attempt and f.outcome == OUTCOME_UNKNOWN for f in self.failures)

    @property
    def head(self) -> Previewed | FillsAllocated:
        """The opening event's record: `Previewed`, or `FillsAllocated` for a booking."""
        return self.fills_allocated if self.is_booking else self.previewed

    @property
    def security_id(self) -> str:
        """The security allocated."""
        return self.head.security_id

    @property
    def side(self) -> Side:
        """The order's side."""
        return Side(self.head.side)

    @property
    def lines(self) -> tuple[OrderLine, ...]:
        """The allocation's non-zero lines, in the result's account order."""
        result = self.head.result
        return tuple(
            OrderLine(ident, q)
            for ident, q in zip(result["account_ids"], result["quantity"], strict=True)
            if q
        )

    @property
    def order(self) -> Order:
        """The allocated order, as previewed (without rebuilding the whole result)."""
        data = json.loads(canonical_json(self.head.result["order"]))
        order: Order = CONVERTER.structure(data, Order)
        return order
