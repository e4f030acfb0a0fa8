"""Modifying a live order on a source whose holdings already count it."""

from __future__ import annotations

import attrs

import orderalloc as oa
from orderalloc.testing import RecordingSink

IG = "037833DX5"


class OrdersInPositions:
    """MockAladdin as Aladdin's SOD+Trades+Orders positions see it: live orders included."""

    positions_include_open_orders = True

    def __init__(self, inner: oa.MockAladdin) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def accounts(self, group: str, security_id: str) -> oa.AccountTable:
        table = self.inner.accounts(group, security_id)
        held = table.holding(security_id).copy()
        for order in self.inner.orders():
            if order.security_id != security_id or order.status not in ("OPEN", "COMPL_PENDING"):
                continue
            sign = 1.0 if order.side is oa.Side.BUY else -1.0
            for line in order.lines:
                held[table.index(line.account_id)] += sign * line.quantity
        holdings = dict(table.holdings)
        holdings[security_id] = held
        return attrs.evolve(table, holdings=holdings)


class TestModifyWithOpenOrdersInPositions:
    """The order's own lines are not counted twice."""

    def test_sell_everything_then_modify_to_the_same_size(self) -> None:
        """A sell of every position, modified to the same size, still fits."""
        mock = oa.MockAladdin(scenario="sell_down")
        held = mock.accounts("BIG6", IG).holding(IG)
        total = float(held.sum())
        source = OrdersInPositions(mock)
        desk = oa.Desk(source, RecordingSink(), actor="test")  # type: ignore[arg-type]
        preview = desk.preview("BIG6", IG, "SELL", total, method="pro_rata")
        assert preview.result.allocated == total
        receipt = desk.commit(preview.allocation_id)
        # The positions now show the sell: without the correction nothing could be re-sold.
        assert float(source.accounts("BIG6", IG).holding(IG).sum()) == 0
        modified = desk.modify(receipt.order.order_id, quantity=total)
        assert modified.order.quantity == total
        assert modified.order.version == 2
