"""Trails written by an older desk (before it became a package) still read the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from desk_helpers import assert_records_round_trip, of_kind, read_trail, reading_desk

from orderalloc.audit import AuditEvent, EventKind
from orderalloc.desk import Desk
from orderalloc.desk._records import RECORDS, decode
from orderalloc.errors import DeskError

# Written by tests/desk/data/make_legacy_trail.py on the desk of commit c7e2a2d.
LEGACY = Path(__file__).with_name("data") / "legacy_trail.jsonl"
# Kinds added after the fixture was written: no trail of that desk can hold them.
NEWER_KINDS = frozenset({EventKind.BASKET_PREVIEWED, EventKind.BASKET_COMMITTED})


@pytest.fixture(name="legacy")
def _legacy() -> list[AuditEvent]:
    """The legacy trail's events, in the order written."""
    return read_trail(LEGACY)


@pytest.fixture(name="desk")
def _desk(legacy: list[AuditEvent]) -> Desk:
    """A desk reading the legacy trail (its mock knows none of the trail's orders)."""
    return reading_desk(legacy, "compliance_violation")


class TestLegacyTrail:
    """Every kind of event the old desk wrote is read back by today's desk."""

    def test_every_kind_is_in_the_fixture(self, legacy: list[AuditEvent]) -> None:
        """The fixture covers every event kind of its time, so the tests below read each."""
        assert {e.kind for e in legacy} == set(EventKind) - NEWER_KINDS

    def test_events_rebuild_byte_for_byte(self, legacy: list[AuditEvent]) -> None:
        """Each stored event rebuilds to the same canonical JSON: its chain hash is unchanged."""
        assert [e.canonical_json() for e in legacy] == LEGACY.read_text("utf-8").splitlines()

    def test_previews_rebuild(self, desk: Desk, legacy: list[AuditEvent]) -> None:
        """Every preview is rebuilt from the trail alone: its result totals what was recorded."""
        for event in of_kind(legacy, EventKind.PREVIEWED):
            preview = desk.get_preview(event.allocation_id)
            assert preview.group == event.payload["group"]
            assert preview.fingerprint == event.payload["fingerprint"]
            np.testing.assert_allclose(
                preview.result.quantity.sum(), float(event.payload["allocated"])
            )
            assert preview.result.order.side.value == event.payload["side"]

    def test_statuses(self, desk: Desk, legacy: list[AuditEvent]) -> None:
        """Each allocation's status is its latest lifecycle event, as it was written."""
        previewed = of_kind(legacy, EventKind.PREVIEWED)
        stale, first, other, change = (e.allocation_id for e in previewed)
        assert desk.status(stale) == "COMMIT_FAILED"
        assert desk.status(first) == "COMMITTED"
        assert desk.status(other) == "COMMITTED"
        assert desk.status(change) == "CANCELLED"

    def test_fill_preview_rebuilds(self, desk: Desk, legacy: list[AuditEvent]) -> None:
        """The fill allocation is rebuilt: its block is what was booked, its fills what came in."""
        (allocated,) = of_kind(legacy, EventKind.FILLS_ALLOCATED)
        (booked,) = of_kind(legacy, EventKind.BOOKED)
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
        (allocated,) = of_kind(legacy, EventKind.FILLS_ALLOCATED)
        with pytest.raises(DeskError, match="booked and cancelled"):
            desk.book(allocated.allocation_id)

    def test_every_payload_is_its_typed_record(self, legacy: list[AuditEvent]) -> None:
        """Each payload reads as its kind's record and writes back to the same JSON, to the byte."""
        assert_records_round_trip(legacy)

    def test_a_newer_field_is_ignored(self, legacy: list[AuditEvent]) -> None:
        """A payload with a field this desk does not know still reads (trails only gain fields)."""
        committed = next(e for e in legacy if e.kind is EventKind.COMMITTED)
        record = decode(RECORDS[EventKind.COMMITTED], {**committed.payload, "added_later": 1})
        assert record == decode(RECORDS[EventKind.COMMITTED], committed.payload)
