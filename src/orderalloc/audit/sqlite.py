"""`SQLiteAuditSink`: the default audit trail, one SQLite file on the local disk.

The schema is ``sqlite.sql`` next to this module. The file runs in WAL mode with
``synchronous=FULL``: when `SQLiteAuditSink.append` returns, the events are on disk.
Appends take SQLite's write lock (``BEGIN IMMEDIATE``) before reading the head of the
chain, so threads and processes appending to the same file never fork it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

import platformdirs

from orderalloc.errors import AuditSinkError

from ._store import (
    COLUMNS,
    Anchor,
    ChainVerifier,
    EventQuery,
    Row,
    SQLSink,
    StoredEvent,
    row_to_event,
)
from .events import AuditEvent
from .payloads import PayloadRow, check_paths, parse_rows, sqlite_columns
from .protocol import VerifyReport

__all__ = ["SQLiteAuditSink", "default_audit_path"]

_SCHEMA_VERSION = 1
_COLS = ", ".join(COLUMNS)
_INSERT_EVENT = f"INSERT INTO AUDIT_EVENT ({_COLS}) VALUES ({', '.join('?' * len(COLUMNS))})"


def default_audit_path() -> Path:
    """Where `SQLiteAuditSink` keeps its file by default: the user's data directory."""
    return Path(platformdirs.user_data_dir("orderalloc")) / "audit.sqlite3"


def schema_sql() -> str:
    """The DDL of the SQLite audit trail (``orderalloc/audit/sqlite.sql``)."""
    return resources.files(__package__).joinpath("sqlite.sql").read_text(encoding="utf-8")


class SQLiteAuditSink(SQLSink[sqlite3.Connection]):
    """An append-only, hash-chained audit trail in a SQLite file.

    Args:
        path: The database file; created with its directory if missing. Defaults to
            `default_audit_path` (``audit.sqlite3`` in the user's data directory).
            ``":memory:"`` keeps the trail in memory (tests only: it dies with the sink).
        timeout: Seconds to wait for another writer's lock before failing.
        key: An HMAC key (bytes, 32 advised) that chains every row: without it
            nobody can rewrite a row and recompute the hashes after it. Keep it
            away from the database's writers; a trail written with a key is
            verified with it, and a sink refuses to append with another key.
            See :doc:`/explain/audit_anchoring`.

    Raises:
        AuditSinkError: If the file cannot be opened or holds a newer schema.
        InvalidInputError: If *key* is not bytes of at least 16 bytes.

    Thread-safe: one connection, used under a lock. Several processes may append to
    the same file; each append is one ``BEGIN IMMEDIATE`` transaction.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 30.0,
        key: bytes | None = None,
    ):
        super().__init__(key=key)
        self._lock = threading.RLock()
        if path is None:
            path = default_audit_path()
        self._path = ":memory:" if str(path) == ":memory:" else os.fspath(path)
        try:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise AuditSinkError(f"cannot open the audit trail {self._path!r}: {exc}") from exc
        self._conn: sqlite3.Connection | None = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            # An audit record must survive a power cut once append() has returned.
            conn.execute("PRAGMA synchronous = FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise AuditSinkError(
                    f"the audit trail {self._path!r} has schema version {version}; this "
                    f"orderalloc reads version {_SCHEMA_VERSION}: upgrade orderalloc"
                )
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{schema_sql()}\nPRAGMA user_version = {_SCHEMA_VERSION};\n"
                "COMMIT;"
            )
        except sqlite3.Error as exc:
            conn.close()
            self._conn = None
            raise AuditSinkError(f"cannot open the audit trail {self._path!r}: {exc}") from exc
        except BaseException:
            conn.close()
            self._conn = None
            raise

    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._path

    def __repr__(self) -> str:
        return f"SQLiteAuditSink(path={self._path!r})"

    # -- the protocol -----------------------------------------------------------

    def select(self, query: EventQuery) -> list[AuditEvent]:
        """The events matching *query*, in append order; see `AuditSink.events`."""
        sql, params = query.sql("AUDIT_EVENT", "AUDIT_EVENT_ACCOUNT", lambda: "?")
        with self._transaction(immediate=False) as conn:
            return [row_to_event(row) for row in conn.execute(sql, params)]

    def select_payloads(self, query: EventQuery, paths: Sequence[str]) -> list[PayloadRow]:
        """The events matching *query* with only the payload at *paths*, extracted by SQLite.

        See `orderalloc.audit.payloads`: ``json_extract`` parses each payload
        once in C and returns the fields asked for; nothing else is decoded.

        .. versionadded:: 26.1
        """
        columns, path_params = sqlite_columns(check_paths(paths))
        sql, params = query.sql("AUDIT_EVENT", "AUDIT_EVENT_ACCOUNT", lambda: "?", columns=columns)
        with self._transaction(immediate=False) as conn:
            return parse_rows(conn.execute(sql, [*path_params, *params]), skip_first=True)

    def get(self, event_id: str) -> AuditEvent | None:
        """The event stored under *event_id*, or ``None``."""
        with self._transaction(immediate=False) as conn:
            row = conn.execute(
                f"SELECT {_COLS} FROM AUDIT_EVENT WHERE EVENT_ID = ?", (event_id,)
            ).fetchone()
        return None if row is None else row_to_event(row)

    def verify(self, expected_head: Anchor | None = None) -> VerifyReport:
        """Recompute the chain, the head and the account index; see `AuditSink.verify`."""
        checker = ChainVerifier(key=self._key, expected_head=expected_head)
        # One read transaction: a consistent snapshot while other processes append.
        with self._transaction(immediate=False) as conn:
            for row in conn.execute(f"SELECT {_COLS} FROM AUDIT_EVENT ORDER BY SEQ"):
                checker.row(row)
            head = conn.execute("SELECT SEQ, HASH FROM AUDIT_HEAD WHERE ID = 1").fetchone()
            report = checker.head(*(head if head is not None else (-1, "")))
            checker.account_index(
                conn.execute("SELECT SEQ, ACCOUNT_ID FROM AUDIT_EVENT_ACCOUNT ORDER BY SEQ")
            )
        return report

    def close(self) -> None:
        """Close the connection; closing twice is allowed."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- for OutboxSink ---------------------------------------------------------

    def _unsent(self, limit: int) -> list[tuple[int, AuditEvent]]:
        """Up to *limit* events after the outbox cursor, oldest first."""
        with self._transaction(immediate=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLS} FROM AUDIT_EVENT WHERE SEQ > "
                "(SELECT SENT_SEQ FROM AUDIT_OUTBOX_CURSOR WHERE ID = 1) ORDER BY SEQ LIMIT ?",
                (limit,),
            ).fetchall()
        return [(int(row[0]), row_to_event(row)) for row in rows]

    def _mark_sent(self, seq: int) -> None:
        """Move the outbox cursor forward to *seq* (never back)."""
        with self._transaction(immediate=True) as conn:
            conn.execute(
                "UPDATE AUDIT_OUTBOX_CURSOR SET SENT_SEQ = ? WHERE ID = 1 AND SENT_SEQ < ?",
                (seq, seq),
            )

    def _unsent_count(self) -> int:
        with self._transaction(immediate=False) as conn:
            (count,) = conn.execute(
                "SELECT (SELECT SEQ FROM AUDIT_HEAD WHERE ID = 1)"
                " - (SELECT SENT_SEQ FROM AUDIT_OUTBOX_CURSOR WHERE ID = 1)"
            ).fetchone()
        return int(count)

    # -- the append's statements (see SQLSink) ----------------------------------

    def _locked(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self._transaction(immediate=True)

    def _head(self, tx: sqlite3.Connection) -> tuple[int, str]:
        seq, digest = tx.execute("SELECT SEQ, HASH FROM AUDIT_HEAD WHERE ID = 1").fetchone()
        return seq, digest

    def _rows_with_ids(self, tx: sqlite3.Connection, ids: Sequence[str]) -> sqlite3.Cursor:
        marks = ", ".join("?" * len(ids))
        return tx.execute(
            f"SELECT {_COLS} FROM AUDIT_EVENT WHERE EVENT_ID IN ({marks})", tuple(ids)
        )

    def _row_at(self, tx: sqlite3.Connection, seq: int) -> Row | None:
        row: Row | None = tx.execute(
            f"SELECT {_COLS} FROM AUDIT_EVENT WHERE SEQ = ?", (seq,)
        ).fetchone()
        return row

    def _insert(
        self, tx: sqlite3.Connection, planned: Sequence[StoredEvent], head_seq: int
    ) -> None:
        tx.executemany(_INSERT_EVENT, [p.to_row() for p in planned])
        tx.executemany(
            "INSERT INTO AUDIT_EVENT_ACCOUNT (ACCOUNT_ID, SEQ) VALUES (?, ?)",
            ((a, p.seq) for p in planned for a in p.event.account_ids),
        )
        tx.execute(
            "UPDATE AUDIT_HEAD SET SEQ = ?, HASH = ? WHERE ID = 1",
            (planned[-1].seq, planned[-1].hash),
        )

    # -- plumbing ---------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, *, immediate: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise AuditSinkError(f"{self!r} is closed")
            try:
                conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            except sqlite3.Error as exc:
                raise AuditSinkError(f"cannot lock the audit trail {self._path!r}: {exc}") from exc
            try:
                yield conn
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise AuditSinkError(f"audit trail {self._path!r}: {exc}") from exc
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise AuditSinkError(
                    f"cannot commit to the audit trail {self._path!r}: {exc}"
                ) from exc
