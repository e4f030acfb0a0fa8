"""Executions and trade booking: the mock's simulation, the Aladdin client, the Trade API server.

The server validates every request body against ``TradeAPI.swagger.json``
(and, here, its own answers too), so a client that drifted from the
published shapes fails these tests.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from orderalloc.errors import InvalidOrderError, NotFoundError
from orderalloc.sources.aladdin import AladdinClient, AladdinNotFoundError, AsyncAladdinClient
from orderalloc.sources.aladdin.wire import TRADE
from orderalloc.sources.mock import WELL_KNOWN, AsyncMockAladdin, MockAladdin, OrderRejectedError
from orderalloc.sources.orders import OrderLine, OrderTicket, PostedOrder
from orderalloc.sources.protocol import AsyncTradeSource, TradeSource
from orderalloc.sources.trades import BookedTrade, TradeLine, TradeStatus, TradeTicket
from orderalloc.testing.aladdin import AladdinMockHandler, serve

SEC = WELL_KNOWN["IG"]
TODAY = dt.datetime.now(dt.timezone.utc).date()


def _order(mock: MockAladdin, external_id: str, quantity: float = 25_000_000) -> PostedOrder:
    ids = mock.accounts("BIG6", SEC).ids
    lines = [OrderLine(ids[0], quantity * 0.6), OrderLine(ids[1], quantity * 0.4)]
    return mock.post_order(
        OrderTicket(security_id=SEC, side="BUY", lines=lines, external_id=external_id)
    )


def _ticket(mock: MockAladdin, order: PostedOrder, external_id: str) -> TradeTicket:
    ids = mock.accounts("BIG6", SEC).ids
    return TradeTicket(
        security_id=SEC,
        side="BUY",
        price=99.125,
        lines=[TradeLine(ids[0], 1_200_000, 1_189_500.0), TradeLine(ids[1], 800_000, 793_000.0)],
        external_id=external_id,
        order_id=order.order_id,
        trade_date=TODAY,
    )


@pytest.fixture(name="book")
def _book() -> MockAladdin:
    """A fresh mock: these tests post orders and book trades."""
    return MockAladdin()


@pytest.fixture(name="trade_handler")
def _trade_handler(book: MockAladdin) -> AladdinMockHandler:
    """A handler over the fresh mock that validates requests and its own answers, small pages."""
    return AladdinMockHandler(book, validate_answers=True, page_size=2, lro_polls=2)


@pytest.fixture(name="trade_client")
def _trade_client(trade_handler: AladdinMockHandler) -> Iterator[AladdinClient]:
    """A sync client on the handler through httpx.MockTransport."""
    config = trade_handler.config("http://aladdin.test", rate_limit=1e6, lro_poll_interval=0.001)
    with AladdinClient(config, transport=httpx.MockTransport(trade_handler)) as client:
        yield client


class TestSimulation:
    """MockAladdin works orders like a street: partial fills, new issues, all seeded."""

    def test_partial_fills_over_a_day(self, book: MockAladdin) -> None:
        """Several fills at several prices, on the lot grid, within the order, in one session."""
        security = book.security(SEC)
        for k in range(20):
            order = _order(book, f"day-{k}")
            fills = book.simulate_fills(order.order_id, count=4)
            assert 2 <= len(fills) <= 4
            total = math.fsum(f.quantity for f in fills)
            assert total <= order.quantity
            for f in fills:
                assert f.quantity >= security.min_piece
                assert f.quantity % security.increment == 0
                assert f.time is not None
                assert dt.time(13, 30) <= f.time.time() <= dt.time(20, 0)
            assert len({f.price for f in fills}) >= 2
            times = [f.time for f in fills]
            assert times == sorted(times)  # type: ignore[type-var]

    def test_deterministic(self) -> None:
        """The same seed and order give the same fills, in another mock."""
        a, b = MockAladdin(), MockAladdin()
        fa = a.simulate_fills(_order(a, "same").order_id)
        fb = b.simulate_fills(_order(b, "same").order_id)
        assert fa == fb
        c = MockAladdin(seed=7)
        assert c.simulate_fills(_order(c, "same").order_id) != fa

    def test_new_issue_allotted_5_to_20_percent(self, book: MockAladdin) -> None:
        """Over many orders the allotment stays within 5%-20% of the order, on the lot grid."""
        shares = []
        for k in range(60):
            order = _order(book, f"ni-{k}", quantity=50_000_000)
            fill = book.allot_new_issue(order.order_id)
            assert fill.quantity % book.security(SEC).increment == 0
            shares.append(fill.quantity / order.quantity)
        assert min(shares) >= 0.05 - 1e-3
        assert max(shares) <= 0.20
        assert np.std(shares) > 0.02  # drawn, not fixed

    def test_overfill_refused(self, book: MockAladdin) -> None:
        """An execution beyond the order's quantity is refused with code 3."""
        order = _order(book, "over", quantity=2_000_000)
        book.execute(order.order_id, 1_500_000, 99.0)
        with pytest.raises(OrderRejectedError) as info:
            book.execute(order.order_id, 1_000_000, 99.0)
        assert info.value.code == 3
        assert len(book.fills(order.order_id)) == 1

    def test_unknown_order(self, book: MockAladdin) -> None:
        """Fills of an order that does not exist raise NotFoundError."""
        with pytest.raises(NotFoundError):
            book.fills("1")


class TestMockBooking:
    """Block trades in the mock: one active trade per external id, cancel, re-book."""

    def test_book_find_cancel_rebook(self, book: MockAladdin) -> None:
        """A duplicate is refused; after a cancel the id books again and the active one is found."""
        order = _order(book, "o")
        ticket = _ticket(book, order, "alloc-1")
        first = book.book_trade(ticket)
        assert book.find_trade(ticket) == first
        with pytest.raises(OrderRejectedError) as info:
            book.book_trade(ticket)
        assert info.value.code == 6
        cancelled = book.cancel_trade(first)
        assert cancelled.status == TradeStatus.CANCELLED
        with pytest.raises(OrderRejectedError):
            book.cancel_trade(first)
        second = book.book_trade(ticket)
        assert book.find_trade(ticket) == second
        assert [t.is_active for t in book.trades()] == [False, True]

    def test_unknown_portfolio_refused(self, book: MockAladdin) -> None:
        """A line for a portfolio that does not exist refuses the whole block."""
        order = _order(book, "o")
        ticket = TradeTicket(
            security_id=SEC,
            side="BUY",
            price=99.0,
            lines=[TradeLine("NOPE", 1_000_000)],
            external_id="x",
            order_id=order.order_id,
        )
        with pytest.raises(OrderRejectedError):
            book.book_trade(ticket)
        assert book.trades() == ()

    def test_shared_through_a_file(self, tmp_path: Path) -> None:
        """Executions and trades written by one mock are read by another (separate processes)."""
        path = tmp_path / "orders.json"
        first = MockAladdin(orders_path=path)
        order = _order(first, "file")
        fills = first.simulate_fills(order.order_id)
        trade = first.book_trade(_ticket(first, order, "file-trade"))
        second = MockAladdin(orders_path=path)
        assert second.fills(order.order_id) == fills
        assert second.trades() == (trade,)
        again = second.book_trade(_ticket(second, order, "file-trade-2"))
        assert int(again.trade_id) > int(trade.trade_id)

    def test_protocols(self, book: MockAladdin) -> None:
        """The mock, its async twin and both Aladdin clients offer the trade capability."""
        assert isinstance(book, TradeSource)
        assert isinstance(AsyncMockAladdin(book), AsyncTradeSource)
        assert issubclass(AladdinClient, TradeSource)
        assert issubclass(AsyncAladdinClient, AsyncTradeSource)


class TestTicket:
    """A trade ticket refuses what cannot be booked, naming the field."""

    @pytest.mark.parametrize(
        ("field", "kwargs"),
        [
            ("price", {"price": 0.0}),
            ("price", {"price": math.nan}),
            ("trade.lines", {"lines": []}),
            ("external_id", {"external_id": ""}),
            ("ticket.side", {"side": "HOLD"}),
        ],
    )
    def test_invalid(self, field: str, kwargs: dict[str, object]) -> None:
        """Each bad value raises InvalidOrderError naming its field."""
        fields: dict[str, object] = {
            "security_id": SEC,
            "side": "BUY",
            "price": 99.0,
            "lines": [TradeLine("A", 1_000)],
            "external_id": "x",
        }
        fields.update(kwargs)
        with pytest.raises(InvalidOrderError, match=field.replace(".", r"\.")):
            TradeTicket(**fields)  # type: ignore[arg-type]

    def test_repeated_account(self) -> None:
        """An account twice in one block is refused."""
        with pytest.raises(InvalidOrderError, match="twice"):
            TradeTicket(
                security_id=SEC,
                side="BUY",
                price=99.0,
                lines=[TradeLine("A", 1_000), TradeLine("A", 2_000)],
                external_id="x",
            )


class TestClient:
    """AladdinClient on the Trade API, every body checked against TradeAPI.swagger.json."""

    def test_fills_from_trades(
        self, book: MockAladdin, trade_client: AladdinClient, trade_handler: AladdinMockHandler
    ) -> None:
        """The order's blocks in trades:filter (paged) are its executions, exactly."""
        order = _order(book, "c-fills")
        fills = book.simulate_fills(order.order_id, count=5)
        assert trade_client.fills(order.order_id) == fills
        assert trade_handler.count("trades:filter") >= 2  # pages of 2 blocks
        assert trade_handler.problems == []

    def test_no_fills(self, book: MockAladdin, trade_client: AladdinClient) -> None:
        """An order with fillAmount 0 has no executions; an unknown order is not found."""
        order = _order(book, "c-none")
        assert trade_client.fills(order.order_id) == ()
        with pytest.raises(AladdinNotFoundError):
            trade_client.fills("99999999")

    def test_unreported_rest_keeps_the_average(
        self, book: MockAladdin, trade_client: AladdinClient
    ) -> None:
        """Fills not visible in trades:filter come back as one fill at the implied price."""
        order = _order(book, "c-rest")
        day1 = dt.datetime.combine(TODAY, dt.time(14), dt.timezone.utc)
        book.execute(order.order_id, 2_000_000, 99.10, time=day1)
        book.execute(order.order_id, 6_000_000, 99.25, time=day1 + dt.timedelta(days=1))
        fills = trade_client.fills(order.order_id)
        assert [f.quantity for f in fills] == [2_000_000, 6_000_000]
        assert fills[1].execution_id.endswith("-unreported")
        np.testing.assert_allclose(fills[1].price, 99.25)

    def test_book_find_cancel(
        self, book: MockAladdin, trade_client: AladdinClient, trade_handler: AladdinMockHandler
    ) -> None:
        """BatchPost books one block (a long-running operation); filter finds it; cancel ends it."""
        order = _order(book, "c-book")
        ticket = _ticket(book, order, "alloc-c")
        assert trade_client.find_trade(ticket) is None
        booked = trade_client.book_trade(ticket)
        assert book.trades() == (booked,)
        assert booked.lines == ticket.lines
        assert trade_handler.count(f"{TRADE}/longrunningoperations/") == 2
        assert trade_client.find_trade(ticket) == booked
        assert [line.principal for line in booked.lines] == [1_189_500.0, 793_000.0]
        cancelled = trade_client.cancel_trade(booked)
        assert cancelled.status == TradeStatus.CANCELLED
        assert book.trades()[0].status == TradeStatus.CANCELLED
        assert trade_client.find_trade(ticket) == cancelled
        assert trade_handler.problems == []

    def test_refused_booking(self, book: MockAladdin, trade_client: AladdinClient) -> None:
        """A second active trade with the same external id is refused, not booked."""
        order = _order(book, "c-dup")
        ticket = _ticket(book, order, "alloc-dup")
        trade_client.book_trade(ticket)
        with pytest.raises(Exception, match="already has external id"):
            trade_client.book_trade(ticket)
        assert len(book.trades()) == 1

    def test_cancel_unknown(self, trade_client: AladdinClient) -> None:
        """Cancelling a trade Aladdin does not hold raises a not-found error."""
        ghost = BookedTrade(
            trade_id="12345",
            external_id="x",
            security_id=SEC,
            side="BUY",
            price=99.0,
            lines=(TradeLine("BIG6-01", 1_000),),
        )
        with pytest.raises(AladdinNotFoundError):
            trade_client.cancel_trade(ghost)

    def test_schema_refuses_a_drifted_body(self, trade_handler: AladdinMockHandler) -> None:
        """The server answers 400 to a block with a field TradeAPI does not publish."""
        transport = httpx.MockTransport(trade_handler)
        config = trade_handler.config("http://aladdin.test", oauth=False)
        with AladdinClient(config, transport=transport) as client:
            body = {"blockTrades": [{"trades": [], "colour": "blue"}]}
            call_path = f"{TRADE}/trades:batchPost"
            request = client._build(client._client, _call(call_path, body), _uuid())
            response = client._client.send(request)
        assert response.status_code == 400
        assert any("colour" in p for p in trade_handler.problems)


def _call(path: str, body: object) -> object:
    from orderalloc.sources.aladdin.transport import Call

    return Call("POST", path, body=body, write=True)


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


class TestOverHTTP:
    """The async client over a real HTTP server speaks the whole Trade API flow."""

    @pytest.mark.anyio
    async def test_async_round_trip(self, book: MockAladdin) -> None:
        """Fills, book, find and cancel through AsyncAladdinClient on 127.0.0.1."""
        handler = AladdinMockHandler(book, validate_answers=True)
        order = _order(book, "http")
        fills = book.simulate_fills(order.order_id, count=3)
        ticket = _ticket(book, order, "alloc-http")
        with serve(handler) as server:
            config = handler.config(server.url, rate_limit=1e6, lro_poll_interval=0.001)
            async with AsyncAladdinClient(config) as client:
                assert await client.fills(order.order_id) == fills
                booked = await client.book_trade(ticket)
                assert await client.find_trade(ticket) == booked
                cancelled = await client.cancel_trade(booked)
        assert cancelled.status == TradeStatus.CANCELLED
        assert [t.status for t in book.trades()] == [TradeStatus.CANCELLED]
        assert handler.problems == []
