"""`RecordingSink`: an in-memory `~orderalloc.audit.AuditSink` for your tests.

It keeps the same contract as the real sinks (idempotent appends, a hash chain
that `RecordingSink.verify` recomputes), so code that passes against it behaves the
same against `~orderalloc.audit.SQLiteAuditSink`::

    sink = RecordingSink()
    code_under_test(audit=sink)
    assert [e.kind for e in sink.recorded] == [EventKind.COMMIT_STARTED, EventKind.COMMITTED]
    sink.verify()
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from orderalloc.audit._store import (
    Anchor,
    ChainVerifier,
    EventQuery,
    QuerySink,
    StoredEvent,
    check_batch,
    check_key,
    plan_append,
)
from orderalloc.audit.events import GENESIS_HASH, AuditEvent
from orderalloc.audit.protocol import VerifyReport
from orderalloc.errors import AuditSinkError

__all__ = ["RecordingSink"]


class RecordingSink(QuerySink):
    """Keeps the audit trail in a list. Thread-safe; `close` makes it refuse further use.

    Args:
        key: An HMAC chain key, as for `~orderalloc.audit.SQLiteAuditSink`.

    Attributes:
        appends: How many `append` calls were made (including no-op repeats).

    .. versionadded:: 0.1
    """

    def __init__(self, *, key: bytes | None = None) -> None:
        self._key = check_key(key)
        self._lock = threading.Lock()
        self._rows: list[StoredEvent] = []
        self._by_id: dict[str, StoredEvent] = {}
        self._closed = False
        self.appends = 0

    def __repr__(self) -> str:
        return f"RecordingSink(<{len(self._rows)} events>)"

    @property
    def recorded(self) -> list[AuditEvent]:
        """Every stored event, in append order."""
        with self._lock:
            return [row.event for row in self._rows]

    def append(self, events: Sequence[AuditEvent]) -> None:
        """Record *events* in order, atomically; see `AuditSink.append`."""
        batch = check_batch(events)
        with self._lock:
            self._check_open()
            self.appends += 1
            existing = {
                e.event_id: self._by_id[e.event_id].event
                for e in batch
                if e.event_id in self._by_id
            }
            head_seq, head_hash = (
                (self._rows[-1].seq, self._rows[-1].hash) if self._rows else (0, GENESIS_HASH)
            )
            planned = plan_append(batch, existing, head_seq, head_hash, self._key)
            self._rows.extend(planned)
            self._by_id.update((p.event.event_id, p) for p in planned)

    def select(self, query: EventQuery) -> list[AuditEvent]:
        """The events matching *query*, in append order; see `AuditSink.events`."""
        with self._lock:
            self._check_open()
            rows = list(self._rows)
        return [row.event for row in rows if query.matches(row.event)]

    def get(self, event_id: str) -> AuditEvent | None:
        """The event stored under *event_id*, or ``None``."""
        with self._lock:
            self._check_open()
            row = self._by_id.get(event_id)
        return None if row is None else row.event

    def verify(self, expected_head: Anchor | None = None) -> VerifyReport:
        """Recompute the chain; see `AuditSink.verify`."""
        with self._lock:
            self._check_open()
            rows = list(self._rows)
        checker = ChainVerifier(key=self._key, expected_head=expected_head)
        for row in rows:
            checker.row(row.to_row())
        return checker.head(len(rows), rows[-1].hash if rows else GENESIS_HASH)

    def close(self) -> None:
        """Refuse further use; closing twice is allowed."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise AuditSinkError(f"{self!r} is closed")
