"""Test doubles shared by the desk tests: a source whose inputs move, sinks that fail, a clock."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from orderalloc import AccountTable, Security
from orderalloc.audit import AuditEvent, AuditSink, EventKind, OutboxSink, VerifyReport
from orderalloc.audit.events import SOURCE_KEY, canonical_json, parse_time
from orderalloc.desk import Desk
from orderalloc.desk._records import RECORDS, decode, encode
from orderalloc.errors import AuditSinkError
from orderalloc.sources.aladdin import AladdinConfig
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin, OrderRejectedError
from orderalloc.sources.orders import OrderTicket, PostedOrder, WhatIfReport
from orderalloc.sources.protocol import DataSource
from orderalloc.testing.aladdin import AladdinMockHandler, LoopbackServer, Reply, serve
from orderalloc.testing.recording import RecordingSink

TSY = WELL_KNOWN["TSY"]
T0 = dt.datetime(2024, 6, 11, 13, 30, tzinfo=dt.timezone.utc)


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


def orders_for(mock: MockAladdin, external_id: str) -> list[PostedOrder]:
    """Every order of the mock's book carrying *external_id*."""
    return [o for o in mock.orders() if o.external_id == external_id]


def kinds(events: Sequence[AuditEvent]) -> list[str]:
    """The kinds of *events*, as strings."""
    return [e.kind.value for e in events]


class DrainedSource:
    """A `DataSource` over a mock whose cash (and holdings) can be changed after a preview."""

    def __init__(self, inner: MockAladdin) -> None:
        self.inner = inner
        self.cash_factor = 1.0
        self.holding_factor = 1.0

    def accounts(self, group: str, security_id: str) -> AccountTable:
        table = self.inner.accounts(group, security_id)
        assert table.cash is not None
        return attrs.evolve(
            table,
            cash=table.cash * self.cash_factor,
            holdings={k: np.floor(v * self.holding_factor) for k, v in table.holdings.items()},
        )

    def groups(self) -> tuple[str, ...]:
        return self.inner.groups()

    def security(self, security_id: str) -> Security:
        return self.inner.security(security_id)

    def search_securities(self, query: str, *, limit: int = 20) -> tuple[Security, ...]:
        return self.inner.search_securities(query, limit=limit)

    def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        return self.inner.what_if(ticket)

    def post_order(self, ticket: OrderTicket) -> PostedOrder:
        return self.inner.post_order(ticket)

    def find_order(self, external_id: str) -> PostedOrder | None:
        return self.inner.find_order(external_id)

    def get_order(self, order_id: str) -> PostedOrder:
        return self.inner.get_order(order_id)

    def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        return self.inner.modify_order(order_id, ticket)

    def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        return self.inner.cancel_order(order_id, reason)


_: type[DataSource] = DrainedSource  # the double satisfies the protocol (checked by mypy)


class FlakySink(AuditSink):
    """An in-memory sink whose appends fail at random: before storing, or after (lost ack).

    Reads fail at the same rate, so the desk's "was it stored?" check fails too.
    """

    def __init__(self, rate: float, seed: int) -> None:
        self.inner = RecordingSink()
        self.rate = rate
        self._rng = random.Random(seed)
        self.failures = 0

    def _maybe_fail(self, what: str) -> None:
        if self._rng.random() < self.rate:
            self.failures += 1
            raise AuditSinkError(f"injected: {what} failed")

    def append(self, events: Sequence[AuditEvent]) -> None:
        if self._rng.random() < 0.5:
            self._maybe_fail("append (nothing stored)")
            self.inner.append(events)
        else:
            self.inner.append(events)
            self._maybe_fail("append acknowledgement (stored)")

    def events(
        self,
        *,
        allocation_id: str | None = None,
        account_id: str | None = None,
        security_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        kinds: Collection[EventKind] | None = None,
    ) -> list[AuditEvent]:
        self._maybe_fail("events")
        return self.inner.events(
            allocation_id=allocation_id,
            account_id=account_id,
            security_id=security_id,
            since=since,
            until=until,
            kinds=kinds,
        )

    def get(self, event_id: str) -> AuditEvent | None:
        self._maybe_fail("get")
        return self.inner.get(event_id)

    def verify(self) -> VerifyReport:
        return self.inner.verify()

    def close(self) -> None:
        self.inner.close()


class DownRemote(RecordingSink):
    """A remote audit sink that refuses every append while ``down`` is set."""

    down = True

    def append(self, events: Sequence[AuditEvent]) -> None:
        if self.down:
            raise AuditSinkError("injected: remote unreachable")
        super().append(events)


def campaign_sink(
    seed: int, flaky_rate: Callable[[], float]
) -> tuple[AuditSink, DownRemote | None]:
    """A fault campaign's audit trail for *seed*: in memory, flaky, or an outbox, remote down.

    One seed in three each; the flaky sink's rate is drawn by *flaky_rate*
    (only for it, so the other schedules draw nothing more). Returns the sink
    and, for the outbox, its remote (`assert_outbox_delivers` brings it back).
    """
    kind = seed % 3
    if kind == 0:
        return RecordingSink(), None
    if kind == 1:
        return FlakySink(rate=flaky_rate(), seed=seed), None
    remote = DownRemote()
    return OutboxSink(remote, ":memory:"), remote


def assert_outbox_delivers(
    sink: AuditSink,
    remote: DownRemote,
    events: Sequence[AuditEvent],
    head_hash: str | None = None,
) -> None:
    """Once the remote is back, the outbox delivers every event of *events*, in order, and no more.

    With *head_hash*, the remote's chain ends at it too (the same trail, to the hash).
    """
    assert isinstance(sink, OutboxSink)
    remote.down = False
    sink.flush()
    assert sink.pending() == 0
    assert [e.event_id for e in remote.events()] == [e.event_id for e in events]
    if head_hash is not None:
        assert remote.verify().head_hash == head_hash


class StrictBook(MockAladdin):
    """A mock that counts attempts to post an external id it already holds a live order for.

    The mock refuses such a post (Aladdin's ALREADY_EXISTS), which would hide a
    desk that re-posts blindly; the count shows it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.duplicate_posts = 0
        self.posts = 0  # orders booked
        self.modifications: collections.Counter[str] = collections.Counter()

    def post_order(self, ticket: OrderTicket) -> PostedOrder:
        try:
            posted = super().post_order(ticket)
        except OrderRejectedError as exc:
            if exc.code == 6:
                self.duplicate_posts += 1
            raise
        self.posts += 1
        return posted

    def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        posted = super().modify_order(order_id, ticket)
        self.modifications[order_id] += 1  # applied: counted once per change made
        return posted


def kill_child_when(
    args: Sequence[str], reached: threading.Event, release: threading.Event
) -> None:
    """Run ``python *args*`` until *reached* is set, then SIGKILL it; check it died there.

    The child prints ``READY`` before it starts and ``DONE`` if it ever
    finishes; *release* is set afterwards, whatever happened, so that the
    server thread holding the child's answer returns.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"
        assert reached.wait(60), "the child never got there"
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        release.set()
    assert child.returncode == -signal.SIGKILL
    assert "DONE" not in rest


class HoldingHandler(AladdinMockHandler):
    """The mock Aladdin over HTTP, holding the answer of the first request that books.

    *books* says, from the path and body of a request answered 200, whether it
    booked (a real order post, a batch, a block trade). That request is carried
    out, `booked` is set, and its answer waits for `release`: the desk's child
    process is killed while it waits, after Aladdin booked and before the desk
    heard of it.
    """

    def __init__(self, source: Any, books: Callable[[str, bytes], bool], **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.books = books
        self.booked = threading.Event()
        self.release = threading.Event()

    def handle(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        reply = super().handle(method, path, query, headers, body)
        if reply.status == 200 and not self.booked.is_set() and self.books(path, body):
            self.booked.set()
            self.release.wait(30)  # the child is killed while it waits for this answer
        return reply


@contextlib.contextmanager
def holding_server(handler: HoldingHandler) -> Iterator[tuple[HoldingHandler, LoopbackServer]]:
    """*handler* behind a real HTTP server on 127.0.0.1, released when the test ends."""
    with serve(handler) as server:
        yield handler, server
        handler.release.set()


def killed_config(handler: AladdinMockHandler, url: str) -> AladdinConfig:
    """A client configuration for the killed-process tests: no pacing, quick polls."""
    return handler.config(url, rate_limit=60_000, backoff_initial=0.01, lro_poll_interval=0.01)


def assert_attempts_settled(
    trail: Sequence[AuditEvent], started: Sequence[AuditEvent], done: EventKind
) -> None:
    """Attempts are numbered 1, 2, ... and each ends in exactly one definitive outcome.

    The outcome is the success event *done* (COMMITTED, BOOKED) or a failure
    settled "not_booked" or "rejected"; an unknown outcome is not definitive.
    """
    attempts = [int(e.payload["attempt"]) for e in started]
    assert attempts == list(range(1, len(attempts) + 1))
    for n in attempts:
        outcomes = [
            e
            for e in trail
            if e.payload.get("attempt") == n
            and (e.kind is done or e.payload.get("outcome") in ("not_booked", "rejected"))
        ]
        assert len(outcomes) == 1, (n, [(e.kind, dict(e.payload)) for e in trail])


def read_trail(path: Path) -> list[AuditEvent]:
    """The events of a pinned trail (one canonical JSON event per line), in the order written."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row: dict[str, Any] = json.loads(line)
        events.append(
            AuditEvent(
                event_id=row["event_id"],
                allocation_id=row["allocation_id"],
                kind=row["kind"],
                actor=row["actor"],
                payload=row["payload"],
                at=parse_time(row["at"]),
                account_ids=row["account_ids"],
                security_id=row["security_id"],
                order_id=row["order_id"],
            )
        )
    return events


def assert_records_round_trip(events: Sequence[AuditEvent]) -> None:
    """Each payload reads as its kind's record and writes back to the same JSON, to the byte."""
    for event in events:
        record = decode(RECORDS[event.kind], event.payload)
        again = {**encode(record), SOURCE_KEY: event.payload[SOURCE_KEY]}
        assert canonical_json(again) == canonical_json(event.payload), event.kind


def reading_desk(events: Sequence[AuditEvent], scenario: str = "default") -> Desk:
    """A desk whose trail holds *events*: its mock (*scenario*) knows none of their orders."""
    sink = RecordingSink()
    sink.append(events)
    return Desk(MockAladdin(scenario), sink, actor="auditor")


def of_kind(events: Sequence[AuditEvent], kind: EventKind) -> list[AuditEvent]:
    """The events of *kind*, in order."""
    return [e for e in events if e.kind is kind]
