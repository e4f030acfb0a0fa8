"""A desk process killed mid-commit, after Aladdin booked the order: resumed without a double."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from desk_helpers import (
    TSY,
    HoldingHandler,
    holding_server,
    kill_child_when,
    killed_config,
    kinds,
    orders_for,
)

from orderalloc.audit import EventKind, SQLiteAuditSink
from orderalloc.desk import Desk
from orderalloc.sources.aladdin import AladdinClient
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin import LoopbackServer

CHILD = Path(__file__).with_name("commit_child.py")


def _books(path: str, body: bytes) -> bool:
    """A real order post (not a what-if)."""
    if not path.endswith("/order:post"):
        return False
    config = json.loads(body).get("postOrderConfig") or {}
    return not config.get("whatIf")


@pytest.fixture(name="served")
def _served() -> Iterator[tuple[HoldingHandler, LoopbackServer]]:
    """The holding handler behind a real HTTP server on 127.0.0.1."""
    with holding_server(HoldingHandler(MockAladdin(), books=_books)) as served:
        yield served


class TestKilledMidCommit:
    """SIGKILL between Aladdin booking the order and the desk recording it."""

    def test_resume_finds_the_order(
        self, served: tuple[HoldingHandler, LoopbackServer], tmp_path: Path
    ) -> None:
        """A fresh desk records the booked order; exactly one order, one COMMITTED, chain sound."""
        handler, server = served
        path = tmp_path / "audit.sqlite3"
        with (
            AladdinClient(killed_config(handler, server.url)) as client,
            SQLiteAuditSink(path) as sink,
        ):
            preview = Desk(client, sink, actor="parent").preview("BIG6", TSY, "BUY", 5_000_000)
        aid = preview.allocation_id

        kill_child_when([str(CHILD), server.url, str(path), aid], handler.booked, handler.release)

        # The window a naive desk would double: booked, but the trail stops at COMMIT_STARTED.
        assert len(orders_for(handler.mock, aid)) == 1
        with SQLiteAuditSink(path) as sink:
            history = sink.events(allocation_id=aid)
            assert kinds(history)[-1] == "COMMIT_STARTED"
            assert history[-1].actor == "child-process"

        with (
            AladdinClient(killed_config(handler, server.url)) as client,
            SQLiteAuditSink(path) as sink,
        ):
            desk = Desk(client, sink, actor="parent")
            receipt = desk.commit(aid)
            assert receipt.recovered
            assert desk.commit(aid).already_committed
            history = desk.history(aid)
            assert [e.kind for e in history].count(EventKind.COMMITTED) == 1
            assert history[-1].payload["attempt"] == 1
            report = sink.verify()
            assert report.count == len(sink.events())
        booked = orders_for(handler.mock, aid)
        assert len(booked) == 1
        assert booked[0].order_id == receipt.order.order_id
        assert {line.account_id: line.quantity for line in booked[0].lines} == {
            k: q for k, q in preview.result.quantities.items() if q > 0
        }
        assert handler.count("/order:post") == 2  # the child's what-if and its post; no re-post
        assert handler.problems == []
