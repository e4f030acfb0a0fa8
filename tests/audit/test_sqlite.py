"""SQLiteAuditSink specifics: default path, WAL, threads and processes sharing a file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _audit_helpers import make_event

from orderalloc.audit import SQLiteAuditSink
from orderalloc.audit.sqlite import schema_sql
from orderalloc.errors import AuditSinkError

_WRITER = """
import sys
from orderalloc.audit import AuditEvent, SQLiteAuditSink
path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with SQLiteAuditSink(path) as sink:
    for i in range(n):
        sink.append([AuditEvent(event_id=f"{name}-{i:04d}", allocation_id=name,
                                kind="PREVIEWED", actor=name, account_ids=[name])])
"""


class TestSQLiteFile:
    """The file's location, mode and schema."""

    def test_default_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without a path the trail lives in platformdirs' user data directory."""
        monkeypatch.setattr("platformdirs.user_data_dir", lambda app: str(tmp_path / app))
        with SQLiteAuditSink() as sink:
            sink.append([make_event(1)])
        assert (tmp_path / "orderalloc" / "audit.sqlite3").exists()

    def test_wal_and_full_sync(self, tmp_path: Path) -> None:
        """The file is in WAL mode."""
        path = tmp_path / "a.sqlite3"
        SQLiteAuditSink(path).close()
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()

    def test_newer_schema_is_refused(self, tmp_path: Path) -> None:
        """A file written by a newer orderalloc is not touched."""
        path = tmp_path / "a.sqlite3"
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
        with pytest.raises(AuditSinkError, match="upgrade orderalloc"):
            SQLiteAuditSink(path)

    def test_unopenable_path(self, tmp_path: Path) -> None:
        """A path that cannot be a database raises AuditSinkError."""
        (tmp_path / "dir.sqlite3").mkdir()
        with pytest.raises(AuditSinkError):
            SQLiteAuditSink(tmp_path / "dir.sqlite3")

    def test_ddl_genesis_matches_the_code(self) -> None:
        """The head seeded by the DDL is GENESIS_HASH."""
        from orderalloc.audit import GENESIS_HASH

        assert f"'{GENESIS_HASH}'" in schema_sql()


class TestConcurrency:
    """Threads and processes appending to one file never fork the chain."""

    def test_threads(self, tmp_path: Path) -> None:
        """Eight threads sharing a sink append 200 events; the chain verifies."""
        sink = SQLiteAuditSink(tmp_path / "a.sqlite3")

        def work(t: int) -> None:
            for i in range(25):
                sink.append([make_event(t * 1000 + i)])

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sink.verify().count == 200
        sink.close()

    def test_processes(self, tmp_path: Path) -> None:
        """Three processes appending to one file give one unforked chain, each in its order."""
        path = tmp_path / "shared.sqlite3"
        SQLiteAuditSink(path).close()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        procs = [
            subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"p{k}", "40"], env=env)
            for k in range(3)
        ]
        assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
        with SQLiteAuditSink(path) as sink:
            assert sink.verify().count == 120
            for k in range(3):
                ids = [e.event_id for e in sink.events(allocation_id=f"p{k}")]
                assert ids == [f"p{k}-{i:04d}" for i in range(40)]
