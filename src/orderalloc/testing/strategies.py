"""Hypothesis strategies for securities, accounts, groups and orders.

Defaults are realistic: NAVs log-uniform from $5MM to $2BN, min pieces from
1,000 to 200,000, prices from 60 to 130, some amortising bonds, metrics around
typical durations. Every bound is a keyword argument, so campaigns can aim at
the hard corners (large pieces in small accounts, little cash, sells with
odd positions)::

    from hypothesis import given
    from orderalloc.testing import strategies as oast

    @given(oast.allocation_cases(max_accounts=40, side="SELL"))
    def test_my_policy(case):
        order, accounts = case
        ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import MissingExtraError

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingExtraError("orderalloc.testing.strategies", "hypothesis", "testing") from exc

from .._model import Account, AccountLimits, AccountTable, Order, Security, Side

__all__ = [
    "accounts",
    "allocation_cases",
    "groups",
    "orders",
    "random_table",
    "securities",
]

MIN_PIECES: tuple[float, ...] = (1_000.0, 2_000.0, 5_000.0, 25_000.0, 100_000.0, 200_000.0)
METRICS: tuple[str, ...] = ("spread_duration", "duration", "oas")


@st.composite
def securities(
    draw: st.DrawFn,
    /,
    *,
    min_pieces: Sequence[float] = MIN_PIECES,
    increments: Sequence[float] = (1_000.0, 5_000.0),
    min_price: float = 60.0,
    max_price: float = 130.0,
    amortising: bool = True,
    security_id: str = "BOND",
) -> Security:
    """A bond with a legal denomination scheme and analytics for `METRICS`."""
    min_piece = draw(st.sampled_from(list(min_pieces)))
    increment = draw(st.sampled_from([x for x in increments if x <= min_piece] or [min_piece]))
    factor = draw(st.sampled_from([1.0, 1.0, 1.0, 0.85, 0.4])) if amortising else 1.0
    price = draw(st.floats(min_price, max_price, allow_nan=False))
    return Security(
        id=security_id,
        price=round(price, 4),
        min_piece=min_piece,
        increment=increment,
        accrued=round(draw(st.floats(0.0, 3.0)), 4),
        factor=factor,
        analytics={
            "spread_duration": draw(st.floats(0.1, 15.0)),
            "duration": draw(st.floats(0.1, 20.0)),
            "oas": draw(st.floats(-20.0, 800.0)),
        },
    )


def _log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(math.log(lo), math.log(hi)).map(lambda x: round(math.exp(x), 2))


@st.composite
def accounts(
    draw: st.DrawFn,
    /,
    *,
    account_id: str = "ACC0001",
    security_id: str = "BOND",
    min_nav: float = 5e6,
    max_nav: float = 2e9,
    cash_fraction: tuple[float, float] = (0.0, 0.2),
    holdings: bool = True,
    restricted_probability: float = 0.1,
    limits: bool = True,
    unknown_cash: bool = True,
) -> Account:
    """One account: log-uniform NAV, some cash, maybe a position, maybe restricted."""
    nav = draw(_log_uniform(min_nav, max_nav))
    cash: float | None = round(nav * draw(st.floats(*cash_fraction)), 2)
    if unknown_cash and draw(st.integers(0, 19)) == 0:
        cash = None
    held = {}
    if holdings and draw(st.booleans()):
        held[security_id] = float(
            draw(st.sampled_from([0, 1, 2, 3, 5, 10, 50, 250, 1000])) * 1000
            + draw(st.sampled_from([0, 0, 0, 500]))
        )
    restricted = (
        frozenset({security_id}) if draw(st.floats(0, 1)) < restricted_probability else frozenset()
    )
    lim = None
    if limits and draw(st.integers(0, 4)) == 0:
        lim = AccountLimits(
            max_face=draw(st.one_of(st.none(), st.sampled_from([0.0, 5e3, 1e5, 1e6]))),
            max_pct_nav=draw(st.one_of(st.none(), st.sampled_from([0.001, 0.01, 0.05]))),
            min_allocation=draw(st.one_of(st.none(), st.sampled_from([2e3, 1e4, 5e4]))),
        )
    return Account(
        id=account_id,
        nav=nav,
        cash=cash,
        holdings=held,
        metrics={
            "spread_duration": draw(st.floats(0.5, 9.0)),
            "duration": draw(st.floats(0.5, 12.0)),
            "oas": draw(st.floats(20.0, 600.0)),
        },
        restricted=restricted,
        limits=lim,
    )


@st.composite
def groups(
    draw: st.DrawFn,
    /,
    *,
    min_accounts: int = 1,
    max_accounts: int = 20,
    security_id: str = "BOND",
    **account_options: object,
) -> list[Account]:
    """A portfolio group: distinct ids, accounts drawn by `accounts`."""
    n = draw(st.integers(min_accounts, max_accounts))
    return [
        draw(accounts(account_id=f"ACC{i:04d}", security_id=security_id, **account_options))  # type: ignore[arg-type]
        for i in range(n)
    ]


@st.composite
def orders(
    draw: st.DrawFn,
    security: Security,
    /,
    *,
    side: Side | str | None = None,
    max_quantity: float = 50e6,
) -> Order:
    """An order for *security*, usually a legal size, sometimes an awkward one."""
    chosen = Side(side) if isinstance(side, str) else side
    if chosen is None:
        chosen = draw(st.sampled_from([Side.BUY, Side.SELL]))
    m, d = security.min_piece, security.increment
    steps = int(max(0, (max_quantity - m) // d))
    legal = m + draw(st.integers(0, min(steps, 50_000))) * d
    quantity = draw(
        st.one_of(
            st.just(legal),
            st.just(legal),
            st.integers(1, int(max_quantity)).map(float),
        )
    )
    return Order(security=security, side=chosen, quantity=max(quantity, 1.0))


@st.composite
def allocation_cases(
    draw: st.DrawFn,
    /,
    *,
    min_accounts: int = 1,
    max_accounts: int = 20,
    side: Side | str | None = None,
    max_quantity: float = 50e6,
    columns: bool = False,
    **account_options: object,
) -> tuple[Order, list[Account] | AccountTable]:
    """An order and a group to allocate it over (as objects, or columns if *columns*)."""
    security = draw(securities())
    order = draw(orders(security, side=side, max_quantity=max_quantity))
    group = draw(
        groups(
            min_accounts=min_accounts,
            max_accounts=max_accounts,
            security_id=security.id,
            **account_options,
        )
    )
    if columns:
        return order, AccountTable.from_accounts(group)
    return order, group


def random_table(
    n: int,
    *,
    security: Security,
    seed: int = 0,
    cash_fraction: float = 0.05,
    holding_probability: float = 0.3,
) -> AccountTable:
    """A large realistic group as columns, drawn with numpy (for benchmarks at SMA scale)."""
    rng = np.random.default_rng(seed)
    nav = np.exp(rng.uniform(math.log(5e6), math.log(2e9), n))
    held = np.where(rng.random(n) < holding_probability, np.round(nav * 0.002 / 1000) * 1000, 0.0)
    sd = rng.normal(5.0, 1.0, n)
    return AccountTable(
        ids=[f"SMA{i:06d}" for i in range(n)],
        nav=nav,
        cash=nav * rng.uniform(0, 2 * cash_fraction, n),
        holdings={security.id: held},
        metrics={
            "spread_duration": sd,
            "active_spread_duration": sd - 5.0,
            "duration": rng.normal(6.0, 1.2, n),
        },
        restricted={security.id: rng.random(n) < 0.02},
    )
