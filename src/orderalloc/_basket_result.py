"""What `orderalloc.allocate_basket` returns: a `BasketResult`.

One `AllocationResult` per order of the basket (each showing the metrics with
every other order applied), and the basket's effect on each account: the
cash it spent and raised, its metrics before and after, and the score of the
strategy that produced the split.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ._model import Order, Side
from ._reasons import Reason
from ._result import AllocationResult, DispersionSummary
from ._switches import Switch
from .errors import InvalidParameterError, require
from .typing import FloatArray

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BasketResult", "order_key"]


@attrs.frozen(kw_only=True, eq=False)
class BasketResult:
    """A basket allocated over one group: one result per order, and the basket's effect.

    Per-account columns follow *account_ids*, the accounts in the order given.

    Attributes:
        method: The engine's registry name.
        params: The engine's parameters, as given.
        strategy: ``"joint"`` or ``"sequential"``: which split this is.
        orders: Every order of the basket: the orders given, in their order,
            then each switch's sell and buy legs.
        results: One `AllocationResult` per order, in the order of *orders*.
            Each shows the metrics with every other order of the basket
            applied, before and after its own.
        switches: The switches of the basket.
        account_ids: The accounts, in the order given.
        cash: Cash before the basket (NaN: unknown, not checked).
        spent: Settlement paid for the buys, per account.
        proceeds: Settlement received from the sells, per account.
        pre_metrics: Metric name -> values before the basket.
        post_metrics: Metric name -> values after the whole basket (metrics
            every order's bond has an analytic for).
        dispersion: Metric name -> `DispersionSummary` of the whole basket.
        objective_name: What *objective* measures: ``"dispersion"`` (min
            dispersion's weighted variance over the basket, summed over
            metrics) or ``"unallocated_value"`` (settlement value of the face
            left unallocated).
        objective: Its value for this split (lower is better).
        objective_sequential: Its value for the sequential split.
        sweeps: Passes of the joint improvement over the orders.
        warnings: Everything a reviewer should read, one sentence each.
        created_at: When the basket was computed (UTC).

    .. versionadded:: 0.1.0
    """

    method: str
    params: Mapping[str, Any]
    strategy: str
    orders: tuple[Order, ...]
    results: tuple[AllocationResult, ...]
    switches: tuple[Switch, ...] = ()
    account_ids: tuple[str, ...]
    cash: FloatArray
    spent: FloatArray
    proceeds: FloatArray
    pre_metrics: Mapping[str, FloatArray] = attrs.field(factory=dict)
    post_metrics: Mapping[str, FloatArray] = attrs.field(factory=dict)
    dispersion: Mapping[str, DispersionSummary] = attrs.field(factory=dict)
    objective_name: str
    objective: float
    objective_sequential: float
    sweeps: int = 0
    warnings: tuple[str, ...] = ()
    created_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.timezone.utc))

    def __len__(self) -> int:
        return len(self.orders)

    def __repr__(self) -> str:
        return (
            f"BasketResult(method={self.method!r}, strategy={self.strategy!r}, "
            f"n_orders={len(self.orders)}, n_accounts={len(self.account_ids)}, "
            f"unallocated={sum(r.unallocated for r in self.results):,.0f}, "
            f"warnings={len(self.warnings)})"
        )

    @property
    def cash_used(self) -> FloatArray:
        """Net cash per account: buys paid minus sells' proceeds (negative: cash raised)."""
        used: FloatArray = self.spent - self.proceeds
        return used

    @property
    def cash_after(self) -> FloatArray:
        """Cash per account once the whole basket has settled (NaN where unknown)."""
        after: FloatArray = self.cash - self.cash_used
        return after

    @property
    def unallocated(self) -> dict[str, float]:
        """Face left unallocated per order, keyed by ``"SIDE security_id"``."""
        return {order_key(r.order): r.unallocated for r in self.results}

    def result(self, security_id: str, side: Side | str | None = None) -> AllocationResult:
        """The result of the order for *security_id* (and *side*, when the basket has both).

        Raises:
            InvalidParameterError: No order of the basket trades that security
                (on that side), or more than one does and *side* is not given.
        """
        found = [
            r
            for r in self.results
            if r.order.security.id == security_id
            and (side is None or r.order.side.value == str(side).upper())
        ]
        if len(found) != 1:
            on_side = f" on side {side}" if side else ""
            raise InvalidParameterError(
                "security_id", security_id, f"{len(found)} orders of the basket trade it{on_side}"
            )
        return found[0]

    def to_frame(self) -> pd.DataFrame:
        """Every non-zero line of the basket as a pandas DataFrame (one row per order and account).

        Columns: ``security_id``, ``side``, ``account_id``, ``quantity``,
        ``market_value``, ``reason``.

        Raises:
            MissingExtraError: pandas is not installed (``pip install orderalloc[pandas]``).
        """
        require("BasketResult.to_frame", "pandas", "pandas")
        import pandas as pd

        rows = []
        for r in self.results:
            sec = r.order.security
            for i in np.flatnonzero(r.quantity).tolist():
                q = float(r.quantity[i])
                rows.append(
                    {
                        "security_id": sec.id,
                        "side": r.order.side.value,
                        "account_id": r.account_ids[i],
                        "quantity": q,
                        "market_value": sec.market_value(q),
                        "reason": Reason.from_code(int(r.reason_codes[i])).value,
                    }
                )
        columns = ["security_id", "side", "account_id", "quantity", "market_value", "reason"]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=columns)
        return frame


def order_key(order: Order) -> str:
    """The order's key in a basket, ``"SIDE security_id"`` (one order per key)."""
    return f"{order.side.value} {order.security.id}"
