"""The AuditSink contract, run against every sink (recording, SQLite, outbox, Snowflake)."""

from __future__ import annotations

import datetime as dt

import pytest
from _audit_helpers import T0, Backend, make_event

from orderalloc.audit import GENESIS_HASH, AuditEvent, AuditSink, EventKind
from orderalloc.errors import AuditSinkError, InvalidInputError


class TestAppend:
    """append records events in order, atomically, and idempotently by event_id."""

    def test_is_an_audit_sink(self, backend: Backend) -> None:
        """Every implementation satisfies the runtime-checkable protocol."""
        assert isinstance(backend.open(), AuditSink)

    def test_round_trip_in_order(self, backend: Backend) -> None:
        """Events come back identical (canonical JSON and all) in append order."""
        sink = backend.open()
        events = [make_event(i) for i in range(7)]
        sink.append(events[:3])
        sink.append(events[3:])
        got = sink.events()
        assert [e.canonical_json() for e in got] == [e.canonical_json() for e in events]
        assert got == events

    def test_identical_reappend_is_a_no_op(self, backend: Backend) -> None:
        """Re-appending stored events (a retry after a lost ack) stores nothing twice."""
        sink = backend.open()
        events = [make_event(i) for i in range(4)]
        sink.append(events[:2])
        sink.append(events)  # two old, two new
        sink.append(events)
        assert sink.events() == events
        assert sink.verify().count == 4

    def test_duplicate_inside_a_batch_is_stored_once(self, backend: Backend) -> None:
        """The same event twice in one batch is stored once."""
        sink = backend.open()
        e = make_event(1)
        sink.append([e, e, make_event(2)])
        assert [x.event_id for x in sink.events()] == ["ev-00001", "ev-00002"]

    def test_conflicting_event_id_raises_and_writes_nothing(self, backend: Backend) -> None:
        """A different event under a stored id is refused, and its batch is not recorded."""
        sink = backend.open()
        sink.append([make_event(1)])
        forged = make_event(1, actor="someone-else")
        with pytest.raises(AuditSinkError, match="ev-00001"):
            sink.append([make_event(2), forged])
        assert [e.event_id for e in sink.events()] == ["ev-00001"]
        assert sink.get("ev-00001") == make_event(1)
        sink.verify()

    def test_conflict_inside_a_batch_raises(self, backend: Backend) -> None:
        """Two different events with one id in a single batch are refused."""
        sink = backend.open()
        with pytest.raises(AuditSinkError):
            sink.append([make_event(1), make_event(1, payload={"other": True})])
        assert sink.events() == []

    def test_empty_batch_is_a_no_op(self, backend: Backend) -> None:
        """Appending nothing changes nothing."""
        sink = backend.open()
        sink.append([])
        assert sink.events() == []

    def test_refuses_non_events(self, backend: Backend) -> None:
        """A single event or a non-event is refused with InvalidInputError."""
        sink = backend.open()
        with pytest.raises(InvalidInputError):
            sink.append(make_event(1))  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            sink.append([{"event_id": "x"}])  # type: ignore[list-item]

    def test_survives_reopening(self, backend: Backend) -> None:
        """A reopened sink sees the trail and continues its chain."""
        sink = backend.open()
        sink.append([make_event(1), make_event(2)])
        if backend.name != "recording":
            sink.close()
            sink = backend.open()
        sink.append([make_event(2), make_event(3)])
        assert [e.event_id for e in sink.events()] == ["ev-00001", "ev-00002", "ev-00003"]
        assert sink.verify().count == 3


class TestQueries:
    """events() filters by allocation, account, security, time and kind, in append order."""

    @pytest.fixture(name="sink")
    def _sink(self, backend: Backend) -> AuditSink:
        sink = backend.open()
        sink.append([make_event(i) for i in range(12)])
        return sink

    def test_by_allocation(self, sink: AuditSink) -> None:
        """allocation_id selects that allocation's events."""
        got = sink.events(allocation_id="alloc-1")
        assert [e.event_id for e in got] == [f"ev-{i:05d}" for i in (1, 4, 7, 10)]

    def test_by_account(self, sink: AuditSink) -> None:
        """account_id selects the events naming that account."""
        assert [e.event_id for e in sink.events(account_id="ACC-2")] == [
            f"ev-{i:05d}" for i in (2, 6, 10)
        ]
        assert len(sink.events(account_id="ACC-ALL")) == 12
        assert sink.events(account_id="nobody") == []

    def test_by_security(self, sink: AuditSink) -> None:
        """security_id selects the events about that security."""
        assert len(sink.events(security_id="US912828XX")) == 6

    def test_by_time_window(self, sink: AuditSink) -> None:
        """The since bound is inclusive, until exclusive, and any time zone works."""
        cet = dt.timezone(dt.timedelta(hours=2))
        got = sink.events(
            since=(T0 + dt.timedelta(minutes=3)).astimezone(cet),
            until=T0 + dt.timedelta(minutes=6),
        )
        assert [e.event_id for e in got] == [f"ev-{i:05d}" for i in (3, 4, 5)]

    def test_by_kind(self, sink: AuditSink) -> None:
        """The kinds filter selects any of them; an empty set selects nothing."""
        got = sink.events(kinds={EventKind.COMMITTED, EventKind.CANCELLED})
        assert {e.kind for e in got} == {EventKind.COMMITTED, EventKind.CANCELLED}
        assert len(got) == 3
        assert sink.events(kinds=()) == []

    def test_filters_combine(self, sink: AuditSink) -> None:
        """Several filters all apply."""
        got = sink.events(allocation_id="alloc-0", account_id="ACC-3", security_id="US912828XX")
        assert [e.event_id for e in got] == ["ev-00003"]

    def test_naive_bounds_are_refused(self, sink: AuditSink) -> None:
        """A naive since/until is refused rather than guessed."""
        with pytest.raises(InvalidInputError):
            sink.events(since=dt.datetime(2024, 5, 1))

    def test_get(self, sink: AuditSink) -> None:
        """The get method returns the stored event or None."""
        assert sink.get("ev-00005") == make_event(5)
        assert sink.get("missing") is None


class TestVerify:
    """verify recomputes the chain and reports its head."""

    def test_empty_trail(self, backend: Backend) -> None:
        """An empty trail verifies with the genesis hash."""
        report = backend.open().verify()
        assert (report.count, report.head_seq, report.head_hash) == (0, 0, GENESIS_HASH)

    def test_head_hash_is_the_same_on_every_sink(self, backend: Backend) -> None:
        """The same events in the same order give the same head hash on every sink."""
        events = [make_event(i) for i in range(5)]
        expected = GENESIS_HASH
        for e in events:
            expected = e.content_hash(expected)
        sink = backend.open()
        sink.append(events)
        report = sink.verify()
        assert (report.count, report.head_hash) == (5, expected)
        # Pinned: changing the canonical form breaks every stored trail.
        assert expected == PINNED_HEAD


PINNED_HEAD = "e0008fb4b449d14446a273f36398e751be1799e1d4274d87391506e6e71ff22f"


class TestLifecycle:
    """Sinks are context managers, and refuse use after close."""

    def test_context_manager_closes(self, backend: Backend) -> None:
        """Leaving the with block closes the sink; later use raises AuditSinkError."""
        with backend.open() as sink:
            sink.append([make_event(1)])
        with pytest.raises(AuditSinkError):
            sink.append([make_event(2)])
        sink.close()  # twice is fine


class TestLargeGroups:
    """An event naming 10,000 accounts is stored, indexed and verified."""

    def test_ten_thousand_accounts(self, backend: Backend) -> None:
        """Query by any one of 10,000 accounts finds the event."""
        accounts = tuple(f"SMA-{i:06d}" for i in range(10_000))
        big = AuditEvent(
            allocation_id="big", kind=EventKind.COMMITTED, actor="desk", account_ids=accounts
        )
        sink = backend.open()
        sink.append([make_event(1), big, make_event(2)])
        assert [e.event_id for e in sink.events(account_id="SMA-004242")] == [big.event_id]
        assert sink.get(big.event_id) == big
        assert sink.verify().count == 3
        assert "10000 accounts" in repr(big)
