"""A desk process killed mid-send of a basket, after Aladdin booked a request: no double."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from basket_helpers import BASKET, CountingBook
from desk_helpers import Clock, HoldingHandler, holding_server, kill_child_when, killed_config

from orderalloc.audit import EventKind, SQLiteAuditSink
from orderalloc.desk import BasketDesk, Desk
from orderalloc.sources.aladdin import AladdinClient
from orderalloc.testing.aladdin import LoopbackServer

CHILD = Path(__file__).with_name("basket_child.py")


def _books(path: str, body: bytes) -> bool:
    """An ``orders:batchPost``."""
    return path.endswith("/orders:batchPost")


@pytest.fixture(name="served")
def _served() -> Iterator[tuple[HoldingHandler, LoopbackServer]]:
    """The holding handler behind a real HTTP server on 127.0.0.1."""
    with holding_server(HoldingHandler(CountingBook(), lro_polls=1, books=_books)) as served:
        yield served


class TestKilledMidSend:
    """SIGKILL between Aladdin booking a request and the desk recording it."""

    @pytest.mark.parametrize("batch_size", [1000, 2])
    def test_resume_finds_the_orders_and_sends_the_rest(
        self,
        served: tuple[HoldingHandler, LoopbackServer],
        tmp_path: Path,
        clock: Clock,
        batch_size: int,
    ) -> None:
        """A fresh desk records the booked orders, sends only the never-sent ones; each once."""
        handler, server = served
        book = handler.mock
        assert isinstance(book, CountingBook)
        path = tmp_path / "audit.sqlite3"
        with SQLiteAuditSink(path) as sink:
            preview = BasketDesk(Desk(book, sink, actor="parent")).preview("PUBLICPRE", BASKET)
        ids = preview.allocation_ids
        argv = [str(CHILD), server.url, str(path), preview.basket_id, str(batch_size)]
        kill_child_when(argv, handler.booked, handler.release)

        first = min(batch_size, len(ids))  # the orders of the request the child sent
        assert sorted(book.posts) == sorted(ids[:first])
        with SQLiteAuditSink(path) as sink:
            started = sink.events(kinds={EventKind.COMMIT_STARTED})
            # Attempts of the first request only: later ones were never recorded, never sent.
            assert sorted(e.allocation_id for e in started) == sorted(ids[:first])

        with (
            AladdinClient(killed_config(handler, server.url)) as client,
            SQLiteAuditSink(path) as sink,
        ):
            clock.now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=3)  # lease over
            baskets = BasketDesk(Desk(client, sink, actor="parent", clock=clock))
            receipt = baskets.commit(preview.basket_id)
            assert receipt.recovered == first
            assert baskets.commit(preview.basket_id).already_committed
            for aid in ids:
                kinds = [e.kind for e in sink.events(allocation_id=aid)]
                assert kinds.count(EventKind.COMMITTED) == 1
                assert kinds.count(EventKind.COMMIT_STARTED) == 1  # nobody sent it twice
            assert sink.verify().count == len(sink.events())
        assert book.double_bookings() == 0
        assert book.duplicate_posts() == 0
        assert sorted(o.external_id for o in book.orders()) == sorted(ids)
        requests = -(-(len(ids) - first) // batch_size)
        assert handler.count("/orders:batchPost") == 1 + requests
        assert handler.problems == []
