"""What the trail shows: late and changed allocations, overrides, periods, every sink alike."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from _year import Clock, trade_year, trading_days

from orderalloc.audit import AuditEvent, OutboxSink, SQLiteAuditSink
from orderalloc.desk import ComplianceRefusedError, Desk
from orderalloc.errors import InvalidInputError, InvalidParameterError
from orderalloc.fairness import analyse_fairness, read_trail
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.testing.recording import RecordingSink

DAY = dt.date(2024, 3, 4)
IG = WELL_KNOWN["IG"]


def _at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), dt.timezone.utc)


@pytest.fixture(name="desk")
def _desk() -> tuple[Desk, MockAladdin, Clock]:
    """A desk on a mock whose what-if breaches issuer concentration for every third line."""
    mock = MockAladdin("compliance_violation")
    clock = Clock(_at(12))
    return (
        Desk(mock, RecordingSink(), actor="pm-1", clock=clock, max_age=dt.timedelta(days=2)),
        mock,
        clock,
    )


class TestChangesAndOverrides:
    """Departures from the recorded intent are listed with who, when and why."""

    def test_override_names_who_and_why(self, desk: tuple[Desk, MockAladdin, Clock]) -> None:
        """A commit over blocking violations is listed with its author, comment and accounts."""
        d, mock, clock = desk
        preview = d.preview("OPNIC", IG, "BUY", 20_000_000)
        with pytest.raises(ComplianceRefusedError):
            d.commit(preview.allocation_id)
        why = "Concentration approved by compliance, ticket C-42"
        order = d.commit(preview.allocation_id, override_warnings=True, comment=why).order
        mock.simulate_fills(order.order_id, day=DAY, seed=3)
        clock.now = _at(21)
        d.book(d.allocate_fills(order.order_id).fill_allocation_id)
        report = analyse_fairness(d.sink, "OPNIC")
        (item,) = report.overrides
        assert item["by"] == "pm-1"
        assert item["comment"] == why
        assert item["order_id"] == order.order_id
        assert any("ISSUER_CONC_3PCT" in v for v in item["violations"])
        cols = report.columns()
        assert sum(cols["overrides"]) == len(item["accounts"]) > 0
        assert why in " ".join(report.text().split())  # wrapped at 80 columns
        assert report.changes == ()  # decided before the first execution: not late

    def test_modified_after_execution(self) -> None:
        """An order re-allocated after it started to fill is listed as changed after execution."""
        mock = MockAladdin()
        clock = Clock(_at(12))
        d = Desk(mock, RecordingSink(), actor="pm-2", clock=clock, max_age=dt.timedelta(days=2))
        order = d.commit(d.preview("OPNIC", IG, "BUY", 20_000_000).allocation_id).order
        mock.simulate_fills(order.order_id, day=DAY, seed=5, fraction=0.4)
        clock.now = _at(20, 30)
        d.modify(order.order_id, quantity=30_000_000, comment="client added")
        clock.now = _at(21)
        d.book(d.allocate_fills(order.order_id).fill_allocation_id)
        report = analyse_fairness(d.sink, "OPNIC")
        (change,) = report.changes
        assert change["kind"] == "modified_after_execution"
        assert change["actor"] == "pm-2"
        assert change["first_execution"] < change["at"]
        assert sum(report.columns()["late_or_changed"]) == len(change["accounts"]) > 0

    def test_decided_after_execution_and_rebooked(self) -> None:
        """A fill executed before the commit, and a cancelled booking, are listed."""
        mock = MockAladdin()
        clock = Clock(_at(12))
        d = Desk(mock, RecordingSink(), actor="pm-3", clock=clock, max_age=dt.timedelta(days=2))
        order = d.commit(d.preview("OPNIC", IG, "BUY", 20_000_000).allocation_id).order
        d.record_fill(order.order_id, 5_000_000, 99.0, execution_id="FIX-1", time=_at(11))
        clock.now = _at(21)
        first = d.allocate_fills(order.order_id)
        d.book(first.fill_allocation_id)
        d.cancel_booking(first.fill_allocation_id, "wrong account mapping")
        d.book(d.allocate_fills(order.order_id).fill_allocation_id)
        report = analyse_fairness(d.sink, "OPNIC")
        kinds = sorted(c["kind"] for c in report.changes)
        assert kinds == ["booking_cancelled", "decided_after_execution"]
        assert report.trail.booked.tolist() == [True]


@pytest.fixture(name="quarter", scope="module")
def _quarter() -> tuple[list[AuditEvent], dict[str, float]]:
    """Thirty trading days through the desk: its events and the next-day prices."""
    desk, _, later = trade_year(group="OPNIC", days=trading_days(dt.date(2024, 4, 1), 30), seed=21)
    return list(desk.sink.events()), later


def _report_json(sink: Any, later: dict[str, float]) -> str:
    report = analyse_fairness(
        sink,
        "OPNIC",
        since=dt.date(2024, 4, 1),
        until=dt.date(2024, 6, 1),
        prices=later,
        permutations=999,
        seed=3,
    )
    return json.dumps(report.records(), sort_keys=True)


class TestSinks:
    """Every sink gives the same report for the same trail."""

    def test_sqlite_outbox_and_memory_agree(
        self, quarter: tuple[list[AuditEvent], dict[str, float]], tmp_path: Path
    ) -> None:
        """SQLite (fields extracted in SQL), the outbox and the in-memory sink agree exactly."""
        events, later = quarter
        memory = RecordingSink()
        memory.append(events)
        with SQLiteAuditSink(tmp_path / "a.sqlite3") as sqlite:
            sqlite.append(events)
            want = _report_json(memory, later)
            assert _report_json(sqlite, later) == want
        remote = RecordingSink()
        with OutboxSink(remote, outbox_path=tmp_path / "outbox.sqlite3") as outbox:
            outbox.append(events)
            assert _report_json(outbox, later) == want

    @pytest.mark.snowflake
    @pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")
    def test_snowflake_agrees_with_sqlite(
        self,
        quarter: tuple[list[AuditEvent], dict[str, float]],
        tmp_path: Path,
        fakesnow_kwargs: dict[str, Any],
    ) -> None:
        """Snowflake (fakesnow), extracting the fields in the warehouse, gives the same report."""
        from orderalloc.audit.snowflake import SnowflakeAuditSink

        events, later = quarter
        kwargs = {**fakesnow_kwargs, "database": "FAIRNESS", "schema": "Q2"}
        with (
            SnowflakeAuditSink(connection_kwargs=kwargs, lock_timeout=None) as snow,
            SQLiteAuditSink(tmp_path / "a.sqlite3") as sqlite,
        ):
            snow.append(events)
            sqlite.append(events)
            want = _report_json(sqlite, later)
            assert _report_json(snow, later) == want
        assert json.loads(want)["orders"] == 30

    def test_period_selects_orders(
        self, quarter: tuple[list[AuditEvent], dict[str, float]]
    ) -> None:
        """Only orders whose fills were allocated in the period are read."""
        events, _ = quarter
        sink = RecordingSink()
        sink.append(events)
        april = read_trail(sink, "OPNIC", since=dt.date(2024, 4, 1), until=dt.date(2024, 5, 1))
        may = read_trail(sink, "OPNIC", since=dt.date(2024, 5, 1), until=dt.date(2024, 6, 1))
        assert april.n_orders + may.n_orders == 30
        assert all(t.month == 4 for t in april.executed_at)
        assert read_trail(sink, "NO-SUCH-GROUP").n_orders == 0


class TestBadInput:
    """Bad input is refused by name."""

    def test_naive_time(self) -> None:
        """A naive *since* names the field."""
        with pytest.raises(InvalidInputError, match="since"):
            read_trail(RecordingSink(), "OPNIC", since=dt.datetime(2024, 1, 1))

    def test_until_before_since(self) -> None:
        """A period that ends before it starts names *until*."""
        with pytest.raises(InvalidInputError, match="until"):
            read_trail(RecordingSink(), "OPNIC", since=DAY, until=DAY)

    def test_bad_prices_and_parameters(
        self, quarter: tuple[list[AuditEvent], dict[str, float]]
    ) -> None:
        """A negative price, an unusable price table or zero permutations is refused by name."""
        events, later = quarter
        sink = RecordingSink()
        sink.append(events)
        some = next(iter(later))
        with pytest.raises(InvalidParameterError, match=some):
            analyse_fairness(sink, "OPNIC", prices={**later, some: -1.0})
        with pytest.raises(InvalidParameterError, match="permutations"):
            analyse_fairness(sink, "OPNIC", prices=later, permutations=0)
        with pytest.raises(InvalidParameterError, match="alpha"):
            analyse_fairness(sink, "OPNIC", alpha=1.5)
        with pytest.raises(InvalidParameterError, match="prices"):
            analyse_fairness(sink, "OPNIC", prices=42)
