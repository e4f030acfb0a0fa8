"""Exactly-once commits under injected faults: FaultySource, flaky sinks, a fault campaign."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import pytest
from desk_helpers import (
    TSY,
    Clock,
    FlakySink,
    StrictBook,
    assert_attempts_settled,
    assert_outbox_delivers,
    campaign_sink,
    orders_for,
)

from orderalloc.audit import AuditEvent, AuditSink, EventKind, SQLiteAuditSink
from orderalloc.desk import (
    CommitFailedError,
    CommitInProgressError,
    CommitOutcomeUnknownError,
    CommitReceipt,
    Desk,
)
from orderalloc.errors import AuditIntegrityError, AuditSinkError, DataSourceError
from orderalloc.sources.aladdin import (
    AladdinAPIError,
    AladdinOutcomeUnknownError,
    AladdinServerError,
    AladdinTransportError,
)
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.sources.orders import OrderLine, OrderTicket
from orderalloc.sources.protocol import DataSource
from orderalloc.testing.aladdin_faults import aladdin_fault_error
from orderalloc.testing.faults import WRITES, Fault, FaultMode, FaultySource
from orderalloc.testing.recording import RecordingSink

TICKET = OrderTicket(
    security_id=TSY, side="BUY", lines=[OrderLine("BIG6-01", 1_000_000)], external_id="ext-1"
)


class TestFaultySource:
    """FaultySource fails the scheduled calls the way the Aladdin client would."""

    def test_booked_then_failed(self, mock: MockAladdin) -> None:
        """AFTER: the order is booked, then the caller sees an unknown outcome."""
        source = FaultySource(
            mock, [Fault("post_order", 1, FaultMode.AFTER)], errors=aladdin_fault_error
        )
        with pytest.raises(AladdinOutcomeUnknownError, match="carried out"):
            source.post_order(TICKET)
        assert len(orders_for(mock, "ext-1")) == 1
        assert source.injected[0].mode is FaultMode.AFTER

    def test_before_never_reaches_the_source(self, mock: MockAladdin) -> None:
        """BEFORE: a transport error and nothing booked; the next call goes through."""
        source = FaultySource(
            mock, [Fault("post_order", 1, FaultMode.BEFORE)], errors=aladdin_fault_error
        )
        with pytest.raises(AladdinTransportError, match="never sent"):
            source.post_order(TICKET)
        assert mock.orders() == ()
        assert source.post_order(TICKET).external_id == "ext-1"
        assert source.calls["post_order"] == 2

    def test_reject_is_a_4xx(self, mock: MockAladdin) -> None:
        """REJECT: an API error with status 400, nothing booked."""
        source = FaultySource(mock, [Fault("post_order", 1, "reject")], errors=aladdin_fault_error)
        with pytest.raises(AladdinAPIError) as info:
            source.post_order(TICKET)
        assert info.value.status == 400
        assert mock.orders() == ()

    def test_reads_fail_as_server_errors(self, mock: MockAladdin) -> None:
        """An AFTER fault on a read is a 503 (the read happened, the answer is lost)."""
        source = FaultySource(
            mock, [Fault("accounts", 2, FaultMode.AFTER)], errors=aladdin_fault_error
        )
        source.accounts("BIG6", TSY)
        with pytest.raises(AladdinServerError):
            source.accounts("BIG6", TSY)

    def test_random_faults_are_reproducible_and_heal(self, mock: MockAladdin) -> None:
        """The same seed fails the same calls; heal() stops all faults."""

        def run(seed: int) -> list[tuple[str, int, FaultMode]]:
            source = FaultySource(mock, rate=0.5, seed=seed, methods=["security"])
            for _ in range(40):
                with contextlib.suppress(DataSourceError):
                    source.security(TSY)
            return [(f.method, f.call, f.mode) for f in source.injected]

        assert run(1) == run(1) != run(2)
        assert 5 < len(run(1)) < 35
        source = FaultySource(mock, rate=1.0, seed=0)
        source.heal()
        assert source.security(TSY).id == TSY

    def test_is_a_data_source(self, mock: MockAladdin) -> None:
        """It satisfies the DataSource protocol and refuses unknown method names."""
        assert isinstance(FaultySource(mock), DataSource)
        with pytest.raises(ValueError, match="post_orders"):
            Fault("post_orders")
        with pytest.raises(ValueError, match="probability"):
            FaultySource(mock, rate=2.0)


class TestAmbiguousFailures:
    """Each ambiguous failure is resolved by a look-up, never by posting again blindly."""

    def test_booked_then_503_is_recovered_at_once(
        self, mock: MockAladdin, sqlite_sink: SQLiteAuditSink
    ) -> None:
        """The desk finds the order by external id and records COMMITTED (recovered)."""
        source = FaultySource(mock, [Fault("post_order", 1, FaultMode.AFTER)])
        desk = Desk(source, sqlite_sink, actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        receipt = desk.commit(preview.allocation_id)
        assert receipt.recovered
        assert len(orders_for(mock, preview.allocation_id)) == 1
        committed = desk.history(preview.allocation_id)[-1]
        assert committed.kind is EventKind.COMMITTED
        assert committed.payload["recovered"] is True

    def test_lost_send_is_retried(self, mock: MockAladdin) -> None:
        """Never sent: COMMIT_FAILED (not booked, retryable); the retry books it once."""
        source = FaultySource(mock, [Fault("post_order", 1, FaultMode.BEFORE)])
        desk = Desk(source, RecordingSink(), actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        with pytest.raises(CommitFailedError) as info:
            desk.commit(preview.allocation_id)
        assert info.value.retryable
        assert desk.status(preview.allocation_id) == "COMMIT_FAILED"
        assert desk.history(preview.allocation_id)[-1].payload["outcome"] == "not_booked"
        receipt = desk.commit(preview.allocation_id)
        assert not receipt.recovered
        assert receipt.order.external_id == preview.allocation_id
        assert len(orders_for(mock, preview.allocation_id)) == 1

    def test_booked_and_lookup_down(self, mock: MockAladdin) -> None:
        """Booked, answer lost, look-up failing: outcome unknown; the next commit finds it."""
        source = FaultySource(
            mock,
            [
                Fault("post_order", 1, FaultMode.AFTER),
                Fault("find_order", 1, FaultMode.BEFORE),
                Fault("find_order", 2, FaultMode.BEFORE),
            ],
        )
        desk = Desk(source, RecordingSink(), actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        with pytest.raises(CommitFailedError, match="look-up failed"):
            desk.commit(preview.allocation_id)
        with pytest.raises(CommitFailedError, match="nothing sent"):
            desk.commit(preview.allocation_id)  # still cannot look: sends nothing
        receipt = desk.commit(preview.allocation_id)
        assert receipt.recovered
        assert source.calls["post_order"] == 1
        assert len(orders_for(mock, preview.allocation_id)) == 1

    def test_committed_not_recorded(self, mock: MockAladdin) -> None:
        """Booked but the trail refused COMMITTED: the next commit records it, books nothing."""
        sink = RecordingSink()
        desk = Desk(mock, sink, actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        original = sink.append

        def refuse_committed(events: Sequence[AuditEvent]) -> None:
            if any(e.kind is EventKind.COMMITTED for e in events):
                raise AuditSinkError("injected: disk full")
            original(events)

        sink.append = refuse_committed  # type: ignore[method-assign]
        with pytest.raises(AuditSinkError, match="commit it again"):
            desk.commit(preview.allocation_id)
        sink.append = original  # type: ignore[method-assign]
        receipt = desk.commit(preview.allocation_id)
        assert receipt.recovered
        assert len(orders_for(mock, preview.allocation_id)) == 1


# --- the campaign ---------------------------------------------------------------------------------

SCHEDULES_PER_CHUNK = 110
CHUNKS = 10  # 1,100 schedules in all
GROUPS = ("BIG6", "PUBLICPRE", "DP-LB-USD", "OPNIC-LIFE")
SECURITIES = (WELL_KNOWN["TSY"], WELL_KNOWN["IG"], WELL_KNOWN["AGENCY"])
# Reads and writes the desk makes; every one of them may fail.
FAULTED = (
    "security",
    "accounts",
    "what_if",
    "post_order",
    "find_order",
    "get_order",
    "modify_order",
)
LEASE = dt.timedelta(minutes=2)


class Held:
    """Counts of commits the lease held back, and of schedules that waited it out."""

    def __init__(self) -> None:
        self.at_once = 0
        self.after_lease = 0


def _retry(
    action: str,
    call: Callable[[], object],
    *,
    source: FaultySource | None = None,
    clock: Clock | None = None,
    held: Held | None = None,
    limit: int = 300,
) -> object:
    """Call *call* until it returns; only the failures a caller is told to retry are allowed.

    An outcome-unknown or in-progress refusal is tried again at once first (the
    user who presses the button again), then after the lease: by then the
    order system has processed every request it received (``settle``).
    """
    streak = 0
    for _ in range(limit):
        try:
            return call()
        except (CommitOutcomeUnknownError, CommitInProgressError) as exc:
            retry_at = getattr(exc, "retry_at", None)
            if clock is None or source is None:
                continue
            streak += 1
            if streak == 1:
                continue  # again at once: the lease must hold it
            if held is not None:
                held.after_lease += 1
            source.settle()
            clock.now = max(clock.now, retry_at or clock.now) + LEASE
        except (CommitFailedError, DataSourceError, AuditSinkError):
            streak = 0
            continue
    raise AssertionError(f"{action} did not succeed in {limit} tries")


def _inner(sink: AuditSink) -> AuditSink:
    if isinstance(sink, FlakySink):
        return sink.inner
    return sink


def _check_trail(events: list[AuditEvent], mock: StrictBook, committed_ids: Sequence[str]) -> None:
    """The invariants every schedule must end with."""
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids)), "an event was recorded twice"
    by_allocation: dict[str, list[AuditEvent]] = collections.defaultdict(list)
    for e in events:
        by_allocation[e.allocation_id].append(e)
    for allocation_id, trail in by_allocation.items():
        assert trail[0].kind is EventKind.PREVIEWED
        modifies = trail[0].payload.get("modifies")
        started_kind = EventKind.COMMIT_STARTED if modifies is None else EventKind.MODIFIED
        booked = orders_for(mock, allocation_id)
        assert len(booked) <= 1, f"{allocation_id} was booked {len(booked)} times"
        committed = [e for e in trail if e.kind is EventKind.COMMITTED]
        started = [e for e in trail if e.kind is started_kind]
        if booked:
            assert started, "an order was sent before COMMIT_STARTED was recorded"
        assert len(committed) <= 1
        # Every attempt ends with exactly one definitive outcome.
        if allocation_id in committed_ids:
            assert len(committed) == 1
            if modifies is None:
                assert committed[0].order_id == booked[0].order_id
            assert_attempts_settled(trail, started, EventKind.COMMITTED)


def _faults(rng: random.Random, write: str) -> list[Fault]:
    faults = []
    draw = rng.random()
    if draw < 0.3:  # the classic: booked, then the answer is lost
        faults.append(Fault(write, 1, FaultMode.AFTER))
    elif draw < 0.65:  # the slow server: booked after the client's timeout
        faults.append(Fault(write, 1, FaultMode.SLOW))
    if rng.random() < 0.2:
        faults.append(Fault("find_order" if write == "post_order" else "get_order", 1))
    return faults


def _run_schedule(seed: int, mock: StrictBook, held: Held) -> dict[str, int]:
    rng = random.Random(seed)
    modes = [FaultMode.BEFORE, FaultMode.AFTER, FaultMode.SLOW]
    if rng.random() < 0.3:
        modes.append(FaultMode.REJECT)
    rate = rng.choice((0.05, 0.15, 0.3, 0.45))
    source = FaultySource(
        mock,
        _faults(rng, "post_order"),
        rate=rate,
        methods=FAULTED,
        modes=modes,
        seed=seed,
        slow_calls=rng.choice((0, 1, 2, 4, 8)),
    )
    sink, remote = campaign_sink(seed, lambda: rng.choice((0.1, 0.25)))
    clock = Clock()
    desk = Desk(
        source,
        sink,
        actor=f"campaign-{seed}",
        clock=clock,
        commit_lease=LEASE,
        max_age=dt.timedelta(days=365),
    )
    method = rng.choice(("pro_rata", "min_dispersion"))
    group, security = rng.choice(GROUPS), rng.choice(SECURITIES)
    quantity = rng.choice((1_000_000, 5_000_000, 25_000_000))
    preview = _retry(
        "preview", lambda: desk.preview(group, security, "BUY", quantity, method=method)
    )
    allocation_id = preview.allocation_id  # type: ignore[attr-defined]
    receipt = _retry(
        "commit",
        lambda: desk.commit(allocation_id),
        source=source,
        clock=clock,
        held=held,
    )
    assert isinstance(receipt, CommitReceipt)
    committed_ids = [allocation_id]
    modified = 0
    if seed % 2 == 0:  # then change it, under the same kinds of faults
        source.heal()
        source.settle()
        # A change makes twice the reads of a commit: lighter rates, same kinds.
        source.rate = min(rate, 0.15)
        if isinstance(sink, FlakySink):
            sink.rate = min(sink.rate, 0.1)
        for fault in _faults(rng, "modify_order"):
            source.schedule(attrs.evolve(fault, call=source.calls[fault.method] + fault.call))
        order_id = receipt.order.order_id
        before = mock.modifications[order_id]
        changed = _retry(
            "modify",
            lambda: desk.modify(order_id, quantity=quantity * 2),
            source=source,
            clock=clock,
            held=held,
        )
        assert isinstance(changed, CommitReceipt)
        committed_ids.append(changed.allocation_id)
        source.heal()
        source.settle()
        modified = mock.modifications[order_id] - before
        assert modified == 1, f"order {order_id} was modified {modified} times"
    source.heal()
    source.settle()
    if isinstance(sink, FlakySink):
        sink.rate = 0.0
    again = desk.commit(committed_ids[-1])
    assert isinstance(again, CommitReceipt)
    assert again.already_committed
    events = _inner(sink).events()
    _check_trail(events, mock, committed_ids)
    report = sink.verify()
    assert report.count == len(events)
    if remote is not None:
        assert_outbox_delivers(sink, remote, events, report.head_hash)
    slow = [f for f in source.injected if f.mode is FaultMode.SLOW and f.method in WRITES]
    return {
        "faults": len(source.injected),
        "slow_writes": len(slow),
        "sink_faults": sink.failures if isinstance(sink, FlakySink) else 0,
        "recovered": int(any(e.payload.get("recovered") for e in events)),
        "modified": modified,
    }


@pytest.mark.slow
class TestFaultCampaign:
    """1,100 seeded fault schedules: never a double booking, never a lost or doubled event."""

    @pytest.mark.parametrize("chunk", range(CHUNKS))
    def test_campaign(self, chunk: int) -> None:
        """Every schedule ends with one order, one COMMITTED, complete attempts, a sound chain.

        Half the schedules then modify the order under the same faults: it is
        changed exactly once. Slow-server writes (booked after the client's
        timeout) are committed again at once, and again after the lease.
        """
        mock = StrictBook()  # one order book for the chunk: ids never collide
        held = Held()
        totals: collections.Counter[str] = collections.Counter()
        start = time.perf_counter()
        for k in range(SCHEDULES_PER_CHUNK):
            totals.update(_run_schedule(chunk * SCHEDULES_PER_CHUNK + k, mock, held))
        totals["schedules"] = SCHEDULES_PER_CHUNK
        totals["waited_out_lease"] = held.after_lease
        print(f"chunk {chunk}: {dict(totals)} in {time.perf_counter() - start:.1f} s")
        assert totals["faults"] > SCHEDULES_PER_CHUNK  # the campaign really injected faults
        assert totals["recovered"] > 0  # and some commits had to be recovered by look-up
        assert totals["slow_writes"] > SCHEDULES_PER_CHUNK // 4  # the slow server was there
        assert held.after_lease > 0  # and some commits had to wait out the lease
        assert totals["sink_faults"] > 0
        # Never even tried to post an order that existed, early or late (a slow write).
        assert mock.duplicate_posts == 0


class TestTamper:
    """A trail written by the desk detects an edited row."""

    def test_edited_committed_row(self, mock: MockAladdin, tmp_path: Path) -> None:
        """Changing the order id of COMMITTED behind the sink's back fails verify()."""
        path = tmp_path / "audit.sqlite3"
        with SQLiteAuditSink(path) as sink:
            desk = Desk(FaultySource(mock, rate=0.2, seed=5, methods=["post_order"]), sink)
            preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
            _retry("commit", lambda: desk.commit(preview.allocation_id))
            sink.verify()
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("DROP TRIGGER AUDIT_EVENT_NO_UPDATE")
            conn.execute("UPDATE AUDIT_EVENT SET ORDER_ID = '99999999' WHERE KIND = 'COMMITTED'")
        finally:
            conn.close()
        with SQLiteAuditSink(path) as sink, pytest.raises(AuditIntegrityError):
            sink.verify()
