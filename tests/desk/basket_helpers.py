"""Test doubles for basket commits: a book that counts posts, a source whose batch posts fail."""

from __future__ import annotations

import collections
import contextlib
import random
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from orderalloc import AccountTable, Security
from orderalloc.sources.aladdin.errors import (
    AladdinAPIError,
    AladdinOutcomeUnknownError,
    AladdinServerError,
    AladdinTransportError,
)
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.sources.orders import OrderTicket, PostedOrder, WhatIfReport
from orderalloc.sources.protocol import BatchOrderSource, DataSource, read_fresh

#: A basket the "sell_down" mock can always fill: two buys funded partly by a sale.
BASKET = (
    (WELL_KNOWN["TSY"], "BUY", 6_000_000),
    (WELL_KNOWN["IG"], "BUY", 2_000_000),
    (WELL_KNOWN["AGENCY"], "SELL", 1_000_000),
)


# Groups' columns by scenario, built once per test process: a fresh book per
# schedule, the same (read-only) accounts. Building SMA-10K costs a second.
_GROUPS: dict[str, dict[str, Any]] = {}


class CountingBook(MockAladdin):
    """A fresh mock order book that counts every post reaching it, per external id."""

    def __init__(self, scenario: str = "sell_down", *, cash_unknown: bool = False) -> None:
        super().__init__(scenario)
        self._groups = _GROUPS.setdefault(scenario, {})
        self.cash_unknown = cash_unknown
        self.posts: collections.Counter[str] = collections.Counter()

    def accounts(self, group: str, security_id: str) -> AccountTable:
        table = super().accounts(group, security_id)
        # Unknown cash is not checked: many baskets over one group all fit.
        return attrs.evolve(table, cash=None) if self.cash_unknown else table

    def post_order(self, ticket: OrderTicket) -> PostedOrder:
        self.posts[ticket.external_id] += 1
        return super().post_order(ticket)

    def duplicate_posts(self) -> int:
        """Posts of an external id beyond its first."""
        return sum(n - 1 for n in self.posts.values() if n > 1)

    def double_bookings(self) -> int:
        """Orders of the book beyond the first per external id."""
        per = collections.Counter(o.external_id for o in self.orders())
        return sum(n - 1 for n in per.values() if n > 1)


class Killed(BaseException):  # named for what it simulates, like KeyboardInterrupt
    """The desk's process dies here (SIGKILL): nothing after this line runs."""


# Post faults: what the order system did, and what the client saw.
POST_FAULTS = ("before", "after", "partial", "slow", "reject", "killed")
READS = ("security", "accounts", "what_if", "find_order", "get_order")


class BatchFaults:
    """A `DataSource` with ``post_orders`` over *inner*, failing calls from a seeded generator.

    Post faults (drawn with *post_rate*): ``before`` (never sent: a transport
    error), ``after`` (all booked, the answer lost), ``partial`` (the first
    k booked, then the connection drops), ``slow`` (nothing booked yet, the
    client times out; the server books them *lag* calls later), ``reject``
    (a 400, nothing booked), ``killed`` (the first k booked, then the
    process dies: `Killed`). Reads fail with a 503 at *read_rate*.

    Attributes:
        injected: Faults injected, by kind.
        requests: Sizes of the post requests that reached the book.
    """

    def __init__(
        self,
        inner: MockAladdin,
        *,
        seed: int,
        post_rate: float = 0.0,
        read_rate: float = 0.0,
        lag: int = 2,
        kinds: Sequence[str] = POST_FAULTS,
    ) -> None:
        self.inner = inner
        self.rng = random.Random(seed)
        self.post_rate = post_rate
        self.read_rate = read_rate
        self.lag = lag
        self.kinds = tuple(kinds)
        self.injected: collections.Counter[str] = collections.Counter()
        self.requests: list[int] = []
        self.plan: list[str] = []  # scripted post faults, used first ("ok": none)
        self._in_flight: list[list[Any]] = []

    def heal(self) -> None:
        """Inject nothing more (writes in flight still land)."""
        self.post_rate = self.read_rate = 0.0

    def settle(self) -> None:
        """Let every slow write in flight land now (what the server does within the lease)."""
        pending, self._in_flight = self._in_flight, []
        for _, write in pending:
            with contextlib.suppress(Exception):  # nobody hears the answer; the book counts
                write()

    def _tick(self) -> None:
        for item in list(self._in_flight):
            item[0] -= 1
            if item[0] <= 0:
                self._in_flight.remove(item)
                with contextlib.suppress(Exception):
                    item[1]()

    def _read(self, name: str, run: Callable[[], Any]) -> Any:
        self._tick()
        if name in READS and self.rng.random() < self.read_rate:
            self.injected[f"read:{name}"] += 1
            raise AladdinServerError(
                status=503, code="UNAVAILABLE", message=f"injected: {name}", request_id=None
            )
        return run()

    def _book(self, tickets: Sequence[OrderTicket]) -> list[PostedOrder]:
        self.requests.append(len(tickets))
        return [self.inner.post_order(t) for t in tickets]

    def post_orders(self, tickets: Sequence[OrderTicket]) -> tuple[PostedOrder, ...]:
        self._tick()
        if self.plan:
            kind = self.plan.pop(0)
        elif self.rng.random() < self.post_rate:
            kind = self.rng.choice(self.kinds)
        else:
            kind = "ok"
        if kind == "ok":
            return tuple(self._book(tickets))
        self.injected[f"post:{kind}"] += 1
        lost = AladdinOutcomeUnknownError(
            status=None, code=None, message=f"injected {kind}", request_id=None, path="post"
        )
        if kind == "before":
            raise AladdinTransportError("injected: connect failed", request_id=None, sent=False)
        if kind == "reject":
            raise AladdinAPIError(
                status=400, code="INVALID_ARGUMENT", message="injected", request_id=None
            )
        if kind == "after":
            self._book(tickets)
            raise lost
        if kind == "slow":
            batch = list(tickets)
            self._in_flight.append([self.lag, lambda: self._book(batch)])
            raise lost
        k = self.rng.randrange(len(tickets) + 1)
        self._book(tickets[:k])
        if kind == "killed":
            raise Killed(f"killed after {k} of {len(tickets)} orders")
        raise lost

    # --- the DataSource protocol --------------------------------------------------------

    def groups(self) -> tuple[str, ...]:
        return self.inner.groups()

    def accounts(self, group: str, security_id: str, *, fresh: bool = False) -> AccountTable:
        return self._read(
            "accounts", lambda: read_fresh(self.inner, "accounts", group, security_id)
        )

    def security(self, security_id: str, *, fresh: bool = False) -> Security:
        return self._read("security", lambda: self.inner.security(security_id))

    def search_securities(self, query: str, *, limit: int = 20) -> tuple[Security, ...]:
        return self.inner.search_securities(query, limit=limit)

    def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        return self._read("what_if", lambda: self.inner.what_if(ticket))

    def post_order(self, ticket: OrderTicket) -> PostedOrder:
        return self.post_orders([ticket])[0]

    def find_order(self, external_id: str) -> PostedOrder | None:
        return self._read("find_order", lambda: self.inner.find_order(external_id))

    def get_order(self, order_id: str) -> PostedOrder:
        return self._read("get_order", lambda: self.inner.get_order(order_id))

    def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        return self.inner.modify_order(order_id, ticket)

    def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        return self.inner.cancel_order(order_id, reason)


_: type[DataSource] = BatchFaults  # both protocols, checked by mypy
_b: type[BatchOrderSource] = BatchFaults
