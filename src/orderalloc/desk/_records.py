"""The typed trail: one attrs record per event payload the desk writes, and ONE converter.

Every payload the order, post-trade and basket parts of the desk write is built as a
record below and turned into JSON by `encode`; every payload they read back is
turned into its record by `decode`. The stored JSON is exactly what the desk
wrote before these records existed (``tests/desk/test_legacy_trail.py`` and
``tests/desk/test_basket_trail.py`` read such trails), by these rules:

* a payload is the record's fields, by name (plus ``source``, the data source
  stamp, which `~orderalloc.desk._core.DeskCore._event` adds to every event);
* a field with a default is left out while it holds that default (``modifies``
  on a first preview, ``price`` on an order's attempt, ``attempt`` on a refusal,
  ``basket_id`` outside a basket); a field without one is always written,
  ``null`` included;
* numbers, strings and booleans as JSON; NaN as ``null`` (`orderalloc._serialization`);
* tuples as JSON lists; ``trade_date`` as an ISO date; times as the text the
  desk wrote (``inputs_as_of``: `~orderalloc.audit.events.format_time`; a fill's
  ``time``: ``isoformat()``), kept as text so they round-trip to the byte;
* ``result`` (an `~orderalloc.AllocationResult` or `~orderalloc.FillAllocation`
  in `orderalloc._serialization`'s JSON), ``params`` and refusal ``problems``
  are JSON objects kept as they are; `result_from_payload` rebuilds a result.

Reading ignores keys a record does not declare (``source``, or fields a newer
desk added), so trails only ever gain fields.

**A new desk event:** add its kind to `~orderalloc.audit.EventKind`, a record
here (and to `RECORDS`), write it with ``self._event(trail, kind, record)``
and read it with ``decode(Record, event.payload)``; extend the legacy trail
test if it changes what an old trail means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from .._serialization import make_converter
from ..audit import EventKind
from ..audit.events import _thaw
from ..sources.orders import ComplianceViolation, OrderTicket
from ..sources.trades import BookedTrade, Execution, TradeLine, TradeTicket

__all__ = [
    "RECORDS",
    "Attempt",
    "AttemptStarted",
    "BasketCommitted",
    "BasketPreviewed",
    "Booked",
    "Cancelled",
    "Committed",
    "ComplianceChecked",
    "Failed",
    "FillRecorded",
    "FillsAllocated",
    "Modifies",
    "Overridden",
    "Previewed",
    "TicketRecord",
    "TradeCancelled",
    "TradeRecord",
    "Violation",
    "decode",
    "encode",
]

if TYPE_CHECKING:
    from attrs import AttrsInstance

R = TypeVar("R")
_A = TypeVar("_A", bound="AttrsInstance")
_T = TypeVar("_T", bound="TradeRecord")

#: A JSON object kept as stored (read-only mapping when read back from a sink).
JsonObject = Mapping[str, Any]


def _copied(cls: type[_A], value: object, **more: Any) -> _A:
    """The *cls* record of *value*: each field of *cls* read from *value* by name, *more* aside.

    Records that mirror a value (a violation, a booked trade) name their fields
    as the value does; *more* gives the fields it does not hold as they are
    recorded (``lines`` as a count, a subclass's own fields).
    """
    names = (f.name for f in attrs.fields(cls) if f.name not in more)
    return cls(**{name: getattr(value, name) for name in names}, **more)


# --- orders ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Modifies:
    """What a modification's preview changes: the live order, its allocation and version."""

    order_id: str
    allocation_id: str
    external_id: str
    base_version: int


@attrs.frozen(kw_only=True)
class Previewed:
    """``PREVIEWED``: the request, the inputs' fingerprint and the whole result."""

    group: str
    security_id: str
    side: str
    quantity: float
    allocated: float
    method: str
    params: JsonObject
    seed: int | None
    fingerprint: str
    inputs_as_of: str
    result: JsonObject
    modifies: Modifies | None = None
    basket_id: str | None = None  # an order of a basket:
    basket_position: int | None = None  # its place in the basket


@attrs.frozen(kw_only=True)
class Violation:
    """A what-if violation, as ``COMPLIANCE_CHECKED`` and ``OVERRIDDEN`` list it."""

    account_id: str | None
    rule: str
    message: str
    severity: str
    blocking: bool

    @classmethod
    def of(cls, v: ComplianceViolation) -> Violation:
        """The record of *v*."""
        return _copied(cls, v)


@attrs.frozen(kw_only=True)
class ComplianceChecked:
    """``COMPLIANCE_CHECKED``: the what-if report and whether the inputs moved."""

    passed: bool
    blocking: int
    violations: tuple[Violation, ...]
    inputs_fingerprint: str
    inputs_changed: bool
    basket_id: str | None = None  # an order of a basket


@attrs.frozen(kw_only=True)
class Overridden:
    """``OVERRIDDEN``: who posted despite blocking violations, and why."""

    by: str
    comment: str | None
    violations: tuple[Violation, ...]


@attrs.frozen(kw_only=True)
class Attempt:
    """The number every attempt event carries: all the lease logic reads of one."""

    attempt: int


@attrs.frozen(kw_only=True)
class AttemptStarted:
    """``COMMIT_STARTED``, ``MODIFIED``, ``BOOK_STARTED``: attempt n, written before sending."""

    attempt: int
    external_id: str
    lines: int
    quantity: float
    comment: str | None
    price: float | None = None  # a block trade's
    basket_id: str | None = None  # an order of a basket:
    request: int | None = None  # the post request (0, 1, ...) it travels in

    @classmethod
    def of(cls, ticket: OrderTicket | TradeTicket, comment: str | None) -> AttemptStarted:
        """The attempt that sends *ticket* (numbered 0: `DeskCore._send_once` numbers it)."""
        return cls(
            attempt=0,
            external_id=ticket.external_id,
            lines=len(ticket.lines),
            quantity=ticket.quantity,
            comment=comment,
            price=ticket.price if isinstance(ticket, TradeTicket) else None,
        )


@attrs.frozen(kw_only=True)
class Committed:
    """``COMMITTED``: the order as the order system holds it, once per allocation."""

    attempt: int
    external_id: str | None
    version: int
    status: str
    quantity: float
    lines: int
    recovered: bool


@attrs.frozen(kw_only=True)
class Failed:
    """``COMMIT_FAILED``, ``BOOK_FAILED``: an attempt's outcome, or a refusal by a check.

    An attempt's failure has *attempt*; a refusal (outcome ``refused``) has
    *check* and what the check found (*age_seconds*, *problems*).
    """

    outcome: str
    error: str
    attempt: int | None = None
    check: str | None = None
    age_seconds: float | None = None
    problems: Any = None


@attrs.frozen(kw_only=True)
class Cancelled:
    """``CANCELLED``: the order was cancelled."""

    reason: str
    version: int
    status: str


# --- fills and bookings ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FillRecorded:
    """A fill: ``FILL_RECORDED`` (with *via*) and each entry of ``FILLS_ALLOCATED.fills``."""

    execution_id: str
    quantity: float
    price: float
    time: str | None
    via: str | None = None

    @classmethod
    def of(cls, e: Execution, via: str | None = None) -> FillRecorded:
        """The record of *e* (recorded by hand when *via* is given)."""
        time = None if e.time is None else e.time.isoformat()
        return cls(
            execution_id=e.execution_id, quantity=e.quantity, price=e.price, time=time, via=via
        )

    def execution(self, order_id: str) -> Execution:
        """The execution of *order_id* it records."""
        return Execution(
            order_id=order_id,
            execution_id=self.execution_id,
            quantity=self.quantity,
            price=self.price,
            time=dt.datetime.fromisoformat(self.time) if self.time else None,
        )


@attrs.frozen(kw_only=True)
class TicketRecord:
    """The block trade a fill allocation would book: lines as ``[account, face, principal]``."""

    external_id: str
    price: float
    trade_date: str | None
    lines: tuple[tuple[str, float, float | None], ...]

    @classmethod
    def of(cls, t: TradeTicket) -> TicketRecord:
        """The record of *t*."""
        return cls(
            external_id=t.external_id,
            price=t.price,
            trade_date=None if t.trade_date is None else t.trade_date.isoformat(),
            lines=tuple((ln.account_id, ln.quantity, ln.principal) for ln in t.lines),
        )

    def ticket(self, security_id: str, side: str, order_id: str) -> TradeTicket:
        """The trade ticket it records."""
        return TradeTicket(
            security_id=security_id,
            side=side,
            price=self.price,
            lines=[TradeLine(a, q, c) for a, q, c in self.lines],
            external_id=self.external_id,
            order_id=order_id,
            trade_date=dt.date.fromisoformat(self.trade_date) if self.trade_date else None,
        )


@attrs.frozen(kw_only=True)
class FillsAllocated:
    """``FILLS_ALLOCATED``: the fills, the booking it extends, the result, the block to book."""

    order_id: str
    order_allocation_id: str
    group: str
    security_id: str
    side: str
    fills: tuple[FillRecorded, ...]
    fill_ids: tuple[str, ...]
    new_fill_ids: tuple[str, ...]
    previous: str | None
    method: str
    ticket: TicketRecord
    unallocated: float
    warnings: tuple[str, ...]
    result: JsonObject


@attrs.frozen(kw_only=True)
class TradeRecord:
    """A booked block trade, as ``BOOKED`` and ``TRADE_CANCELLED`` record it."""

    trade_id: str
    external_id: str | None
    status: str
    price: float
    quantity: float
    lines: int

    @classmethod
    def of(cls: type[_T], t: BookedTrade, **more: Any) -> _T:
        """The record of *t* (*more*: a subclass's own fields)."""
        return _copied(cls, t, lines=len(t.lines), **more)


@attrs.frozen(kw_only=True)
class Booked(TradeRecord):
    """``BOOKED``: the trade, once per fill allocation."""

    attempt: int
    recovered: bool


@attrs.frozen(kw_only=True)
class TradeCancelled(TradeRecord):
    """``TRADE_CANCELLED``: the block trade was cancelled."""

    reason: str


# --- baskets --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class BasketPreviewed:
    """``BASKET_PREVIEWED`` (under the basket's id): the request and its orders' allocations."""

    group: str
    method: str
    strategy: str
    use_proceeds: bool
    params: JsonObject
    seed: int | None
    orders: tuple[str, ...]  # the orders' allocation ids, in the basket's order
    objective_name: str
    objective: float | None  # None: not finite
    objective_sequential: float | None
    warnings: tuple[str, ...]
    label: str | None


@attrs.frozen(kw_only=True)
class BasketCommitted:
    """``BASKET_COMMITTED``: every order of the basket booked; allocation id -> order id."""

    orders: Mapping[str, str]
    recovered: int  # how many were found by look-up


#: The record of each kind's payload.
RECORDS: dict[EventKind, type[Any]] = {
    EventKind.PREVIEWED: Previewed,
    EventKind.COMPLIANCE_CHECKED: ComplianceChecked,
    EventKind.OVERRIDDEN: Overridden,
    EventKind.COMMIT_STARTED: AttemptStarted,
    EventKind.MODIFIED: AttemptStarted,
    EventKind.COMMITTED: Committed,
    EventKind.COMMIT_FAILED: Failed,
    EventKind.CANCELLED: Cancelled,
    EventKind.FILL_RECORDED: FillRecorded,
    EventKind.FILLS_ALLOCATED: FillsAllocated,
    EventKind.BOOK_STARTED: AttemptStarted,
    EventKind.BOOKED: Booked,
    EventKind.BOOK_FAILED: Failed,
    EventKind.TRADE_CANCELLED: TradeCancelled,
    EventKind.BASKET_PREVIEWED: BasketPreviewed,
    EventKind.BASKET_COMMITTED: BasketCommitted,
}
_RECORD_TYPES = frozenset(RECORDS.values()) | {
    Attempt,
    Modifies,
    Violation,
    TicketRecord,
    TradeRecord,
}


# --- the converter --------------------------------------------------------------------------


def _make_converter() -> cattrs.Converter:
    conv = make_converter()
    # JSON objects kept as they are, both ways (a result is large; it is rebuilt on demand).
    conv.register_structure_hook_func(lambda t: t == JsonObject, lambda v, _: v)
    conv.register_unstructure_hook_func(lambda t: t == JsonObject, lambda v: v)
    conv.register_structure_hook_func(lambda t: t is Any, lambda v, _: v)
    conv.register_unstructure_hook_factory(
        lambda t: t in _RECORD_TYPES,
        lambda t: make_dict_unstructure_fn(t, conv, _cattrs_omit_if_default=True),
    )
    # Trails only gain fields: a key a record does not declare is ignored.
    conv.register_structure_hook_factory(
        lambda t: t in _RECORD_TYPES,
        lambda t: make_dict_structure_fn(t, conv, _cattrs_forbid_extra_keys=False),
    )
    return conv


CONVERTER = _make_converter()


def encode(record: object) -> dict[str, Any]:
    """The payload of *record* (see the module docstring for the rules)."""
    data: dict[str, Any] = CONVERTER.unstructure(record, type(record))
    return data


# Kept as stored (not copied) when read: large, and rebuilt only on demand.
_KEPT = frozenset({"result", "params"})


def decode(cls: type[R], payload: Mapping[str, Any]) -> R:
    """The *cls* record of a stored *payload* (keys it does not declare are ignored)."""
    # Stored payloads are frozen (read-only mappings, tuples): thawed to plain JSON.
    data = {k: v if k in _KEPT else _thaw(v, k) for k, v in payload.items()}
    record: R = CONVERTER.structure(data, cls)
    return record
