"""Block trades booked exactly once under injected faults, and a booking fault campaign.

The same machinery as order commits (`Desk._send_once`) and the same campaign
harness (`test_desk_faults._retry`): booked then 5xx, a slow server that books
after the client's timeout (booked again at once, and after the lease), lost
look-ups, flaky audit sinks, and a process killed mid-booking.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
import time
from collections.abc import Sequence

import attrs
import pytest
from desk_helpers import (
    Clock,
    FlakySink,
    assert_attempts_settled,
    assert_outbox_delivers,
    campaign_sink,
    kinds,
)
from test_desk_faults import LEASE, Held, _inner, _retry

from orderalloc.audit import AuditEvent, AuditSink, EventKind
from orderalloc.desk import (
    BookingReceipt,
    CommitFailedError,
    CommitInProgressError,
    CommitOutcomeUnknownError,
    Desk,
)
from orderalloc.desk._records import AttemptStarted
from orderalloc.errors import AuditSinkError
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin, OrderRejectedError
from orderalloc.sources.trades import BookedTrade, TradeTicket
from orderalloc.testing.faults import Fault, FaultMode, FaultySource
from orderalloc.testing.recording import RecordingSink

IG = WELL_KNOWN["IG"]


class StrictBlotter(MockAladdin):
    """A mock that counts trades booked and attempts to book an external id already booked.

    The mock refuses a second active trade with the same external id (what a
    desk re-sending blindly would hit); the count shows such attempts.
    """

    def __init__(self) -> None:
        super().__init__()
        self.duplicate_books = 0
        self.booked: collections.Counter[str] = collections.Counter()

    def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        try:
            trade = super().book_trade(ticket)
        except OrderRejectedError as exc:
            if exc.code == 6:
                self.duplicate_books += 1
            raise
        self.booked[ticket.external_id] += 1
        return trade


def _filled(desk: Desk, mock: MockAladdin, quantity: float = 10_000_000) -> str:
    """Commit an order on *desk*, fill it in two pieces, return the fill allocation id."""
    preview = desk.preview("BIG6", IG, "BUY", quantity, method="pro_rata")
    order_id = desk.commit(preview.allocation_id).order.order_id
    mock.execute(order_id, quantity * 0.2, 99.10)
    mock.execute(order_id, quantity * 0.5, 99.25)
    return desk.allocate_fills(order_id).fill_allocation_id


def _desk(source: object, sink: AuditSink, clock: Clock) -> Desk:
    return Desk(
        source,  # type: ignore[arg-type]
        sink,
        actor="booker",
        clock=clock,
        commit_lease=LEASE,
        max_age=dt.timedelta(days=365),
    )


class TestBookingFaults:
    """Each kind of failure of trades:batchPost ends with one trade, recorded once."""

    def test_booked_then_5xx(self, clock: Clock) -> None:
        """Booked, then the answer is lost: the look-up finds it at once; one trade."""
        mock = StrictBlotter()
        source = FaultySource(mock, [Fault("book_trade", 1, FaultMode.AFTER)])
        desk = _desk(source, RecordingSink(), clock)
        fid = _filled(desk, mock)
        receipt = desk.book(fid)
        assert receipt.recovered
        assert sum(mock.booked.values()) == 1
        assert mock.duplicate_books == 0
        assert kinds(desk.history(fid))[-2:] == ["BOOK_STARTED", "BOOKED"]

    def test_slow_server_at_once_then_after_the_lease(self, clock: Clock) -> None:
        """Booked after the client's timeout: held at once, found later; never booked twice."""
        mock = StrictBlotter()
        source = FaultySource(mock, [Fault("book_trade", 1, FaultMode.SLOW)], slow_calls=50)
        desk = _desk(source, RecordingSink(), clock)
        fid = _filled(desk, mock)
        with pytest.raises(CommitOutcomeUnknownError) as first:
            desk.book(fid)
        assert first.value.retry_at is not None
        with pytest.raises(CommitOutcomeUnknownError):
            desk.book(fid)  # again at once: the lease holds it, nothing sent
        assert source.calls["book_trade"] == 1
        source.settle()  # the trading system processes it
        receipt = desk.book(fid)
        assert receipt.recovered
        assert sum(mock.booked.values()) == 1
        assert mock.duplicate_books == 0
        failed = [e for e in desk.history(fid) if e.kind is EventKind.BOOK_FAILED]
        assert [e.payload["outcome"] for e in failed] == ["unknown"]

    def test_slow_request_never_processed(self, clock: Clock) -> None:
        """The timed-out request is never processed: after the lease it is settled and re-sent."""
        mock = StrictBlotter()
        source = FaultySource(mock, [Fault("book_trade", 1, FaultMode.SLOW)], slow_calls=10_000)
        desk = _desk(source, RecordingSink(), clock)
        fid = _filled(desk, mock)
        with pytest.raises(CommitOutcomeUnknownError):
            desk.book(fid)
        assert source.drop() == 1  # lost inside the trading system: never booked
        clock.advance(seconds=LEASE.total_seconds() + 1)
        receipt = desk.book(fid)
        assert not receipt.recovered
        assert sum(mock.booked.values()) == 1
        trail = desk.history(fid)
        assert kinds(trail).count("BOOK_STARTED") == 2
        settled = [e for e in trail if e.event_id.endswith("/settled/1")]
        assert settled[0].payload["outcome"] == "not_booked"

    def test_never_sent_and_refused(self, clock: Clock) -> None:
        """A connection never opened is retryable; a 4xx is a refusal; neither books."""
        mock = StrictBlotter()
        source = FaultySource(
            mock, [Fault("book_trade", 1, FaultMode.BEFORE), Fault("book_trade", 2, "reject")]
        )
        desk = _desk(source, RecordingSink(), clock)
        fid = _filled(desk, mock)
        with pytest.raises(CommitFailedError) as never:
            desk.book(fid)
        assert never.value.retryable
        with pytest.raises(CommitFailedError) as refused:
            desk.book(fid)
        assert not refused.value.retryable
        assert mock.trades() == ()
        receipt = desk.book(fid)
        assert sum(mock.booked.values()) == 1
        outcomes = [
            e.payload["outcome"] for e in desk.history(fid) if e.kind is EventKind.BOOK_FAILED
        ]
        assert outcomes == ["not_booked", "rejected"]
        assert receipt.trade.is_active

    def test_lookup_fails_nothing_sent(self, clock: Clock) -> None:
        """After an ambiguous failure a failing look-up sends nothing until it answers."""
        mock = StrictBlotter()
        source = FaultySource(
            mock,
            [
                Fault("book_trade", 1, FaultMode.AFTER),
                Fault("find_trade", 1, FaultMode.AFTER),
                Fault("find_trade", 2, FaultMode.AFTER),
            ],
        )
        desk = _desk(source, RecordingSink(), clock)
        fid = _filled(desk, mock)
        with pytest.raises(CommitOutcomeUnknownError, match="look-up failed"):
            desk.book(fid)
        with pytest.raises(CommitOutcomeUnknownError, match="nothing sent"):
            desk.book(fid)
        receipt = desk.book(fid)
        assert receipt.recovered
        assert source.calls["book_trade"] == 1
        assert sum(mock.booked.values()) == 1

    def test_booked_not_recorded(self, clock: Clock) -> None:
        """Booked but the trail refused BOOKED: the next call records it and books nothing."""
        mock = StrictBlotter()
        sink = RecordingSink()
        desk = _desk(mock, sink, clock)
        fid = _filled(desk, mock)
        original = sink.append

        def refuse_booked(events: Sequence[AuditEvent]) -> None:
            if any(e.kind is EventKind.BOOKED for e in events):
                raise AuditSinkError("injected: disk full")
            original(events)

        sink.append = refuse_booked  # type: ignore[method-assign]
        with pytest.raises(AuditSinkError, match="book it again"):
            desk.book(fid)
        sink.append = original  # type: ignore[method-assign]
        receipt = desk.book(fid)
        assert receipt.recovered
        assert sum(mock.booked.values()) == 1
        assert desk.book(fid).already_booked

    def test_two_desks_race(self, clock: Clock) -> None:
        """Two processes book one fill allocation: one sends, the other is refused, one trade."""
        mock = StrictBlotter()
        sink = RecordingSink()
        first = _desk(mock, sink, clock)
        fid = _filled(first, mock)
        second = _desk(mock, sink, clock)
        trail = first._fills_trail(fid)
        ticket = first.get_fill_preview(fid).ticket
        # The second desk records its attempt 1 first; the first desk's is then refused.
        second._record(
            [
                second._event(
                    trail,
                    EventKind.BOOK_STARTED,
                    attrs.evolve(AttemptStarted.of(ticket, None), attempt=1),
                    event_id=f"{fid}/book_started/1",
                )
            ]
        )
        with pytest.raises(CommitInProgressError, match="may still be sending"):
            first.book(fid)
        assert mock.trades() == ()
        clock.advance(seconds=LEASE.total_seconds() + 1)
        receipt = first.book(fid)
        assert receipt.trade.external_id == ticket.external_id
        assert sum(mock.booked.values()) == 1


# --- the campaign ---------------------------------------------------------------------------------

BOOKING_SCHEDULES_PER_CHUNK = 40
BOOKING_CHUNKS = 5  # 200 schedules in all
BOOK_FAULTED = (
    "security",
    "accounts",
    "fills",
    "book_trade",
    "find_trade",
    "get_order",
)


def _book_faults(rng: random.Random) -> list[Fault]:
    faults = []
    draw = rng.random()
    if draw < 0.35:  # booked, then the answer is lost
        faults.append(Fault("book_trade", 1, FaultMode.AFTER))
    elif draw < 0.75:  # the slow server: booked after the client's timeout
        faults.append(Fault("book_trade", 1, FaultMode.SLOW))
    if rng.random() < 0.25:
        faults.append(Fault("find_trade", 1))
    return faults


def _check_bookings(events: list[AuditEvent], mock: StrictBlotter, booked: Sequence[str]) -> None:
    """Every fill allocation booked once; every attempt with one outcome; no event twice."""
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids)), "an event was recorded twice"
    trails: dict[str, list[AuditEvent]] = collections.defaultdict(list)
    for e in events:
        trails[e.allocation_id].append(e)
    for fid in booked:
        trail = trails[fid]
        assert trail[0].kind is EventKind.FILLS_ALLOCATED
        external = trail[0].payload["ticket"]["external_id"]
        assert mock.booked[external] == 1, f"{fid} was booked {mock.booked[external]} times"
        done = [e for e in trail if e.kind is EventKind.BOOKED]
        assert len(done) == 1
        started = [e for e in trail if e.kind is EventKind.BOOK_STARTED]
        assert_attempts_settled(trail, started, EventKind.BOOKED)


def _run_booking(seed: int, mock: StrictBlotter, held: Held) -> dict[str, int]:
    rng = random.Random(seed)
    modes = [FaultMode.BEFORE, FaultMode.AFTER, FaultMode.SLOW]
    if rng.random() < 0.3:
        modes.append(FaultMode.REJECT)
    rate = rng.choice((0.05, 0.15, 0.3))
    source = FaultySource(
        mock,
        methods=BOOK_FAULTED,
        modes=modes,
        seed=seed,
        slow_calls=rng.choice((0, 1, 2, 4, 8)),
    )
    sink, remote = campaign_sink(seed, lambda: 0.0)
    clock = Clock()
    desk = _desk(source, sink, clock)
    quantity = rng.choice((2_000_000, 10_000_000, 25_000_000))
    preview = desk.preview("BIG6", IG, "BUY", quantity, method=rng.choice(("pro_rata",)))
    order_id = desk.commit(preview.allocation_id).order.order_id
    booked: list[str] = []
    rounds = 1 + (seed % 2)  # half the schedules book a second batch of fills
    for _ in range(rounds):
        mock.simulate_fills(order_id, count=rng.randint(1, 3), fraction=rng.uniform(0.1, 0.4))
        # Faults from here on: reads, the booking, the look-ups, the sink.
        source.rate = rate
        if isinstance(sink, FlakySink):
            sink.rate = rng.choice((0.05, 0.15))
        for fault in _book_faults(rng):
            source.schedule(Fault(fault.method, source.calls[fault.method] + 1, fault.mode))
        fp = _retry("allocate_fills", lambda: desk.allocate_fills(order_id))
        fid = fp.fill_allocation_id  # type: ignore[attr-defined]
        receipt = _retry(
            "book",
            lambda fid=fid: desk.book(fid),  # type: ignore[misc]
            source=source,
            clock=clock,
            held=held,
            limit=400,
        )
        assert isinstance(receipt, BookingReceipt)
        booked.append(fid)
        source.heal()
        source.settle()
        if isinstance(sink, FlakySink):
            sink.rate = 0.0
    again = desk.book(booked[-1])
    assert again.already_booked
    events = _inner(sink).events()
    _check_bookings(events, mock, booked)
    report = sink.verify()
    assert report.count == len(events)
    lost = 0
    if remote is not None:
        assert_outbox_delivers(sink, remote, events)
        lost = len(events) - len(remote.events())
    slow = [f for f in source.injected if f.mode is FaultMode.SLOW and f.method == "book_trade"]
    return {
        "bookings": len(booked),
        "faults": len(source.injected),
        "slow_bookings": len(slow),
        "recovered": sum(
            1 for e in events if e.kind is EventKind.BOOKED and e.payload["recovered"]
        ),
        "sink_faults": sink.failures if isinstance(sink, FlakySink) else 0,
        "lost_events": lost,
    }


@pytest.mark.slow
class TestBookingCampaign:
    """200 seeded fault schedules over bookings: zero double bookings, zero lost events."""

    @pytest.mark.parametrize("chunk", range(BOOKING_CHUNKS))
    def test_campaign(self, chunk: int) -> None:
        """Every fill allocation is booked once, every attempt has one outcome, the chain holds.

        Faults hit the reads, trades:batchPost (booked then 5xx, slow server
        booking after the client's timeout: booked again at once and after the
        lease), the look-ups and the audit sink; half the schedules book a
        second batch of fills on top of the first.
        """
        mock = StrictBlotter()  # one blotter per chunk: external ids never collide
        held = Held()
        totals: collections.Counter[str] = collections.Counter()
        start = time.perf_counter()
        for k in range(BOOKING_SCHEDULES_PER_CHUNK):
            totals.update(_run_booking(chunk * BOOKING_SCHEDULES_PER_CHUNK + k, mock, held))
        totals["schedules"] = BOOKING_SCHEDULES_PER_CHUNK
        totals["waited_out_lease"] = held.after_lease
        totals["double_bookings"] = sum(max(0, n - 1) for n in mock.booked.values())
        totals["duplicate_sends"] = mock.duplicate_books
        print(f"booking chunk {chunk}: {dict(totals)} in {time.perf_counter() - start:.1f} s")
        assert totals["double_bookings"] == 0
        assert mock.duplicate_books == 0
        assert totals["lost_events"] == 0
        assert totals["slow_bookings"] > 0
        assert totals["recovered"] > 0
