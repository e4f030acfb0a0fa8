"""Switches: sell bond A and buy bond B, paired account by account.

A `Switch` is a basket option (`orderalloc.allocate_basket`). Its sell leg is
allocated like any sell of the basket (by the basket's method); then every
account that sells A buys B **in proportion to its proceeds**:

* ``neutral=None``: market-value neutral, ``q_B = proceeds / cash_per_face_B``;
* ``neutral="duration"`` (or any metric both bonds carry an analytic for):
  metric neutral, ``q_B = q_A * cash_per_face_A * b_A / (cash_per_face_B * b_B)``,
  so that the account's metric does not move (``b`` is each bond's analytic).
  That is again proceeds times a constant, ``b_A / (cash_per_face_B * b_B)``.

The amount is then rounded, account by account, to the nearest legal amount
of B within the account's legal set (cash, including the sale's proceeds when
they settle in time, restrictions and limits), and the buy leg's order size
is the sum: each account is as close to neutral as B's lots allow, and the
leg's total is exact by construction. An account whose pairing is capped
(cash, restriction, limit) says so on its line.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np

from ._model import Order, Security, Side
from ._reasons import Reason
from .engines.base import Engine, Ideal, Problem
from .errors import InvalidOrderError, InvalidParameterError
from .limits import TradeBounds
from .typing import FloatArray

__all__ = ["Switch"]


def _sell_order(value: Any) -> Order:
    if not isinstance(value, Order):
        raise InvalidOrderError("switch.sell", value, "must be an Order")
    if value.side is not Side.SELL:
        raise InvalidOrderError("switch.sell.side", value.side.value, "must be 'SELL'")
    return value


@attrs.frozen(kw_only=True)
class Switch:
    """Sell one bond and buy another in the same accounts, paired per account.

    Args:
        sell: The sell order of bond A (its quantity is what the group sells).
        buy: Bond B, bought by every account that sells A.
        neutral: ``None`` to reinvest the proceeds (market-value neutral), or
            the metric to keep unchanged per account (e.g. ``"duration"`` or
            ``"spread_duration"``); both bonds need an analytic for it.
        settle_date: When the buy leg settles (default: the sell's date, so
            the proceeds fund it).

    Raises:
        InvalidOrderError: *sell* is not a sell order, *buy* is not a
            `Security`, or both legs are the same bond.
        InvalidParameterError: A bond has no analytic (or a zero one) for
            *neutral*.

    .. versionadded:: 0.1.0
    """

    sell: Order = attrs.field(converter=_sell_order)
    buy: Security
    neutral: str | None = None
    settle_date: dt.date | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.buy, Security):
            raise InvalidOrderError("switch.buy", self.buy, "must be a Security")
        if self.buy.id == self.sell.security.id:
            raise InvalidOrderError("switch.buy", self.buy.id, "must differ from the bond sold")
        if self.neutral is not None:
            for leg, sec in (("sell", self.sell.security), ("buy", self.buy)):
                b = sec.sensitivity(self.neutral)
                if b is None or b == 0 or not math.isfinite(b):
                    raise InvalidParameterError(
                        "switch.neutral",
                        self.neutral,
                        f"the {leg} bond {sec.id!r} has no non-zero analytic for it (it has: "
                        f"{', '.join(sorted(sec.analytics)) or 'none'})",
                    )

    @property
    def ratio(self) -> float:
        """Face of B bought per face of A sold (before rounding to B's lots)."""
        a, b = self.sell.security, self.buy
        if self.neutral is None:
            return a.cash_per_face / b.cash_per_face
        b_a = a.sensitivity(self.neutral)
        b_b = b.sensitivity(self.neutral)
        assert b_a is not None  # checked at construction
        assert b_b is not None
        return a.cash_per_face * b_a / (b.cash_per_face * b_b)

    @property
    def buy_settle_date(self) -> dt.date | None:
        """The buy leg's settlement date: *settle_date*, else the sell's."""
        return self.settle_date if self.settle_date is not None else self.sell.settle_date

    def buy_order(self, quantity: float) -> Order:
        """The buy leg as an order of *quantity* face of B."""
        return Order(
            security=self.buy,
            side=Side.BUY,
            quantity=quantity,
            settle_date=self.buy_settle_date,
            reference=f"switch:{self.sell.security.id}->{self.buy.id}",
        )


def nearest_legal(target: FloatArray, bounds: TradeBounds) -> FloatArray:
    """The legal amount nearest to *target* for every account (ties go down).

    Args:
        target: Face wanted per account, array of shape (n_accounts,), ``>= 0``.
        bounds: The accounts' legal sets (`orderalloc.limits.trade_bounds`).

    Returns:
        Array of shape (n_accounts,): 0, a point of the contiguous range or
        the whole-position amount, whichever is closest to *target*.
    """
    m, d = bounds.min_piece, bounds.increment
    with np.errstate(invalid="ignore"):
        k = np.clip(np.round((target - m) / d), bounds.klo, bounds.khi)
    ranged = np.where(bounds.has_range, m + k * d, np.inf)
    full = bounds.full
    best = np.zeros_like(target)
    best_dist = np.abs(target)
    for cand in (ranged, full):
        dist = np.abs(cand - target)
        better = np.isfinite(cand) & (dist < best_dist)
        best = np.where(better, cand, best)
        best_dist = np.where(better, dist, best_dist)
    out: FloatArray = best
    return out


class PairedBuy(Engine):
    """The buy leg of a switch: each account's share is fixed by its sale of A.

    Not in the engine registry: it needs the sell leg's allocation, which
    only `orderalloc.allocate_basket` has.

    Args:
        switch: The switch.
        targets: Account id -> face of B wanted (the sale times the ratio).
    """

    name: ClassVar[str] = "switch"

    def __init__(self, *, switch: Switch, targets: Mapping[str, float]) -> None:
        self.switch = switch
        self.targets = dict(targets)

    @property
    def params(self) -> Mapping[str, Any]:
        """The switch's legs and neutrality (the targets are in the result's *share*)."""
        return {
            "sell": self.switch.sell.security.id,
            "buy": self.switch.buy.id,
            "neutral": self.switch.neutral,
            "ratio": self.switch.ratio,
        }

    def ideal(self, problem: Problem) -> Ideal:
        """The proceeds-proportional amount of every account, within its cap."""
        ids = problem.accounts.ids
        share = np.array([self.targets.get(i, 0.0) for i in ids], dtype=np.float64)
        target = np.minimum(share, problem.hi)
        return Ideal(
            target=target,
            cost=np.ones(len(ids)),
            share=share,
            eligible=share > 0,
            reason=Reason.FULL_SHARE,
        )
