"""A server that books after the client's timeout: never a second order, never "not booked".

The send times out, the order system books it a moment later. The desk must
hold the attempt ("outcome unknown") until the order is seen or its lease has
passed, and look the order up right before any re-send.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from desk_helpers import TSY, Clock, StrictBook, orders_for

from orderalloc.desk import (
    CommitFailedError,
    CommitOutcomeUnknownError,
    CommitReceipt,
    Desk,
)
from orderalloc.sources.aladdin import AladdinClient, AladdinOutcomeUnknownError
from orderalloc.testing.aladdin import AladdinMockHandler, serve
from orderalloc.testing.recording import RecordingSink

WRITES = ("post_order", "modify_order")


class LateBooking:
    """Wraps a mock: the first write times out, and is carried out *after* calls later.

    Written here rather than with `FaultySource` so that it runs against any
    version of the desk.
    """

    def __init__(self, inner: StrictBook, after: int) -> None:
        self.inner = inner
        self.after = after
        self.in_flight: list[list[Any]] = []
        self.timed_out = 0
        self.landed = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any) -> Any:
            try:
                if name in WRITES and self.timed_out == 0:
                    self.timed_out += 1
                    raise AladdinOutcomeUnknownError(
                        status=None,
                        code=None,
                        message="ReadTimeout after the request was sent",
                        request_id=None,
                        path=name,
                    )
                return attr(*args)
            finally:
                self._tick()
                if name in WRITES and self.timed_out == 1 and not (self.in_flight or self.landed):
                    self.in_flight.append([self.after, lambda: attr(*args)])

        return call

    def _tick(self) -> None:
        for item in list(self.in_flight):
            item[0] -= 1
            if item[0] <= 0:
                self.in_flight.remove(item)
                self.landed += 1
                # The order system books it; nobody hears the answer, a refusal changes nothing.
                with contextlib.suppress(Exception):
                    item[1]()


def _until_done(call: Callable[[], CommitReceipt], tries: int = 20) -> CommitReceipt:
    for _ in range(tries):
        try:
            return call()
        except CommitOutcomeUnknownError:
            continue
    raise AssertionError(f"not done in {tries} tries")


class TestCommit:
    """Commit after a timed-out send whose order is booked late."""

    def test_first_failure_says_outcome_unknown(self) -> None:
        """The failed commit says "outcome unknown" (never "no order was booked")."""
        book = StrictBook()
        desk = Desk(LateBooking(book, after=3), RecordingSink(), actor="t")  # type: ignore[arg-type]
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        with pytest.raises(CommitOutcomeUnknownError, match="outcome unknown") as info:
            desk.commit(preview.allocation_id)
        assert "no order was booked" not in str(info.value)
        assert info.value.retryable
        assert info.value.retry_at is not None
        assert desk.history(preview.allocation_id)[-1].payload["outcome"] == "unknown"

    def test_commit_again_at_once_sends_nothing(self) -> None:
        """Re-committing while the lease holds never posts; once the order appears it is found."""
        book = StrictBook()
        source = LateBooking(book, after=3)
        desk = Desk(source, RecordingSink(), actor="t")  # type: ignore[arg-type]
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        with pytest.raises(CommitOutcomeUnknownError):
            desk.commit(preview.allocation_id)
        with pytest.raises(CommitOutcomeUnknownError, match="Nothing sent"):
            desk.commit(preview.allocation_id)  # at once: the order is not visible yet
        receipt = _until_done(lambda: desk.commit(preview.allocation_id))
        assert receipt.recovered
        assert len(orders_for(book, preview.allocation_id)) == 1
        assert book.duplicate_posts == 0
        assert source.landed == 1

    def test_booked_while_rereading_after_the_lease(self, clock: Clock) -> None:
        """Booked during the re-commit's checks, after the lease: the last look-up finds it."""
        book = StrictBook()
        desk = Desk(LateBooking(book, after=4), RecordingSink(), actor="t", clock=clock)  # type: ignore[arg-type]
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        with pytest.raises(CommitFailedError):
            desk.commit(preview.allocation_id)
        clock.advance(minutes=3)  # past the lease: the desk may send again
        receipt = desk.commit(preview.allocation_id)
        assert receipt.recovered
        assert len(orders_for(book, preview.allocation_id)) == 1
        assert book.duplicate_posts == 0
        events = desk.history(preview.allocation_id)
        assert [e.kind.value for e in events].count("COMMIT_STARTED") == 1

    def test_after_the_lease_it_sends_again_once(self, clock: Clock) -> None:
        """A send that never booked is retried after the lease, exactly once."""
        book = StrictBook()
        source = LateBooking(book, after=10**6)  # never processed
        desk = Desk(source, RecordingSink(), actor="t", clock=clock)  # type: ignore[arg-type]
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        with pytest.raises(CommitOutcomeUnknownError):
            desk.commit(preview.allocation_id)
        clock.advance(minutes=1)
        with pytest.raises(CommitOutcomeUnknownError, match="commit again after"):
            desk.commit(preview.allocation_id)
        clock.advance(minutes=2)
        receipt = desk.commit(preview.allocation_id)
        assert not receipt.recovered
        assert len(orders_for(book, preview.allocation_id)) == 1
        outcomes = [e.payload.get("outcome") for e in desk.history(preview.allocation_id)]
        assert outcomes.count("not_booked") == 1  # attempt 1, closed right before attempt 2


class TestModify:
    """Modify after a timed-out change that the order system applies late."""

    def test_modify_again_changes_the_order_once(self) -> None:
        """Modifying again while the change may be in flight sends nothing; it is applied once."""
        book = StrictBook()
        plain = Desk(book, RecordingSink(), actor="t")
        sink = plain.sink
        first = plain.commit(plain.preview("BIG6", TSY, "BUY", 5_000_000).allocation_id)
        order_id = first.order.order_id
        source = LateBooking(book, after=3)
        desk = Desk(source, sink, actor="t")  # type: ignore[arg-type]
        with pytest.raises(CommitOutcomeUnknownError, match="outcome unknown"):
            desk.modify(order_id, quantity=8_000_000)
        receipt = _until_done(lambda: desk.modify(order_id, quantity=8_000_000))
        assert book.modifications[order_id] == 1
        assert receipt.order.version == first.order.version + 1
        assert sum(line.quantity for line in receipt.order.lines) == pytest.approx(8_000_000)


class TestLoopback:
    """Over real HTTP: the server books 2 s after the client's 1 s timeout."""

    def test_recommit_does_not_double_book(self) -> None:
        """The first commit times out (outcome unknown); committing again never posts twice."""
        book = StrictBook()
        handler = AladdinMockHandler(book)
        handler.script("order:post", 200, hold=2.0)  # the real post, not its what-if
        with serve(handler) as server:
            config = handler.config(server.url, timeout=httpx.Timeout(1.0))
            with AladdinClient(config) as client:
                desk = Desk(client, RecordingSink(), actor="t")
                preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
                with pytest.raises(CommitOutcomeUnknownError, match="outcome unknown"):
                    desk.commit(preview.allocation_id)
                receipt = None
                deadline = time.monotonic() + 20
                while receipt is None and time.monotonic() < deadline:
                    try:  # at once, then until the server has booked it
                        receipt = desk.commit(preview.allocation_id)
                    except CommitOutcomeUnknownError:
                        time.sleep(0.2)
        assert receipt is not None
        assert receipt.recovered
        assert len(orders_for(book, preview.allocation_id)) == 1
        assert book.duplicate_posts == 0
        assert book.posts == 1
        assert handler.problems == []
