"""The audit event and its one canonical serialisation.

An `AuditEvent` is what every sink stores. Its canonical JSON (`canonical_json`)
and the chain hash built on it (`AuditEvent.content_hash`) are defined here,
once, so that the SQLite file, the Snowflake table, the outbox and the in-memory
`~orderalloc.testing.recording.RecordingSink` compute byte-identical hashes for
the same events in the same order.

The canonical form is UTF-8 JSON with sorted keys, no whitespace and no NaN or
infinity; the time is UTC with microseconds (``2024-05-01T09:30:00.000000+00:00``),
which also makes stored times sort as text.

Every event the desk writes carries, under ``payload["source"]`` (`SOURCE_KEY`),
the data source it was about: ``{"kind": "aladdin", "host": "https://..."}``
or ``{"kind": "mock", "host": null}``, so that mock and real activity in one
store can always be told apart.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, cast

import attrs

from orderalloc.errors import InvalidInputError

__all__ = [
    "GENESIS_HASH",
    "SOURCE_KEY",
    "AuditEvent",
    "EventKind",
    "canonical_json",
]

#: The payload key under which the desk records the data source (kind and host).
SOURCE_KEY = "source"

#: The ``prev_hash`` of the first event of every trail.
GENESIS_HASH = "0" * 64


class EventKind(str, enum.Enum):
    """What happened to an allocation.

    .. versionadded:: 0.1
    """

    PREVIEWED = "PREVIEWED"
    COMPLIANCE_CHECKED = "COMPLIANCE_CHECKED"
    COMMIT_STARTED = "COMMIT_STARTED"
    COMMITTED = "COMMITTED"
    COMMIT_FAILED = "COMMIT_FAILED"
    MODIFIED = "MODIFIED"
    CANCELLED = "CANCELLED"
    OVERRIDDEN = "OVERRIDDEN"
    # Post-trade (the desk's fills and bookings).
    FILL_RECORDED = "FILL_RECORDED"
    FILLS_ALLOCATED = "FILLS_ALLOCATED"
    BOOK_STARTED = "BOOK_STARTED"
    BOOKED = "BOOKED"
    BOOK_FAILED = "BOOK_FAILED"
    TRADE_CANCELLED = "TRADE_CANCELLED"
    # Baskets (allocation_id: the basket's id; each order has its own trail).
    BASKET_PREVIEWED = "BASKET_PREVIEWED"
    BASKET_COMMITTED = "BASKET_COMMITTED"


def canonical_json(value: Any) -> str:
    """Serialise *value* as canonical JSON: sorted keys, no spaces, no NaN.

    Args:
        value: A JSON-able value: mappings with ``str`` keys, sequences, ``str``,
            ``int``, finite ``float``, ``bool`` and ``None``.

    Returns:
        The canonical text. Equal values give equal text.

    Raises:
        InvalidInputError: If *value* holds anything JSON cannot represent exactly.
    """
    return json.dumps(
        _thaw(value, "payload"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def _thaw(value: Any, where: str) -> Any:
    """Turn frozen containers back into ``dict``/``list`` and check every leaf."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(where, value, "NaN and infinity are not JSON")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(where, key, "JSON object keys must be str")
            out[key] = _thaw(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_thaw(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise InvalidInputError(
        where, value, f"{type(value).__name__} is not JSON-able (use str, numbers, lists, dicts)"
    )


def _freeze(value: Any) -> Any:
    """Deep read-only copy of a thawed JSON value (dicts become mapping proxies)."""
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _to_payload(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise InvalidInputError("payload", value, "must be a mapping with str keys")
    frozen: Mapping[str, Any] = _freeze(_thaw(value, "payload"))
    return frozen


def _to_utc(value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise InvalidInputError("at", value, "must be a datetime")
    if value.utcoffset() is None:
        raise InvalidInputError("at", value, "must be timezone-aware (naive times are ambiguous)")
    return value.astimezone(dt.timezone.utc)


def _to_kind(value: EventKind | str) -> EventKind:
    try:
        return EventKind(value)
    except ValueError:
        raise InvalidInputError(
            "kind", value, f"must be one of {', '.join(k.value for k in EventKind)}"
        ) from None


def _to_account_ids(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise InvalidInputError("account_ids", value, "must be a sequence of str, not one str")
    raw: tuple[object, ...] = tuple(value)
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not item:
            raise InvalidInputError(f"account_ids[{i}]", item, "must be a non-empty str")
    ids = cast("tuple[str, ...]", raw)
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        for item in ids:
            if item in seen:
                raise InvalidInputError("account_ids", item, "appears more than once")
            seen.add(item)
    return ids


def _accounts_repr(ids: tuple[str, ...]) -> str:
    # A trade across 10,000 separately managed accounts must not flood a log line.
    return (
        repr(ids)
        if len(ids) <= 8
        else f"({', '.join(map(repr, ids[:3]))}, ... <{len(ids)} accounts>)"
    )


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(attribute.name, value, "must be a non-empty str")


def _optional_non_empty(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _non_empty(instance, attribute, value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_id() -> str:
    return str(uuid.uuid4())


@attrs.frozen(kw_only=True)
class AuditEvent:
    """One entry of the audit trail.

    Args:
        allocation_id: The allocation the event is about.
        kind: What happened (an `EventKind` or its value).
        actor: Who or what did it (a user id, a service name).
        payload: JSON-able details; stored as canonical JSON, kept read-only.
        at: When it happened: timezone-aware, converted to UTC. Naive times are refused.
            Defaults to now.
        event_id: A unique id. Defaults to a random UUID4; give your own (derived
            from the allocation and the step, say) to make a retried append a no-op.
        account_ids: The accounts involved, indexed for `AuditSink.events` queries.
            May be long (10,000 accounts and more); each account at most once.
        security_id: The security, if any, indexed for queries.
        order_id: The order, if any, indexed for queries.

    Raises:
        InvalidInputError: If a field is invalid (naive time, payload not JSON-able,
            an account listed twice, an empty id).

    .. versionadded:: 0.1
    """

    allocation_id: str = attrs.field(validator=_non_empty)
    kind: EventKind = attrs.field(converter=_to_kind)
    actor: str = attrs.field(validator=_non_empty)
    payload: Mapping[str, Any] = attrs.field(
        factory=lambda: MappingProxyType({}), converter=_to_payload, hash=False
    )
    at: dt.datetime = attrs.field(factory=_now, converter=_to_utc)
    event_id: str = attrs.field(factory=_new_id, validator=_non_empty)
    account_ids: tuple[str, ...] = attrs.field(
        default=(), converter=_to_account_ids, repr=_accounts_repr
    )
    security_id: str | None = attrs.field(default=None, validator=_optional_non_empty)
    order_id: str | None = attrs.field(default=None, validator=_optional_non_empty)
    _canonical: str = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        doc = {
            "account_ids": list(self.account_ids),
            "actor": self.actor,
            "allocation_id": self.allocation_id,
            "at": format_time(self.at),
            "event_id": self.event_id,
            "kind": self.kind.value,
            "order_id": self.order_id,
            "payload": self.payload,
            "security_id": self.security_id,
        }
        object.__setattr__(self, "_canonical", canonical_json(doc))

    def canonical_json(self) -> str:
        """The event as canonical JSON: what is hashed, and what "identical" means."""
        return self._canonical

    def content_hash(self, prev_hash: str, key: bytes | None = None) -> str:
        r"""The chain hash of this event after an event whose hash is *prev_hash*.

        ``sha256(prev_hash + "\\n" + canonical_json)`` as lowercase hex; with a
        *key*, ``HMAC-SHA256(key, ...)`` of the same bytes, so that nobody without
        the key can recompute the chain after an edit. The first event of a trail
        chains from `GENESIS_HASH`.

        .. versionchanged:: 0.1
           The optional *key*.
        """
        message = prev_hash.encode("ascii") + b"\n" + self._canonical.encode("utf-8")
        if key is not None:
            return hmac.new(key, message, hashlib.sha256).hexdigest()
        return hashlib.sha256(message).hexdigest()

    def payload_json(self) -> str:
        """The payload alone as canonical JSON (how sinks store it)."""
        return canonical_json(self.payload)

    def same_as(self, other: AuditEvent) -> bool:
        """Whether *other* is the identical event (same canonical JSON), not just equal-ish."""
        return self._canonical == other._canonical


def format_time(value: dt.datetime) -> str:
    """The canonical text of a time: UTC, microseconds, ``+00:00``; sorts as text."""
    return _to_utc(value).isoformat(timespec="microseconds")


def parse_time(text: str) -> dt.datetime:
    """The inverse of `format_time`."""
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc)
