"""Basket trails written before the basket's events were typed still read, and write, the same."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from desk_helpers import assert_records_round_trip, of_kind, read_trail, reading_desk

from orderalloc.audit import AuditEvent, EventKind, canonical_json
from orderalloc.desk import BasketDesk
from orderalloc.desk._records import (
    AttemptStarted,
    BasketCommitted,
    BasketPreviewed,
    ComplianceChecked,
    Previewed,
    decode,
)
from orderalloc.testing.recording import RecordingSink

# Written by tests/desk/data/make_basket_trail.py on the basket desk of commit f3989b8.
TRAIL = Path(__file__).with_name("data") / "basket_trail.jsonl"
# What a basket commit records (fills and bookings are not part of a basket).
BASKET_KINDS = frozenset(
    {
        EventKind.PREVIEWED,
        EventKind.BASKET_PREVIEWED,
        EventKind.COMPLIANCE_CHECKED,
        EventKind.OVERRIDDEN,
        EventKind.COMMIT_STARTED,
        EventKind.COMMITTED,
        EventKind.COMMIT_FAILED,
        EventKind.BASKET_COMMITTED,
    }
)


# What differs between two runs of the same script: random ids, and a result's wall-clock time.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_CREATED = re.compile(r'"created_at":"[^"]*"')


def _normalised(lines: list[str]) -> list[str]:
    """*lines* with each UUID numbered by first appearance and results' wall-clock times blanked."""
    ids: dict[str, str] = {}
    out = []
    for line in lines:
        line = _UUID.sub(lambda m: ids.setdefault(m.group(), f"id-{len(ids)}"), line)
        # Sorted again: keys that were ids sort by their new names.
        out.append(canonical_json(json.loads(_CREATED.sub('"created_at":""', line))))
    return out


def _write_today() -> list[str]:
    """The fixture's baskets recorded again by today's desk (the same script), as JSON lines."""
    spec = importlib.util.spec_from_file_location(
        "make_basket_trail", TRAIL.with_name("make_basket_trail.py")
    )
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    sink = RecordingSink()
    script.record(sink)
    return [e.canonical_json() for e in sink.events()]


@pytest.fixture(name="trail")
def _trail() -> list[AuditEvent]:
    """The basket trail's events, in the order written."""
    return read_trail(TRAIL)


@pytest.fixture(name="baskets")
def _baskets(trail: list[AuditEvent]) -> BasketDesk:
    """A basket desk reading the pinned trail (its mock knows none of the trail's orders)."""
    return BasketDesk(reading_desk(trail))


class TestBasketTrail:
    """Every event a basket commit wrote before its records existed reads back the same."""

    def test_every_basket_kind_is_in_the_fixture(self, trail: list[AuditEvent]) -> None:
        """The fixture holds every kind a basket records, with the basket's own fields."""
        assert {e.kind for e in trail} == BASKET_KINDS
        for kind in (EventKind.PREVIEWED, EventKind.COMPLIANCE_CHECKED, EventKind.COMMIT_STARTED):
            assert all("basket_id" in e.payload for e in of_kind(trail, kind)), kind
        outcomes = {e.payload["outcome"] for e in of_kind(trail, EventKind.COMMIT_FAILED)}
        assert outcomes == {"refused", "not_booked", "unknown", "rejected"}

    def test_events_rebuild_byte_for_byte(self, trail: list[AuditEvent]) -> None:
        """Each stored event rebuilds to the same canonical JSON: its chain hash is unchanged."""
        assert [e.canonical_json() for e in trail] == TRAIL.read_text("utf-8").splitlines()

    def test_every_payload_is_its_typed_record(self, trail: list[AuditEvent]) -> None:
        """Each payload reads as its kind's record and writes back to the same JSON, to the byte."""
        assert_records_round_trip(trail)

    def test_todays_desk_writes_the_same_trail(self) -> None:
        """The same baskets recorded today give the pinned trail, byte for byte (ids aside)."""
        pinned = _normalised(TRAIL.read_text("utf-8").splitlines())
        assert _normalised(_write_today()) == pinned

    def test_basket_fields_are_read(self, trail: list[AuditEvent]) -> None:
        """The records carry the basket's id, each order's place and each attempt's request."""
        (head, *_) = of_kind(trail, EventKind.BASKET_PREVIEWED)
        basket = decode(BasketPreviewed, head.payload)
        assert basket.orders == tuple(head.payload["orders"])
        previewed = {e.allocation_id: e for e in of_kind(trail, EventKind.PREVIEWED)}
        for k, aid in enumerate(basket.orders):
            record = decode(Previewed, previewed[aid].payload)
            assert (record.basket_id, record.basket_position) == (head.allocation_id, k)
        attempts = of_kind(trail, EventKind.COMMIT_STARTED)
        started = [decode(AttemptStarted, e.payload) for e in attempts]
        assert {s.request for s in started} == {0, 1}
        checked = of_kind(trail, EventKind.COMPLIANCE_CHECKED)
        assert all(decode(ComplianceChecked, e.payload).basket_id for e in checked)
        for done in of_kind(trail, EventKind.BASKET_COMMITTED):
            record = decode(BasketCommitted, done.payload)
            assert dict(record.orders) == dict(done.payload["orders"])

    def test_baskets_rebuild(self, baskets: BasketDesk, trail: list[AuditEvent]) -> None:
        """Each basket is rebuilt from the trail; finished ones are not listed as unfinished."""
        heads = of_kind(trail, EventKind.BASKET_PREVIEWED)
        for head in heads:
            preview = baskets.get_preview(head.allocation_id)
            assert list(preview.allocation_ids) == list(head.payload["orders"])
            assert preview.group == head.payload["group"]
        finished = {e.allocation_id for e in of_kind(trail, EventKind.BASKET_COMMITTED)}
        assert len(finished) == 2
        # The stale and the short-of-cash baskets were refused before any attempt started.
        assert baskets.unfinished() == []
        for basket_id in finished:
            assert set(baskets.status(basket_id).values()) == {"COMMITTED"}
