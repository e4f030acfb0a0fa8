"""The `AuditSink` port and what `AuditSink.verify` reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

import attrs

from .._closing import Closing
from .events import AuditEvent, EventKind

__all__ = ["AuditSink", "VerifyReport"]


@attrs.frozen
class VerifyReport:
    """What a successful `AuditSink.verify` checked.

    Record *head_hash* somewhere the sink's writers cannot reach (a ticket, a
    signed e-mail, another database): a later `verify` whose chain no longer
    passes through it proves a rewrite that recomputed every hash.

    Attributes:
        count: How many events the chain holds.
        head_seq: The sequence number of the last event (``0`` for an empty trail).
        head_hash: The chain hash of the last event (`GENESIS_HASH` when empty).

    .. versionadded:: 0.1
    """

    count: int
    head_seq: int
    head_hash: str

    @property
    def anchor(self) -> str:
        """``"SEQ:HASH"``: the text to record, and to give back as ``verify(expected_head=)``."""
        return f"{self.head_seq}:{self.head_hash}"


@runtime_checkable
class AuditSink(Closing, Protocol):
    """**Protocol:** an append-only, hash-chained store of `AuditEvent`.

    Every event is recorded *before* the allocation it describes is executed
    (SEC books and records, FINRA 4515, MiFID II), so a sink must never lose or
    duplicate one:

    * `append` is atomic per call and idempotent by ``event_id``: appending an
      identical event again is a no-op, so a retry after a lost acknowledgement
      is safe; a *different* event under an existing id is refused;
    * every stored event has a sequence number (1, 2, 3, ...) and a hash chaining
      it to the one before (`AuditEvent.content_hash`);
    * `verify` recomputes the chain and fails on any edited, inserted, deleted or
      reordered row, including the last one.

    Implementations: `~orderalloc.audit.SQLiteAuditSink` (the default),
    `~orderalloc.audit.snowflake.SnowflakeAuditSink` (the ``snowflake`` extra),
    `~orderalloc.audit.OutboxSink` (a local outbox in front of a remote sink) and
    `~orderalloc.testing.recording.RecordingSink` (in memory, for tests).
    Sinks are context managers that `close` on exit.

    .. versionadded:: 0.1
    """

    def append(self, events: Sequence[AuditEvent]) -> None:
        """Record *events* in order, atomically.

        Args:
            events: The events, oldest first. Events already stored identically are
                skipped; the rest are appended in the given order.

        Raises:
            AuditSinkError: If the events could not be recorded (then none of them
                was), or if one of them reuses the ``event_id`` of a different event.
        """
        ...

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
        """The stored events that match every given filter, in append order.

        Args:
            allocation_id: Only this allocation's events.
            account_id: Only events whose ``account_ids`` include this account.
            security_id: Only events about this security.
            since: Only events at or after this time (timezone-aware).
            until: Only events strictly before this time (timezone-aware).
            kinds: Only events of these kinds.

        Raises:
            AuditSinkError: If the store could not be read.
            InvalidInputError: If *since* or *until* is naive.
        """
        ...

    def get(self, event_id: str) -> AuditEvent | None:
        """The event stored under *event_id*, or ``None``."""
        ...

    def verify(self, expected_head: str | VerifyReport | None = None) -> VerifyReport:
        """Recompute the hash chain over every stored event.

        A chain that verifies proves only that it is self-consistent: whoever
        can write the store can also delete its last rows and move the head
        back, or edit a row and recompute every hash after it. An anchor closes
        that gap: a head recorded earlier somewhere the store's writers cannot
        reach (a file, another database, a ticket) must still lie on the chain.

        Args:
            expected_head: An anchor: a head hash, ``"SEQ:HASH"`` (what
                ``orderalloc audit head`` prints) or an earlier `VerifyReport`.
                The trail may have grown since; it must pass through it.

        Returns:
            What was checked, including the head hash to record elsewhere.

        Raises:
            AuditIntegrityError: Naming the first sequence number (and event id)
                where the trail was edited, inserted into, deleted from or
                reordered, or where it no longer passes through the anchor.
            InvalidInputError: The anchor is malformed.

        .. versionchanged:: 0.1
           *expected_head*.
        """
        ...

    def close(self) -> None:
        """Release the sink's connections; closing twice is allowed."""
        ...
