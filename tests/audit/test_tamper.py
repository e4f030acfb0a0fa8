"""verify() catches rows edited, deleted, inserted or reordered behind the sink's back."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from _audit_helpers import Backend, make_event

from orderalloc.audit import GENESIS_HASH, SQLiteAuditSink
from orderalloc.audit._store import COLUMNS, StoredEvent
from orderalloc.errors import AuditIntegrityError, AuditSinkError, InvalidInputError
from orderalloc.testing.recording import RecordingSink

KEY = b"a chain key the auditors hold..."


def sqlite_raw(path: Path) -> Callable[[str], list[tuple[Any, ...]]]:
    """Run one statement on the SQLite file behind the sink's back."""

    def run(sql: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    return run


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
    if backend.name == "sqlite":  # opening a sink re-creates the guards: drop them again
        for trigger in _TRIGGERS:
            backend.raw(f"DROP TRIGGER IF EXISTS {trigger}")
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


def _rechain_from(backend: Backend, first: int, edit: dict[str, str]) -> None:
    """Rewrite row *first* with *edit* and recompute every later hash (no key), head too."""
    sink = backend.open()
    events = sink.events()
    head = sink.verify()
    prev = events[first - 2] if first > 1 else None
    prev_hash = GENESIS_HASH
    # The hash of row first-1 is what the stored chain says; recompute it from the start.
    for event in events[: first - 1]:
        prev_hash = event.content_hash(prev_hash)
    del prev
    for seq in range(first, len(events) + 1):
        event = events[seq - 1]
        if seq == first:
            event = attrs.evolve(event, **edit)
        digest = event.content_hash(prev_hash)
        row = StoredEvent(seq, event, prev_hash, digest).to_row()
        sets = []
        for column, value in zip(COLUMNS[1:], row[1:], strict=True):
            text = "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"
            if backend.name == "snowflake":  # backslash escapes in Snowflake string literals
                text = text.replace("\\", "\\\\")
            sets.append(f"{column} = {text}")
        run(backend, f"UPDATE {{p}}EVENT SET {', '.join(sets)} WHERE SEQ = {seq}")
        prev_hash = digest
    run(backend, f"UPDATE {{p}}HEAD SET HASH = '{prev_hash}' WHERE ID = 1")
    assert head.head_seq == len(events)


class TestAnchoredRewrites:
    """The three rewrites a self-consistent chain cannot see are caught by an anchor or a key."""

    def test_delete_last_and_rewind_head(self, trail: Backend) -> None:
        """Deleting the last row and moving the head back passes plain verify, not an anchor."""
        anchor = trail.open().verify()
        row4 = trail.raw(f"SELECT HASH FROM {trail.prefix}EVENT WHERE SEQ = 4")  # type: ignore[misc]
        run(
            trail,
            "DELETE FROM {p}EVENT_ACCOUNT WHERE SEQ = 5",
            "DELETE FROM {p}EVENT WHERE SEQ = 5",
            f"UPDATE {{p}}HEAD SET SEQ = 4, HASH = '{row4[0][0]}' WHERE ID = 1",
        )
        assert trail.open().verify().count == 4  # self-consistent: plain verify cannot tell
        with pytest.raises(AuditIntegrityError, match=r"seq=5\b.*anchored head"):
            trail.open().verify(expected_head=anchor.anchor)
        with pytest.raises(AuditIntegrityError, match="anchored head"):
            trail.open().verify(expected_head=anchor.head_hash)

    def test_edit_and_recompute_later_hashes(self, trail: Backend) -> None:
        """Editing a row and recomputing every later hash passes plain verify, not an anchor."""
        anchor = trail.open().verify()
        _rechain_from(trail, 3, {"payload": {"i": 999}})
        assert trail.open().get("ev-00003").payload == {"i": 999}  # type: ignore[union-attr]
        assert trail.open().verify().count == 5  # recomputed: plain verify cannot tell
        with pytest.raises(AuditIntegrityError, match=r"seq=5\b.*anchored head"):
            trail.open().verify(expected_head=anchor)
        with pytest.raises(AuditIntegrityError, match="not in the chain"):
            trail.open().verify(expected_head=anchor.head_hash)

    def test_edit_and_recompute_caught_early_by_an_older_anchor(self, trail: Backend) -> None:
        """An anchor taken at seq 3 names seq 3, where the rewrite began."""
        events = trail.open().events()
        h = GENESIS_HASH
        for event in events[:3]:
            h = event.content_hash(h)
        _rechain_from(trail, 3, {"actor": "someone-else"})
        with pytest.raises(AuditIntegrityError, match=r"seq=3\b.*anchored head"):
            trail.open().verify(expected_head=f"3:{h}")

    def test_truncate_to_zero(self, trail: Backend) -> None:
        """Emptying every table and resetting the head passes plain verify, not an anchor."""
        anchor = trail.open().verify().anchor
        run(
            trail,
            "DELETE FROM {p}EVENT_ACCOUNT",
            "DELETE FROM {p}EVENT",
            f"UPDATE {{p}}HEAD SET SEQ = 0, HASH = '{GENESIS_HASH}' WHERE ID = 1",
        )
        assert trail.open().verify().count == 0
        with pytest.raises(AuditIntegrityError, match=r"seq=1\b.*anchored head"):
            trail.open().verify(expected_head=anchor)

    def test_anchor_of_a_shorter_trail_still_holds(self, trail: Backend) -> None:
        """A trail that grew since the anchor was taken verifies against it."""
        sink = trail.open()
        anchor = sink.verify()
        sink.append([make_event(6), make_event(7)])
        report = sink.verify(expected_head=anchor)
        assert report.count == 7
        assert sink.verify(expected_head=f"0:{GENESIS_HASH}").count == 7


class TestKeyedChain:
    """An HMAC-keyed chain cannot be recomputed by someone without the key."""

    @pytest.fixture(name="keyed")
    def _keyed(self, tmp_path: Path) -> Backend:
        path = tmp_path / "keyed.sqlite3"
        backend = Backend(
            "sqlite", lambda: SQLiteAuditSink(path, key=KEY), sqlite_raw(path), "AUDIT_"
        )
        sink = backend.open()
        sink.append([make_event(i) for i in range(1, 6)])
        return backend

    def test_recomputed_chain_fails_with_the_key(self, keyed: Backend) -> None:
        """Edit-and-recompute without the key is caught at the edited row, with no anchor."""
        _rechain_from(keyed, 3, {"payload": {"i": 999}})
        with pytest.raises(AuditIntegrityError, match=r"seq=3\b"):
            keyed.open().verify()

    def test_keyed_trail_verifies_only_with_its_key(self, keyed: Backend, tmp_path: Path) -> None:
        """The right key verifies; no key or another key fails at the first row, with a hint."""
        assert keyed.open().verify().count == 5
        path = tmp_path / "keyed.sqlite3"
        with SQLiteAuditSink(path) as plain, pytest.raises(AuditIntegrityError, match="key="):
            plain.verify()
        other = SQLiteAuditSink(path, key=b"another key of 32 bytes........!")
        with other, pytest.raises(AuditIntegrityError, match=r"seq=1\b.*not the one"):
            other.verify()

    def test_appending_with_another_key_is_refused(self, keyed: Backend, tmp_path: Path) -> None:
        """A sink without the key (or with another) refuses to append to a keyed trail."""
        path = tmp_path / "keyed.sqlite3"
        with SQLiteAuditSink(path) as plain, pytest.raises(AuditSinkError, match="with a key"):
            plain.append([make_event(6)])
        with SQLiteAuditSink(path, key=KEY) as sink:
            assert sink.verify().count == 5  # nothing was appended

    def test_keying_an_unkeyed_trail_is_refused(self, tmp_path: Path) -> None:
        """Appending keyed rows after unkeyed ones would leave a trail no key verifies."""
        path = tmp_path / "plain.sqlite3"
        with SQLiteAuditSink(path) as sink:
            sink.append([make_event(1)])
        with SQLiteAuditSink(path, key=KEY) as keyed, pytest.raises(AuditSinkError, match="key"):
            keyed.append([make_event(2)])

    def test_recording_sink_keyed_head_differs(self) -> None:
        """The same events chained with a key give another head than without."""
        plain, keyed = RecordingSink(), RecordingSink(key=KEY)
        for sink in (plain, keyed):
            sink.append([make_event(1), make_event(2)])
        assert plain.verify().head_hash != keyed.verify().head_hash
        assert keyed.verify().count == 2

    @pytest.mark.parametrize(
        ("key", "match"), [("text key of many chars", "bytes"), (b"short", "at least 16")]
    )
    def test_bad_key_refused(self, tmp_path: Path, key: object, match: str) -> None:
        """A text or short key is an InvalidInputError that does not print the key."""
        with pytest.raises(InvalidInputError, match=match) as info:
            SQLiteAuditSink(tmp_path / "x.sqlite3", key=key)  # type: ignore[arg-type]
        assert "short" not in str(info.value)
        assert "text key" not in str(info.value)


class TestAnchorInput:
    """Malformed anchors are refused by name."""

    @pytest.mark.parametrize("anchor", ["", "abc", "x:" + "0" * 64, "1:" + "g" * 64, 5, b"00"])
    def test_malformed(self, anchor: object) -> None:
        """An anchor that is not HASH, SEQ:HASH or a VerifyReport names expected_head."""
        sink = RecordingSink()
        with pytest.raises(InvalidInputError, match="expected_head"):
            sink.verify(expected_head=anchor)  # type: ignore[arg-type]
