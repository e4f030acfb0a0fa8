"""A year of trading through the desk and the mock, and a cherry-picking engine.

`trade_year` drives the real `Desk` on a `MockAladdin`: every trading day
it previews, commits, works (partial fills at several prices), allocates
the fills and books them, with a fake clock walking through the year. The
price the next day is drawn (seeded) before the order is allocated, so a
cherry-picking engine (`Favour`) can peek at it, as a real cherry-picker
decides after seeing the market move.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from orderalloc import Side
from orderalloc.desk import Desk
from orderalloc.engines import ProRata, register
from orderalloc.engines.base import Ideal, Problem
from orderalloc.engines.proportional import proportional_ideal
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.testing.recording import RecordingSink

#: The group of the year's tests (37 accounts) and the account the cherry-picker favours.
GROUP = "OPNIC"
FAVOURED = "OPN-05"

#: What the cherry-picker knows: does the order about to be allocated win tomorrow?
ORACLE: dict[str, bool] = {"winner": False}

#: Securities traded (several lot grids: two strata of the permutation test at least).
SECURITIES = (WELL_KNOWN["IG"], WELL_KNOWN["AGENCY"], WELL_KNOWN["TSY"], WELL_KNOWN["HY"])


class Favour(ProRata):
    """Pro rata by NAV, except that one account gets *tilt* times its share of winners.

    And 1 / *tilt* of its share of losers: the allocation a cherry-picker makes.
    """

    name: ClassVar[str] = "favour"

    def __init__(self, *, favoured: str, tilt: float = 3.0) -> None:
        super().__init__()
        self.favoured = favoured
        self.tilt = tilt

    @property
    def params(self) -> Mapping[str, Any]:
        """The favoured account and the tilt (recorded in the trail, as any engine's)."""
        return {"favoured": self.favoured, "tilt": self.tilt}

    def ideal(self, problem: Problem) -> Ideal:
        """NAV pro rata with the favoured account's weight tilted by tomorrow's price."""
        w = self.weights(problem).astype(float).copy()
        ids = problem.accounts.ids
        if self.favoured in ids:
            i = ids.index(self.favoured)
            w[i] *= self.tilt if ORACLE["winner"] else 1.0 / self.tilt
        return proportional_ideal(problem, w)


register(Favour)


class Clock:
    """A clock the year moves."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def trading_days(start: dt.date, count: int, every: int = 1) -> list[dt.date]:
    """*count* business days from *start*, one in *every*."""
    days: list[dt.date] = []
    d = start
    k = 0
    while len(days) < count:
        if d.weekday() < 5:
            if k % every == 0:
                days.append(d)
            k += 1
        d += dt.timedelta(days=1)
    return days


def trade_year(
    *,
    group: str,
    days: list[dt.date],
    method: str = "pro_rata",
    params: Mapping[str, Any] | None = None,
    seed: int = 7,
    mock: MockAladdin | None = None,
    sink: Any = None,
    new_issue_every: int = 5,
) -> tuple[Desk, MockAladdin, dict[str, float]]:
    """Trade one order a day in *group*; return the desk, the mock and each order's next-day price.

    Every *new_issue_every*-th order is a new issue allotted 5%-20% (small
    accounts then get nothing: zero fills); the others are worked for the day
    in 2-5 partial fills taking 40%-100% of the order.
    """
    mock = mock or MockAladdin()
    clock = Clock(dt.datetime.combine(days[0], dt.time(12), dt.timezone.utc))
    desk = Desk(
        mock,
        sink if sink is not None else RecordingSink(),
        actor="pm-1",
        clock=clock,
        max_age=dt.timedelta(days=2),
    )
    rng = np.random.default_rng(seed)
    later: dict[str, float] = {}
    for day in days:
        security = SECURITIES[int(rng.integers(len(SECURITIES)))]
        quantity = float(rng.integers(10, 60)) * 1_000_000
        base = mock.security(security).price
        move = float(rng.normal(0.0, 0.6))
        ORACLE["winner"] = move > 0
        clock.now = dt.datetime.combine(day, dt.time(12), dt.timezone.utc)
        preview = desk.preview(group, security, Side.BUY, quantity, method=method, **(params or {}))
        order = desk.commit(preview.allocation_id).order
        fill_seed = int(rng.integers(1 << 30))
        if new_issue_every and len(later) % new_issue_every == new_issue_every - 1:
            mock.allot_new_issue(order.order_id, day=day, seed=fill_seed)  # scarce: zero fills
        else:
            mock.simulate_fills(order.order_id, day=day, seed=fill_seed)
        clock.now = dt.datetime.combine(day, dt.time(21), dt.timezone.utc)
        fills = desk.allocate_fills(order.order_id)
        desk.book(fills.fill_allocation_id)
        later[order.order_id] = round(base + move, 3)
    return desk, mock, later


#: A year: one order every business day of 2024.
YEAR = trading_days(dt.date(2024, 1, 2), 250)

#: What `trade_year` returns.
Year = tuple[Desk, MockAladdin, dict[str, float]]
