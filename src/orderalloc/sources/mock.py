"""`MockAladdin`: a deterministic, in-memory `DataSource` that looks like an Aladdin shop.

No network, no files: everything is generated from a seed with numpy, group
by group on first use (each group from its own seeded stream, so the data do
not depend on the order of calls).

Groups (`MockAladdin.groups`):

============= ========= ===========================================================
``BIG6``       6         insurance general accounts, $5MM-$2BN NAV, benchmark ``BM-AGG``
``DP-LB-USD``  23        defined-benefit long-bond mandates, benchmark ``BM-USLC``
``OPNIC``      37        two nested sub-groups ``OPNIC-LIFE`` (20) and ``OPNIC-PC`` (17),
                         benchmark ``BM-INTC``
``PUBLICPRE``  14        public pension reserves, benchmark ``BM-AGG``
``SMA-10K``    10,000    separately managed accounts ($250k-$10MM), no benchmark
============= ========= ===========================================================

plus any ``extra_groups={"SMA-500": 500}`` (SMA-like, no benchmark).

The universe holds 128 bonds: Treasuries, agencies, IG and HY corporates,
munis (5,000 minimum piece), 144A bonds (200,000 minimum piece) and
amortising agency MBS (factor below 1). One well-known id per asset class
(`WELL_KNOWN`), stable across versions for a given seed's universe:

=========== ============== ===============================================
``TSY``     ``91282CJL6``  US Treasury 4.5% 2033
``AGENCY``  ``3135G06G3``  Fannie Mae 0.5% 2025 (agency debenture)
``IG``      ``037833DX5``  Apple 2.2% 2029
``HY``      ``345370CR9``  Ford Motor 4.346% 2026
``MUNI``    ``64971XQM3``  New York City GO 5% 2036 (5,000 minimum piece)
``144A``    ``88167AAN1``  Teva 144A 3.15% 2026 (200,000 minimum piece)
``MBS``     ``3140X7G59``  Fannie Mae pool 3.5% 2050 (amortising, factor < 1)
=========== ============== ===============================================

Scenarios (``MockAladdin(scenario=...)``):

* ``"default"``: 1%-5% cash, 2% of (account, bond) pairs restricted, 144A
  bonds restricted for accounts under $25MM;
* ``"high_dispersion"``: account durations spread from 1 to 16 years;
* ``"cash_constrained"``: 60% of accounts hold 0%-0.2% cash;
* ``"restricted_accounts"``: 25% of (account, bond) pairs restricted;
* ``"sell_down"``: every account holds every well-known bond (1%-3% of NAV);
* ``"compliance_violation"``: `what_if` reports an issuer-concentration
  violation for every third account of a ticket.

Orders posted are kept in memory: `find_order` by external id, `get_order`,
`modify_order` and `cancel_order` work as on Aladdin; an order with a
blocking violation is posted in status ``COMPL_PENDING``.

Executions and trades (the `~orderalloc.sources.protocol.TradeSource`
capability): `MockAladdin.execute` records one fill, `simulate_fills` works an
order for a day (partial fills at several prices) and `allot_new_issue` gives
a new issue's allotment (5%-20% of the order), all seeded and deterministic;
`book_trade`, `find_trade` and `cancel_trade` keep block trades.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import threading
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np

from orderalloc.errors import DataSourceError, NotFoundError
from orderalloc.model import AccountTable, Security, Side
from orderalloc.sources.orders import (
    ComplianceViolation,
    OrderStatus,
    OrderTicket,
    PostedOrder,
    WhatIfReport,
)
from orderalloc.sources.trades import BookedTrade, Execution, TradeLine, TradeStatus, TradeTicket
from orderalloc.typing import BoolArray, FloatArray

__all__ = [
    "SCENARIOS",
    "WELL_KNOWN",
    "AsyncMockAladdin",
    "Bond",
    "GroupData",
    "MockAladdin",
    "OrderRejectedError",
]

SCENARIOS = (
    "default",
    "high_dispersion",
    "cash_constrained",
    "restricted_accounts",
    "sell_down",
    "compliance_violation",
)

#: One security id per asset class, for examples, the README and tests.
WELL_KNOWN: Mapping[str, str] = {
    "TSY": "91282CJL6",
    "AGENCY": "3135G06G3",
    "IG": "037833DX5",
    "HY": "345370CR9",
    "MUNI": "64971XQM3",
    "144A": "88167AAN1",
    "MBS": "3140X7G59",
}

#: The portfolio group whose members are the top-level groups.
ROOT_GROUP = "OA-ROOT"
#: A model portfolio holding 1,000,000 face of every bond: it prices the universe.
PRICING_PORTFOLIO = "OA-UNIVERSE"


class OrderRejectedError(DataSourceError):
    """Raised by `MockAladdin` order operations the order system refuses.

    Attributes:
        code: The ``google.rpc.Code`` Aladdin would answer (3 INVALID_ARGUMENT,
            6 ALREADY_EXISTS, 9 FAILED_PRECONDITION).
    """

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


# --- the universe -----------------------------------------------------------------------------


@attrs.frozen
class Bond:
    """A bond of the mock universe: the `Security` plus its static data."""

    security: Security
    coupon: float
    maturity: str
    issuer: str

    @property
    def id(self) -> str:
        """The CUSIP."""
        return self.security.id


def _cusip_check(base: str) -> str:
    total = 0
    for i, ch in enumerate(base):
        v = int(ch) if ch.isdigit() else ord(ch) - 55
        if i % 2:
            v *= 2
        total += v // 10 + v % 10
    return base + str((10 - total % 10) % 10)


# (class, count, issuers (ticker, cusip prefix, name)), generated after the well-known bond.
_ISSUERS: dict[str, list[tuple[str, str, str]]] = {
    "TSY": [("T", "91282C", "US Treasury")],
    "AGENCY": [
        ("FNMA", "3135G0", "Fannie Mae"),
        ("FHLMC", "3137EA", "Freddie Mac"),
        ("FHLB", "3130AT", "FHLB"),
    ],
    "IG": [
        ("AAPL", "037833", "Apple"),
        ("MSFT", "594918", "Microsoft"),
        ("JPM", "46647P", "JPMorgan Chase"),
        ("BAC", "06051G", "Bank of America"),
        ("VZ", "92343V", "Verizon"),
        ("CMCSA", "20030N", "Comcast"),
        ("PFE", "717081", "Pfizer"),
        ("WMT", "931142", "Walmart"),
        ("XOM", "30231G", "Exxon Mobil"),
        ("UNH", "91324P", "UnitedHealth"),
    ],
    "HY": [
        ("F", "345370", "Ford Motor"),
        ("CCL", "143658", "Carnival"),
        ("UAL", "910047", "United Airlines"),
        ("NCLH", "62886H", "Norwegian Cruise"),
        ("CHTR", "161175", "Charter"),
        ("THC", "88033G", "Tenet"),
        ("OXY", "674599", "Occidental"),
    ],
    "MUNI": [
        ("NYC", "64971X", "New York City GO"),
        ("CAS", "13063D", "State of California GO"),
        ("TXS", "882723", "State of Texas GO"),
        ("CHI", "167486", "City of Chicago GO"),
    ],
    "144A": [
        ("TEVA", "88167A", "Teva 144A"),
        ("VST", "92840V", "Vistra 144A"),
        ("SIRI", "82967N", "Sirius XM 144A"),
    ],
    "MBS": [("FNCL", "3140X7", "Fannie Mae pool"), ("FGLMC", "3132DW", "Freddie Mac pool")],
}
_COUNTS = {"TSY": 20, "AGENCY": 10, "IG": 40, "HY": 25, "MUNI": 15, "144A": 10, "MBS": 8}
# (min piece, increment, OAS range, price range)
_TERMS = {
    "TSY": (1_000, 1_000, (0, 0), (94, 102)),
    "AGENCY": (1_000, 1_000, (10, 40), (92, 101)),
    "IG": (2_000, 1_000, (60, 180), (88, 106)),
    "HY": (2_000, 1_000, (250, 600), (78, 104)),
    "MUNI": (5_000, 5_000, (15, 80), (98, 112)),
    "144A": (200_000, 1_000, (120, 450), (85, 103)),
    "MBS": (1_000, 1_000, (30, 80), (88, 100)),
}
_WELL_KNOWN_TERMS = {  # coupon, maturity year
    "TSY": (4.5, 2033),
    "AGENCY": (0.5, 2025),
    "IG": (2.2, 2029),
    "HY": (4.346, 2026),
    "MUNI": (5.0, 2036),
    "144A": (3.15, 2026),
    "MBS": (3.5, 2050),
}


def _universe(seed: int) -> tuple[Bond, ...]:
    rng = np.random.default_rng([seed, 7])
    bonds: list[Bond] = []
    used: set[str] = set()
    for cls, count in _COUNTS.items():
        issuers = _ISSUERS[cls]
        min_piece, increment, (oas_lo, oas_hi), (p_lo, p_hi) = _TERMS[cls]
        for k in range(count):
            if k == 0:
                cusip = WELL_KNOWN[cls]
                ticker, _, issuer = issuers[0]
                coupon, year = _WELL_KNOWN_TERMS[cls]
            else:
                ticker, prefix, issuer = issuers[k % len(issuers)]
                while True:
                    issue = "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"), 2))
                    cusip = _cusip_check(prefix + issue)
                    if cusip not in used and cusip not in WELL_KNOWN.values():
                        break
                coupon = (
                    round(float(rng.uniform(0.5, 7.5 if cls in ("HY", "144A") else 5.5)) * 8) / 8
                )
                year = 2026 + int(rng.integers(0, 30 if cls in ("TSY", "MUNI", "MBS") else 20))
            used.add(cusip)
            years = max(0.5, year - 2025 + 0.5)
            oad = round(
                min(years * 0.85, 6.5 if cls == "MBS" else 19.0) * float(rng.uniform(0.9, 1.0)), 4
            )
            oas = round(float(rng.uniform(oas_lo, oas_hi)), 2)
            spread_dur = 0.0 if cls == "TSY" else round(oad * float(rng.uniform(0.9, 1.0)), 4)
            price = round(float(rng.uniform(p_lo, p_hi)), 4)
            accrued = round(float(rng.uniform(0, coupon / 2)), 4)
            factor = round(float(rng.uniform(0.35, 0.95)), 6) if cls == "MBS" else 1.0
            ytw = round(4.1 + 0.02 * years + oas / 100.0, 4)
            analytics = {
                "spread_duration": spread_dur,
                "duration": oad,
                "modified_duration": round(oad * 1.02, 4),
                "oas": oas,
                "convexity": round(oad * oad / 100.0 * (-0.5 if cls == "MBS" else 1.0), 4),
                "ytw": ytw,
                "z_spread": round(oas + 4.0, 2),
            }
            name = f"{issuer} {coupon:g}% {year}"
            security = Security(
                id=cusip,
                price=price,
                min_piece=min_piece,
                increment=increment,
                accrued=accrued,
                factor=factor,
                analytics=analytics,
                name=name,
                ticker=ticker,
                asset_class=cls,
            )
            bonds.append(Bond(security, coupon, f"{year}-{(k % 12) + 1:02d}-15", issuer))
    return tuple(bonds)


# --- groups -------------------------------------------------------------------------------------


@attrs.frozen
class _GroupSpec:
    size: int
    nav_range: tuple[float, float]
    target_duration: float
    names: tuple[str, ...]
    benchmark: str | None
    subgroups: tuple[tuple[str, int], ...] = ()
    prefix: str = ""


_SPECS: dict[str, _GroupSpec] = {
    "BIG6": _GroupSpec(
        6,
        (5e6, 2e9),
        6.0,
        (
            "Big Six Life General Account",
            "Big Six P&C Core",
            "Big Six Annuity Reserve",
            "Big Six Health Float",
            "Big Six Reinsurance",
            "Big Six Surplus",
        ),
        "BM-AGG",
        prefix="BIG6",
    ),
    "DP-LB-USD": _GroupSpec(23, (5e6, 2e9), 12.0, ("DB Plan Long Bond",), "BM-USLC", prefix="DPLB"),
    "OPNIC": _GroupSpec(
        37,
        (5e6, 2e9),
        5.0,
        ("OPNIC Insurance",),
        "BM-INTC",
        subgroups=(("OPNIC-LIFE", 20), ("OPNIC-PC", 17)),
        prefix="OPN",
    ),
    "PUBLICPRE": _GroupSpec(
        14, (5e6, 2e9), 6.5, ("Public Pension Reserve",), "BM-AGG", prefix="PPR"
    ),
    "SMA-10K": _GroupSpec(10_000, (2.5e5, 1e7), 5.0, ("SMA Client",), None, prefix="SMA"),
}

#: Benchmark portfolios: ticker -> the asset classes they hold.
_BENCHMARKS = {
    "BM-AGG": ("TSY", "AGENCY", "IG", "MBS"),
    "BM-USLC": ("IG",),
    "BM-INTC": ("IG", "AGENCY"),
}


@attrs.frozen(eq=False)
class GroupData:
    """One group's accounts as columns (rows are accounts, columns of the matrices are bonds).

    Attributes:
        name: The group ticker.
        code: Its Aladdin-style portfolio code.
        ids: Account tickers.
        codes: Account portfolio codes (int32 range).
        names: Account full names.
        nav: Intraday NAV.
        sod_nav: Start-of-day NAV.
        cash: Cash available (the lowest projected balance).
        ladder: Projected cash balances, shape (n_accounts, 3), settle T, T+1, T+2.
        holdings: Original face, shape (n_accounts, n_bonds).
        restricted: Restrictions, shape (n_accounts, n_bonds).
        subgroups: Nested sub-group ticker -> (code, row indices).
        benchmark: The benchmark portfolio ticker, or None.
    """

    name: str
    code: int
    ids: tuple[str, ...]
    codes: tuple[int, ...]
    names: tuple[str, ...]
    nav: FloatArray
    sod_nav: FloatArray
    cash: FloatArray
    ladder: FloatArray
    holdings: FloatArray
    restricted: BoolArray
    subgroups: Mapping[str, tuple[int, np.ndarray]]
    benchmark: str | None


@attrs.define
class _Order:
    order_id: str
    ticket: OrderTicket
    status: str
    version: int


class MockAladdin:
    """A deterministic Aladdin look-alike in memory: a `~orderalloc.sources.DataSource`.

    Args:
        scenario: One of `SCENARIOS` (see the module docstring).
        seed: The seed of every random draw.
        extra_groups: More SMA-like groups, name -> number of accounts.
        orders_path: A JSON file that holds the order book, so that
            separate processes (the ``orderalloc`` command run twice) see
            the same orders; None keeps orders in memory only.

    Raises:
        ValueError: Unknown scenario or a bad extra group.
    """

    root_group = ROOT_GROUP
    pricing_portfolio = PRICING_PORTFOLIO

    def __init__(
        self,
        scenario: str = "default",
        *,
        seed: int = 20240611,
        extra_groups: Mapping[str, int] | None = None,
        orders_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario={scenario!r}: must be one of {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.seed = seed
        self._specs = dict(_SPECS)
        for name, size in (extra_groups or {}).items():
            if name in self._specs or size < 1:
                raise ValueError(f"extra_groups[{name!r}]={size!r}: a new name and a size >= 1")
            self._specs[name] = _GroupSpec(
                int(size), (2.5e5, 1e7), 5.0, ("SMA Client",), None, prefix=name.replace("-", "")
            )
        self.bonds = _universe(seed)
        self._index = {b.id: j for j, b in enumerate(self.bonds)}
        self._by_ticker: dict[str, list[int]] = {}
        for j, b in enumerate(self.bonds):
            self._by_ticker.setdefault((b.security.ticker or "").upper(), []).append(j)
        self._groups: dict[str, GroupData] = {}
        self._orders: dict[str, _Order] = {}
        self._order_numbers = itertools.count(70_000_001)
        self._lock = threading.RLock()
        self._bench: dict[str, FloatArray] = {}
        self._orders_path = None if orders_path is None else Path(orders_path)
        self._load_orders()
        # Executions by order and booked trades, sharing one invnum sequence.
        self._executions: dict[str, list[Execution]] = {}
        self._trades: dict[str, BookedTrade] = {}
        self._invnums = itertools.count(9_000_001)
        self._load_trades()

    # --- the order book on disk (optional), so separate processes share it ----------

    def _load_orders(self) -> None:
        if self._orders_path is None or not self._orders_path.exists():
            return
        from orderalloc.serialization import converter

        rows = json.loads(self._orders_path.read_text())
        for row in rows:
            ticket = converter.structure(row["ticket"], OrderTicket)
            self._orders[row["order_id"]] = _Order(
                row["order_id"], ticket, row["status"], row["version"]
            )
        if self._orders:
            last = max(int(k) for k in self._orders)
            self._order_numbers = itertools.count(last + 1)

    def _save_orders(self) -> None:
        if self._orders_path is None:
            return
        from orderalloc.serialization import converter

        rows = [
            {
                "order_id": o.order_id,
                "ticket": converter.unstructure(o.ticket),
                "status": o.status,
                "version": o.version,
            }
            for o in self._orders.values()
        ]
        self._orders_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._orders_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows))
        os.replace(tmp, self._orders_path)  # atomic: a reader sees the old or the new book

    def __repr__(self) -> str:
        return f"MockAladdin(scenario={self.scenario!r}, seed={self.seed})"

    @property
    def description(self) -> str:
        """A one-line description of the source."""
        return f"MockAladdin (scenario {self.scenario!r}, seed {self.seed}; no network)"

    @property
    def benchmarks(self) -> dict[str, str]:
        """Group -> benchmark portfolio ticker (for ``AladdinConfig.benchmarks``)."""
        return {g: s.benchmark for g, s in self._specs.items() if s.benchmark is not None}

    # --- data ------------------------------------------------------------------------------

    def bond(self, security_id: str) -> Bond:
        """The universe entry of *security_id*.

        Raises:
            NotFoundError: Not in the universe.
        """
        j = self._index.get(security_id)
        if j is None:
            raise NotFoundError(f"security {security_id!r} is not in the mock universe")
        return self.bonds[j]

    def top_group(self, group: str) -> tuple[GroupData, np.ndarray]:
        """The data of *group* (a top-level group or a nested sub-group) and its rows.

        Raises:
            NotFoundError: No such group.
        """
        if group in self._specs:
            data = self.group_data(group)
            return data, np.arange(len(data.ids))
        for name, spec in self._specs.items():
            if any(sub == group for sub, _ in spec.subgroups):
                data = self.group_data(name)
                return data, data.subgroups[group][1]
        raise NotFoundError(f"group {group!r} does not exist; groups: {', '.join(self.groups())}")

    def group_data(self, group: str) -> GroupData:
        """The columns of top-level *group*, built on first use.

        Raises:
            NotFoundError: No such top-level group.
        """
        with self._lock:
            data = self._groups.get(group)
            if data is None:
                spec = self._specs.get(group)
                if spec is None:
                    raise NotFoundError(
                        f"group {group!r} does not exist; groups: {', '.join(self.groups())}"
                    )
                data = self._build(group, spec)
                self._groups[group] = data
            return data

    def all_groups(self) -> list[GroupData]:
        """Every top-level group's data (builds them all)."""
        return [self.group_data(g) for g in sorted(self._specs)]

    def _mv_per_face(self) -> FloatArray:
        return np.array([b.security.cash_per_face for b in self.bonds])

    def _analytic(self, name: str) -> FloatArray:
        return np.array([b.security.analytics[name] for b in self.bonds])

    def _build(self, name: str, spec: _GroupSpec) -> GroupData:
        rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        n, n_bonds = spec.size, len(self.bonds)
        lo, hi = spec.nav_range
        nav = np.exp(rng.normal(math.log(math.sqrt(lo * hi)), math.log(hi / lo) / 5.0, n))
        nav = np.round(np.clip(nav, lo, hi), 2)
        # Each account targets a duration; it holds bonds near it, which makes the
        # accounts' metrics differ (dispersion is what min-dispersion engines fix).
        spread = 7.5 if self.scenario == "high_dispersion" else 1.5
        target = np.clip(spec.target_duration + rng.uniform(-spread, spread, n), 0.5, 17.0)
        oad = self._analytic("duration")
        classes = np.array([b.security.asset_class for b in self.bonds])
        sma = spec.size > 1000 or name not in _SPECS
        class_weight = np.where(classes == "MUNI", 3.0 if sma else 0.3, 1.0)
        class_weight = class_weight * np.where(classes == "144A", 0.2 if sma else 1.0, 1.0)
        logp = (
            -((oad[None, :] - target[:, None]) ** 2) / (2 * 2.5**2) + np.log(class_weight)[None, :]
        )
        keys = logp + rng.gumbel(size=(n, n_bonds))
        k_max = 20
        top = np.argpartition(-keys, k_max, axis=1)[:, :k_max]
        k = rng.integers(8, k_max + 1, n)
        keep = np.arange(k_max)[None, :] < k[:, None]
        weights = rng.gamma(1.0, 1.0, (n, k_max)) * keep
        weights /= weights.sum(axis=1, keepdims=True)
        if self.scenario == "cash_constrained":
            cash_frac = np.where(
                rng.random(n) < 0.6, rng.uniform(0.0, 0.002, n), rng.uniform(0.01, 0.05, n)
            )
        else:
            cash_frac = rng.uniform(0.01, 0.05, n)
        mv_per_face = self._mv_per_face()
        min_piece = np.array([b.security.min_piece for b in self.bonds])
        increment = np.array([b.security.increment for b in self.bonds])
        holdings = np.zeros((n, n_bonds))
        # The well-known bonds are held by 40% of accounts (all of them in "sell_down"),
        # so that sells of them have something to take from.
        for sec in WELL_KNOWN.values():
            j = self._index[sec]
            if self.scenario == "sell_down":
                holders, share = np.ones(n, dtype=bool), rng.uniform(0.01, 0.03, n)
            else:
                holders, share = rng.random(n) < 0.4, rng.uniform(0.002, 0.006, n)
            amount = np.floor(nav * share / mv_per_face[j] / increment[j]) * increment[j]
            holdings[:, j] = np.where(holders & (amount >= min_piece[j]), amount, 0.0)
        invested = np.maximum(nav * (1.0 - cash_frac) - holdings @ mv_per_face, 0.0)
        rows = np.repeat(np.arange(n), k_max)
        cols = top.ravel()
        face = (weights * invested[:, None]).ravel() / mv_per_face[cols]
        face = np.floor(face / increment[cols]) * increment[cols]
        face[face < min_piece[cols]] = 0.0
        # Each (row, column) pair appears once: argpartition picks distinct columns per row.
        holdings[rows, cols] += face
        # Cash is what is not invested; the ladder projects it over three settle dates.
        # (what rounding to tradable pieces leaves over is other assets, not cash).
        cash = np.round(np.minimum(nav - holdings @ mv_per_face, nav * cash_frac), 2)
        cash = np.maximum(cash, 0.0)
        bumps = np.round(nav[:, None] * rng.uniform(0.0, 0.01, (n, 2)), 2)
        ladder = np.column_stack([cash + bumps[:, 0], cash, cash + bumps[:, 1]])
        sod_nav = np.round(nav * (1.0 - rng.uniform(0.0, 0.002, n)), 2)
        p_restrict = 0.25 if self.scenario == "restricted_accounts" else 0.02
        restricted = rng.random((n, n_bonds)) < p_restrict
        restricted |= (nav < 25e6)[:, None] & (classes == "144A")[None, :]
        group_index = sorted(self._specs).index(name) if name in self._specs else 0
        base = 100_000 + group_index * 20_000
        ids = tuple(f"{spec.prefix}-{i + 1:0{max(2, len(str(n)))}d}" for i in range(n))
        codes = tuple(base + i + 1 for i in range(n))
        if len(spec.names) == n:
            names = spec.names
        else:
            names = tuple(f"{spec.names[0]} {i + 1}" for i in range(n))
        subgroups: dict[str, tuple[int, np.ndarray]] = {}
        start = 0
        for s, (sub, size) in enumerate(spec.subgroups):
            subgroups[sub] = (base + 19_000 + s, np.arange(start, start + size))
            start += size
        return GroupData(
            name=name,
            code=base,
            ids=ids,
            codes=codes,
            names=names,
            nav=nav,
            sod_nav=sod_nav,
            cash=cash,
            ladder=ladder,
            holdings=holdings,
            restricted=restricted,
            subgroups=subgroups,
            benchmark=spec.benchmark,
        )

    def benchmark_holdings(self, benchmark: str) -> FloatArray:
        """Original face per bond of benchmark portfolio *benchmark*.

        Raises:
            NotFoundError: No such benchmark.
        """
        with self._lock:
            if benchmark not in _BENCHMARKS:
                raise NotFoundError(f"benchmark {benchmark!r} does not exist")
            face = self._bench.get(benchmark)
            if face is None:
                rng = np.random.default_rng([self.seed, zlib.crc32(benchmark.encode())])
                classes = np.array([b.security.asset_class for b in self.bonds])
                eligible = np.isin(classes, _BENCHMARKS[benchmark])
                face = np.where(
                    eligible & (rng.random(len(self.bonds)) < 0.6),
                    1e6 * rng.integers(1, 50, len(self.bonds)),
                    0.0,
                )
                self._bench[benchmark] = face
            return face

    def benchmark_nav(self, benchmark: str) -> float:
        """Market value of benchmark portfolio *benchmark* (it is fully invested)."""
        return float(self.benchmark_holdings(benchmark) @ self._mv_per_face())

    def benchmark_spread_duration(self, benchmark: str) -> float:
        """The benchmark's spread duration (MV-weighted)."""
        mv = self.benchmark_holdings(benchmark) * self._mv_per_face()
        return math.fsum(mv * self._analytic("spread_duration")) / self.benchmark_nav(benchmark)

    # --- the Protocol ----------------------------------------------------------------------

    def groups(self) -> tuple[str, ...]:
        """See `DataSource.groups`."""
        return tuple(sorted(self._specs))

    def accounts(self, group: str, security_id: str) -> AccountTable:
        """See `DataSource.accounts` (also accepts the nested sub-groups of ``OPNIC``)."""
        j = self._index.get(security_id)
        if j is None:
            raise NotFoundError(f"security {security_id!r} is not in the mock universe")
        data, rows = self.top_group(group)
        mv = data.holdings[rows] * self._mv_per_face()[None, :]
        nav = data.nav[rows]
        metrics = {
            "spread_duration": mv @ self._analytic("spread_duration") / nav,
            "duration": mv @ self._analytic("duration") / nav,
            "oas": mv @ self._analytic("oas") / nav,
        }
        if data.benchmark is not None:
            metrics["active_spread_duration"] = metrics[
                "spread_duration"
            ] - self.benchmark_spread_duration(data.benchmark)
        ids: tuple[str, ...] = tuple(data.ids[i] for i in rows)
        return AccountTable(
            ids=ids,
            nav=nav,
            cash=data.cash[rows],
            holdings={security_id: data.holdings[rows, j]},
            metrics=metrics,
            restricted={security_id: data.restricted[rows, j]},
            names=tuple(data.names[i] for i in rows),
        )

    def security(self, security_id: str) -> Security:
        """See `DataSource.security`."""
        return self.bond(security_id).security

    def search_securities(self, query: str, *, limit: int = 20) -> tuple[Security, ...]:
        """See `DataSource.search_securities`."""
        needle = query.strip().upper()
        if not needle or limit <= 0:
            return ()
        found = [
            b.security
            for b in self.bonds
            if b.id.upper().startswith(needle) or (b.security.ticker or "").upper() == needle
        ]
        return tuple(sorted(found, key=lambda s: s.id)[:limit])

    # --- orders ----------------------------------------------------------------------------

    def _locate(self, account_id: str) -> tuple[GroupData, int] | None:
        with self._lock:
            index = self.__dict__.get("_account_rows")
            if index is None:
                index = {}
                for data in self.all_groups():
                    for i, ident in enumerate(data.ids):
                        index[ident] = (data, i)
                self.__dict__["_account_rows"] = index
            found: tuple[GroupData, int] | None = index.get(account_id)
            return found

    def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        """See `DataSource.what_if`.

        Rules: unknown portfolio, restricted bond, selling more than held (all
        blocking), buying more than the cash (a warning), and in the
        ``compliance_violation`` scenario an issuer-concentration breach for
        every third line.
        """
        bond = self.bond(ticket.security_id)
        j = self._index[bond.id]
        out: list[ComplianceViolation] = []
        for n, line in enumerate(ticket.lines):
            where = self._locate(line.account_id)
            if where is None:
                out.append(
                    ComplianceViolation(
                        account_id=line.account_id,
                        rule="UNKNOWN_PORTFOLIO",
                        message=f"no portfolio {line.account_id!r}",
                        severity="RESTRICTION",
                    )
                )
                continue
            data, i = where
            if ticket.side is Side.BUY and data.restricted[i, j]:
                out.append(
                    ComplianceViolation(
                        account_id=line.account_id,
                        rule="RESTRICTED_ASSET",
                        message=f"{bond.id} is restricted for {line.account_id}",
                        severity="RESTRICTION",
                    )
                )
            if ticket.side is Side.SELL and line.quantity > data.holdings[i, j]:
                out.append(
                    ComplianceViolation(
                        account_id=line.account_id,
                        rule="NO_SHORT_SALES",
                        message=f"sells {line.quantity:,.0f} but holds {data.holdings[i, j]:,.0f}",
                        severity="RESTRICTION",
                    )
                )
            if ticket.side is Side.BUY and bond.security.market_value(line.quantity) > data.cash[i]:
                out.append(
                    ComplianceViolation(
                        account_id=line.account_id,
                        rule="CASH_OVERDRAFT",
                        message=f"costs more than the {data.cash[i]:,.2f} cash available",
                        severity="WARNING",
                    )
                )
            if self.scenario == "compliance_violation" and n % 3 == 0:
                out.append(
                    ComplianceViolation(
                        account_id=line.account_id,
                        rule="ISSUER_CONC_3PCT",
                        message=f"{bond.security.ticker} above 3% of NAV after the trade",
                        severity="RESTRICTION",
                    )
                )
        return WhatIfReport(tuple(out))

    def _posted(self, order: _Order) -> PostedOrder:
        t = order.ticket
        return PostedOrder(
            order_id=order.order_id,
            external_id=t.external_id,
            security_id=t.security_id,
            side=t.side,
            quantity=t.quantity,
            lines=t.lines,
            status=order.status,
            version=order.version,
        )

    def post_order(self, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.post_order`.

        Raises:
            OrderRejectedError: A live order already has this external id (code 6).
            NotFoundError: Unknown security.
        """
        report = self.what_if(ticket)
        with self._lock:
            live = [
                o
                for o in self._orders.values()
                if o.ticket.external_id == ticket.external_id and o.status in OrderStatus.LIVE
            ]
            if live:
                raise OrderRejectedError(
                    6,
                    f"a live order {live[0].order_id} already has external id "
                    f"{ticket.external_id!r}",
                )
            order_id = str(next(self._order_numbers))
            status = OrderStatus.OPEN if report.passed else OrderStatus.COMPL_PENDING
            order = _Order(order_id, ticket, status, 1)
            self._orders[order_id] = order
            self._save_orders()
            return self._posted(order)

    def post_orders(self, tickets: Sequence[OrderTicket]) -> tuple[PostedOrder, ...]:
        """Post several orders (what ``orders:batchPost`` does)."""
        return tuple(self.post_order(t) for t in tickets)

    def find_order(self, external_id: str) -> PostedOrder | None:
        """See `DataSource.find_order`."""
        with self._lock:
            found = [o for o in self._orders.values() if o.ticket.external_id == external_id]
            if not found:
                return None
            best = max(found, key=lambda o: (o.status in OrderStatus.LIVE, int(o.order_id)))
            return self._posted(best)

    def get_order(self, order_id: str) -> PostedOrder:
        """See `DataSource.get_order`."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise NotFoundError(f"no order {order_id!r}")
            return self._posted(order)

    def _live(self, order_id: str) -> _Order:
        order = self._orders.get(order_id)
        if order is None:
            raise NotFoundError(f"no order {order_id!r}")
        if order.status not in OrderStatus.LIVE:
            raise OrderRejectedError(9, f"order {order_id} is {order.status}, not live")
        return order

    def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.modify_order`.

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: Not live (code 9), or another security or side (code 3).
        """
        with self._lock:
            order = self._live(order_id)
            if (
                ticket.security_id != order.ticket.security_id
                or ticket.side is not order.ticket.side
            ):
                raise OrderRejectedError(3, "a modification keeps the security and the side")
            report = self.what_if(ticket)
            order.ticket = ticket
            order.version += 1
            order.status = OrderStatus.OPEN if report.passed else OrderStatus.COMPL_PENDING
            self._save_orders()
            return self._posted(order)

    def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        """See `DataSource.cancel_order`.

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: Not live (code 9).
        """
        with self._lock:
            order = self._live(order_id)
            order.status = OrderStatus.CANCELLED
            order.version += 1
            order.ticket = attrs.evolve(order.ticket, comment=reason)
            self._save_orders()
            return self._posted(order)

    def orders(self) -> tuple[PostedOrder, ...]:
        """Every order posted so far, oldest first."""
        with self._lock:
            return tuple(self._posted(o) for o in self._orders.values())

    # --- executions and trades (`TradeSource`) -----------------------------------------

    @property
    def _trades_path(self) -> Path | None:
        return None if self._orders_path is None else self._orders_path.with_suffix(".trades.json")

    def _load_trades(self) -> None:
        path = self._trades_path
        if path is None or not path.exists():
            return
        data = json.loads(path.read_text())
        for order_id, rows in data["executions"].items():
            self._executions[order_id] = [
                Execution(
                    order_id=order_id,
                    execution_id=r["execution_id"],
                    quantity=r["quantity"],
                    price=r["price"],
                    time=dt.datetime.fromisoformat(r["time"]) if r.get("time") else None,
                )
                for r in rows
            ]
        for r in data["trades"]:
            self._trades[r["trade_id"]] = BookedTrade(
                trade_id=r["trade_id"],
                external_id=r["external_id"],
                security_id=r["security_id"],
                side=r["side"],
                price=r["price"],
                lines=tuple(TradeLine(*line) for line in r["lines"]),
                status=r["status"],
                order_id=r["order_id"],
                trade_date=dt.date.fromisoformat(r["trade_date"]) if r["trade_date"] else None,
            )
        self._invnums = itertools.count(int(data["next_invnum"]))

    def _save_trades(self) -> None:
        path = self._trades_path
        if path is None:
            return
        next_invnum = next(self._invnums)
        self._invnums = itertools.count(next_invnum)
        data = {
            "next_invnum": next_invnum,
            "executions": {
                order_id: [
                    {
                        "execution_id": e.execution_id,
                        "quantity": e.quantity,
                        "price": e.price,
                        "time": e.time.isoformat() if e.time else None,
                    }
                    for e in rows
                ]
                for order_id, rows in self._executions.items()
            },
            "trades": [
                {
                    "trade_id": t.trade_id,
                    "external_id": t.external_id,
                    "security_id": t.security_id,
                    "side": t.side.value,
                    "price": t.price,
                    "lines": [[line.account_id, line.quantity, line.principal] for line in t.lines],
                    "status": t.status,
                    "order_id": t.order_id,
                    "trade_date": t.trade_date.isoformat() if t.trade_date else None,
                }
                for t in self._trades.values()
            ],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)

    def execute(
        self, order_id: str, quantity: float, price: float, *, time: dt.datetime | None = None
    ) -> Execution:
        """Record one execution of a live order (what the street reports back).

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: The order is not live (code 9), or the executions
                would exceed its quantity (code 3).
        """
        with self._lock:
            order = self._live(order_id)
            done = math.fsum(e.quantity for e in self._executions.get(order_id, []))
            if done + quantity > order.ticket.quantity + 0.5:
                raise OrderRejectedError(
                    3,
                    f"order {order_id}: {quantity:,.0f} more would fill {done + quantity:,.0f} "
                    f"of {order.ticket.quantity:,.0f}",
                )
            execution = Execution(
                order_id=order_id,
                execution_id=str(next(self._invnums)),
                quantity=quantity,
                price=price,
                time=time or dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
            )
            self._executions.setdefault(order_id, []).append(execution)
            self._save_trades()
            return execution

    def _rng(self, order_id: str, seed: int | None, salt: str) -> np.random.Generator:
        key = zlib.crc32(f"{salt}/{order_id}".encode())
        return np.random.default_rng([self.seed if seed is None else seed, key])

    def _lots(self, order_id: str) -> tuple[float, float, float, float]:
        """The order's quantity, what is left to fill, the bond's minimum piece and increment."""
        with self._lock:
            order = self._live(order_id)
            done = math.fsum(e.quantity for e in self._executions.get(order_id, []))
        security = self.bond(order.ticket.security_id).security
        return (
            order.ticket.quantity,
            order.ticket.quantity - done,
            security.min_piece,
            security.increment,
        )

    def simulate_fills(
        self,
        order_id: str,
        *,
        count: int | None = None,
        fraction: float | None = None,
        seed: int | None = None,
        day: dt.date | None = None,
    ) -> tuple[Execution, ...]:
        """Work a live order for a day: *count* partial fills at several prices.

        Deterministic for a given seed and order id. The fills together take
        *fraction* of the order (default: drawn in 40%-100%), each a whole
        number of increments and at least one minimum piece; prices walk from
        the bond's price in steps of a few cents (rounded to 1/1000); times
        spread over the US session (13:30-20:00 UTC) of *day* (default today).

        Returns:
            The executions recorded, oldest first.

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: The order is not live.
        """
        total, left, piece, step = self._lots(order_id)
        rng = self._rng(order_id, seed, "fills")
        n = int(count if count is not None else rng.integers(2, 6))
        share = float(fraction if fraction is not None else rng.uniform(0.4, 1.0))
        target = min(left, math.floor(share * total / step) * step)
        weights = rng.dirichlet(np.ones(max(n, 1)))
        sizes: list[float] = []
        rest = target
        for k in range(n):
            share_k = max(piece, math.floor(weights[k] * target / step) * step)
            size = min(rest if k == n - 1 else share_k, rest)
            if size < piece:
                break
            sizes.append(size)
            rest -= size
        base = self.bond(self._orders[order_id].ticket.security_id).security.price
        prices = np.round(base + np.cumsum(rng.normal(0.0, 0.06, len(sizes))), 3)
        start = dt.datetime.combine(
            day or dt.datetime.now(dt.timezone.utc).date(), dt.time(13, 30), dt.timezone.utc
        )
        offsets = np.sort(rng.uniform(0.0, 6.5 * 3600.0, len(sizes)))
        return tuple(
            self.execute(
                order_id,
                size,
                float(price),
                time=start + dt.timedelta(seconds=int(offset)),
            )
            for size, price, offset in zip(sizes, prices, offsets, strict=True)
        )

    def allot_new_issue(
        self, order_id: str, *, seed: int | None = None, day: dt.date | None = None
    ) -> Execution:
        """Allot a new issue to a live order: one fill of 5%-20% of it (seeded) at the bond's price.

        The allotment is rounded down to the lot grid and is at least one
        minimum piece: the scarce, far-below-the-order fill that new issues give.

        Raises:
            NotFoundError: No such order.
            OrderRejectedError: The order is not live.
        """
        total, left, piece, step = self._lots(order_id)
        rng = self._rng(order_id, seed, "new-issue")
        share = float(rng.uniform(0.05, 0.20))
        size = min(left, max(piece, math.floor(share * total / step) * step))
        price = round(self.bond(self._orders[order_id].ticket.security_id).security.price, 3)
        when = dt.datetime.combine(
            day or dt.datetime.now(dt.timezone.utc).date(), dt.time(15, 0), dt.timezone.utc
        )
        return self.execute(order_id, size, price, time=when)

    def fills(self, order_id: str) -> tuple[Execution, ...]:
        """See `TradeSource.fills`.

        Raises:
            NotFoundError: No such order.
        """
        with self._lock:
            if order_id not in self._orders:
                raise NotFoundError(f"no order {order_id!r}")
            return tuple(self._executions.get(order_id, ()))

    def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        """See `TradeSource.book_trade`.

        Raises:
            OrderRejectedError: An active trade already has this external id
                (code 6), or a line names an unknown portfolio (code 3).
            NotFoundError: Unknown security.
        """
        self.bond(ticket.security_id)
        with self._lock:
            live = [
                t
                for t in self._trades.values()
                if t.external_id == ticket.external_id and t.is_active
            ]
            if live:
                raise OrderRejectedError(
                    6,
                    f"an active trade {live[0].trade_id} already has external id "
                    f"{ticket.external_id!r}",
                )
            unknown = [
                line.account_id for line in ticket.lines if self._locate(line.account_id) is None
            ]
            if unknown:
                raise OrderRejectedError(3, f"no portfolio {unknown[0]!r}")
            trade = BookedTrade(
                trade_id=str(next(self._invnums)),
                external_id=ticket.external_id,
                security_id=ticket.security_id,
                side=ticket.side,
                price=ticket.price,
                lines=ticket.lines,
                order_id=ticket.order_id,
                trade_date=ticket.trade_date or dt.datetime.now(dt.timezone.utc).date(),
            )
            self._trades[trade.trade_id] = trade
            self._save_trades()
            return trade

    def find_trade(self, ticket: TradeTicket) -> BookedTrade | None:
        """See `TradeSource.find_trade`."""
        with self._lock:
            found = [t for t in self._trades.values() if t.external_id == ticket.external_id]
            if not found:
                return None
            return max(found, key=lambda t: (t.is_active, int(t.trade_id)))

    def cancel_trade(self, trade: BookedTrade) -> BookedTrade:
        """See `TradeSource.cancel_trade`.

        Raises:
            NotFoundError: No such trade.
            OrderRejectedError: Already cancelled (code 9).
        """
        with self._lock:
            stored = self._trades.get(trade.trade_id)
            if stored is None:
                raise NotFoundError(f"no trade {trade.trade_id!r}")
            if not stored.is_active:
                raise OrderRejectedError(9, f"trade {trade.trade_id} is already cancelled")
            cancelled = attrs.evolve(stored, status=TradeStatus.CANCELLED)
            self._trades[trade.trade_id] = cancelled
            self._save_trades()
            return cancelled

    def trades(self) -> tuple[BookedTrade, ...]:
        """Every trade booked so far, oldest first."""
        with self._lock:
            return tuple(self._trades.values())

    def settle_dates(self, today: dt.date | None = None) -> tuple[str, str, str]:
        """The three settle dates of the cash ladder (T, T+1, T+2 calendar days)."""
        today = today or dt.date.today()
        return tuple((today + dt.timedelta(days=d)).isoformat() for d in range(3))  # type: ignore[return-value]


class AsyncMockAladdin:
    """An `~orderalloc.sources.AsyncDataSource` over a `MockAladdin` (no real awaiting)."""

    def __init__(self, mock: MockAladdin | None = None) -> None:
        self.mock = mock or MockAladdin()

    async def groups(self) -> tuple[str, ...]:
        """See `DataSource.groups`."""
        return self.mock.groups()

    async def accounts(self, group: str, security_id: str) -> AccountTable:
        """See `DataSource.accounts`."""
        return self.mock.accounts(group, security_id)

    async def security(self, security_id: str) -> Security:
        """See `DataSource.security`."""
        return self.mock.security(security_id)

    async def search_securities(self, query: str, *, limit: int = 20) -> tuple[Security, ...]:
        """See `DataSource.search_securities`."""
        return self.mock.search_securities(query, limit=limit)

    async def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        """See `DataSource.what_if`."""
        return self.mock.what_if(ticket)

    async def post_order(self, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.post_order`."""
        return self.mock.post_order(ticket)

    async def find_order(self, external_id: str) -> PostedOrder | None:
        """See `DataSource.find_order`."""
        return self.mock.find_order(external_id)

    async def get_order(self, order_id: str) -> PostedOrder:
        """See `DataSource.get_order`."""
        return self.mock.get_order(order_id)

    async def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.modify_order`."""
        return self.mock.modify_order(order_id, ticket)

    async def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        """See `DataSource.cancel_order`."""
        return self.mock.cancel_order(order_id, reason)

    async def fills(self, order_id: str) -> tuple[Execution, ...]:
        """See `TradeSource.fills`."""
        return self.mock.fills(order_id)

    async def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        """See `TradeSource.book_trade`."""
        return self.mock.book_trade(ticket)

    async def find_trade(self, ticket: TradeTicket) -> BookedTrade | None:
        """See `TradeSource.find_trade`."""
        return self.mock.find_trade(ticket)

    async def cancel_trade(self, trade: BookedTrade) -> BookedTrade:
        """See `TradeSource.cancel_trade`."""
        return self.mock.cancel_trade(trade)
