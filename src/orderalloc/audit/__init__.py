"""The audit trail: every allocation step recorded before it is executed.

Layout:

* `events`: `AuditEvent`, `EventKind`, the canonical JSON and the chain hash;
* `protocol`: the `AuditSink` port and `VerifyReport`;
* `sqlite`: `SQLiteAuditSink`, the default (a local file; DDL in ``sqlite.sql``);
* `outbox`: `OutboxSink`, a local outbox in front of a remote sink;
* `snowflake`: ``SnowflakeAuditSink`` (the ``snowflake`` extra, DDL in
  ``snowflake.sql``); import it from ``orderalloc.audit.snowflake``, never from here,
  so that the core does not need the connector.

The in-memory ``RecordingSink`` for tests lives in ``orderalloc.testing.recording``.
"""

from __future__ import annotations

from .events import GENESIS_HASH, AuditEvent, EventKind, canonical_json
from .outbox import OutboxSink, default_outbox_path
from .protocol import AuditSink, VerifyReport
from .sqlite import SQLiteAuditSink, default_audit_path

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditSink",
    "EventKind",
    "OutboxSink",
    "SQLiteAuditSink",
    "VerifyReport",
    "canonical_json",
    "default_audit_path",
    "default_outbox_path",
]
