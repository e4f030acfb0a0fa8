"""verify() catches rows edited, deleted, inserted or reordered behind the sink's back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from _audit_helpers import Backend, make_event

from orderalloc.audit import SQLiteAuditSink
from orderalloc.audit._store import StoredEvent
from orderalloc.errors import AuditIntegrityError, AuditSinkError

_TRIGGERS = (
    "AUDIT_EVENT_NO_UPDATE",
    "AUDIT_EVENT_NO_DELETE",
    "AUDIT_EVENT_ACCOUNT_NO_UPDATE",
    "AUDIT_EVENT_ACCOUNT_NO_DELETE",
    "AUDIT_HEAD_FORWARD_ONLY",
    "AUDIT_HEAD_NO_DELETE",
)


@pytest.fixture(name="trail")
def _trail(sql_backend: Backend) -> Backend:
    """A five-event trail whose append-only guards (SQLite triggers) are dropped."""
    sink = sql_backend.open()
    sink.append([make_event(i) for i in range(1, 6)])
    sink.verify()
    assert sql_backend.raw is not None
    if sql_backend.name == "sqlite":
        for trigger in _TRIGGERS:
            sql_backend.raw(f"DROP TRIGGER {trigger}")
    return sql_backend


def run(backend: Backend, *statements: str) -> None:
    assert backend.raw is not None
    for sql in statements:
        backend.raw(sql.replace("{p}", backend.prefix))


def assert_broken_at(backend: Backend, seq: int) -> None:
    with pytest.raises(AuditIntegrityError, match=rf"seq={seq}\b"):
        backend.open().verify()


class TestTamper:
    """Each kind of tampering is reported at the first bad sequence number."""

    def test_edited_payload(self, trail: Backend) -> None:
        """A changed payload breaks that row's hash."""
        run(trail, """UPDATE {p}EVENT SET PAYLOAD = '{"i":999}' WHERE SEQ = 3""")
        assert_broken_at(trail, 3)

    def test_reformatted_payload(self, trail: Backend) -> None:
        """A meaning-preserving edit (whitespace) is reported too: text must be canonical."""
        payload = json.dumps(json.loads(make_event(2).payload_json()), indent=1)
        run(trail, f"UPDATE {{p}}EVENT SET PAYLOAD = '{payload}' WHERE SEQ = 2")
        assert_broken_at(trail, 2)

    def test_edited_indexed_column(self, trail: Backend) -> None:
        """A changed security_id (an indexed column) breaks the row's hash."""
        run(trail, "UPDATE {p}EVENT SET SECURITY_ID = 'XS0000000000' WHERE SEQ = 4")
        assert_broken_at(trail, 4)

    def test_deleted_middle_row(self, trail: Backend) -> None:
        """A deleted row leaves a gap in the sequence."""
        run(trail, "DELETE FROM {p}EVENT WHERE SEQ = 3")
        assert_broken_at(trail, 3)

    def test_deleted_middle_row_renumbered(self, trail: Backend) -> None:
        """Closing the gap by renumbering still breaks the chain."""
        run(
            trail,
            "DELETE FROM {p}EVENT WHERE SEQ = 3",
            "UPDATE {p}EVENT SET SEQ = SEQ - 1 WHERE SEQ > 3",
            "UPDATE {p}HEAD SET SEQ = 4",
        )
        assert_broken_at(trail, 3)

    def test_deleted_last_row(self, trail: Backend) -> None:
        """Deleting the last row is caught by the head anchor."""
        run(trail, "DELETE FROM {p}EVENT WHERE SEQ = 5")
        assert_broken_at(trail, 5)

    def test_reordered_rows(self, trail: Backend) -> None:
        """Swapping two rows' sequence numbers breaks the chain at the first of them."""
        run(
            trail,
            "UPDATE {p}EVENT SET SEQ = 1000 WHERE SEQ = 2",
            "UPDATE {p}EVENT SET SEQ = 2 WHERE SEQ = 3",
            "UPDATE {p}EVENT SET SEQ = 3 WHERE SEQ = 1000",
        )
        assert_broken_at(trail, 2)

    def test_forged_row_at_the_end(self, trail: Backend) -> None:
        """A correctly chained row appended behind the sink's back is caught by the head."""
        head = trail.open().verify()
        event = make_event(6)
        forged = StoredEvent(6, event, head.head_hash, event.content_hash(head.head_hash))
        values = ", ".join(
            "NULL" if v is None else f"'{v}'" if isinstance(v, str) else str(v)
            for v in forged.to_row()
        )
        run(trail, f"INSERT INTO {{p}}EVENT VALUES ({values})")
        assert_broken_at(trail, 6)

    def test_edited_head(self, trail: Backend) -> None:
        """A head moved back is reported."""
        run(trail, "UPDATE {p}HEAD SET SEQ = 4")
        assert_broken_at(trail, 5)

    def test_account_index_edited(self, trail: Backend) -> None:
        """Dropping an account from the index (so queries miss the event) is reported."""
        run(trail, "DELETE FROM {p}EVENT_ACCOUNT WHERE SEQ = 2 AND ACCOUNT_ID = 'ACC-2'")
        assert_broken_at(trail, 2)

    def test_account_index_forged(self, trail: Backend) -> None:
        """Adding an account to the index is reported."""
        run(trail, "INSERT INTO {p}EVENT_ACCOUNT (ACCOUNT_ID, SEQ) VALUES ('ACC-X', 4)")
        assert_broken_at(trail, 4)


class TestSQLiteGuards:
    """The SQLite triggers refuse UPDATE and DELETE in the first place."""

    @pytest.mark.parametrize(
        "sql",
        [
            "UPDATE AUDIT_EVENT SET ACTOR = 'x' WHERE SEQ = 1",
            "DELETE FROM AUDIT_EVENT WHERE SEQ = 1",
            "DELETE FROM AUDIT_EVENT_ACCOUNT",
            "UPDATE AUDIT_HEAD SET SEQ = 0",
            "DELETE FROM AUDIT_HEAD",
        ],
    )
    def test_triggers_refuse(self, tmp_path: Path, sql: str) -> None:
        """Every edit of an append-only table is aborted by its trigger."""
        path = tmp_path / "audit.sqlite3"
        with SQLiteAuditSink(path) as sink:
            sink.append([make_event(1)])
        conn = sqlite3.connect(path)
        with pytest.raises(sqlite3.IntegrityError, match=r"append-only|forward|never"):
            conn.execute(sql)
        conn.close()
        with SQLiteAuditSink(path) as sink:
            assert sink.verify().count == 1

    def test_append_refuses_after_conflict_is_not_integrity(self, tmp_path: Path) -> None:
        """A conflicting id is an AuditSinkError, not an integrity failure of the trail."""
        with SQLiteAuditSink(tmp_path / "a.sqlite3") as sink:
            sink.append([make_event(1)])
            with pytest.raises(AuditSinkError) as info:
                sink.append([make_event(1, actor="other")])
            assert not isinstance(info.value, AuditIntegrityError)
