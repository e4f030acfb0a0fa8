"""The cash a basket's buys share: one balance per account, sells' proceeds, settle dates.

An account pays for all of its buys from one cash balance. A sale's proceeds
fund a buy of the same account when the sale settles no later than the buy:
orders without a settle date settle together (the basket's own date), and a
basket whose orders all carry a date is checked on each date ``D``::

    sum of buys settling on or before D  <=  cash + proceeds of sells settling on or before D

Mixing orders with and without a date is refused. ``use_proceeds=False``
ignores proceeds altogether. Unknown cash (NaN) is not checked.

The basket (`orderalloc._basket_state`) describes what its legs pay or
receive as *flows*: ``(date bucket, side, settlement per account)``, one per
leg; `SharedCash` turns them into the cash left per date and account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs
import numpy as np

from ._model import Side
from .errors import InvalidOrderError
from .typing import FloatArray

__all__ = ["Flow", "SharedCash", "settle_dates"]

#: What one leg pays (a buy) or receives (a sell): its settle date's bucket,
#: its side and the settlement amount per account.
Flow = tuple[int, Side, FloatArray]


def settle_dates(dates: Iterable[dt.date | None]) -> tuple[dt.date | None, ...]:
    """The basket's distinct settle dates, earliest first (None: the basket's own date).

    Raises:
        InvalidOrderError: Some orders carry a settle date and others do not.
    """
    distinct = set(dates)
    if None in distinct and len(distinct) > 1:
        raise InvalidOrderError(
            "orders.settle_date",
            sorted(str(d) for d in distinct),
            "give every order of a basket a settle date, or none of them",
        )
    return tuple(sorted(distinct, key=lambda d: (d is None, d or dt.date.min)))


@attrs.frozen(eq=False)
class SharedCash:
    """Each account's cash, shared by the basket's buys across its settle dates.

    Attributes:
        balance: Cash per account before the basket (NaN: unknown, not checked).
        dates: The settle dates (`settle_dates`); a flow's bucket indexes them.
        use_proceeds: Whether sells' proceeds fund buys that settle no earlier.
    """

    balance: FloatArray
    dates: tuple[dt.date | None, ...]
    use_proceeds: bool

    def bucket(self, date: dt.date | None) -> int:
        """The bucket of settle date *date*."""
        return self.dates.index(date)

    def slack(self, flows: Iterable[Flow]) -> FloatArray:
        """Cash left per settle date and account, shape (n_dates, n_accounts) (NaN: unknown)."""
        shape = (len(self.dates), self.balance.shape[0])
        spent, received = np.zeros(shape), np.zeros(shape)
        for bucket, side, amount in flows:
            if side is Side.BUY:
                spent[bucket] += amount
            elif self.use_proceeds:
                received[bucket] += amount
        out: FloatArray = self.balance + np.cumsum(received, axis=0) - np.cumsum(spent, axis=0)
        return out

    def available(self, flows: Iterable[Flow], bucket: int) -> FloatArray:
        """The cash a buy settling in *bucket* may spend: the least slack then or later."""
        avail: FloatArray = np.min(self.slack(flows)[bucket:], axis=0)
        return avail

    def feasible(self, flows: Iterable[Flow]) -> bool:
        """Whether every account's cash covers its buys on every date."""
        slack = self.slack(flows)
        tol = 1e-9 * np.maximum(np.abs(self.balance), 1.0) + 1e-6
        return bool(np.all(np.isnan(slack) | (slack >= -tol)))

    def totals(self, flows: Iterable[Flow]) -> tuple[FloatArray, FloatArray]:
        """Settlement paid for the buys and received from the sells, per account."""
        n = self.balance.shape[0]
        spent, proceeds = np.zeros(n), np.zeros(n)
        for _, side, amount in flows:
            if side is Side.BUY:
                spent += amount
            else:
                proceeds += amount
        return spent, proceeds
