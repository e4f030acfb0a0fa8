"""`FaultySource`: wrap any `~orderalloc.sources.DataSource` and make it fail on a schedule.

For testing code that must survive a flaky order system (the desk's exactly-once
commit, your own retry loops) without a network. Faults are scripted one by one
(`Fault`: "the 2nd ``post_order`` books the order, then fails") or drawn at
random from a seeded generator, or both::

    source = FaultySource(
        MockAladdin(),
        [Fault("post_order", call=1, mode=FaultMode.AFTER)],  # booked, then a 503
        rate=0.1, seed=7,                                      # and 10% of the rest
    )

The errors are the data-source port's own (`orderalloc.sources.errors`), which
every adapter's errors subclass, so code under test sees what it would see in
production whatever the source:

============ ============================================= ===============================
mode         what happens                                  raised
============ ============================================= ===============================
``BEFORE``   the call never reaches the source             `SourceUnavailableError`,
                                                           ``sent=False``
``AFTER``    the call reaches the source and takes         `OutcomeUnknownError`
             effect (an order is booked), then the
             answer is lost
``REJECT``   refused without reaching the source           `RequestRejectedError`
``SLOW``     the call reaches the source but the client    `OutcomeUnknownError` (writes)
             times out first; a write takes effect only    or `SourceUnavailableError`
             *later*: after ``slow_calls`` further calls,  (reads, ``sent`` unknown)
             or at `FaultySource.settle`
============ ============================================= ===============================

To see exactly the Aladdin client's classes (with their HTTP statuses), pass
``errors=aladdin_fault_error`` from `orderalloc.testing.aladdin_faults`.

``SLOW`` is the server that books an order after the client gave up: a
look-up made at once finds nothing, and the order appears a moment later.
Code that re-sends because it did not see the order books twice.
"""

from __future__ import annotations

import contextlib
import enum
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import attrs

from orderalloc._model import AccountTable, Security
from orderalloc.errors import DataSourceError, InvalidParameterError
from orderalloc.sources.errors import (
    OutcomeUnknownError,
    RequestRejectedError,
    SourceUnavailableError,
)
from orderalloc.sources.orders import OrderTicket, PostedOrder, WhatIfReport
from orderalloc.sources.protocol import DataSource, TradeSource, read_fresh
from orderalloc.sources.trades import BookedTrade, Execution, TradeTicket

__all__ = [
    "METHODS",
    "WRITES",
    "ErrorFactory",
    "Fault",
    "FaultMode",
    "FaultySource",
    "InjectedFault",
    "port_error",
]

T = TypeVar("T")

#: Every method of the `DataSource` protocol.
METHODS = (
    "groups",
    "accounts",
    "security",
    "search_securities",
    "what_if",
    "post_order",
    "find_order",
    "get_order",
    "modify_order",
    "cancel_order",
    # The optional TradeSource capability (fills and bookings).
    "fills",
    "book_trade",
    "find_trade",
    "cancel_trade",
)
#: The methods that change the order book (or the trade blotter).
WRITES = frozenset({"post_order", "modify_order", "cancel_order", "book_trade", "cancel_trade"})


class FaultMode(str, enum.Enum):
    """How an injected fault fails a call (see the module docstring)."""

    BEFORE = "before"
    AFTER = "after"
    REJECT = "reject"
    SLOW = "slow"


#: Builds the error a fault raises: ``(method, call number, mode) -> exception``.
ErrorFactory = Callable[[str, int, FaultMode], Exception]


def _method(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in METHODS:
        raise InvalidParameterError(attribute.name, value, f"must be one of {', '.join(METHODS)}")


@attrs.frozen
class Fault:
    """One scripted fault: the *call*-th call of *method* fails in *mode*.

    Args:
        method: A `DataSource` method name (``"post_order"``, ...).
        call: Which call of that method fails, counting from 1.
        mode: How it fails.

    Raises:
        InvalidParameterError: Unknown method (also a `ValueError`).
        ValueError: A call number below 1.
    """

    method: str = attrs.field(validator=_method)
    call: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    mode: FaultMode = attrs.field(default=FaultMode.BEFORE, converter=FaultMode)


@attrs.frozen
class InjectedFault:
    """A fault that was injected: which call of which method, how, and the error raised."""

    method: str
    call: int
    mode: FaultMode
    error: Exception = attrs.field(eq=False, repr=False)


@attrs.define
class _InFlight:
    left: int  # calls to complete before it takes effect
    write: Callable[[], object]


class FaultySource:
    """A `~orderalloc.sources.DataSource` that fails calls of *inner* on a schedule.

    Args:
        inner: The source to wrap (its effects stand for ``AFTER`` faults).
        faults: Scripted faults.
        rate: Probability that any other call of *methods* fails.
        methods: The methods random faults may hit (default: every method).
        modes: The modes random faults draw from (default: ``BEFORE`` and ``AFTER``).
        seed: The seed of the random draws.
        slow_calls: For a ``SLOW`` write, how many further calls (of any method)
            complete before it takes effect.
        errors: Builds the error a fault raises from the method, the call
            number and the mode (default: `port_error`).

    Attributes:
        injected: Every fault injected so far, in order.
        calls: Calls per method so far (failed ones included).
        landed: How many ``SLOW`` writes have taken effect so far.

    Thread-safe. `heal` stops every fault, for the "and then it recovered" part
    of a test.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2
       The port's errors by default; *errors*.
    """

    def __init__(
        self,
        inner: DataSource,
        faults: Iterable[Fault] = (),
        *,
        rate: float = 0.0,
        methods: Sequence[str] = METHODS,
        modes: Sequence[FaultMode] = (FaultMode.BEFORE, FaultMode.AFTER),
        seed: int | None = None,
        slow_calls: int = 1,
        errors: ErrorFactory | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise InvalidParameterError("rate", rate, "must be a probability in [0, 1]")
        for name in methods:
            _method(None, attrs.fields(Fault).method, name)
        self.inner = inner
        self._scripted = {(f.method, f.call): f.mode for f in faults}
        self.rate = rate
        self._methods = frozenset(methods)
        self._modes = tuple(FaultMode(m) for m in modes)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: list[InjectedFault] = []
        self.calls: dict[str, int] = dict.fromkeys(METHODS, 0)
        if slow_calls < 0:
            raise InvalidParameterError("slow_calls", slow_calls, "must be >= 0")
        self.slow_calls = slow_calls
        self._errors: ErrorFactory = errors or port_error
        self.landed = 0
        # SLOW writes still "being processed" by the order system.
        self._in_flight: list[_InFlight] = []

    def __repr__(self) -> str:
        return (
            f"FaultySource({self.inner!r}, rate={self.rate}, "
            f"scripted={len(self._scripted)}, injected={len(self.injected)})"
        )

    @property
    def description(self) -> str:
        """A one-line description (what `orderalloc.sources.describe_source` shows)."""
        return f"FaultySource over {type(self.inner).__name__} (rate {self.rate})"

    def heal(self) -> None:
        """Inject nothing more: no random faults, no scripted ones left."""
        with self._lock:
            self.rate = 0.0
            self._scripted.clear()

    def settle(self) -> int:
        """Let every ``SLOW`` write still in flight take effect now; return how many did.

        What an order system does by the safe deadline (the desk's commit
        lease): a request it received is processed, or never will be.
        """
        with self._lock:
            pending, self._in_flight = self._in_flight, []
        for item in pending:
            self._land(item.write)
        return len(pending)

    def drop(self) -> int:
        """Lose every ``SLOW`` write still in flight (never processed); return how many.

        The other end of `settle`: a request the order system received but
        never carries out. After the lease a desk re-sends it, once.
        """
        with self._lock:
            lost, self._in_flight = len(self._in_flight), []
        return lost

    @property
    def in_flight(self) -> int:
        """``SLOW`` writes received and not yet processed."""
        with self._lock:
            return len(self._in_flight)

    def schedule(self, fault: Fault) -> None:
        """Add a scripted fault (its *call* counts from the first call ever made)."""
        with self._lock:
            self._scripted[(fault.method, fault.call)] = fault.mode

    # --- the protocol -------------------------------------------------------------------

    def groups(self, *, fresh: bool = False) -> tuple[str, ...]:
        """See `DataSource.groups`; *fresh* is passed on to a source that caches."""
        names: tuple[str, ...] = self._call("groups", lambda: self._read(fresh, "groups"))
        return names

    def accounts(self, group: str, security_id: str, *, fresh: bool = False) -> AccountTable:
        """See `DataSource.accounts`; *fresh* is passed on to a source that caches."""
        table: AccountTable = self._call(
            "accounts", lambda: self._read(fresh, "accounts", group, security_id)
        )
        return table

    def security(self, security_id: str, *, fresh: bool = False) -> Security:
        """See `DataSource.security`; *fresh* is passed on to a source that caches."""
        found: Security = self._call("security", lambda: self._read(fresh, "security", security_id))
        return found

    def _read(self, fresh: bool, name: str, *args: str) -> Any:
        if fresh:
            return read_fresh(self.inner, name, *args)
        return getattr(self.inner, name)(*args)

    def search_securities(self, query: str, *, limit: int = 20) -> tuple[Security, ...]:
        """See `DataSource.search_securities`."""
        return self._call(
            "search_securities", lambda: self.inner.search_securities(query, limit=limit)
        )

    def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        """See `DataSource.what_if`."""
        return self._call("what_if", lambda: self.inner.what_if(ticket))

    def post_order(self, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.post_order`."""
        return self._call("post_order", lambda: self.inner.post_order(ticket))

    def find_order(self, external_id: str) -> PostedOrder | None:
        """See `DataSource.find_order`."""
        return self._call("find_order", lambda: self.inner.find_order(external_id))

    def get_order(self, order_id: str) -> PostedOrder:
        """See `DataSource.get_order`."""
        return self._call("get_order", lambda: self.inner.get_order(order_id))

    def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.modify_order`."""
        return self._call("modify_order", lambda: self.inner.modify_order(order_id, ticket))

    def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        """See `DataSource.cancel_order`."""
        return self._call("cancel_order", lambda: self.inner.cancel_order(order_id, reason))

    # --- the TradeSource capability (when the inner source has it) ----------------------

    def _trades(self) -> TradeSource:
        if not isinstance(self.inner, TradeSource):
            raise DataSourceError(f"{type(self.inner).__name__} is not a TradeSource")
        return self.inner

    def fills(self, order_id: str) -> tuple[Execution, ...]:
        """See `TradeSource.fills`."""
        return self._call("fills", lambda: self._trades().fills(order_id))

    def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        """See `TradeSource.book_trade`."""
        return self._call("book_trade", lambda: self._trades().book_trade(ticket))

    def find_trade(self, ticket: TradeTicket) -> BookedTrade | None:
        """See `TradeSource.find_trade`."""
        return self._call("find_trade", lambda: self._trades().find_trade(ticket))

    def cancel_trade(self, trade: BookedTrade) -> BookedTrade:
        """See `TradeSource.cancel_trade`."""
        return self._call("cancel_trade", lambda: self._trades().cancel_trade(trade))

    # --- injection ----------------------------------------------------------------------

    def _draw(self, method: str) -> tuple[int, FaultMode | None]:
        with self._lock:
            self.calls[method] += 1
            n = self.calls[method]
            mode = self._scripted.pop((method, n), None)
            if mode is None and method in self._methods and self._rng.random() < self.rate:
                mode = self._rng.choice(self._modes)
            return n, mode

    def _call(self, method: str, run: Callable[[], T]) -> T:
        n, mode = self._draw(method)
        try:
            if mode is None:
                return run()
            if mode is FaultMode.AFTER or (mode is FaultMode.SLOW and method not in WRITES):
                run()  # the effect stands; only the answer is lost
            error = self._errors(method, n, mode)
            with self._lock:
                self.injected.append(InjectedFault(method, n, mode, error))
            raise error
        finally:
            self._tick()
            if mode is FaultMode.SLOW and method in WRITES:
                with self._lock:
                    self._in_flight.append(_InFlight(self.slow_calls, run))
                if self.slow_calls == 0:
                    self._tick(count=False)

    def _tick(self, *, count: bool = True) -> None:
        """One more call completed: land the ``SLOW`` writes whose time has come."""
        with self._lock:
            due: list[_InFlight] = []
            waiting: list[_InFlight] = []
            for item in self._in_flight:
                if count:
                    item.left -= 1
                (due if item.left <= 0 else waiting).append(item)
            self._in_flight = waiting
        for item in due:
            self._land(item.write)

    def _land(self, write: Callable[[], object]) -> None:
        with self._lock:
            self.landed += 1
        # The order system processes it; what it answers nobody hears (the
        # client gave up), and a refusal (a duplicate, an order no longer live)
        # changes nothing.
        with contextlib.suppress(Exception):
            write()


def port_error(method: str, n: int, mode: FaultMode) -> Exception:
    """The error the *n*-th call of *method* raises in *mode*: the port's own (module docstring)."""
    where = f"{method} call {n}"
    if mode is FaultMode.BEFORE:
        return SourceUnavailableError(
            f"injected: {where} could not connect (never sent)", sent=False
        )
    if mode is FaultMode.REJECT:
        return RequestRejectedError(f"injected: {where} refused")
    if mode is FaultMode.SLOW:
        if method not in WRITES:
            return SourceUnavailableError(f"injected: {where} timed out")
        return OutcomeUnknownError(
            f"injected: {where} timed out after the request was sent; "
            "the write may have been applied: look the order up before retrying"
        )
    return OutcomeUnknownError(f"injected: {where} was carried out, then the answer was lost")
