"""Order-operation values: validation and derived properties."""

from __future__ import annotations

import pytest

from orderalloc import Side
from orderalloc.errors import InvalidOrderError
from orderalloc.sources.orders import (
    ComplianceViolation,
    OrderLine,
    OrderStatus,
    OrderTicket,
    PostedOrder,
    WhatIfReport,
)


def _ticket(**kw: object) -> OrderTicket:
    fields: dict[str, object] = {
        "security_id": "91282CJL6",
        "side": "buy",
        "lines": (OrderLine("A", 1000), OrderLine("B", 2000)),
        "external_id": "x-1",
    }
    fields.update(kw)
    return OrderTicket(**fields)  # type: ignore[arg-type]


class TestOrderTicket:
    """OrderTicket validates its lines, side and external id."""

    def test_total(self) -> None:
        """The quantity is the sum of the lines and the side string is parsed."""
        t = _ticket()
        assert t.quantity == 3000
        assert t.side is Side.BUY

    @pytest.mark.parametrize(
        "kw",
        [
            {"lines": ()},
            {"lines": (OrderLine("A", 1), OrderLine("A", 2))},
            {"side": "HOLD"},
            {"external_id": ""},
            {"external_id": "x" * 65},
        ],
    )
    def test_refuses(self, kw: dict[str, object]) -> None:
        """Empty lines, repeated accounts, bad sides and bad external ids are refused."""
        with pytest.raises(InvalidOrderError):
            _ticket(**kw)

    @pytest.mark.parametrize("quantity", [0, -5, float("nan")])
    def test_line_quantity(self, quantity: float) -> None:
        """A line needs a finite quantity above zero."""
        with pytest.raises(InvalidOrderError):
            OrderLine("A", quantity)


class TestWhatIfReport:
    """A report passes unless a violation is blocking."""

    def test_passed(self) -> None:
        """Warnings pass; a restriction does not."""
        warn = ComplianceViolation(account_id="A", rule="R", message="m", severity="WARNING")
        stop = ComplianceViolation(account_id="B", rule="R", message="m", severity="RESTRICTION")
        assert WhatIfReport((warn,)).passed
        assert not WhatIfReport((warn, stop)).passed
        assert WhatIfReport((warn, stop)).for_account("B") == (stop,)


class TestOrderStatus:
    """Aladdin status words are normalised."""

    def test_normalise(self) -> None:
        """Canceled becomes CANCELLED and spaces become underscores."""
        assert OrderStatus.normalise("Canceled") == "CANCELLED"
        assert OrderStatus.normalise("Compl Pending") == "COMPL_PENDING"
        order = PostedOrder(
            order_id="1",
            external_id=None,
            security_id="S",
            side="SELL",
            quantity=1.0,
            lines=[OrderLine("A", 1)],
            status="OPEN",
            version=1,
        )
        assert order.is_live
        assert order.lines == (OrderLine("A", 1),)
