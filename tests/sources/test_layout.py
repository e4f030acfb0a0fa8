"""The adapters' layout keeps its promises: plans closed, one wire module, errors by name."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import orderalloc
from orderalloc.errors import InvalidInputError, OrderAllocError
from orderalloc.sources.aladdin import (
    AladdinClient,
    AladdinConfigError,
    AladdinResponseError,
    AsyncAladdinClient,
    Secret,
    wire,
)
from orderalloc.sources.aladdin.transport import Call
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.sources.orders import OrderLine, OrderTicket
from orderalloc.testing import InvariantError, check_allocation
from orderalloc.testing.aladdin import AladdinMockHandler
from orderalloc.testing.aladdin.schema import SCHEMAS

_SRC = Path(orderalloc.__file__).parent


class _Watched:
    """A plan that asks for one bad path and notes whether its driver closed it."""

    def __init__(self) -> None:
        self.closed = False

    def plan(self) -> Generator[Any, Any, None]:
        try:
            yield Call("GET", "/api/no/such/path")
        finally:
            self.closed = True


def _config(handler: AladdinMockHandler) -> Any:
    return handler.config("http://aladdin.test", rate_limit=1e6, max_attempts=1)


class TestDrivers:
    """Both drivers close a plan when a step fails, so its clean-up runs at once."""

    def test_sync_closes_plan(self) -> None:
        """The sync client closes a plan whose request failed (the plan's finally has run)."""
        handler = AladdinMockHandler(MockAladdin())
        watched = _Watched()
        plan = watched.plan()
        transport = httpx.MockTransport(handler)
        with (
            AladdinClient(_config(handler), transport=transport) as client,
            pytest.raises(OrderAllocError),
        ):
            client._run(plan)
        assert watched.closed
        assert plan.gi_frame is None

    def test_async_closes_plan(self) -> None:
        """The async client closes a plan whose request failed."""
        handler = AladdinMockHandler(MockAladdin())
        watched = _Watched()
        plan = watched.plan()

        async def run() -> None:
            transport = httpx.MockTransport(handler)
            async with AsyncAladdinClient(_config(handler), transport=transport) as client:
                await client._run(plan)

        with pytest.raises(OrderAllocError):
            asyncio.run(run())
        assert watched.closed
        assert plan.gi_frame is None


class TestWire:
    """The client and the test server share the public wire module and the published specs."""

    def test_server_imports_no_private_client_module(self) -> None:
        """orderalloc.testing.aladdin imports nothing of the client but wire, config and mock."""
        allowed = {"orderalloc.sources.aladdin", "orderalloc.sources.aladdin.config"}
        for path in (_SRC / "testing" / "aladdin").glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "orderalloc.sources.aladdin"
                ):
                    assert node.module in allowed, f"{path.name} imports {node.module}"
                    names = {a.name for a in node.names}
                    if node.module == "orderalloc.sources.aladdin":
                        assert names == {"wire"}, f"{path.name} imports {names}"

    @pytest.mark.parametrize(
        ("method", "path", "request_def"),
        [
            ("POST", f"{wire.ORDER}/order:post", "v1PostOrderRequest"),
            ("POST", f"{wire.ORDER}/orders:batchPost", "v1BatchPostOrdersRequest"),
            ("POST", f"{wire.TRADE}/trades:batchPost", "v2BatchPostTradesRequest"),
            ("POST", f"{wire.CASH_LADDER}/ladders:filter", "v2FilterCashLadderRequest"),
            ("GET", f"{wire.PORTFOLIO_GROUP}/portfolioGroups/BIG6/members", None),
        ],
    )
    def test_operations_come_from_the_specs(
        self, method: str, path: str, request_def: str | None
    ) -> None:
        """Every path the client calls under a published API is found in its swagger file."""
        operation = SCHEMAS.operation(method, path)
        assert operation is not None
        assert operation.request == request_def
        assert operation.answer is not None

    def test_wrong_json_type_names_the_field(self) -> None:
        """A JSON value of the wrong type in an answer is an AladdinResponseError naming it."""
        with pytest.raises(AladdinResponseError, match=r"\$\.nodes\[0\]\.portfolio_id"):
            wire.structure(
                {"nodes": [{"portfolioTicker": "A", "portfolioId": True}]},
                wire.PortfolioGroupMembers,
                "/members",
            )


class TestNamedErrors:
    """Bad input to the mock, the config and the checks is an orderalloc error naming it."""

    def test_unknown_scenario(self) -> None:
        """An unknown scenario is an InvalidInputError (still a ValueError) naming the value."""
        with pytest.raises(InvalidInputError, match="scenario='nope'") as info:
            MockAladdin("nope")
        assert isinstance(info.value, ValueError)
        assert info.value.field == "scenario"

    def test_bad_extra_group(self) -> None:
        """An extra group of size 0 is refused by name and size."""
        with pytest.raises(InvalidInputError, match=r"extra_groups\['X'\]=0"):
            MockAladdin(extra_groups={"X": 0})

    def test_secret_not_a_str(self) -> None:
        """A Secret of another type is an AladdinConfigError naming the type, not the value."""
        with pytest.raises(AladdinConfigError, match="int") as info:
            Secret(12345)  # type: ignore[arg-type]
        assert "12345" not in str(info.value)

    def test_check_allocation_names_the_account(self) -> None:
        """A broken invariant is an InvariantError (an AssertionError) naming account and value."""
        mock = MockAladdin()
        table = mock.accounts("BIG6", WELL_KNOWN["TSY"])
        result = orderalloc.allocate(
            orderalloc.Order(security=mock.security(WELL_KNOWN["TSY"]), side="BUY", quantity=1e6),
            table,
        )
        bad = result.quantity.copy()
        i = int(np.flatnonzero(bad > 0)[0])
        bad[i] += 1.0  # off the lot grid
        object.__setattr__(result, "quantity", bad)
        with pytest.raises(InvariantError, match=f"quantity\\['{table.ids[i]}'\\]") as info:
            check_allocation(result, table)
        assert isinstance(info.value, AssertionError)
        assert info.value.value == pytest.approx(float(bad[i]))


def test_posted_and_booked_carry_the_ticket() -> None:
    """OrderTicket.posted keeps the ticket's security, side, lines and external id."""
    ticket = OrderTicket(
        security_id="X", side="SELL", lines=(OrderLine("A", 2_000.0),), external_id="e-1"
    )
    posted = ticket.posted("7", status="OPEN", version=3)
    assert (posted.order_id, posted.external_id, posted.security_id) == ("7", "e-1", "X")
    assert (posted.side, posted.lines, posted.quantity) == (ticket.side, ticket.lines, 2_000.0)
    assert (posted.status, posted.version) == ("OPEN", 3)
