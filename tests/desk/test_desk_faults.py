"""Exactly-once commits under injected faults: FaultySource, flaky sinks, a fault campaign."""

from __future__ import annotations

import collections
import contextlib
import random
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from desk_helpers import TSY, DownRemote, FlakySink, StrictBook, orders_for

from orderalloc.audit import AuditEvent, AuditSink, EventKind, OutboxSink, SQLiteAuditSink
from orderalloc.desk import CommitFailedError, CommitReceipt, Desk
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
from orderalloc.testing.faults import Fault, FaultMode, FaultySource
from orderalloc.testing.recording import RecordingSink

TICKET = OrderTicket(
    security_id=TSY, side="BUY", lines=[OrderLine("BIG6-01", 1_000_000)], external_id="ext-1"
)


class TestFaultySource:
    """FaultySource fails the scheduled calls the way the Aladdin client would."""

    def test_booked_then_failed(self, mock: MockAladdin) -> None:
        """AFTER: the order is booked, then the caller sees an unknown outcome."""
        source = FaultySource(mock, [Fault("post_order", 1, FaultMode.AFTER)])
        with pytest.raises(AladdinOutcomeUnknownError, match="carried out"):
            source.post_order(TICKET)
        assert len(orders_for(mock, "ext-1")) == 1
        assert source.injected[0].mode is FaultMode.AFTER

    def test_before_never_reaches_the_source(self, mock: MockAladdin) -> None:
        """BEFORE: a transport error and nothing booked; the next call goes through."""
        source = FaultySource(mock, [Fault("post_order", 1, FaultMode.BEFORE)])
        with pytest.raises(AladdinTransportError, match="never sent"):
            source.post_order(TICKET)
        assert mock.orders() == ()
        assert source.post_order(TICKET).external_id == "ext-1"
        assert source.calls["post_order"] == 2

    def test_reject_is_a_4xx(self, mock: MockAladdin) -> None:
        """REJECT: an API error with status 400, nothing booked."""
        source = FaultySource(mock, [Fault("post_order", 1, "reject")])
        with pytest.raises(AladdinAPIError) as info:
            source.post_order(TICKET)
        assert info.value.status == 400
        assert mock.orders() == ()

    def test_reads_fail_as_server_errors(self, mock: MockAladdin) -> None:
        """An AFTER fault on a read is a 503 (the read happened, the answer is lost)."""
        source = FaultySource(mock, [Fault("accounts", 2, FaultMode.AFTER)])
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
FAULTED = ("security", "accounts", "what_if", "post_order", "find_order", "get_order")


def _retry(action: str, call: object, limit: int = 300) -> object:
    """Call *call* until it returns; only the failures a caller is told to retry are allowed."""
    for _ in range(limit):
        try:
            return call()  # type: ignore[operator]
        except (CommitFailedError, DataSourceError, AuditSinkError):
            continue
    raise AssertionError(f"{action} did not succeed in {limit} tries")


def _inner(sink: AuditSink) -> AuditSink:
    if isinstance(sink, FlakySink):
        return sink.inner
    return sink


def _check_trail(events: list[AuditEvent], mock: MockAladdin, committed_id: str) -> None:
    """The invariants every schedule must end with."""
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids)), "an event was recorded twice"
    by_allocation: dict[str, list[AuditEvent]] = collections.defaultdict(list)
    for e in events:
        by_allocation[e.allocation_id].append(e)
    for allocation_id, trail in by_allocation.items():
        assert trail[0].kind is EventKind.PREVIEWED
        booked = orders_for(mock, allocation_id)
        assert len(booked) <= 1, f"{allocation_id} was booked {len(booked)} times"
        committed = [e for e in trail if e.kind is EventKind.COMMITTED]
        started = [e for e in trail if e.kind is EventKind.COMMIT_STARTED]
        if booked:
            assert started, "an order was sent before COMMIT_STARTED was recorded"
        assert len(committed) <= 1
        # Every attempt ends with exactly one definitive outcome.
        if allocation_id == committed_id:
            assert len(committed) == 1
            assert committed[0].order_id == booked[0].order_id
            attempts = [int(e.payload["attempt"]) for e in started]
            assert attempts == list(range(1, len(attempts) + 1))
            for n in attempts:
                outcomes = [
                    e
                    for e in trail
                    if e.payload.get("attempt") == n
                    and (
                        e.kind is EventKind.COMMITTED
                        or e.payload.get("outcome") in ("not_booked", "rejected")
                    )
                ]
                assert len(outcomes) == 1, (n, [(e.kind, dict(e.payload)) for e in trail])


def _run_schedule(seed: int, mock: MockAladdin) -> dict[str, int]:
    rng = random.Random(seed)
    faults = []
    if rng.random() < 0.4:  # the classic: booked, then the answer is lost
        faults.append(Fault("post_order", 1, FaultMode.AFTER))
    if rng.random() < 0.2:
        faults.append(Fault("find_order", 1, FaultMode.BEFORE))
    source = FaultySource(
        mock,
        faults,
        rate=rng.choice((0.05, 0.15, 0.3, 0.45)),
        methods=FAULTED,
        modes=(FaultMode.BEFORE, FaultMode.AFTER, FaultMode.REJECT)
        if rng.random() < 0.3
        else (FaultMode.BEFORE, FaultMode.AFTER),
        seed=seed,
    )
    kind = seed % 3
    remote: DownRemote | None = None
    sink: AuditSink
    if kind == 0:
        sink = RecordingSink()
    elif kind == 1:
        sink = FlakySink(rate=rng.choice((0.1, 0.25)), seed=seed)
    else:
        remote = DownRemote()
        sink = OutboxSink(remote, ":memory:")
    desk = Desk(source, sink, actor=f"campaign-{seed}")
    method = rng.choice(("pro_rata", "min_dispersion"))
    group, security = rng.choice(GROUPS), rng.choice(SECURITIES)
    quantity = rng.choice((1_000_000, 5_000_000, 25_000_000))
    preview = _retry(
        "preview", lambda: desk.preview(group, security, "BUY", quantity, method=method)
    )
    allocation_id = preview.allocation_id  # type: ignore[attr-defined]
    _retry("commit", lambda: desk.commit(allocation_id))
    source.heal()
    if isinstance(sink, FlakySink):
        sink.rate = 0.0
    again = desk.commit(allocation_id)
    assert isinstance(again, CommitReceipt)
    assert again.already_committed
    events = _inner(sink).events()
    _check_trail(events, mock, allocation_id)
    report = sink.verify()
    assert report.count == len(events)
    if remote is not None:
        assert isinstance(sink, OutboxSink)
        remote.down = False
        sink.flush()
        assert sink.pending() == 0
        assert [e.event_id for e in remote.events()] == [e.event_id for e in events]
        assert remote.verify().head_hash == report.head_hash
    return {
        "faults": len(source.injected),
        "sink_faults": sink.failures if isinstance(sink, FlakySink) else 0,
        "recovered": int(any(e.payload.get("recovered") for e in events)),
    }


@pytest.mark.slow
class TestFaultCampaign:
    """1,100 seeded fault schedules: never a double booking, never a lost or doubled event."""

    @pytest.mark.parametrize("chunk", range(CHUNKS))
    def test_campaign(self, chunk: int) -> None:
        """Every schedule ends with one order, one COMMITTED, complete attempts, a sound chain."""
        mock = StrictBook()  # one order book for the chunk: ids never collide
        totals: collections.Counter[str] = collections.Counter()
        start = time.perf_counter()
        for k in range(SCHEDULES_PER_CHUNK):
            totals.update(_run_schedule(chunk * SCHEDULES_PER_CHUNK + k, mock))
        totals["schedules"] = SCHEDULES_PER_CHUNK
        print(f"chunk {chunk}: {dict(totals)} in {time.perf_counter() - start:.1f} s")
        assert totals["faults"] > SCHEDULES_PER_CHUNK  # the campaign really injected faults
        assert totals["recovered"] > 0  # and some commits had to be recovered by look-up
        assert totals["sink_faults"] > 0
        assert mock.duplicate_posts == 0  # never even tried to post an order that existed


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
