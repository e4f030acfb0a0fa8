"""Basket commits under injected faults: zero double bookings, zero duplicate posts.

A seeded campaign drives whole baskets to completion through a source whose
batch posts fail every way a real one can (never sent, booked with the answer
lost, partly booked, booked late by a slow server, refused, the process killed
mid-send), reads that fail, and an audit store that fails appends and loses
acknowledgements; commits are retried at once and after the lease. The
loopback part does the same over real HTTP against the Aladdin look-alike.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import time

import httpx
import pytest
from basket_helpers import BASKET, POST_FAULTS, BatchFaults, CountingBook, Killed
from desk_helpers import Clock, FlakySink

from orderalloc.audit import EventKind
from orderalloc.desk import (
    BasketDesk,
    BasketIncompleteError,
    BasketReceipt,
    CommitFailedError,
    CommitInProgressError,
    CommitOutcomeUnknownError,
    Desk,
)
from orderalloc.errors import AuditSinkError, DataSourceError
from orderalloc.sources.aladdin import AladdinClient
from orderalloc.testing.aladdin import AladdinMockHandler, serve
from orderalloc.testing.recording import RecordingSink

LEASE = dt.timedelta(minutes=2)
# Whole-campaign totals, reported by the last test of this module (run with -s to see them).
TOTALS: collections.Counter[str] = collections.Counter()

CHUNKS = 8
SCHEDULES_PER_CHUNK = int(os.environ.get("BASKET_SCHEDULES_PER_CHUNK", "30"))


def _bigger_basket(book: CountingBook, n: int, rng: random.Random) -> list[tuple[str, str, float]]:
    """*n* buys of plain bonds (no munis or 144A), sized for BIG6."""
    plain = [b.id for b in book.bonds if b.security.min_piece <= 2_000][:40]
    return [(sec, "BUY", rng.choice([1, 2, 3]) * 1_000_000.0) for sec in rng.sample(plain, n)]


def _preview(baskets: BasketDesk, group: str, orders: list[tuple[str, str, float]]) -> str:
    for _ in range(50):  # reads and the trail fail at random: a failed preview records nothing
        try:
            return baskets.preview(group, orders).basket_id
        except (DataSourceError, AuditSinkError):
            TOTALS["preview retried"] += 1
    raise AssertionError("no preview in 50 tries")


def _run_schedule(seed: int) -> None:
    """One schedule: a basket committed to the end through seeded faults; every check."""
    rng = random.Random(seed)
    book = CountingBook()
    source = BatchFaults(
        book,
        seed=seed,
        post_rate=rng.choice([0.3, 0.5, 0.8]),
        read_rate=rng.choice([0.0, 0.05, 0.15]),
        lag=rng.randint(1, 4),
    )
    sink = FlakySink(rate=rng.choice([0.0, 0.05, 0.15]), seed=seed)
    clock = Clock()
    processes = 1
    batch_size = rng.choice([1, 2, 3, 1000])

    def new_desk() -> BasketDesk:
        desk = Desk(
            source,
            sink,
            actor=f"p{processes}",
            clock=clock,
            commit_lease=LEASE,
            max_age=dt.timedelta(days=1),
        )
        return BasketDesk(desk, batch_size=batch_size)

    baskets = new_desk()
    if rng.random() < 0.5:
        group, orders = "PUBLICPRE", list(BASKET)
    else:
        group, orders = "BIG6", _bigger_basket(book, rng.randint(4, 9), rng)
    basket_id = _preview(baskets, group, orders)
    receipt: BasketReceipt | None = None
    for step in range(200):
        if step == 150:  # the order system and the trail recover
            source.heal()
            sink.rate = 0.0
        try:
            receipt = baskets.commit(basket_id)
            break
        except Killed:
            TOTALS["processes killed mid-send"] += 1
            processes += 1
            baskets = new_desk()  # a fresh process: nothing remembered but the trail
        except BasketIncompleteError as exc:
            TOTALS["commits incomplete"] += 1
            if exc.retry_at is not None and rng.random() < 0.6:
                source.settle()  # what the order system does within the lease
                clock.now = max(clock.now, exc.retry_at) + dt.timedelta(seconds=1)
                TOTALS["waited out the lease"] += 1
            else:
                TOTALS["retried at once"] += 1
        except CommitInProgressError:
            TOTALS["commits held (in progress)"] += 1
            source.settle()
            clock.advance(seconds=LEASE.total_seconds() + 1)
        except (CommitOutcomeUnknownError, CommitFailedError, DataSourceError, AuditSinkError):
            TOTALS["commits failed, retried"] += 1
    assert receipt is not None, f"seed {seed}: not committed in 200 steps"
    TOTALS["schedules"] += 1
    TOTALS["orders committed"] += len(receipt.receipts)
    TOTALS["orders recovered by look-up"] += receipt.recovered
    TOTALS.update(source.injected)
    TOTALS["audit store faults"] += sink.failures
    source.settle()  # nothing late may land on top of the booked orders
    sink.rate = 0.0  # the checks below read the trail
    source.heal()
    again = baskets.commit(basket_id)  # sends nothing; records BASKET_COMMITTED if it was lost
    assert again.already_committed
    assert again.requests == 0
    assert book.double_bookings() == 0, f"seed {seed}: an order was booked twice"
    assert book.duplicate_posts() == 0, f"seed {seed}: an external id was posted twice"
    preview = baskets.get_preview(basket_id)
    booked = {o.external_id: o for o in book.orders()}
    for p in preview.previews:
        lines = {k: q for k, q in p.result.quantities.items() if q > 0}
        if not lines:
            assert p.allocation_id not in booked
            continue
        order = booked[p.allocation_id]  # booked once, with the previewed lines
        assert {line.account_id: line.quantity for line in order.lines} == lines
        kinds = [e.kind for e in sink.inner.events(allocation_id=p.allocation_id)]
        assert kinds.count(EventKind.COMMITTED) == 1
    assert len(booked) == len(receipt.receipts)
    done = sink.inner.events(allocation_id=basket_id, kinds={EventKind.BASKET_COMMITTED})
    assert len(done) == 1
    assert max(source.requests, default=0) <= batch_size
    sink.inner.verify()


class TestCampaign:
    """Seeded schedules of faults; every basket ends committed with each order booked once."""

    @pytest.mark.slow
    @pytest.mark.parametrize("chunk", range(CHUNKS))
    def test_schedules(self, chunk: int) -> None:
        """Every schedule of the chunk commits its basket with zero double bookings."""
        start = chunk * SCHEDULES_PER_CHUNK
        for seed in range(start, start + SCHEDULES_PER_CHUNK):
            _run_schedule(seed)

    def test_every_fault_was_injected(self) -> None:
        """The campaign injected every kind of fault (the counts go into the closing note)."""
        if TOTALS["schedules"] < CHUNKS * SCHEDULES_PER_CHUNK:
            pytest.skip("the campaign's chunks did not all run in this session")
        print("\nbasket fault campaign:", dict(sorted(TOTALS.items())))
        for kind in POST_FAULTS:
            assert TOTALS[f"post:{kind}"] > 0, kind
        assert TOTALS["read:find_order"] > 0
        assert TOTALS["audit store faults"] > 0
        assert TOTALS["waited out the lease"] > 0
        assert TOTALS["retried at once"] > 0
        assert TOTALS["orders recovered by look-up"] > 0


# --- over real HTTP -------------------------------------------------------------------------------


HTTP_FAULTS = ("slow", "503-after", "503-before", "lro-503", "filter-503")


def _loopback_schedule(
    seed: int, handler: AladdinMockHandler, url: str
) -> collections.Counter[str]:
    """A basket through scripted HTTP faults; the book must hold each order once."""
    rng = random.Random(seed)
    book = handler.mock
    assert isinstance(book, CountingBook)
    injected: collections.Counter[str] = collections.Counter()
    fault = HTTP_FAULTS[seed % len(HTTP_FAULTS)]
    injected[f"http:{fault}"] += 1
    if fault == "slow":  # books after the client's timeout
        handler.script("/orders:batchPost", 200, hold=0.6)
    elif fault == "503-after":
        handler.script("/orders:batchPost", 503, after=True)
    elif fault == "503-before":
        handler.script("/orders:batchPost", 503)
    elif fault == "lro-503":  # the poll fails; the batch was booked
        handler.script("/longrunningoperations/", 503, times=10)
    elif fault == "filter-503":
        handler.script("/orders:batchPost", 503, after=True)
        handler.script("/orders:filter", 503, times=4)
    clock = Clock()
    config = handler.config(
        url,
        rate_limit=60_000,
        backoff_initial=0.01,
        lro_poll_interval=0.01,
        timeout=httpx.Timeout(0.3),
    )
    sink = RecordingSink()
    # Previewed in-process (faster); committed over HTTP by the desk under test.
    basket_id = (
        BasketDesk(Desk(book, sink, actor="t", clock=clock)).preview("PUBLICPRE", BASKET).basket_id
    )
    with AladdinClient(config) as client:
        desk = Desk(client, sink, actor="t", clock=clock, commit_lease=LEASE)
        baskets = BasketDesk(desk, batch_size=rng.choice([1, 2, 1000]))
        receipt = None
        for _ in range(40):
            try:
                receipt = baskets.commit(basket_id)
                break
            except BasketIncompleteError as exc:
                if rng.random() < 0.5 or exc.retry_at is None:
                    injected["http: retried at once"] += 1
                    time.sleep(0.1)
                else:
                    time.sleep(0.8)  # longer than the server's hold: it has booked by now
                    clock.now = exc.retry_at + dt.timedelta(seconds=1)
                    injected["http: waited out the lease"] += 1
            except (CommitFailedError, DataSourceError):
                injected["http: commit failed, retried"] += 1
        assert receipt is not None, f"seed {seed}: not committed"
        injected["http: orders recovered"] += receipt.recovered
    time.sleep(0.7)  # a held request still in the server lands before the count
    assert book.double_bookings() == 0
    assert book.duplicate_posts() == 0
    assert len(receipt.receipts) == len({o.external_id for o in book.orders()})
    assert handler.problems == []
    return injected


class TestLoopback:
    """The same guarantees over real HTTP on 127.0.0.1 (the Aladdin look-alike behind it)."""

    def test_seeded_http_schedules(self) -> None:
        """Slow server, lost answers, failed polls and look-ups: every order booked once."""
        counts: collections.Counter[str] = collections.Counter()
        for seed in range(len(HTTP_FAULTS) + 2):
            # Every request body checked against the swagger schema in the first round.
            handler = AladdinMockHandler(
                CountingBook(), lro_polls=1, validate=seed < len(HTTP_FAULTS)
            )
            with serve(handler) as server:
                counts.update(_loopback_schedule(seed, handler, server.url))
        print("\nbasket HTTP campaign:", dict(sorted(counts.items())))
        TOTALS.update(counts)
        assert counts["http:slow"] > 0


class TestLargeBaskets:
    """More than 1,000 orders: requests of at most 1,000, each recorded right before it goes."""

    @pytest.mark.slow
    def test_more_than_1000_orders_are_split_and_resumed(self) -> None:
        """1,062 orders in 2 requests; killed in the second, the resume sends only what is left."""
        book = CountingBook(cash_unknown=True)
        source = BatchFaults(book, seed=0)
        sink = RecordingSink()
        clock = Clock()
        baskets = BasketDesk(Desk(source, sink, actor="p1", clock=clock))
        ids = [b.id for b in book.bonds if b.security.min_piece <= 5_000]
        basket_ids = [
            baskets.preview(
                "BIG6", [(sec, "BUY", 25_000.0) for sec in ids], strategy="sequential"
            ).basket_id
            for _ in range(9)
        ]
        n_orders = sum(len(baskets.get_preview(b).previews) for b in basket_ids)
        assert n_orders == 9 * len(ids) > 1000
        source.plan = ["ok", "killed"]  # the process dies while the second request goes
        with pytest.raises(Killed):
            baskets.commit_many(basket_ids)
        assert source.requests[0] == 1000  # the first request went whole
        started = sink.events(kinds={EventKind.COMMIT_STARTED})
        assert len(started) == n_orders  # the second request's attempts were recorded first
        clock.advance(seconds=LEASE.total_seconds() + 1)  # a fresh process, after the lease
        resumed = BasketDesk(Desk(source, sink, actor="p2", clock=clock, commit_lease=LEASE))
        receipts = resumed.commit_many(basket_ids)
        assert sum(len(r.receipts) for r in receipts) == n_orders
        assert book.double_bookings() == 0
        assert book.duplicate_posts() == 0
        assert len(book.orders()) == n_orders
        assert max(source.requests) <= 1000
        # Request 1 was answered and recorded; of request 2 the orders placed before the
        # kill are found, the rest sent in request 3.
        assert sum(r.recovered for r in receipts) == source.requests[1]
        assert source.requests[2] == n_orders - 1000 - source.requests[1]
        already = sum(c.already_committed for r in receipts for c in r.receipts)
        assert already == 1000
