"""What every sink shares: the row layout, the append (`SQLSink`), queries and verification.

Private. The SQL sinks store one row per event with these columns::

    SEQ  EVENT_ID  ALLOCATION_ID  KIND  OCCURRED_AT  ACTOR  PAYLOAD  ACCOUNT_IDS
    SECURITY_ID  ORDER_ID  PREV_HASH  HASH

``OCCURRED_AT``, ``PAYLOAD`` and ``ACCOUNT_IDS`` hold canonical text (`format_time`,
`canonical_json`), so an event read back is byte-identical to the one written and
its hash can be recomputed from the row alone.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

import attrs

from orderalloc.errors import AuditIntegrityError, AuditSinkError, InvalidInputError

from .events import GENESIS_HASH, AuditEvent, EventKind, canonical_json, format_time, parse_time
from .protocol import AuditSink, VerifyReport

COLUMNS = (
    "SEQ",
    "EVENT_ID",
    "ALLOCATION_ID",
    "KIND",
    "OCCURRED_AT",
    "ACTOR",
    "PAYLOAD",
    "ACCOUNT_IDS",
    "SECURITY_ID",
    "ORDER_ID",
    "PREV_HASH",
    "HASH",
)

Row = tuple[Any, ...]


@attrs.frozen
class StoredEvent:
    """An event with its place in the chain."""

    seq: int
    event: AuditEvent
    prev_hash: str
    hash: str

    def to_row(self) -> Row:
        """The values of `COLUMNS`, in order."""
        e = self.event
        return (
            self.seq,
            e.event_id,
            e.allocation_id,
            e.kind.value,
            format_time(e.at),
            e.actor,
            e.payload_json(),
            canonical_json(list(e.account_ids)),
            e.security_id,
            e.order_id,
            self.prev_hash,
            self.hash,
        )


def check_batch(events: Sequence[AuditEvent]) -> list[AuditEvent]:
    """The batch as a list, refusing anything that is not an `AuditEvent`."""
    if isinstance(events, AuditEvent):
        raise InvalidInputError("events", events, "must be a sequence of AuditEvent, not one")
    batch = list(events)
    for i, event in enumerate(batch):
        if not isinstance(event, AuditEvent):
            raise InvalidInputError(f"events[{i}]", event, "must be an AuditEvent")
    return batch


#: The fewest bytes a chain key may have (HMAC-SHA256 wants 32; 16 is the floor).
MIN_KEY_BYTES = 16

#: What `verify` accepts as an anchor: a head hash, ``"SEQ:HASH"``, or a `VerifyReport`.
Anchor = str | VerifyReport

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def check_key(key: Any) -> bytes | None:
    """The chain key as bytes, or None; refuses text and short keys by name."""
    if key is None:
        return None
    if not isinstance(key, (bytes, bytearray)):
        raise InvalidInputError(
            "key", "<hidden>", f"must be bytes (got {type(key).__name__}); encode text first"
        )
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInputError(
            "key", f"<{len(key)} bytes>", f"must be at least {MIN_KEY_BYTES} bytes (32 advised)"
        )
    return bytes(key)


def parse_anchor(anchor: Any) -> tuple[int | None, str] | None:
    """``(seq or None, hash)`` from an anchor given to `verify` (see `Anchor`).

    Raises:
        InvalidInputError: The anchor is not a 64-hex hash, ``SEQ:HASH`` or a
            `VerifyReport`.
    """
    if anchor is None:
        return None
    if isinstance(anchor, VerifyReport):
        return int(anchor.head_seq), anchor.head_hash
    if isinstance(anchor, str):
        text = anchor.strip().lower()
        seq_text, sep, hash_text = text.rpartition(":")
        if not sep:
            seq_text, hash_text = "", text
        if _HEX64.match(hash_text) and (not sep or seq_text.isdigit()):
            return (int(seq_text) if sep else None), hash_text
    raise InvalidInputError(
        "expected_head",
        anchor,
        "must be a head hash (64 hex digits), 'SEQ:HASH' or a VerifyReport",
    )


def check_head_row(row: Sequence[Any] | None, key: bytes | None, where: str) -> None:
    """Refuse to append when the last stored row was chained with another key.

    Appending keyed rows after unkeyed ones (or with a different key) would make a
    trail no single key verifies; one recomputed hash of the head row says so first.
    """
    if row is None:
        return
    event = row_to_event(row)
    if event.content_hash(row[10], key) != row[11]:
        raise AuditSinkError(
            f"{where}: the last row (seq={row[0]}) does not verify "
            + ("with this sink's key" if key is not None else "without a key")
            + ": the trail was written "
            + ("without a key or with another one" if key is not None else "with a key")
            + " (or edited). Open it with the key it was written with; nothing was appended."
        )


def plan_append(
    batch: Sequence[AuditEvent],
    existing: Mapping[str, AuditEvent],
    head_seq: int,
    head_hash: str,
    key: bytes | None = None,
) -> list[StoredEvent]:
    """Chain the new events of *batch* after the head, skipping identical repeats.

    Args:
        batch: The events to append, in order (already checked by `check_batch`).
        existing: The stored events whose ids appear in *batch*.
        head_seq: The sequence number of the last stored event.
        head_hash: Its hash.
        key: The chain's HMAC key, or None for a plain SHA-256 chain.

    Raises:
        AuditSinkError: If an id of *batch* belongs to a different event (stored,
            or earlier in the batch).
    """
    seen: dict[str, AuditEvent] = {}
    planned: list[StoredEvent] = []
    seq, prev = head_seq, head_hash
    for event in batch:
        prior = seen.get(event.event_id) or existing.get(event.event_id)
        if prior is not None:
            if not prior.same_as(event):
                raise AuditSinkError(
                    f"event_id={event.event_id!r} is already recorded for a different event; "
                    "an audit event is never overwritten (give the new event a new id)"
                )
            continue
        seen[event.event_id] = event
        seq += 1
        digest = event.content_hash(prev, key)
        planned.append(StoredEvent(seq, event, prev, digest))
        prev = digest
    return planned


def row_to_event(row: Sequence[Any]) -> AuditEvent:
    """Rebuild the event from a row of `COLUMNS` (``SEQ`` first; hashes ignored)."""
    _, event_id, allocation_id, kind, at, actor, payload, account_ids, sec, order = row[:10]
    return AuditEvent(
        event_id=event_id,
        allocation_id=allocation_id,
        kind=kind,
        at=parse_time(at),
        actor=actor,
        payload=json.loads(payload),
        account_ids=json.loads(account_ids),
        security_id=sec,
        order_id=order,
    )


def _query_time(name: str, value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidInputError(name, value, "must be a timezone-aware datetime")
    return format_time(value)


def _since(value: dt.datetime | None) -> str | None:
    return _query_time("since", value)


def _until(value: dt.datetime | None) -> str | None:
    return _query_time("until", value)


def _kinds(values: Collection[EventKind | str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    out = set()
    for value in values:
        try:
            out.add(EventKind(value).value)
        except ValueError:
            raise InvalidInputError("kinds", value, "is not an EventKind") from None
    return tuple(sorted(out))


@attrs.frozen
class EventQuery:
    """The filters of `AuditSink.events`, checked once, as SQL and as a predicate.

    Every sink answers the same question; this holds it in one place so the
    SQL sinks (`sql`) and the in-memory ones (`matches`) cannot disagree.
    """

    allocation_id: str | None = None
    account_id: str | None = None
    security_id: str | None = None
    since: str | None = attrs.field(default=None, converter=_since)
    until: str | None = attrs.field(default=None, converter=_until)
    kinds: tuple[str, ...] | None = attrs.field(default=None, converter=_kinds)

    def sql(
        self,
        events_table: str,
        accounts_table: str,
        placeholder: Callable[[], str],
        *,
        columns: str = ", ".join(COLUMNS),
    ) -> tuple[str, list[Any]]:
        """The ``SELECT`` (and its parameters) of the matching rows, in append order."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("ALLOCATION_ID", self.allocation_id),
            ("SECURITY_ID", self.security_id),
        ):
            if value is not None:
                where.append(f"{column} = {placeholder()}")
                params.append(value)
        if self.account_id is not None:
            where.append(
                f"SEQ IN (SELECT SEQ FROM {accounts_table} WHERE ACCOUNT_ID = {placeholder()})"
            )
            params.append(self.account_id)
        if self.since is not None:
            where.append(f"OCCURRED_AT >= {placeholder()}")
            params.append(self.since)
        if self.until is not None:
            where.append(f"OCCURRED_AT < {placeholder()}")
            params.append(self.until)
        if self.kinds is not None:
            if not self.kinds:
                where.append("1 = 0")
            else:
                where.append(f"KIND IN ({', '.join(placeholder() for _ in self.kinds)})")
                params.extend(self.kinds)
        sql = f"SELECT {columns} FROM {events_table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return sql + " ORDER BY SEQ", params

    def matches(self, event: AuditEvent) -> bool:
        """Whether *event* passes every filter (the in-memory twin of `sql`)."""
        if self.since is not None and event.at < parse_time(self.since):
            return False
        if self.until is not None and event.at >= parse_time(self.until):
            return False
        if self.kinds is not None and event.kind.value not in self.kinds:
            return False
        return (
            (self.allocation_id is None or event.allocation_id == self.allocation_id)
            and (self.security_id is None or event.security_id == self.security_id)
            and (self.account_id is None or self.account_id in event.account_ids)
        )


class QuerySink(AuditSink):
    """A sink that answers `events` through one `select` of an `EventQuery`.

    The keyword filters of `AuditSink.events` are written here once; a sink
    implements `select`.
    """

    def events(
        self,
        *,
        allocation_id: str | None = None,
        account_id: str | None = None,
        security_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        kinds: Collection[EventKind] | None = None,
    ) -> list[AuditEvent]:
        """The matching events in append order; see `AuditSink.events`."""
        return self.select(
            EventQuery(
                allocation_id=allocation_id,
                account_id=account_id,
                security_id=security_id,
                since=since,
                until=until,
                kinds=kinds,
            )
        )

    @abc.abstractmethod
    def select(self, query: EventQuery) -> list[AuditEvent]:
        """The events matching *query*, in append order."""


Tx = TypeVar("Tx")


class SQLSink(QuerySink, Generic[Tx]):
    """A sink in a SQL database: the append algorithm here, each database's statements below.

    An append checks the batch; then, in one transaction that holds the
    trail's write lock (`_locked`), it reads the head and the events already
    stored under the batch's ids, plans the new rows (an identical repeat is
    skipped, a different event under a stored id refused), refuses to chain
    after a head row written with another key, and inserts the new rows,
    their account index and the new head (`_insert`). Every step a database
    runs is a method of its sink; *Tx* is what its transaction hands them.
    """

    def __init__(self, *, key: bytes | None) -> None:
        self._key = check_key(key)  # the chain's HMAC key, checked by every append

    def append(self, events: Sequence[AuditEvent]) -> None:
        """Record *events* in order, atomically; see `AuditSink.append`."""
        batch = check_batch(events)
        if not batch:
            return
        with self._locked() as tx:
            head_seq, head_hash = self._head(tx)
            existing = stored_by_id(batch, lambda ids: self._rows_with_ids(tx, ids))
            planned = plan_append(batch, existing, head_seq, head_hash, self._key)
            if planned:  # something new: the chain must take this sink's key
                check_head_row(self._row_at(tx, head_seq), self._key, repr(self))
                self._insert(tx, planned, head_seq)

    @abc.abstractmethod
    def _locked(self) -> AbstractContextManager[Tx]:
        """A transaction holding the trail's write lock: committed on exit, else rolled back."""

    @abc.abstractmethod
    def _head(self, tx: Tx) -> tuple[int, str]:
        """The head: the last sequence number (0 when empty) and its hash."""

    @abc.abstractmethod
    def _rows_with_ids(self, tx: Tx, ids: Sequence[str]) -> Iterable[Row]:
        """The stored rows (of `COLUMNS`) whose ``EVENT_ID`` is one of *ids*."""

    @abc.abstractmethod
    def _row_at(self, tx: Tx, seq: int) -> Row | None:
        """The stored row (of `COLUMNS`) with sequence number *seq*, if any."""

    @abc.abstractmethod
    def _insert(self, tx: Tx, planned: Sequence[StoredEvent], head_seq: int) -> None:
        """Insert *planned* (chained after *head_seq*) and its account index; move the head."""


def _accounts_digest(account_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(account_ids)).encode("utf-8")).hexdigest()


class ChainVerifier:
    """Check rows one by one, in ``SEQ`` order; then the head; then the account index.

    Every failure raises `AuditIntegrityError` naming the first bad sequence number.

    Args:
        key: The chain's HMAC key, when the trail was written with one.
        expected_head: An anchor recorded earlier (see `parse_anchor`): the chain
            must still pass through it, which a truncation or a rewrite that
            recomputed every later hash cannot fake.
    """

    def __init__(self, *, key: bytes | None = None, expected_head: Any = None) -> None:
        self.count = 0
        self.prev_hash = GENESIS_HASH
        self._accounts: dict[int, str] = {}
        self._key = check_key(key)
        self._anchor = parse_anchor(expected_head)
        self._anchor_found = self._anchor is not None and (
            self._anchor[1] == GENESIS_HASH and self._anchor[0] in (None, 0)
        )

    def row(self, row: Sequence[Any]) -> None:
        """Check the next row (a tuple of `COLUMNS`)."""
        seq, event_id = int(row[0]), row[1]
        expected = self.count + 1
        if seq != expected:
            what = "missing (deleted?)" if seq > expected else "duplicated or out of order"
            raise AuditIntegrityError(
                f"audit trail broken at seq={expected}: row {what}; next row found is "
                f"seq={seq} event_id={event_id!r}"
            )
        try:
            event = row_to_event(row)
        except (InvalidInputError, ValueError, TypeError) as exc:
            raise AuditIntegrityError(
                f"audit trail broken at seq={seq} event_id={event_id!r}: row does not decode "
                f"({exc})"
            ) from exc
        stored = StoredEvent(seq, event, row[10], row[11]).to_row()
        if tuple(stored[:10]) != tuple(row[:10]):
            raise AuditIntegrityError(
                f"audit trail broken at seq={seq} event_id={event_id!r}: stored text is not "
                "canonical (edited by hand?)"
            )
        if row[10] != self.prev_hash:
            raise AuditIntegrityError(
                f"audit trail broken at seq={seq} event_id={event_id!r}: prev_hash does not "
                "match the previous row's hash (a row before it was edited, deleted, inserted "
                "or reordered)"
            )
        if event.content_hash(self.prev_hash, self._key) != row[11]:
            hint = (
                " or the key is not the one the trail was written with"
                if self._key is not None
                else " or the trail was written with a key: pass key="
            )
            raise AuditIntegrityError(
                f"audit trail broken at seq={seq} event_id={event_id!r}: hash does not match "
                f"the row's content (the row was edited,{hint})"
            )
        if self._anchor is not None and not self._anchor_found:
            anchor_seq, anchor_hash = self._anchor
            if anchor_seq == seq and row[11] != anchor_hash:
                raise AuditIntegrityError(
                    f"audit trail broken at seq={seq} event_id={event_id!r}: the anchored head "
                    f"{anchor_seq}:{anchor_hash} is not this row's hash (the trail was rewritten "
                    "at or before it)"
                )
            self._anchor_found = row[11] == anchor_hash
        self.prev_hash = row[11]
        self.count = seq
        self._accounts[seq] = _accounts_digest(event.account_ids)

    def head(self, head_seq: int, head_hash: str) -> VerifyReport:
        """Check the head anchor against the last row; return the report."""
        if int(head_seq) != self.count or head_hash != self.prev_hash:
            raise AuditIntegrityError(
                f"audit trail broken at seq={self.count + 1}: the head records seq={head_seq} "
                f"but the last row is seq={self.count} (rows at the end were deleted, or "
                "the head was edited)"
                if int(head_seq) != self.count
                else f"audit trail broken at seq={self.count}: the head hash does not match "
                "the last row (the last row or the head was edited)"
            )
        if self._anchor is not None and not self._anchor_found:
            anchor_seq, anchor_hash = self._anchor
            at = anchor_seq if anchor_seq is not None else self.count + 1
            raise AuditIntegrityError(
                f"audit trail broken at seq={min(at, self.count + 1)}: the anchored head "
                f"{'' if anchor_seq is None else f'{anchor_seq}:'}{anchor_hash} is not in the "
                f"chain of {self.count} events (rows were deleted, the trail truncated, or "
                "rewritten with every later hash recomputed)"
            )
        return VerifyReport(count=self.count, head_seq=self.count, head_hash=self.prev_hash)

    def account_index(self, rows: Iterable[Sequence[Any]]) -> None:
        """Check the account index ``(SEQ, ACCOUNT_ID)`` rows, sorted by ``SEQ``."""
        current: int | None = None
        ids: list[str] = []
        checked: set[int] = set()

        def close(seq: int | None) -> None:
            if seq is None:
                return
            if self._accounts.get(seq) != _accounts_digest(ids):
                raise AuditIntegrityError(
                    f"audit trail broken at seq={seq}: the account index does not match the "
                    "event's account_ids"
                )
            checked.add(seq)

        for seq_value, account_id in rows:
            seq = int(seq_value)
            if seq != current:
                close(current)
                current, ids = seq, []
            ids.append(account_id)
        close(current)
        empty = _accounts_digest(())
        for seq, digest in self._accounts.items():
            if seq not in checked and digest != empty:
                raise AuditIntegrityError(
                    f"audit trail broken at seq={seq}: the account index lost the event's accounts"
                )


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """*items* in slices of at most *size*."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: Ids per ``IN (...)`` list of `stored_by_id`: well under SQLite's variable limit
#: on every SQLite still in use (999 before 3.32).
IN_CHUNK = 500


def stored_by_id(
    batch: Sequence[AuditEvent], select: Callable[[Sequence[str]], Iterable[Row]]
) -> dict[str, AuditEvent]:
    """The stored events whose ids appear in *batch* (what `plan_append` calls *existing*).

    Args:
        batch: The events to append.
        select: Reads the stored rows (of `COLUMNS`) whose ``EVENT_ID`` is one of the
            given ids, at most `IN_CHUNK` of them, inside the append's transaction.
    """
    existing: dict[str, AuditEvent] = {}
    ids = list(dict.fromkeys(e.event_id for e in batch))
    for part in chunks(ids, IN_CHUNK):
        for row in select(part):
            existing[row[1]] = row_to_event(row)
    return existing
