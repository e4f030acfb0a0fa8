"""Sink backends for the audit tests: one contract, several implementations.

``backend`` is parametrised over every `AuditSink`; a `Backend` opens sinks on
one store (so a test can reopen it) and, where the store is SQL, runs raw SQL on
it (so tamper tests can edit rows behind the sink's back).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _audit_helpers import Backend

from orderalloc.audit import OutboxSink, SQLiteAuditSink
from orderalloc.testing.recording import RecordingSink

_schemas = itertools.count()


def sqlite_raw(path: Path) -> Callable[[str], list[tuple[Any, ...]]]:
    def run(sql: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    return run


# fakesnow_kwargs lives in tests/conftest.py: fakesnow starts one server per process.


def make_snowflake_backend(kwargs: dict[str, Any]) -> Backend:
    import snowflake.connector

    from orderalloc.audit.snowflake import SnowflakeAuditSink

    conn_kwargs = {**kwargs, "database": "AUDIT_TESTS", "schema": f"T{next(_schemas)}"}

    def raw(sql: str) -> list[tuple[Any, ...]]:
        conn = snowflake.connector.connect(**conn_kwargs)
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return list(cur.fetchall())
        finally:
            conn.close()

    return Backend(
        "snowflake",
        lambda: SnowflakeAuditSink(connection_kwargs=conn_kwargs),
        raw,
        prefix="ORDERALLOC_AUDIT_",
    )


SNOWFLAKE = pytest.param("snowflake", marks=pytest.mark.snowflake)
BACKENDS = ["recording", "sqlite", "outbox", SNOWFLAKE]


def make_backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A fresh store of the named kind."""
    if name == "recording":
        shared = RecordingSink()  # in memory: "reopening" returns the same sink
        return Backend(name, lambda: shared)
    if name == "sqlite":
        path = tmp_path / "audit.sqlite3"
        return Backend(name, lambda: SQLiteAuditSink(path), sqlite_raw(path), "AUDIT_")
    if name == "outbox":
        remote = tmp_path / "remote.sqlite3"
        outbox = tmp_path / "outbox.sqlite3"
        return Backend(
            name,
            lambda: OutboxSink(SQLiteAuditSink(remote), outbox),
            sqlite_raw(outbox),
            "AUDIT_",
        )
    return make_snowflake_backend(request.getfixturevalue("fakesnow_kwargs"))


@pytest.fixture(name="backend", params=BACKENDS)
def _backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Every sink implementation, on a fresh store."""
    backend = make_backend(request.param, request, tmp_path)
    yield backend
    backend.close_all()


@pytest.fixture(name="sql_backend", params=["sqlite", SNOWFLAKE])
def _sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The sinks whose store tamper tests can edit with raw SQL."""
    backend = make_backend(request.param, request, tmp_path)
    yield backend
    backend.close_all()


def pytest_configure(config: pytest.Config) -> None:
    """Silence fakesnow's own performance hint (its server, not our code)."""
    config.addinivalue_line("filterwarnings", "ignore:Arrow output on a DB-API result:UserWarning")
