"""Generated rounding cases and their exact optima, shared by the tests and the campaign.

A case is a group of 1 to 40 accounts, a bond with one of the denominations
that broke the rounding before (5,000/3,000, 7,000/4,000, 1,000/5,000,
10,000/1, 200,000/1,000, and the common 2,000/1,000), a buy or a sell, and an
engine: pro-rata by NAV, custom weights, or min dispersion with NAV or equal
weighting. `judge` allocates it and measures the answer against the exact
integer optimum of the engine's documented objective (`exact_rounding`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

import orderalloc as oa
from exact_rounding import brute_force, dp_optimum, milp_optimum, moving_mean_optimum
from orderalloc.limits import trade_bounds

DENOMINATIONS: tuple[tuple[float, float], ...] = (
    (2_000.0, 1_000.0),
    (5_000.0, 3_000.0),
    (7_000.0, 4_000.0),
    (1_000.0, 5_000.0),
    (10_000.0, 1.0),
    (200_000.0, 1_000.0),
)
ENGINES: tuple[str, ...] = ("pro_rata", "custom_weights", "min_dispersion", "min_dispersion_equal")


_EQUAL_CELLS = 2_000_000


def _cells(quantity: float, m: float, d: float, n: int) -> float:
    """About how many cells one exact programme over *quantity* takes."""
    unit = math.gcd(int(m), int(d))
    return n * (quantity / unit + 1) * (max(quantity - m, 0) / d + 2)


@attrs.frozen
class Case:
    """One generated allocation problem."""

    order: oa.Order
    accounts: list[oa.Account]
    engine: str
    params: Mapping[str, Any]


def make_case(seed: int, engine: str, *, max_accounts: int = 40) -> Case:
    """A random case for *engine*, reproducible from *seed*."""
    rng = np.random.default_rng(seed)
    m, d = DENOMINATIONS[int(rng.integers(len(DENOMINATIONS)))]
    sec = oa.Security(
        id="BOND",
        price=float(np.round(rng.uniform(80, 120), 2)),
        min_piece=m,
        increment=d,
        analytics={"sd": float(np.round(rng.uniform(1, 8), 2))},
    )
    n = int(rng.integers(1, max_accounts + 1))
    side = "SELL" if rng.random() < 0.3 else "BUY"
    lots = int(rng.integers(1, 8 * n + 2))
    quantity = float(m + (lots - 1) * max(d, m / 2) + int(rng.integers(0, 3)) * d)
    if engine == "min_dispersion_equal" and _cells(quantity, m, d, n) > _EQUAL_CELLS:
        # The moving mean is judged by many exact programmes (one per centre):
        # keep each one small.
        twice = d >= m / 10 and rng.random() < 0.5
        quantity = float(m + int(rng.integers(0, 6)) * d + twice * m)
    accounts = []
    for i in range(n):
        nav = float(np.round(math.exp(rng.uniform(math.log(2e6), math.log(2e9))), 2))
        cash = None
        if side == "BUY" and rng.random() < 0.4:
            cash = float(np.round(rng.uniform(0, 1.5) * quantity / n * sec.cash_per_face * 2, 2))
        holdings = {}
        if side == "SELL":
            held = float(np.round(rng.uniform(0, 2.5) * quantity / max(1, n // 2)))
            if rng.random() < 0.3:
                held = m + int(rng.integers(0, 6)) * d  # whole-position sales are legal
            holdings["BOND"] = held
        limits = None
        if rng.random() < 0.15:
            limits = oa.AccountLimits(min_allocation=float(m + int(rng.integers(0, 3)) * d))
        accounts.append(
            oa.Account(
                id=f"ACC{seed % 997:03d}{i:02d}",
                nav=nav,
                cash=cash,
                holdings=holdings,
                metrics={"sd": float(np.round(rng.uniform(2, 7), 3))},
                limits=limits,
            )
        )
    params: dict[str, Any] = {}
    if engine == "custom_weights":
        raw = rng.random(n) ** 2 + 0.01
        raw /= raw.sum()
        weights = {a.id: float(w) for a, w in zip(accounts, raw, strict=True)}
        weights[accounts[-1].id] += 1.0 - math.fsum(weights.values())
        params = {"weights": weights}
    elif engine == "min_dispersion":
        params = {"metric": "sd"}
    elif engine == "min_dispersion_equal":
        params = {"metric": "sd", "weighting": "equal"}
    if side == "SELL" and engine == "pro_rata":
        params = {"basis": "nav"}
    return Case(
        order=oa.Order(security=sec, side=side, quantity=quantity),
        accounts=accounts,
        engine=engine,
        params=params,
    )


def allocate(case: Case, accounts: list[oa.Account] | None = None) -> oa.AllocationResult:
    """Allocate *case* (or the same case with its accounts given as *accounts*)."""
    method = "min_dispersion" if case.engine.startswith("min_dispersion") else case.engine
    return oa.allocate(
        case.order, case.accounts if accounts is None else accounts, method=method, **case.params
    )


@attrs.frozen
class Verdict:
    """How one answer compares with the exact optimum."""

    placed: float
    best_total: float
    value: float
    optimum: float
    reported_gap: float | None

    @property
    def shortfall(self) -> bool:
        """The answer places less than the largest legal total."""
        return self.placed < self.best_total

    @property
    def gap(self) -> float:
        """``(value - optimum) / optimum`` (0 when both are 0)."""
        if self.value <= self.optimum * (1 + 1e-12) + 1e-300:
            return 0.0
        return (self.value - self.optimum) / self.optimum if self.optimum > 0 else math.inf


def objective(case: Case, result: oa.AllocationResult, q: np.ndarray) -> float:
    """The engine's documented objective of split *q*."""
    table = oa.as_table(case.accounts)
    if not case.engine.startswith("min_dispersion"):
        if case.engine == "custom_weights":
            w = np.array([case.params["weights"][i] for i in table.ids])
        else:
            w = table.nav
        w = w / w.sum()
        live = w > 0
        return float(np.sum((q[live] - result.ideal[live]) ** 2 / w[live]))
    sec = case.order.security
    s = case.order.side.sign * sec.cash_per_face * sec.analytics["sd"] / table.nav
    x = table.metrics["sd"] + s * q
    w = (
        table.nav / table.nav.sum()
        if case.engine == "min_dispersion"
        else np.full(len(x), 1 / len(x))
    )
    mean = float(np.sum(w * x))
    return float(np.sum(w * (x - mean) ** 2))


def judge(case: Case) -> Verdict:
    """Allocate *case* and compare with the exact optimum of its objective."""
    result = allocate(case)
    table = oa.as_table(case.accounts)
    bounds = trade_bounds(case.order, table)
    if case.engine in ("pro_rata", "custom_weights"):
        # Accounts with zero weight take nothing: their legal set is {0}.
        if case.engine == "custom_weights":
            w = np.array([case.params["weights"][i] for i in table.ids])
            bounds = bounds.restrict(w > 0)
            w = w / w.sum()
        else:
            w = table.nav / table.nav.sum()
        a = np.where(w > 0, 1.0 / np.where(w > 0, w, 1.0), 0.0)
        found = dp_optimum(bounds, case.order.quantity, a, result.ideal)
        if found is None:
            found = milp_optimum(bounds, case.order.quantity, a, result.ideal, hint=result.quantity)
        best, optimum = found
    elif case.engine == "min_dispersion":
        sec = case.order.security
        s = case.order.side.sign * sec.cash_per_face * sec.analytics["sd"] / table.nav
        w = table.nav / table.nav.sum()
        m = table.metrics["sd"]
        # With NAV weights the mean after the trade depends only on the total.
        shift = float((w * s)[0])
        a = w * s * s

        def centre(total: float) -> np.ndarray:
            return np.asarray((float(np.sum(w * m)) + shift * total - m) / s)

        found = dp_optimum(bounds, case.order.quantity, a, centre)
        if found is None:
            found = milp_optimum(bounds, case.order.quantity, a, centre, hint=result.quantity)
        best, optimum = found
    else:
        sec = case.order.security
        s = case.order.side.sign * sec.cash_per_face * sec.analytics["sd"] / table.nav
        found = None
        if len(table) <= 4:
            found = brute_force(bounds, case.order.quantity, lambda q: objective(case, result, q))
        if found is None:
            found = moving_mean_optimum(
                bounds, case.order.quantity, table.metrics["sd"], s, np.ones(len(table))
            )
        assert found is not None
        best, optimum = found
    return Verdict(
        placed=result.allocated,
        best_total=best,
        value=objective(case, result, result.quantity),
        optimum=optimum,
        reported_gap=result.rounding_gap,
    )
