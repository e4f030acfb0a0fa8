"""The mock's market: a seeded universe of 128 bonds and the groups of accounts that hold them.

Everything is generated from a seed with numpy, group by group on first use
(each group from its own seeded stream, so the data do not depend on the
order of calls). `Market` answers the read side of a data source
(`groups`, `accounts`, `security`, `search_securities`); `.source` adds the
order and trade system on top. The groups, bonds and scenarios are listed in
`orderalloc.sources.mock`.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import zlib
from collections.abc import Mapping

import attrs
import numpy as np

from orderalloc._model import AccountTable, Security
from orderalloc.errors import InvalidInputError, NotFoundError
from orderalloc.typing import BoolArray, FloatArray

__all__ = [
    "PRICING_PORTFOLIO",
    "ROOT_GROUP",
    "SCENARIOS",
    "WELL_KNOWN",
    "Bond",
    "GroupData",
    "Market",
]

#: The scenarios `MockAladdin` draws its data for (see `orderalloc.sources.mock`).
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


# Issuers per class, "TICKER CUSIP-PREFIX Name" each, the well-known bond's first;
# the class's bonds cycle through them.
_ISSUERS: dict[str, tuple[str, ...]] = {
    "TSY": ("T 91282C US Treasury",),
    "AGENCY": ("FNMA 3135G0 Fannie Mae", "FHLMC 3137EA Freddie Mac", "FHLB 3130AT FHLB"),
    "IG": (
        "AAPL 037833 Apple",
        "MSFT 594918 Microsoft",
        "JPM 46647P JPMorgan Chase",
        "BAC 06051G Bank of America",
        "VZ 92343V Verizon",
        "CMCSA 20030N Comcast",
        "PFE 717081 Pfizer",
        "WMT 931142 Walmart",
        "XOM 30231G Exxon Mobil",
        "UNH 91324P UnitedHealth",
    ),
    "HY": (
        "F 345370 Ford Motor",
        "CCL 143658 Carnival",
        "UAL 910047 United Airlines",
        "NCLH 62886H Norwegian Cruise",
        "CHTR 161175 Charter",
        "THC 88033G Tenet",
        "OXY 674599 Occidental",
    ),
    "MUNI": (
        "NYC 64971X New York City GO",
        "CAS 13063D State of California GO",
        "TXS 882723 State of Texas GO",
        "CHI 167486 City of Chicago GO",
    ),
    "144A": ("TEVA 88167A Teva 144A", "VST 92840V Vistra 144A", "SIRI 82967N Sirius XM 144A"),
    "MBS": ("FNCL 3140X7 Fannie Mae pool", "FGLMC 3132DW Freddie Mac pool"),
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
        issuers = [tuple(entry.split(" ", 2)) for entry in _ISSUERS[cls]]
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


class Market:
    """The seeded market: bonds, groups of accounts, benchmarks; the read side of a source.

    Args:
        scenario: One of `SCENARIOS` (see `orderalloc.sources.mock`).
        seed: The seed of every random draw.
        extra_groups: More SMA-like groups, name -> number of accounts.

    Raises:
        InvalidInputError: Unknown scenario or a bad extra group (also a ValueError).
    """

    root_group = ROOT_GROUP
    pricing_portfolio = PRICING_PORTFOLIO

    def __init__(
        self,
        scenario: str = "default",
        *,
        seed: int = 20240611,
        extra_groups: Mapping[str, int] | None = None,
    ) -> None:
        if scenario not in SCENARIOS:
            raise InvalidInputError("scenario", scenario, f"must be one of {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.seed = seed
        self._specs = dict(_SPECS)
        for name, size in (extra_groups or {}).items():
            if name in self._specs or size < 1:
                raise InvalidInputError(
                    f"extra_groups[{name!r}]", size, "a new name and a size >= 1"
                )
            self._specs[name] = _GroupSpec(
                int(size), (2.5e5, 1e7), 5.0, ("SMA Client",), None, prefix=name.replace("-", "")
            )
        self.bonds = _universe(seed)
        self._index = {b.id: j for j, b in enumerate(self.bonds)}
        self._groups: dict[str, GroupData] = {}
        self._lock = threading.RLock()
        self._bench: dict[str, FloatArray] = {}
        self._account_rows: dict[str, tuple[GroupData, int]] | None = None

    @property
    def benchmarks(self) -> dict[str, str]:
        """Group -> benchmark portfolio ticker (for ``AladdinConfig.benchmarks``)."""
        return {g: s.benchmark for g, s in self._specs.items() if s.benchmark is not None}

    # --- data ------------------------------------------------------------------------------

    # --- data ------------------------------------------------------------------------------

    def column(self, security_id: str) -> int:
        """The column of *security_id* in the holdings and restriction matrices.

        Raises:
            NotFoundError: Not in the universe.
        """
        j = self._index.get(security_id)
        if j is None:
            raise NotFoundError(f"security {security_id!r} is not in the mock universe")
        return j

    def bond(self, security_id: str) -> Bond:
        """The universe entry of *security_id*.

        Raises:
            NotFoundError: Not in the universe.
        """
        return self.bonds[self.column(security_id)]

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
        j = self.column(security_id)
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
    def locate(self, account_id: str) -> tuple[GroupData, int] | None:
        """The group data and row of account *account_id*, or None (builds every group once)."""
        with self._lock:
            if self._account_rows is None:
                self._account_rows = {
                    ident: (data, i)
                    for data in self.all_groups()
                    for i, ident in enumerate(data.ids)
                }
            return self._account_rows.get(account_id)

    def settle_dates(self, today: dt.date | None = None) -> tuple[str, str, str]:
        """The three settle dates of the cash ladder (T, T+1, T+2 calendar days)."""
        today = today or dt.date.today()
        return tuple((today + dt.timedelta(days=d)).isoformat() for d in range(3))  # type: ignore[return-value]
