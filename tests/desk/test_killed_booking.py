"""A desk process killed mid-booking, after Aladdin booked the block: resumed without a double."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from desk_helpers import HoldingHandler, holding_server, kill_child_when, killed_config, kinds

from orderalloc.audit import EventKind, SQLiteAuditSink
from orderalloc.desk import Desk
from orderalloc.sources.aladdin import AladdinClient
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.testing.aladdin import LoopbackServer

CHILD = Path(__file__).with_name("book_child.py")


def _books(path: str, body: bytes) -> bool:
    """A block trade (``trades:batchPost``)."""
    return path.endswith("/trades:batchPost")


@pytest.fixture(name="served")
def _served() -> Iterator[tuple[HoldingHandler, LoopbackServer]]:
    """The holding handler behind a real HTTP server on 127.0.0.1."""
    with holding_server(HoldingHandler(MockAladdin(), books=_books)) as served:
        yield served


class TestKilledMidBooking:
    """SIGKILL between Aladdin booking the block trade and the desk recording it."""

    def test_resume_finds_the_trade(
        self, served: tuple[HoldingHandler, LoopbackServer], tmp_path: Path
    ) -> None:
        """A fresh desk records the booked trade: one trade, one BOOKED, no re-send, chain sound."""
        handler, server = served
        path = tmp_path / "audit.sqlite3"
        with (
            AladdinClient(killed_config(handler, server.url)) as client,
            SQLiteAuditSink(path) as sink,
        ):
            desk = Desk(client, sink, actor="parent")
            preview = desk.preview("BIG6", WELL_KNOWN["IG"], "BUY", 10_000_000)
            order_id = desk.commit(preview.allocation_id).order.order_id
            handler.mock.execute(order_id, 2_000_000, 99.10)
            handler.mock.execute(order_id, 6_000_000, 99.25)
            fp = desk.allocate_fills(order_id)
        fid = fp.fill_allocation_id
        assert len(fp.fills) == 2  # read back through trades:filter

        kill_child_when([str(CHILD), server.url, str(path), fid], handler.booked, handler.release)

        # The window a naive desk would double: booked, but the trail stops at BOOK_STARTED.
        assert len(handler.mock.trades()) == 1
        with SQLiteAuditSink(path) as sink:
            history = sink.events(allocation_id=fid)
            assert kinds(history)[-1] == "BOOK_STARTED"
            assert history[-1].actor == "child-process"

        with (
            AladdinClient(killed_config(handler, server.url)) as client,
            SQLiteAuditSink(path) as sink,
        ):
            desk = Desk(client, sink, actor="parent")
            receipt = desk.book(fid)
            assert receipt.recovered
            assert desk.book(fid).already_booked
            history = desk.history(fid)
            assert [e.kind for e in history].count(EventKind.BOOKED) == 1
            report = sink.verify()
            assert report.count == len(sink.events())
        trades = handler.mock.trades()
        assert len(trades) == 1
        assert trades[0].trade_id == receipt.trade.trade_id
        assert trades[0].lines == fp.ticket.lines
        assert handler.count("/trades:batchPost") == 1  # the child's; never re-sent
        assert handler.problems == []
