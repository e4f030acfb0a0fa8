"""AuditEvent: validation, immutability and the canonical form every sink hashes."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from _audit_helpers import T0, make_event

from orderalloc.audit import GENESIS_HASH, AuditEvent, EventKind, canonical_json
from orderalloc.errors import InvalidInputError


class TestAuditEvent:
    """Events are validated, UTC, immutable and canonical."""

    def test_defaults(self) -> None:
        """event_id defaults to a UUID4 and at to now (UTC)."""
        e = AuditEvent(allocation_id="a", kind="PREVIEWED", actor="me")
        assert uuid.UUID(e.event_id).version == 4
        assert e.at.tzinfo == dt.timezone.utc
        assert e.kind is EventKind.PREVIEWED
        assert (e.payload, e.account_ids, e.security_id, e.order_id) == ({}, (), None, None)

    def test_naive_time_refused(self) -> None:
        """A naive datetime is refused."""
        with pytest.raises(InvalidInputError, match="timezone-aware"):
            make_event(1, at=dt.datetime(2024, 1, 1))

    def test_time_converted_to_utc(self) -> None:
        """Any time zone is converted to UTC, with the same canonical form."""
        tokyo = dt.timezone(dt.timedelta(hours=9))
        shifted = make_event(1, at=(T0 + dt.timedelta(minutes=1)).astimezone(tokyo))
        assert shifted.canonical_json() == make_event(1).canonical_json()

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("payload", {"x": float("nan")}),
            ("payload", {1: "int key"}),
            ("payload", {"x": object()}),
            ("payload", ["not", "a", "mapping"]),
            ("account_ids", "ACC-1"),
            ("account_ids", ("A", "A")),
            ("account_ids", ("A", "")),
            ("kind", "EXPLODED"),
            ("event_id", ""),
            ("actor", ""),
            ("security_id", ""),
        ],
    )
    def test_invalid_fields(self, field: str, value: object) -> None:
        """Invalid fields raise InvalidInputError."""
        with pytest.raises(InvalidInputError):
            make_event(1, **{field: value})

    def test_payload_is_a_read_only_copy(self) -> None:
        """Mutating the caller's dict afterwards changes nothing; the payload is read-only."""
        raw = {"a": [1, 2], "b": {"c": 1}}
        e = make_event(1, payload=raw)
        raw["a"].append(3)
        assert e.payload["a"] == (1, 2)
        with pytest.raises(TypeError):
            e.payload["b"]["c"] = 2  # type: ignore[index]

    def test_canonical_json_sorted_and_compact(self) -> None:
        """Canonical JSON has sorted keys and no spaces."""
        assert canonical_json({"b": 1, "a": [1.5, None, "é"]}) == '{"a":[1.5,null,"é"],"b":1}'

    def test_content_hash_chains(self) -> None:
        """The hash depends on the previous hash and on every field."""
        e = make_event(1)
        assert e.content_hash(GENESIS_HASH) != e.content_hash("f" * 64)
        assert e.content_hash(GENESIS_HASH) != make_event(1, actor="x").content_hash(GENESIS_HASH)
        assert len(e.content_hash(GENESIS_HASH)) == 64

    def test_same_as_is_stricter_than_eq(self) -> None:
        """1 and True compare equal in Python but are different events."""
        a, b = make_event(1, payload={"x": 1}), make_event(1, payload={"x": True})
        assert a == b
        assert not a.same_as(b)

    def test_hashable(self) -> None:
        """Events can go in sets."""
        assert len({make_event(1), make_event(1), make_event(2)}) == 2
