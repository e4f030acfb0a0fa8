"""A commit left open by another process is not re-sent while it may still be in flight."""

from __future__ import annotations

import datetime as dt

import pytest

import orderalloc as oa
from orderalloc.testing import RecordingSink

IG = "037833DX5"


class Died(BaseException):
    """The process running the first commit dies (not an error the desk can handle)."""


class DiesOnPost:
    """A source whose post_order never returns to the caller (optionally after booking)."""

    def __init__(self, inner: oa.MockAladdin, *, book: bool) -> None:
        self.inner = inner
        self.book = book

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def post_order(self, ticket: oa.OrderTicket) -> oa.PostedOrder:
        if self.book:
            self.inner.post_order(ticket)
        raise Died


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(name="setup")
def _setup() -> tuple[oa.MockAladdin, RecordingSink, Clock, str]:
    mock, sink, clock = oa.MockAladdin(), RecordingSink(), Clock()
    first = oa.Desk(DiesOnPost(mock, book=False), sink, actor="a", clock=clock)  # type: ignore[arg-type]
    preview = first.preview("BIG6", IG, "BUY", 5_000_000)
    return mock, sink, clock, preview.allocation_id


class TestCommitLease:
    """The lease protects an attempt whose send may still be in flight."""

    def test_open_attempt_blocks_a_second_process(
        self, setup: tuple[oa.MockAladdin, RecordingSink, Clock, str]
    ) -> None:
        """Within the lease another desk refuses to send; after it, it sends exactly once."""
        mock, sink, clock, allocation_id = setup
        dying = oa.Desk(DiesOnPost(mock, book=False), sink, actor="a", clock=clock)  # type: ignore[arg-type]
        with pytest.raises(Died):
            dying.commit(allocation_id)
        other = oa.Desk(mock, sink, actor="b", clock=clock)
        clock.now += dt.timedelta(seconds=30)
        with pytest.raises(oa.CommitInProgressError, match="may still be sending"):
            other.commit(allocation_id)
        assert mock.orders() == ()
        clock.now += dt.timedelta(minutes=2)
        receipt = other.commit(allocation_id)
        assert len(mock.orders()) == 1
        assert receipt.order.external_id == allocation_id
        kinds = [e.kind for e in sink.events(allocation_id=allocation_id)]
        assert kinds.count(oa.EventKind.COMMITTED) == 1

    def test_booked_attempt_is_found_at_once(
        self, setup: tuple[oa.MockAladdin, RecordingSink, Clock, str]
    ) -> None:
        """If the dead process had booked the order, the next commit finds it, lease or not."""
        mock, sink, clock, allocation_id = setup
        dying = oa.Desk(DiesOnPost(mock, book=True), sink, actor="a", clock=clock)  # type: ignore[arg-type]
        with pytest.raises(Died):
            dying.commit(allocation_id)
        receipt = oa.Desk(mock, sink, actor="b", clock=clock).commit(allocation_id)
        assert receipt.recovered
        assert len(mock.orders()) == 1
