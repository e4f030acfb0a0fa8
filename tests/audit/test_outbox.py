"""OutboxSink: local first, remote when it can; nothing lost or doubled, even on SIGKILL."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from _audit_helpers import make_event

from orderalloc.audit import AuditEvent, AuditSink, OutboxSink, SQLiteAuditSink
from orderalloc.errors import AuditSinkError, InvalidInputError
from orderalloc.testing.recording import RecordingSink

CHILD = Path(__file__).with_name("outbox_child.py")


class SwitchableRemote(RecordingSink):
    """A recording remote that raises ConnectionError while `down` is set."""

    down = False

    def append(self, events: Sequence[AuditEvent]) -> None:
        if self.down:
            raise ConnectionError("remote unreachable")
        super().append(events)


class TestOutbox:
    """append records locally and survives a remote outage; flush delivers in order."""

    def test_remote_down_append_still_succeeds(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """While the remote is down, events queue, a warning is logged, flush raises."""
        remote = SwitchableRemote()
        remote.down = True
        with OutboxSink(remote, tmp_path / "outbox.sqlite3", batch_size=2) as sink:
            with caplog.at_level(logging.WARNING, logger="orderalloc.audit"):
                sink.append([make_event(1), make_event(2), make_event(3)])
            assert "3 event(s) queued" in caplog.text
            assert sink.pending() == 3
            assert [e.event_id for e in sink.events()] == ["ev-00001", "ev-00002", "ev-00003"]
            with pytest.raises(AuditSinkError, match="stay queued"):
                sink.flush()
            remote.down = False
            sink.append([make_event(4)])  # delivers the backlog first, in order
            assert sink.pending() == 0
            assert [e.event_id for e in remote.recorded] == [f"ev-0000{i}" for i in (1, 2, 3, 4)]
            assert remote.verify().head_hash == sink.verify().head_hash

    def test_flush_on_append_off(self, tmp_path: Path) -> None:
        """With flush_on_append=False only flush() delivers, and returns how many it sent."""
        remote = RecordingSink()
        sink = OutboxSink(remote, tmp_path / "o.sqlite3", flush_on_append=False)
        sink.append([make_event(i) for i in range(5)])
        assert (remote.recorded, sink.pending()) == ([], 5)
        assert sink.flush() == 5
        assert sink.flush() == 0
        sink.close()

    def test_conflict_on_the_remote_blocks_and_keeps_everything(self, tmp_path: Path) -> None:
        """A remote holding a different event under an id blocks delivery; nothing is skipped."""
        remote = RecordingSink()
        remote.append([make_event(2, actor="someone-else")])
        with OutboxSink(remote, tmp_path / "o.sqlite3") as sink:
            sink.append([make_event(1), make_event(2), make_event(3)])
            assert sink.pending() == 3
            assert len(sink.events()) == 3

    def test_local_failure_raises(self, tmp_path: Path) -> None:
        """If the outbox itself cannot record (a conflicting id), append raises."""
        with OutboxSink(RecordingSink(), tmp_path / "o.sqlite3") as sink:
            sink.append([make_event(1)])
            with pytest.raises(AuditSinkError):
                sink.append([make_event(1, actor="other")])

    def test_bad_batch_size(self, tmp_path: Path) -> None:
        """batch_size below 1 is refused."""
        with pytest.raises(InvalidInputError):
            OutboxSink(RecordingSink(), tmp_path / "o.sqlite3", batch_size=0)

    def test_default_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The default outbox lives in the user's data directory."""
        monkeypatch.setattr("platformdirs.user_data_dir", lambda app: str(tmp_path / app))
        with OutboxSink(RecordingSink()) as sink:
            assert sink.outbox.path == str(tmp_path / "orderalloc" / "audit-outbox.sqlite3")


def _queue(outbox: Path, n: int, accounts: int = 2) -> list[AuditEvent]:
    """Record *n* events in *outbox* while the remote is down; return them."""
    remote = SwitchableRemote()
    remote.down = True
    events = [
        make_event(i, account_ids=tuple(f"A{i}-{j}" for j in range(accounts))) for i in range(n)
    ]
    with OutboxSink(remote, outbox, flush_on_append=False) as sink:
        for start in range(0, n, 7):
            sink.append(events[start : start + 7])
        assert sink.pending() == n
    return events


def _spawn(outbox: Path, remote: Path, batch: int, sleep_after_ack: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(outbox), str(remote), str(batch), str(sleep_after_ack)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish_and_check(outbox: Path, remote_path: Path, events: list[AuditEvent]) -> None:
    """A fresh process-equivalent flush; the remote must hold each event once, in order."""
    with OutboxSink(SQLiteAuditSink(remote_path), outbox) as sink:
        sink.flush()
        assert sink.pending() == 0
        remote = sink.remote
        got = remote.events()
        assert [e.event_id for e in got] == [e.event_id for e in events]
        assert got == events
        assert remote.verify().head_hash == sink.verify().head_hash


class TestKilledMidFlush:
    """A flush killed with SIGKILL loses nothing and duplicates nothing on the next flush."""

    def test_killed_after_remote_commit_before_ack(self, tmp_path: Path) -> None:
        """Killed right after the remote committed a batch, before the outbox marked it sent."""
        outbox, remote_path = tmp_path / "outbox.sqlite3", tmp_path / "remote.sqlite3"
        events = _queue(outbox, 40)
        child = _spawn(outbox, remote_path, batch=5, sleep_after_ack=5.0)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"
        line = child.stdout.readline().strip()
        assert line == "ACK 5"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        # The window a naive outbox would double: the remote has the batch, the
        # outbox still thinks it is pending.
        with SQLiteAuditSink(remote_path) as remote:
            assert len(remote.events()) == 5
        with OutboxSink(RecordingSink(), outbox, flush_on_append=False) as sink:
            assert sink.pending() == 40
        _finish_and_check(outbox, remote_path, events)

    @pytest.mark.parametrize("delay", [0.05, 0.15, 0.3])
    def test_killed_at_a_random_moment(self, tmp_path: Path, delay: float) -> None:
        """Killed mid-flush at an arbitrary point (writes of 2,000-account events in flight)."""
        outbox, remote_path = tmp_path / "outbox.sqlite3", tmp_path / "remote.sqlite3"
        events = _queue(outbox, 60, accounts=2000)
        child = _spawn(outbox, remote_path, batch=3, sleep_after_ack=0.0)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate(timeout=10)
        assert child.returncode == -signal.SIGKILL
        assert "DONE" not in rest  # it really died mid-flush
        with SQLiteAuditSink(remote_path) as remote:
            print(f"remote held {len(remote.events())} of {len(events)} at the kill")
        _finish_and_check(outbox, remote_path, events)


class TestOutboxIsASink:
    """OutboxSink satisfies the AuditSink protocol (the contract suite runs it too)."""

    def test_protocol(self, tmp_path: Path) -> None:
        """The runtime-checkable protocol accepts an OutboxSink."""
        with OutboxSink(RecordingSink(), tmp_path / "o.sqlite3") as sink:
            assert isinstance(sink, AuditSink)
