"""`SnowflakeAuditSink`: the audit trail in Snowflake tables (the ``snowflake`` extra).

Install with ``pip install orderalloc[snowflake]``. The DDL is ``snowflake.sql`` next
to this module; the sink runs it (``CREATE TABLE IF NOT EXISTS``) on first use.

How an append stays exactly-once and unforked:

1. ``BEGIN``, then ``UPDATE <prefix>_HEAD SET SEQ = SEQ``: Snowflake locks a table
   for the rest of a transaction on its first DML, so concurrent appenders queue here;
2. read the head (last sequence number and hash) and the events already stored
   under the batch's ids, inside that same transaction;
3. insert the new rows with ``INSERT ... SELECT ... FROM (VALUES ...) WHERE NOT EXISTS``
   on ``EVENT_ID`` (the idempotent insert of a ``MERGE ... WHEN NOT MATCHED``; see
   below), fill the account index from the rows with ``LATERAL FLATTEN``, move the
   head, ``COMMIT``.

Every statement is safe to run twice (a connector that retries a statement whose
answer was lost): the event insert and the account-index insert are anti-joins on
what is already stored, the head update writes absolute values, and an append whose
answer never came back is recognised by ``event_id`` when it is retried.

Concurrency limits: serialisation relies on Snowflake's table lock (step 1). The
sink sets the session's ``LOCK_TIMEOUT`` (``lock_timeout=``, 120 s by default,
instead of Snowflake's 43,200 s), so an append queued behind a lock fails after
that long (nothing written; retry it, or let `OutboxSink` do so) rather than
hanging for twelve hours. A writer killed mid-append leaves its transaction open
until Snowflake aborts it with the session; find and end it by hand with
``SHOW TRANSACTIONS`` and ``SELECT SYSTEM$ABORT_TRANSACTION(<id>)``.

Snowflake does not enforce ``PRIMARY KEY`` or ``UNIQUE``: writers that bypass this
sink can fork or duplicate the chain, and
`SnowflakeAuditSink.verify` reports it. Give the writing role INSERT/SELECT on the
event tables and UPDATE on the head, nothing more. The very first use creates the
tables; run it once (at deployment) rather than from many processes at once, since
two simultaneous first uses could both seed the head row (verify reports that too).

Why not ``MERGE``: the fakesnow emulator (0.12) rewrites ``MERGE`` through a temporary
table, which DuckDB refuses inside a transaction that has already written to the
audit tables. The anti-join insert has the same effect on real Snowflake and on the
emulator, so the code tested is the code shipped.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

from orderalloc.errors import MissingExtraError

try:
    import snowflake.connector
    from snowflake.connector.errors import Error as _ConnectorError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError(
        "orderalloc.audit.snowflake", "snowflake-connector-python", "snowflake"
    ) from exc

from orderalloc.errors import AuditIntegrityError, AuditSinkError, InvalidInputError

from ._store import (
    COLUMNS,
    Anchor,
    ChainVerifier,
    EventQuery,
    Row,
    SQLSink,
    StoredEvent,
    chunks,
    row_to_event,
)
from .events import AuditEvent
from .payloads import PayloadRow, check_paths, parse_rows, snowflake_columns
from .protocol import VerifyReport

__all__ = ["SnowflakeAuditSink", "schema_sql"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
_COLS = ", ".join(COLUMNS)


def schema_sql(table_prefix: str = "ORDERALLOC_AUDIT") -> list[str]:
    """The DDL statements of the Snowflake audit trail, for a DBA to review or run.

    Args:
        table_prefix: The tables' name prefix, optionally ``DATABASE.SCHEMA.``-qualified.
    """
    if not _IDENT.match(table_prefix):
        raise InvalidInputError(
            "table_prefix", table_prefix, "must be an unquoted identifier, optionally qualified"
        )
    text = resources.files(__package__).joinpath("snowflake.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [
        stmt.strip().replace("{prefix}", table_prefix) for stmt in body.split(";") if stmt.strip()
    ]


def _placeholders(paramstyle: str) -> Callable[[], Callable[[], str]]:
    """A factory of per-statement placeholder generators for the connection's paramstyle."""
    if paramstyle in ("qmark",):
        return lambda: lambda: "?"
    if paramstyle == "numeric":

        def numeric() -> Callable[[], str]:
            counter = itertools.count(1)
            return lambda: f":{next(counter)}"

        return numeric
    return lambda: lambda: "%s"  # pyformat / format: the connector's default


class SnowflakeAuditSink(SQLSink[Any]):
    """An append-only, hash-chained audit trail in three Snowflake tables.

    Args:
        connection_kwargs: Keyword arguments for ``snowflake.connector.connect``
            (account, user, authenticator, database, schema, warehouse, role, ...).
            ``paramstyle`` defaults to ``"qmark"`` (server-side binding).
        connect: Instead of *connection_kwargs*, a function returning a new connector
            connection (any paramstyle). Called again after a connection failed.
        table_prefix: Names the tables ``<prefix>_EVENT``, ``<prefix>_EVENT_ACCOUNT``
            and ``<prefix>_HEAD``; may be ``DATABASE.SCHEMA.``-qualified.
        batch_size: Events per ``INSERT`` statement.
        create_tables: Run the DDL (``CREATE TABLE IF NOT EXISTS``) on first use.
        lock_timeout: Seconds an append waits for another appender's lock
            (the session's ``LOCK_TIMEOUT``, set at login through
            ``session_parameters``) before it fails; ``None`` keeps the account's
            setting (43,200 s unless changed). With *connect*, set
            ``session_parameters={"LOCK_TIMEOUT": ...}`` in your own function.
        key: An HMAC chain key (bytes), as for `~orderalloc.audit.SQLiteAuditSink`.

    Raises:
        InvalidInputError: If not exactly one of *connection_kwargs* and *connect*
            is given, *table_prefix* is not an identifier, or *lock_timeout*,
            *batch_size* or *key* is invalid.

    The connection is opened on first use, and a connection that failed is dropped
    and reopened by the next call. Thread-safe: calls share one connection under a
    lock. See the module docstring for the concurrency limits.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        connection_kwargs: Mapping[str, Any] | None = None,
        connect: Callable[[], Any] | None = None,
        table_prefix: str = "ORDERALLOC_AUDIT",
        batch_size: int = 200,
        create_tables: bool = True,
        lock_timeout: int | None = 120,
        key: bytes | None = None,
    ):
        if (connection_kwargs is None) == (connect is None):
            raise InvalidInputError(
                "connection_kwargs", connection_kwargs, "give exactly one of it and connect="
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError("batch_size", batch_size, "must be a whole number >= 1")
        if lock_timeout is not None and (
            isinstance(lock_timeout, bool)
            or not isinstance(lock_timeout, int)
            or not 1 <= lock_timeout <= 43_200
        ):
            raise InvalidInputError(
                "lock_timeout", lock_timeout, "must be whole seconds in [1, 43200] or None"
            )
        self._lock_timeout = lock_timeout
        super().__init__(key=key)
        self._ddl = schema_sql(table_prefix)
        if connection_kwargs is not None:
            kwargs = {"paramstyle": "qmark", **connection_kwargs}
            if lock_timeout is not None:
                # Set at login (session_parameters), so no statement can run before it.
                kwargs["session_parameters"] = {
                    "LOCK_TIMEOUT": lock_timeout,
                    **dict(connection_kwargs.get("session_parameters") or {}),
                }
            self._connect: Callable[[], Any] = lambda: snowflake.connector.connect(**kwargs)
        else:
            assert connect is not None
            self._connect = connect
        self._prefix = table_prefix
        self._events_table = f"{table_prefix}_EVENT"
        self._accounts_table = f"{table_prefix}_EVENT_ACCOUNT"
        self._head_table = f"{table_prefix}_HEAD"
        self._batch_size = batch_size
        self._create_tables = create_tables
        self._lock = threading.RLock()
        self._conn: Any = None
        self._ph: Callable[[], Callable[[], str]] = _placeholders("qmark")
        self._ready = False
        self._closed = False

    def __repr__(self) -> str:
        return f"SnowflakeAuditSink(table_prefix={self._prefix!r})"

    # -- the protocol -----------------------------------------------------------

    def select(self, query: EventQuery) -> list[AuditEvent]:
        """The events matching *query*, in append order; see `AuditSink.events`."""
        with self._cursor() as cur:
            sql, params = query.sql(self._events_table, self._accounts_table, self._ph())
            cur.execute(sql, tuple(params))
            return [row_to_event(row) for row in cur.fetchall()]

    def select_payloads(self, query: EventQuery, paths: Sequence[str]) -> list[PayloadRow]:
        """The events matching *query* with only the payload at *paths*, extracted in Snowflake.

        See `orderalloc.audit.payloads`: the fields are picked out of
        ``PARSE_JSON(PAYLOAD)`` in the warehouse, so the large arrays an
        analysis does not read never cross the network.

        .. versionadded:: 26.1
        """
        columns = snowflake_columns(check_paths(paths))
        table = f"(SELECT t.*, PARSE_JSON(t.PAYLOAD) AS P_ FROM {self._events_table} t)"
        with self._cursor() as cur:
            sql, params = query.sql(table, self._accounts_table, self._ph(), columns=columns)
            cur.execute(sql, tuple(params))
            return parse_rows(cur.fetchall(), skip_first=False)

    def get(self, event_id: str) -> AuditEvent | None:
        """The event stored under *event_id*, or ``None``."""
        with self._cursor() as cur:
            cur.execute(
                f"SELECT {_COLS} FROM {self._events_table} WHERE EVENT_ID = {self._ph()()}",
                (event_id,),
            )
            rows = cur.fetchall()
        if len(rows) > 1:
            raise AuditIntegrityError(
                f"event_id={event_id!r} is stored {len(rows)} times in {self._events_table}"
            )
        return row_to_event(rows[0]) if rows else None

    def verify(self, expected_head: Anchor | None = None) -> VerifyReport:
        """Recompute the chain, the head and the account index; see `AuditSink.verify`.

        Does not block appenders: it reads the head first, then the rows up to it
        (each statement sees committed appends only, and an append moves the rows
        and the head in one transaction).
        """
        checker = ChainVerifier(key=self._key, expected_head=expected_head)
        with self._cursor() as cur:
            head_seq, head_hash = self._head(cur)
            ph = self._ph()
            cur.execute(
                f"SELECT {_COLS} FROM {self._events_table} WHERE SEQ <= {ph()} ORDER BY SEQ",
                (head_seq,),
            )
            for row in cur:
                checker.row(row)
            # Rows past the head: legitimate only if an append committed them (and
            # moved the head) since the head was read.
            ph = self._ph()
            cur.execute(
                f"SELECT MAX(SEQ) FROM {self._events_table} WHERE SEQ > {ph()}", (head_seq,)
            )
            (beyond,) = cur.fetchone()
            if beyond is not None and int(beyond) > self._head(cur)[0]:
                raise AuditIntegrityError(
                    f"audit trail broken at seq={head_seq + 1}: rows up to seq={beyond} lie "
                    "past the head (inserted behind the sink's back, or the head was moved back)"
                )
            report = checker.head(head_seq, head_hash)
            ph = self._ph()
            cur.execute(
                f"SELECT SEQ, ACCOUNT_ID FROM {self._accounts_table} WHERE SEQ <= {ph()} "
                "ORDER BY SEQ",
                (head_seq,),
            )
            checker.account_index(cur)
        return report

    def close(self) -> None:
        """Close the connection; closing twice is allowed."""
        with self._lock:
            self._closed = True
            self._drop_connection()

    # -- the append's statements (see SQLSink; `_head` and `_locked` below) -----

    def _rows_with_ids(self, tx: Any, ids: Sequence[str]) -> list[Row]:
        ph = self._ph()
        tx.execute(
            f"SELECT {_COLS} FROM {self._events_table} "
            f"WHERE EVENT_ID IN ({', '.join(ph() for _ in ids)})",
            tuple(ids),
        )
        return list(tx.fetchall())

    def _row_at(self, tx: Any, seq: int) -> Row | None:
        ph = self._ph()
        tx.execute(f"SELECT {_COLS} FROM {self._events_table} WHERE SEQ = {ph()}", (seq,))
        rows = tx.fetchall()
        return rows[0] if rows else None

    def _insert(self, tx: Any, planned: Sequence[StoredEvent], head_seq: int) -> None:
        inserted = 0
        for part in chunks(planned, self._batch_size):
            ph = self._ph()
            values = ", ".join(
                "(" + ", ".join(ph() for _ in COLUMNS) + ")" for _ in range(len(part))
            )
            tx.execute(
                f"INSERT INTO {self._events_table} ({_COLS}) "
                f"SELECT {', '.join('v.' + c for c in COLUMNS)} "
                f"FROM (VALUES {values}) AS v({_COLS}) "
                f"WHERE NOT EXISTS (SELECT 1 FROM {self._events_table} t "
                "WHERE t.EVENT_ID = v.EVENT_ID)",
                tuple(value for p in part for value in p.to_row()),
            )
            inserted += _rowcount(tx)
        if inserted != len(planned):
            raise AuditSinkError(
                f"inserted {inserted} of {len(planned)} events: another writer changed "
                f"{self._events_table} while the head was locked (rolled back; retry)"
            )
        ph = self._ph()
        tx.execute(
            f"INSERT INTO {self._accounts_table} (ACCOUNT_ID, SEQ) "
            f"SELECT f.VALUE::VARCHAR, t.SEQ FROM {self._events_table} t, "
            "LATERAL FLATTEN(INPUT => PARSE_JSON(t.ACCOUNT_IDS)) f "
            f"WHERE t.SEQ > {ph()} AND t.SEQ <= {ph()} "
            # Idempotent like the events insert: a retried statement adds nothing.
            f"AND NOT EXISTS (SELECT 1 FROM {self._accounts_table} a WHERE a.SEQ = t.SEQ)",
            (head_seq, planned[-1].seq),
        )
        ph = self._ph()
        tx.execute(
            f"UPDATE {self._head_table} SET SEQ = {ph()}, HASH = {ph()} WHERE ID = 1",
            (planned[-1].seq, planned[-1].hash),
        )

    # -- plumbing ---------------------------------------------------------------

    def _head(self, cur: Any) -> tuple[int, str]:
        cur.execute(f"SELECT SEQ, HASH FROM {self._head_table} WHERE ID = 1")
        rows = cur.fetchall()
        if len(rows) != 1:
            raise AuditIntegrityError(
                f"{self._head_table} holds {len(rows)} head rows, not 1 (created twice at "
                "once, or edited)"
            )
        return int(rows[0][0]), str(rows[0][1])

    def _ensure(self) -> Any:
        if self._closed:
            raise AuditSinkError(f"{self!r} is closed")
        if self._conn is None:
            conn = self._connect()
            self._ph = _placeholders(getattr(conn, "_paramstyle", None) or "pyformat")
            self._conn = conn

        if not self._ready:
            if self._create_tables:
                # DDL commits implicitly in Snowflake: run it outside any transaction.
                cur = self._conn.cursor()
                try:
                    for stmt in self._ddl:
                        cur.execute(stmt)
                finally:
                    cur.close()
            self._ready = True
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self._lock:
            try:
                cur = self._ensure().cursor()
            except _ConnectorError as exc:
                self._drop_connection()
                raise AuditSinkError(f"{self!r}: cannot connect: {exc}") from exc
            try:
                yield cur
            except _ConnectorError as exc:
                self._drop_connection()
                raise AuditSinkError(f"{self!r}: {exc}") from exc
            finally:
                with contextlib.suppress(Exception):
                    cur.close()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Any]:
        """A transaction holding the trail's write lock (the module docstring's step 1)."""
        with self._cursor() as cur:
            cur.execute("BEGIN")
            try:
                cur.execute(f"UPDATE {self._head_table} SET SEQ = SEQ WHERE ID = 1")  # the lock
                yield cur
            except BaseException:
                with contextlib.suppress(Exception):
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")


def _rowcount(cur: Any) -> int:
    count = cur.rowcount
    return int(count) if count is not None and count >= 0 else 0


SnowflakeAuditSink.__module__ = "orderalloc.audit.snowflake"
