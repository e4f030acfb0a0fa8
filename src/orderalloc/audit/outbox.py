"""`OutboxSink`: record locally first, deliver to a remote sink when it can take it.

The outbox is a full `SQLiteAuditSink` (its own hash chain, WAL, ``synchronous=FULL``)
plus a cursor, ``AUDIT_OUTBOX_CURSOR.SENT_SEQ``: every event up to it has been
acknowledged by the remote. `OutboxSink.flush` sends what lies after the cursor, in
order, and moves the cursor only after the remote's ``append`` has returned. A
process killed between the two re-sends that batch on its next flush; the remote's
``append`` is idempotent by ``event_id``, so nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from orderalloc.errors import AuditSinkError, InvalidInputError

from ._store import EventQuery, QuerySink
from .events import AuditEvent
from .payloads import PayloadRow
from .protocol import AuditSink, VerifyReport
from .sqlite import SQLiteAuditSink

__all__ = ["OutboxSink", "default_outbox_path"]

logger = logging.getLogger("orderalloc.audit")


def default_outbox_path() -> Path:
    """Where `OutboxSink` keeps its outbox by default: the user's data directory."""
    return Path(platformdirs.user_data_dir("orderalloc")) / "audit-outbox.sqlite3"


class OutboxSink(QuerySink):
    """A durable local outbox in front of a remote `AuditSink` (Snowflake, say).

    `append` succeeds once the events are committed to the local outbox, whether or
    not the remote is reachable: the remote being down must not lose a record, and
    must not be a reason to skip recording one. It then tries to deliver everything
    queued; a remote failure is logged as a warning and left for the next `append`
    or `flush`. Reads (`events`, `get`, `verify`) answer from the outbox, which
    holds every event, delivered or not.

    Args:
        remote: Where the events must end up. Its ``append`` must be idempotent by
            ``event_id`` (every orderalloc sink is).
        outbox_path: The outbox database file. Defaults to `default_outbox_path`.
            Use one outbox per remote.
        batch_size: How many events `flush` sends per remote ``append``.
        flush_on_append: Whether `append` tries to deliver at once (default), or
            leaves delivery to explicit `flush` calls.
        key: The HMAC chain key of the outbox's own chain (give the remote the
            same key, and the two heads agree once `pending` is 0).

    A remote that keeps refusing a batch for a reason other than an outage (an
    ``event_id`` it holds for a different event) blocks delivery of everything
    after it; `pending` keeps growing and every attempt logs the reason. Nothing
    is skipped: resolving it is a human decision.

    `close` closes the outbox *and* the remote.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        remote: AuditSink,
        outbox_path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 500,
        flush_on_append: bool = True,
        key: bytes | None = None,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError("batch_size", batch_size, "must be at least 1")
        self._remote = remote
        self._local = SQLiteAuditSink(
            default_outbox_path() if outbox_path is None else outbox_path, key=key
        )
        self._batch_size = batch_size
        self._flush_on_append = flush_on_append
        self._flush_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OutboxSink(remote={self._remote!r}, outbox_path={self._local.path!r})"

    @property
    def remote(self) -> AuditSink:
        """The sink the events are delivered to."""
        return self._remote

    @property
    def outbox(self) -> SQLiteAuditSink:
        """The local outbox (every event, delivered or not)."""
        return self._local

    def pending(self) -> int:
        """How many recorded events the remote has not acknowledged yet."""
        return self._local._unsent_count()

    def append(self, events: Sequence[AuditEvent]) -> None:
        """Commit *events* to the outbox, then try to deliver everything queued.

        Raises:
            AuditSinkError: Only if the *outbox* could not record the events (then
                none was recorded). A remote failure is logged, not raised: see
                `pending`.
        """
        self._local.append(events)
        if not self._flush_on_append:
            return
        try:
            self.flush()
        except AuditSinkError as exc:
            logger.warning(
                "audit remote unavailable, %d event(s) queued in %s: %s",
                self.pending(),
                self._local.path,
                exc,
            )

    def flush(self) -> int:
        """Deliver every queued event to the remote, oldest first.

        Returns:
            How many events were acknowledged by this call.

        Raises:
            AuditSinkError: If the remote failed; the events it did not acknowledge
                stay queued (`pending`), and the next flush starts with them.
        """
        sent = 0
        with self._flush_lock:
            while True:
                batch = self._local._unsent(self._batch_size)
                if not batch:
                    return sent
                try:
                    self._remote.append([event for _, event in batch])
                except Exception as exc:  # any failure of the remote: keep the events queued
                    raise AuditSinkError(
                        f"remote audit sink {self._remote!r} did not take "
                        f"{len(batch)} event(s) from seq={batch[0][0]} "
                        f"({type(exc).__name__}: {exc}); they stay queued"
                    ) from exc
                self._local._mark_sent(batch[-1][0])
                sent += len(batch)

    def select(self, query: EventQuery) -> list[AuditEvent]:
        """The matching events of the outbox, in append order; see `AuditSink.events`."""
        return self._local.select(query)

    def select_payloads(self, query: EventQuery, paths: Sequence[str]) -> list[PayloadRow]:
        """The outbox's events with only the payload at *paths* (see `SQLiteAuditSink`).

        .. versionadded:: 26.1
        """
        return self._local.select_payloads(query, paths)

    def get(self, event_id: str) -> AuditEvent | None:
        """The event stored in the outbox under *event_id*, or ``None``."""
        return self._local.get(event_id)

    def verify(self, expected_head: str | VerifyReport | None = None) -> VerifyReport:
        """Verify the outbox's own chain (call the remote's ``verify`` for the remote).

        When the remote holds exactly this outbox's events, its head hash equals
        this one once `pending` is 0: the outbox's head is an anchor for the
        remote, and the remote's for the outbox.
        """
        return self._local.verify(expected_head)

    def close(self) -> None:
        """Close the outbox and the remote; closing twice is allowed."""
        try:
            self._local.close()
        finally:
            self._remote.close()
