"""The desk after the trade: fills in, allocated to the committed intent, booked exactly once."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from desk_helpers import Clock, DrainedSource, kinds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderalloc.audit import EventKind, SQLiteAuditSink
from orderalloc.desk import (
    BookingReceipt,
    CommitReceipt,
    Desk,
    FillsChangedError,
    NothingToBookError,
    UnknownOrderError,
)
from orderalloc.errors import DeskError, InvalidOrderError
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.sources.trades import TradeStatus
from orderalloc.testing.recording import RecordingSink

IG = WELL_KNOWN["IG"]


def _committed(desk: Desk, quantity: float = 25_000_000) -> CommitReceipt:
    preview = desk.preview("BIG6", IG, "BUY", quantity, method="pro_rata")
    return desk.commit(preview.allocation_id)


@pytest.fixture(name="desk")
def _desk(mock: MockAladdin, clock: Clock) -> Desk:
    """A desk on a fresh mock with an in-memory trail and a fake clock."""
    return Desk(mock, RecordingSink(), actor="trader", clock=clock, max_age=dt.timedelta(days=9))


class TestFills:
    """Fills come from the source and from FIX / files / users, once per execution id."""

    def test_source_and_recorded_merge(self, desk: Desk, mock: MockAladdin) -> None:
        """The source's executions and the recorded ones, earliest first, each id once."""
        order = _committed(desk).order
        from_street = mock.simulate_fills(order.order_id, count=2, fraction=0.3)
        t = from_street[0].time
        assert t is not None
        mine = desk.record_fill(
            order.order_id, 1_000_000, 99.5, execution_id="FIX-1", time=t, via="fix"
        )
        again = desk.record_fill(
            order.order_id, 1_000_000, 99.5, execution_id="FIX-1", time=t, via="fix"
        )
        assert again == mine
        got = desk.fills(order.order_id)
        assert {f.execution_id for f in got} == {"FIX-1", *(f.execution_id for f in from_street)}
        assert [f.time for f in got] == sorted(f.time for f in got)  # type: ignore[type-var]
        recorded = [e for e in desk.sink.events() if e.kind is EventKind.FILL_RECORDED]
        assert len(recorded) == 1
        assert recorded[0].payload["via"] == "fix"

    def test_conflicting_record_refused(self, desk: Desk) -> None:
        """The same execution id with another price is refused, naming both."""
        order = _committed(desk).order
        desk.record_fill(order.order_id, 1_000_000, 99.5, execution_id="FIX-2")
        with pytest.raises(DeskError, match=r"99\.5"):
            desk.record_fill(order.order_id, 1_000_000, 99.7, execution_id="FIX-2")

    def test_bad_fill_and_unknown_order(self, desk: Desk) -> None:
        """A negative quantity names the field; an order the desk never committed is unknown."""
        order = _committed(desk).order
        with pytest.raises(InvalidOrderError, match="quantity"):
            desk.record_fill(order.order_id, -5, 99.0)
        with pytest.raises(UnknownOrderError):
            desk.record_fill("nope", 1_000_000, 99.0)


class TestAllocateAndBook:
    """Two partial fills at two prices: allocated pro rata to the intent, booked once."""

    def test_two_fills_booked(self, desk: Desk, mock: MockAladdin) -> None:
        """Cumulative never above intent, one VWAP, principal to the cent, one active trade."""
        receipt = _committed(desk)
        order_id = receipt.order.order_id
        intent = {line.account_id: line.quantity for line in receipt.order.lines}
        mock.execute(order_id, 2_000_000, 99.10)
        mock.execute(order_id, 6_000_000, 99.25)
        fp = desk.allocate_fills(order_id)
        fa = fp.allocation
        for account, q in fa.quantities.items():
            assert q <= intent.get(account, 0.0)
        ticket = fp.ticket
        assert ticket.quantity == fa.allocated
        np.testing.assert_allclose(ticket.price, fa.vwap)
        block = sum(line.principal or 0 for line in ticket.lines)
        factor = mock.security(IG).factor
        expected = (2_000_000 * 99.10 + 6_000_000 * 99.25) / 100 * factor
        if fa.unallocated == 0:
            assert round(block, 2) == round(expected, 2)
        booked = desk.book(fp.fill_allocation_id)
        assert isinstance(booked, BookingReceipt)
        assert not booked.recovered
        assert [t.status for t in mock.trades()] == [TradeStatus.ACTIVE]
        assert mock.trades()[0].lines == ticket.lines
        again = desk.book(fp.fill_allocation_id)
        assert again.already_booked
        assert len(mock.trades()) == 1
        trail = desk.history(fp.fill_allocation_id)
        assert kinds(trail) == ["FILLS_ALLOCATED", "BOOK_STARTED", "BOOKED"]

    def test_reallocate_until_booked_then_extend(self, desk: Desk, mock: MockAladdin) -> None:
        """Previews may repeat; after a booking only new fills book, booked amounts unchanged."""
        order_id = _committed(desk).order.order_id
        mock.execute(order_id, 2_000_000, 99.10)
        first = desk.allocate_fills(order_id)
        mock.execute(order_id, 3_000_000, 99.20)
        second = desk.allocate_fills(order_id)  # reallocated before booking
        assert second.new_fill_ids == tuple(f.execution_id for f in mock.fills(order_id))
        desk.book(second.fill_allocation_id)
        with pytest.raises(FillsChangedError):
            desk.book(first.fill_allocation_id)  # those fills are booked now
        assert len(mock.trades()) == 1
        with pytest.raises(NothingToBookError):
            desk.allocate_fills(order_id)
        mock.execute(order_id, 4_000_000, 99.40)
        third = desk.allocate_fills(order_id)
        assert third.previous == second.fill_allocation_id
        assert len(third.new_fill_ids) == 1
        before = second.allocation.quantities
        for account, q in third.allocation.quantities.items():
            assert q >= before.get(account, 0.0)  # cumulative never decreases
        increment = {ln.account_id: ln.quantity for ln in third.ticket.lines}
        for account, q in increment.items():
            assert math.isclose(q, third.allocation.quantities[account] - before.get(account, 0))
        np.testing.assert_allclose(third.ticket.price, 99.40)
        desk.book(third.fill_allocation_id)
        assert [t.is_active for t in mock.trades()] == [True, True]
        assert sum(t.quantity for t in mock.trades()) == third.allocation.allocated

    def test_cancel_then_rebook(self, desk: Desk, mock: MockAladdin) -> None:
        """A cancelled booking opens its fills again; the next allocation books them once more."""
        order_id = _committed(desk).order.order_id
        mock.execute(order_id, 2_000_000, 99.10)
        fp = desk.allocate_fills(order_id)
        desk.book(fp.fill_allocation_id)
        cancelled = desk.cancel_booking(fp.fill_allocation_id, "wrong account")
        assert cancelled.status == TradeStatus.CANCELLED
        assert desk.cancel_booking(fp.fill_allocation_id, "twice").status == TradeStatus.CANCELLED
        with pytest.raises(DeskError, match="cancelled"):
            desk.book(fp.fill_allocation_id)
        again = desk.allocate_fills(order_id)
        assert again.previous is None
        desk.book(again.fill_allocation_id)
        assert [t.status for t in mock.trades()] == [TradeStatus.CANCELLED, TradeStatus.ACTIVE]
        trail = kinds(desk.history(fp.fill_allocation_id))
        assert trail.count("TRADE_CANCELLED") == 1

    def test_rebuilt_from_the_trail(
        self, mock: MockAladdin, clock: Clock, sqlite_sink: SQLiteAuditSink
    ) -> None:
        """Another desk on the same trail books a fill allocation it never saw."""
        first = Desk(mock, sqlite_sink, actor="a", clock=clock)
        order_id = _committed(first).order.order_id
        mock.simulate_fills(order_id, count=3)
        fp = first.allocate_fills(order_id)
        second = Desk(mock, sqlite_sink, actor="b", clock=clock)
        rebuilt = second.get_fill_preview(fp.fill_allocation_id)
        assert rebuilt.ticket == fp.ticket
        assert rebuilt.allocation.quantities == fp.allocation.quantities
        second.book(fp.fill_allocation_id)
        assert sqlite_sink.verify().count == len(sqlite_sink.events())

    def test_rotation_carried_to_the_next_order(self, desk: Desk, mock: MockAladdin) -> None:
        """The next order of the group starts from the ledger the last booked one left."""
        first = _committed(desk, 10_000_000).order.order_id
        mock.execute(first, 1_003_000, 99.10)
        fp1 = desk.allocate_fills(first)
        assert fp1.allocation.ledger.books  # some credit is owed after a fill
        second = _committed(desk, 10_000_000).order.order_id
        mock.execute(second, 2_000_000, 99.20)
        before = desk.allocate_fills(second)  # nothing of the group booked yet
        assert before.allocation.ledger_in.books == {}
        desk.book(fp1.fill_allocation_id)
        after = desk.allocate_fills(second)
        assert after.allocation.ledger_in == fp1.allocation.ledger

    def test_source_without_trades(self, mock: MockAladdin, clock: Clock) -> None:
        """Recorded fills allocate on any source; booking needs a TradeSource and says so."""
        desk = Desk(DrainedSource(mock), RecordingSink(), actor="t", clock=clock)
        order_id = _committed(desk).order.order_id
        desk.record_fill(order_id, 3_000_000, 99.2, execution_id="FIX-1")
        fp = desk.allocate_fills(order_id)
        assert fp.new_fill_ids == ("FIX-1",)
        with pytest.raises(DeskError, match="TradeSource"):
            desk.book(fp.fill_allocation_id)
        assert mock.trades() == ()

    def test_new_issue(self, desk: Desk, mock: MockAladdin) -> None:
        """A 5-20% allotment is split pro rata to the intent on the lot grid, and booked."""
        receipt = _committed(desk, 50_000_000)
        order_id = receipt.order.order_id
        allotment = mock.allot_new_issue(order_id)
        assert 0.05 * 50_000_000 - 1_000 <= allotment.quantity <= 0.20 * 50_000_000
        fp = desk.allocate_fills(order_id)
        sec = mock.security(IG)
        for line in fp.ticket.lines:
            assert line.quantity >= sec.min_piece
            assert (line.quantity - sec.min_piece) % sec.increment == 0
        desk.book(fp.fill_allocation_id)
        assert mock.trades()[0].quantity == fp.allocation.allocated


class TestBookingProperties:
    """Over generated fill sequences and booking points, bookings add up to the allocation."""

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        pieces=st.lists(
            st.tuples(st.integers(1, 40), st.integers(9_800, 10_100)), min_size=1, max_size=6
        ),
        book_after=st.sets(st.integers(0, 5)),
        side=st.sampled_from(["BUY", "SELL"]),
    )
    def test_bookings_sum_to_the_cumulative_allocation(
        self, pieces: list[tuple[int, int]], book_after: set[int], side: str
    ) -> None:
        """Active trades per account equal the last booked cumulative amount, never above intent."""
        mock = MockAladdin(scenario="sell_down")
        desk = Desk(mock, RecordingSink(), actor="p", max_age=dt.timedelta(days=9))
        preview = desk.preview("BIG6", IG, side, 10_000_000, method="pro_rata")
        receipt = desk.commit(preview.allocation_id)
        order_id = receipt.order.order_id
        intent = {line.account_id: line.quantity for line in receipt.order.lines}
        sec = mock.security(IG)
        last = None
        done = 0.0
        for k, (lots, cents) in enumerate(pieces):
            size = min(lots * 250_000.0, receipt.order.quantity - done)
            if size < sec.min_piece:
                break
            mock.execute(order_id, size, cents / 100)
            done += size
            if k in book_after or k == len(pieces) - 1:
                try:
                    fp = desk.allocate_fills(order_id)
                except NothingToBookError:
                    continue
                if last is not None:
                    for account, q in last.allocation.quantities.items():
                        assert fp.allocation.quantities[account] >= q
                desk.book(fp.fill_allocation_id)
                last = fp
        if last is None:
            return
        booked: dict[str, float] = {}
        for trade in mock.trades():
            assert trade.is_active
            for line in trade.lines:
                booked[line.account_id] = booked.get(line.account_id, 0.0) + line.quantity
                assert line.quantity >= sec.min_piece
        final = {a: q for a, q in last.allocation.quantities.items() if q}
        assert booked == final
        for account, q in final.items():
            assert q <= intent[account]
