"""Run by test_killed_booking.py in a child process: book one fill allocation until killed.

Usage: ``python book_child.py URL AUDIT_PATH FILL_ALLOCATION_ID``

Like ``commit_child.py`` for orders: it talks to the parent's Aladdin look-alike
through `AladdinClient`, with the parent's SQLite trail, prints ``READY`` before
booking and ``DONE <trade id>`` if it ever finishes.
"""

from __future__ import annotations

import sys

from orderalloc.audit import SQLiteAuditSink
from orderalloc.desk import Desk
from orderalloc.sources.aladdin import AladdinClient
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler


def main() -> None:
    url, audit_path, fill_allocation_id = sys.argv[1:4]
    config = AladdinMockHandler(MockAladdin()).config(url, rate_limit=60_000, backoff_initial=0.01)
    with AladdinClient(config) as client, SQLiteAuditSink(audit_path) as sink:
        desk = Desk(client, sink, actor="child-process")
        print("READY", flush=True)
        receipt = desk.book(fill_allocation_id)
    print(f"DONE {receipt.trade.trade_id}", flush=True)


if __name__ == "__main__":
    main()
