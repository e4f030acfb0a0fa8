"""Run by test_basket_killed.py in a child process: commit one basket over real HTTP until killed.

Usage: ``python basket_child.py URL AUDIT_PATH BASKET_ID BATCH_SIZE``

The Aladdin look-alike runs in the parent; the child talks to it through
`AladdinClient` like a production desk would, with the parent's SQLite trail.
It prints ``READY`` before committing and ``DONE`` if it ever finishes.
"""

from __future__ import annotations

import sys

from orderalloc.audit import SQLiteAuditSink
from orderalloc.desk import BasketDesk, Desk
from orderalloc.sources.aladdin import AladdinClient
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler


def main() -> None:
    url, audit_path, basket_id, batch_size = sys.argv[1:5]
    # The handler only builds the matching config (credentials, groups); no server here.
    config = AladdinMockHandler(MockAladdin()).config(
        url, rate_limit=60_000, backoff_initial=0.01, lro_poll_interval=0.01
    )
    with AladdinClient(config) as client, SQLiteAuditSink(audit_path) as sink:
        baskets = BasketDesk(Desk(client, sink, actor="child-process"), batch_size=int(batch_size))
        print("READY", flush=True)
        baskets.commit(basket_id)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
