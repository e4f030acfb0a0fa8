"""Basket preview and commit: one audited unit, every step recorded first, each order once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs
import numpy as np
import pytest
from basket_helpers import BASKET, BatchFaults, CountingBook
from desk_helpers import Clock, kinds

from orderalloc import AccountTable, Side
from orderalloc.desk import (
    BasketDesk,
    BasketIncompleteError,
    ComplianceRefusedError,
    Desk,
    InputsChangedError,
    StalePreviewError,
    UnknownAllocationError,
)
from orderalloc.errors import InvalidOrderError, InvalidParameterError
from orderalloc.sources.orders import OrderTicket, PostedOrder
from orderalloc.testing.faults import Fault, FaultMode, FaultySource
from orderalloc.testing.recording import RecordingSink


class TrailCheckingSource(BatchFaults):
    """Asserts, at every post, that each order's attempt is already in the trail."""

    def __init__(self, book: CountingBook, sink: RecordingSink) -> None:
        super().__init__(book, seed=0)
        self.sink = sink

    def post_orders(self, tickets: Sequence[OrderTicket]) -> tuple[PostedOrder, ...]:
        for t in tickets:
            recorded = kinds(self.sink.events(allocation_id=t.external_id))
            assert recorded[-1] == "COMMIT_STARTED", recorded
            assert "COMPLIANCE_CHECKED" in recorded
        return super().post_orders(tickets)


class CashSource(BatchFaults):
    """A source whose cash per account is set by the test (for the re-check at commit)."""

    def __init__(self, book: CountingBook) -> None:
        super().__init__(book, seed=0)
        self.cash: dict[str, float] | None = None

    def accounts(self, group: str, security_id: str, *, fresh: bool = False) -> AccountTable:
        table = super().accounts(group, security_id, fresh=fresh)
        if self.cash is None:
            return table
        return attrs.evolve(table, cash=np.array([self.cash[i] for i in table.ids]))


@pytest.fixture(name="book")
def _book() -> CountingBook:
    """A fresh order book (scenario sell_down: every account holds the well-known bonds)."""
    return CountingBook()


class TestPreview:
    """A basket preview is recorded whole: one allocation per order plus the basket."""

    def test_recorded_in_one_append(self, book: CountingBook) -> None:
        """PREVIEWED per order, then BASKET_PREVIEWED naming them; all in one append."""
        sink = RecordingSink()
        baskets = BasketDesk(Desk(book, sink, actor="t"))
        preview = baskets.preview("PUBLICPRE", BASKET)
        events = sink.events()
        assert kinds(events) == ["PREVIEWED"] * 3 + ["BASKET_PREVIEWED"]
        assert events[-1].allocation_id == preview.basket_id
        assert list(events[-1].payload["orders"]) == list(preview.allocation_ids)
        for p, e in zip(preview.previews, events, strict=False):
            assert e.payload["basket_id"] == preview.basket_id
            assert e.allocation_id == p.allocation_id
        # The cash is shared: no account spends more than it has plus its sale's proceeds.
        basket = preview.basket
        assert basket is not None
        assert np.all(basket.cash_used <= basket.cash + 1e-6)

    def test_rebuilt_from_the_trail(self, book: CountingBook) -> None:
        """Another process rebuilds the same per-order allocations from the trail alone."""
        sink = RecordingSink()
        preview = BasketDesk(Desk(book, sink, actor="a")).preview("PUBLICPRE", BASKET)
        again = BasketDesk(Desk(book, sink, actor="b")).get_preview(preview.basket_id)
        assert again.allocation_ids == preview.allocation_ids
        for a, b in zip(again.previews, preview.previews, strict=True):
            np.testing.assert_array_equal(a.result.quantity, b.result.quantity)
        desk = Desk(book, sink, actor="c")
        assert {desk.status(a) for a in preview.allocation_ids} == {"PREVIEWED"}

    def test_bad_input_is_named(self, book: CountingBook) -> None:
        """No orders, a bad triple or a bad batch size: an error naming the field and value."""
        baskets = BasketDesk(Desk(book, RecordingSink(), actor="t"))
        with pytest.raises(InvalidOrderError, match="orders"):
            baskets.preview("PUBLICPRE", [])
        with pytest.raises(InvalidOrderError, match=r"orders\[0\]"):
            baskets.preview("PUBLICPRE", [("91282CJL6", "BUY")])  # type: ignore[list-item]
        with pytest.raises(InvalidOrderError, match=r"orders\[0\]\.side"):
            baskets.preview("PUBLICPRE", [("91282CJL6", "HOLD", 1e6)])
        with pytest.raises(InvalidParameterError, match="batch_size"):
            BasketDesk(baskets.desk, batch_size=1001)
        with pytest.raises(UnknownAllocationError):
            baskets.commit("no-such-basket")


class TestCommit:
    """A basket commit posts each order once, in requests of at most batch_size."""

    def test_attempts_recorded_before_the_post(self, book: CountingBook) -> None:
        """Every order's check and attempt are in the trail when the request goes."""
        sink = RecordingSink()
        source = TrailCheckingSource(book, sink)
        baskets = BasketDesk(Desk(source, sink, actor="t"))
        preview = baskets.preview("PUBLICPRE", BASKET)
        receipt = baskets.commit(preview.basket_id)
        assert receipt.requests == 1
        assert source.requests == [3]
        assert [r.allocation_id for r in receipt.receipts] == list(preview.allocation_ids)
        assert {r.order.external_id for r in receipt.receipts} == set(preview.allocation_ids)
        assert kinds(sink.events(allocation_id=preview.basket_id)) == [
            "BASKET_PREVIEWED",
            "BASKET_COMMITTED",
        ]

    def test_commit_again_sends_nothing(self, book: CountingBook) -> None:
        """A second commit returns the same orders, already committed; no post at all."""
        baskets = BasketDesk(Desk(book, RecordingSink(), actor="t"))
        preview = baskets.preview("PUBLICPRE", BASKET)
        first = baskets.commit(preview.basket_id)
        again = baskets.commit(preview.basket_id)
        assert again.already_committed
        assert again.requests == 0
        assert [r.order.order_id for r in again.receipts] == [
            r.order.order_id for r in first.receipts
        ]
        assert sum(book.posts.values()) == 3

    def test_requests_of_batch_size(self, book: CountingBook) -> None:
        """batch_size=2 sends 3 orders in 2 requests."""
        source = BatchFaults(book, seed=0)
        baskets = BasketDesk(Desk(source, RecordingSink(), actor="t"), batch_size=2)
        receipt = baskets.commit(baskets.preview("PUBLICPRE", BASKET).basket_id)
        assert source.requests == [2, 1]
        assert receipt.requests == 2

    def test_one_order_committed_alone_first(self, book: CountingBook) -> None:
        """An order committed on its own (Desk.commit) is found; only the others are sent."""
        sink = RecordingSink()
        desk = Desk(book, sink, actor="t")
        baskets = BasketDesk(desk)
        preview = baskets.preview("PUBLICPRE", BASKET)
        alone = desk.commit(preview.allocation_ids[1])
        receipt = baskets.commit(preview.basket_id)
        assert receipt.receipts[1].already_committed
        assert receipt.receipts[1].order.order_id == alone.order.order_id
        assert book.double_bookings() == 0
        assert sum(book.posts.values()) == 3

    def test_source_without_batch_post(self, book: CountingBook) -> None:
        """One post per order; a send that never left stops there, the retry sends the rest."""
        source = FaultySource(book, [Fault("post_order", 2, FaultMode.BEFORE)])
        baskets = BasketDesk(Desk(source, RecordingSink(), actor="t"))
        preview = baskets.preview("PUBLICPRE", BASKET)
        with pytest.raises(BasketIncompleteError) as info:
            baskets.commit(preview.basket_id)
        assert info.value.retryable
        assert len(info.value.committed) == 1
        assert set(info.value.pending) == set(preview.allocation_ids[1:])
        receipt = baskets.commit(preview.basket_id)  # at once: nothing was in flight
        assert len(receipt.receipts) == 3
        assert book.duplicate_posts() == 0
        assert book.double_bookings() == 0


class TestChecks:
    """The basket is checked as one unit before anything is sent."""

    def test_stale(self, book: CountingBook, clock: Clock) -> None:
        """Older than max_age: refused, recorded, nothing sent."""
        baskets = BasketDesk(Desk(book, RecordingSink(), actor="t", clock=clock))
        preview = baskets.preview("PUBLICPRE", BASKET)
        clock.advance(minutes=16)
        with pytest.raises(StalePreviewError):
            baskets.commit(preview.basket_id)
        assert book.posts == {}
        history = baskets.desk.history(preview.allocation_ids[0])
        assert history[-1].payload["outcome"] == "refused"

    def test_sales_fund_buys(self, book: CountingBook) -> None:
        """A buy paid by the same account's sale passes; cash short of the net spend refuses."""
        source = CashSource(book)
        baskets = BasketDesk(Desk(source, RecordingSink(), actor="t"))
        preview = baskets.preview("PUBLICPRE", BASKET)
        basket = preview.basket
        assert basket is not None
        net = dict(zip(basket.account_ids, basket.cash_used.tolist(), strict=True))
        spent = dict(zip(basket.account_ids, basket.spent.tolist(), strict=True))
        funded = [a for a in net if net[a] < spent[a] and spent[a] > 0]
        assert funded, "no account's buys are funded by its sale in this basket"
        # Cash below the buys alone (a buy checked on its own would be refused)...
        source.cash = {a: max(net[a], 0.0) + 1.0 for a in net}
        assert all(source.cash[a] < spent[a] for a in funded)
        # ...but above the net spend: the basket fits. Short of it: refused, nothing sent.
        short = funded[0]
        source.cash[short] = max(net[short], 0.0) - 10_000.0
        with pytest.raises(InputsChangedError, match=short):
            baskets.commit(preview.basket_id)
        assert book.posts == {}
        source.cash[short] = max(net[short], 0.0) + 1.0
        receipt = baskets.commit(preview.basket_id)
        assert len(receipt.receipts) == 3

    def test_compliance_refuses_the_basket(self) -> None:
        """A blocking violation on one order refuses them all; an override posts and records."""
        book = CountingBook("compliance_violation")
        baskets = BasketDesk(Desk(book, RecordingSink(), actor="t"))
        preview = baskets.preview(
            "PUBLICPRE", [(sec, side, q) for sec, side, q in BASKET if side == "BUY"]
        )
        with pytest.raises(ComplianceRefusedError):
            baskets.commit(preview.basket_id)
        assert book.posts == {}
        receipt = baskets.commit(preview.basket_id, override_warnings=True, comment="PM ok")
        assert len(receipt.receipts) == 2
        for aid in preview.allocation_ids:
            assert "OVERRIDDEN" in kinds(baskets.desk.history(aid))


class TestUnfinished:
    """A basket whose commit started but did not finish is listed, then not once finished."""

    def test_listed_until_committed(self, book: CountingBook) -> None:
        """Started and interrupted: listed by group and label; committed: gone."""
        source = BatchFaults(book, seed=0)
        source.plan = ["before"]  # never sent
        baskets = BasketDesk(Desk(source, RecordingSink(), actor="t"))
        preview = baskets.preview("PUBLICPRE", BASKET, label="file-1")
        other = baskets.preview("PUBLICPRE", BASKET, label="file-2")
        assert baskets.unfinished() == []
        with pytest.raises(BasketIncompleteError):
            baskets.commit(preview.basket_id)
        assert baskets.unfinished(group="PUBLICPRE", label="file-1") == [preview.basket_id]
        assert baskets.unfinished(label="file-2") == []
        assert baskets.unfinished(group="BIG6") == []
        baskets.commit(preview.basket_id)
        assert baskets.unfinished() == []
        assert other.basket_id not in baskets.unfinished()
        assert {o.side for o in book.orders()} == {Side.BUY, Side.SELL}


def test_lease_holds_an_unknown_outcome(book: CountingBook, clock: Clock) -> None:
    """A slow server: nothing re-sent within the lease; after it, found and recorded once."""
    source = BatchFaults(book, seed=0, lag=100)
    source.plan = ["slow"]
    baskets = BasketDesk(Desk(source, RecordingSink(), actor="t", clock=clock))
    preview = baskets.preview("PUBLICPRE", BASKET)
    with pytest.raises(BasketIncompleteError) as info:
        baskets.commit(preview.basket_id)
    assert info.value.retry_at == clock.now + dt.timedelta(minutes=2)
    with pytest.raises(BasketIncompleteError, match="outcome unknown"):
        baskets.commit(preview.basket_id)  # at once: held, nothing sent
    assert source.requests == []
    source.settle()  # the server books them within the lease
    clock.advance(minutes=3)
    receipt = baskets.commit(preview.basket_id)
    assert receipt.recovered == 3
    assert receipt.requests == 0
    assert book.duplicate_posts() == 0
