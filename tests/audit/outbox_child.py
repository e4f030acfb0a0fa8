"""Run by test_outbox.py in a child process: flush an outbox slowly until killed.

Usage: ``python outbox_child.py OUTBOX REMOTE BATCH_SIZE SLEEP_AFTER_ACK``

The remote is a SQLite trail in another file. After each batch the remote has
committed, the child prints ``ACK <n>`` and sleeps, so a parent that kills it on
that line kills it after the remote wrote the batch and before the outbox
recorded the acknowledgement: the window where a naive outbox would duplicate.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from orderalloc.audit import AuditEvent, OutboxSink, SQLiteAuditSink


class SlowRemote(SQLiteAuditSink):
    """A SQLite remote that reports each commit and then dawdles."""

    sleep_after_ack = 0.0
    acked = 0

    def append(self, events: Sequence[AuditEvent]) -> None:
        super().append(events)
        self.acked += len(events)
        print(f"ACK {self.acked}", flush=True)
        time.sleep(self.sleep_after_ack)


def main() -> None:
    outbox, remote_path, batch_size, sleep_after_ack = sys.argv[1:5]
    remote = SlowRemote(remote_path)
    remote.sleep_after_ack = float(sleep_after_ack)
    with OutboxSink(remote, outbox, batch_size=int(batch_size), flush_on_append=False) as sink:
        print("READY", flush=True)
        sink.flush()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
