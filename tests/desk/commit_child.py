"""Run by test_killed.py in a child process: commit one preview over real HTTP until killed.

Usage: ``python commit_child.py URL AUDIT_PATH ALLOCATION_ID``

The Aladdin look-alike runs in the parent; the child talks to it through
`AladdinClient` like a production desk would, with the parent's SQLite trail.
It prints ``READY`` before committing and ``DONE <order id>`` if it ever finishes.
"""

from __future__ import annotations

import sys

from orderalloc.audit import SQLiteAuditSink
from orderalloc.desk import Desk
from orderalloc.sources.aladdin import AladdinClient
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler


def main() -> None:
    url, audit_path, allocation_id = sys.argv[1:4]
    # The handler only builds the matching config (credentials, groups); no server here.
    config = AladdinMockHandler(MockAladdin()).config(url, rate_limit=60_000, backoff_initial=0.01)
    with AladdinClient(config) as client, SQLiteAuditSink(audit_path) as sink:
        desk = Desk(client, sink, actor="child-process")
        print("READY", flush=True)
        receipt = desk.commit(allocation_id)
    print(f"DONE {receipt.order.order_id}", flush=True)


if __name__ == "__main__":
    main()
