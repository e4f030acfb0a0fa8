"""The mock's order book on disk: separate processes see the same orders."""

from __future__ import annotations

from pathlib import Path

import orderalloc as oa


class TestOrdersFile:
    """MockAladdin(orders_path=...) keeps orders across instances."""

    def test_post_then_cancel_from_another_instance(self, tmp_path: Path) -> None:
        """An order posted by one mock is found, and cancelled, by a new one on the same file."""
        path = tmp_path / "orders.json"
        first = oa.MockAladdin(orders_path=path)
        account = first.accounts("BIG6", "037833DX5").ids[0]
        ticket = oa.OrderTicket(
            security_id="037833DX5",
            side="BUY",
            lines=[oa.OrderLine(account_id=account, quantity=2_000)],
            external_id="alloc-1",
        )
        posted = first.post_order(ticket)
        second = oa.MockAladdin(orders_path=path)
        found = second.find_order("alloc-1")
        assert found is not None
        assert found.order_id == posted.order_id
        assert found.lines == ticket.lines
        second.cancel_order(posted.order_id, "test")
        assert oa.MockAladdin(orders_path=path).get_order(posted.order_id).status == "CANCELLED"

    def test_order_numbers_continue(self, tmp_path: Path) -> None:
        """A new instance never reuses an order id from the file."""
        path = tmp_path / "orders.json"
        first = oa.MockAladdin(orders_path=path)
        account = first.accounts("BIG6", "037833DX5").ids[0]

        def ticket(ext: str) -> oa.OrderTicket:
            return oa.OrderTicket(
                security_id="037833DX5",
                side="BUY",
                lines=[oa.OrderLine(account_id=account, quantity=2_000)],
                external_id=ext,
            )

        a = first.post_order(ticket("a"))
        b = oa.MockAladdin(orders_path=path).post_order(ticket("b"))
        assert int(b.order_id) > int(a.order_id)
