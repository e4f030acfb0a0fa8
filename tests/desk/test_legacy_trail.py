"""Trails written by an older desk (before it became a package) still read the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from orderalloc.audit import AuditEvent, EventKind
from orderalloc.audit.events import SOURCE_KEY, canonical_json, parse_time
from orderalloc.desk import Desk
from orderalloc.desk._records import RECORDS, decode, encode
from orderalloc.errors import DeskError
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.recording import RecordingSink

# Written by tests/desk/data/make_legacy_trail.py on the desk of commit c7e2a2d.
LEGACY = Path(__file__).with_name("data") / "legacy_trail.jsonl"
# Kinds added after the fixture was written: no trail of that desk can hold them.
NEWER_KINDS = frozenset({EventKind.BASKET_PREVIEWED, EventKind.BASKET_COMMITTED})


def _lines() -> list[str]:
    return LEGACY.read_text(encoding="utf-8").splitlines()


def _event(line: str) -> AuditEvent:
    row: dict[str, Any] = json.loads(line)
    return AuditEvent(
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


@pytest.fixture(name="legacy")
def _legacy() -> list[AuditEvent]:
    """The legacy trail's events, in the order written."""
    return [_event(line) for line in _lines()]


@pytest.fixture(name="desk")
def _desk(legacy: list[AuditEvent]) -> Desk:
    """A desk reading the legacy trail (its mock knows none of the trail's orders)."""
    sink = RecordingSink()
    sink.append(legacy)
    return Desk(MockAladdin("compliance_violation"), sink, actor="auditor")


def _of(events: list[AuditEvent], kind: EventKind) -> list[AuditEvent]:
    return [e for e in events if e.kind is kind]


class TestLegacyTrail:
    """Every kind of event the old desk wrote is read back by today's desk."""

    def test_every_kind_is_in_the_fixture(self, legacy: list[AuditEvent]) -> None:
        """The fixture covers every event kind of its time, so the tests below read each."""
        assert {e.kind for e in legacy} == set(EventKind) - NEWER_KINDS

    def test_events_rebuild_byte_for_byte(self, legacy: list[AuditEvent]) -> None:
        """Each stored event rebuilds to the same canonical JSON: its chain hash is unchanged."""
        assert [e.canonical_json() for e in legacy] == _lines()

    def test_previews_rebuild(self, desk: Desk, legacy: list[AuditEvent]) -> None:
        """Every preview is rebuilt from the trail alone: its result totals what was recorded."""
        for event in _of(legacy, EventKind.PREVIEWED):
            preview = desk.get_preview(event.allocation_id)
            assert preview.group == event.payload["group"]
            assert preview.fingerprint == event.payload["fingerprint"]
            np.testing.assert_allclose(
                preview.result.quantity.sum(), float(event.payload["allocated"])
            )
            assert preview.result.order.side.value == event.payload["side"]

    def test_statuses(self, desk: Desk, legacy: list[AuditEvent]) -> None:
        """Each allocation's status is its latest lifecycle event, as it was written."""
        stale, first, other, change = (e.allocation_id for e in _of(legacy, EventKind.PREVIEWED))
        assert desk.status(stale) == "COMMIT_FAILED"
        assert desk.status(first) == "COMMITTED"
        assert desk.status(other) == "COMMITTED"
        assert desk.status(change) == "CANCELLED"

    def test_fill_preview_rebuilds(self, desk: Desk, legacy: list[AuditEvent]) -> None:
        """The fill allocation is rebuilt: its block is what was booked, its fills what came in."""
        (allocated,) = _of(legacy, EventKind.FILLS_ALLOCATED)
        (booked,) = _of(legacy, EventKind.BOOKED)
        fills = desk.get_fill_preview(allocated.allocation_id)
        assert fills.ticket.external_id == booked.payload["external_id"]
        assert len(fills.ticket.lines) == booked.payload["lines"]
        np.testing.assert_allclose(fills.ticket.quantity, float(booked.payload["quantity"]))
        np.testing.assert_allclose(fills.ticket.price, float(booked.payload["price"]))
        assert {f.execution_id for f in fills.fills} == set(allocated.payload["fill_ids"])
        assert fills.previous is None

    def test_cancelled_booking_is_not_booked_again(
        self, desk: Desk, legacy: list[AuditEvent]
    ) -> None:
        """A booking the trail says was cancelled is refused, and nothing is sent."""
        (allocated,) = _of(legacy, EventKind.FILLS_ALLOCATED)
        with pytest.raises(DeskError, match="booked and cancelled"):
            desk.book(allocated.allocation_id)

    def test_every_payload_is_its_typed_record(self, legacy: list[AuditEvent]) -> None:
        """Each payload reads as its kind's record and writes back to the same JSON, to the byte."""
        for event in legacy:
            record = decode(RECORDS[event.kind], event.payload)
            again = {**encode(record), SOURCE_KEY: event.payload[SOURCE_KEY]}
            assert canonical_json(again) == canonical_json(event.payload), event.kind

    def test_a_newer_field_is_ignored(self, legacy: list[AuditEvent]) -> None:
        """A payload with a field this desk does not know still reads (trails only gain fields)."""
        committed = next(e for e in legacy if e.kind is EventKind.COMMITTED)
        record = decode(RECORDS[EventKind.COMMITTED], {**committed.payload, "added_later": 1})
        assert record == decode(RECORDS[EventKind.COMMITTED], committed.payload)
