"""The inputs of an allocation: securities, accounts and orders.

Every type here is an immutable ``attrs`` value validated when it is built, so
an object that exists is an object the engines can trust. A bad field raises an
`~orderalloc.errors.InvalidInputError` subclass that names the field and the
value.

Accounts come in two shapes that the engines treat alike:

* `Account`: one object per account, convenient for a handful of accounts;
* `AccountTable`: the same data as columns (numpy arrays), the shape the
  engines work on and the one to use for thousands of separately managed
  accounts. `as_table` turns either (or a mapping of columns, or a pandas
  DataFrame) into a table.
"""

from __future__ import annotations

import collections
import datetime as dt
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from .errors import (
    InvalidAccountError,
    InvalidInputError,
    InvalidOrderError,
    InvalidSecurityError,
)
from .typing import ArrayLike, BoolArray, FloatArray

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Account",
    "AccountLimits",
    "AccountTable",
    "Order",
    "Security",
    "Side",
    "as_table",
]


class Side(str, enum.Enum):
    """The direction of an order: the accounts buy or sell the security."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: how the trade moves each account's position."""
        return 1 if self is Side.BUY else -1

    def __str__(self) -> str:
        return self.value


# --- validators: each names the field and the value --------------------------------------


def _finite(error: type[InvalidInputError], field: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise error(field, value, "must be a number") from exc
    if not math.isfinite(number):
        raise error(field, value, "must be a finite number (not NaN or infinity)")
    return number


def _positive(error: type[InvalidInputError], field: str, value: Any) -> float:
    number = _finite(error, field, value)
    if number <= 0:
        raise error(field, value, "must be greater than 0")
    return number


def _whole(error: type[InvalidInputError], field: str, value: Any) -> float:
    number = _positive(error, field, value)
    if number != math.floor(number):
        raise error(field, value, "must be a whole amount of face")
    return number


def _identifier(error: type[InvalidInputError], field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise error(field, value, "must be a non-empty string")
    return value


def _float_mapping(error: type[InvalidInputError], field: str, value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise error(field, value, "must be a mapping of names to numbers")
    out: dict[str, float] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise error(f"{field} key", key, "must be a non-empty string")
        out[key] = _finite(error, f"{field}[{key!r}]", item)
    return out


# --- Security --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Security:
    """A bond, with what it costs and how it trades.

    Args:
        id: The identifier the desk uses (a CUSIP, ISIN or Aladdin asset id).
        price: Clean price per 100 of current face, e.g. ``98.5``.
        min_piece: The smallest face amount that can trade, e.g. ``2_000``.
        increment: The step above the minimum piece, e.g. ``1_000``. A legal
            amount is ``0`` or ``min_piece + k * increment`` for a whole ``k``.
        accrued: Accrued interest in points per 100 of current face.
        factor: Current face / original face (1 for bullets, below 1 for
            amortising bonds). Orders and holdings are in original face.
        analytics: The bond's risk numbers by name, e.g.
            ``{"spread_duration": 3.8, "duration": 4.2, "oas": 85.0}``. An
            account metric ``X`` or ``active_X`` moves with analytic ``X``.
        name: A description, for tables and audit records.
        ticker: The issuer ticker.
        asset_class: ``"TSY"``, ``"AGENCY"``, ``"IG"``, ``"HY"``, ``"MUNI"``, ...
        currency: The ISO currency of the price.

    Raises:
        InvalidSecurityError: A field is invalid (price <= 0, min piece or
            increment not a positive whole amount, factor outside (0, 1], ...).
    """

    id: str = attrs.field()
    price: float = attrs.field()
    min_piece: float = attrs.field(default=1_000.0)
    increment: float = attrs.field(default=1_000.0)
    accrued: float = attrs.field(default=0.0)
    factor: float = attrs.field(default=1.0)
    analytics: Mapping[str, float] = attrs.field(factory=dict, hash=False)
    name: str | None = None
    ticker: str | None = None
    asset_class: str | None = None
    currency: str = "USD"

    def __attrs_post_init__(self) -> None:
        err = InvalidSecurityError
        _identifier(err, "security.id", self.id)
        set_ = object.__setattr__
        set_(self, "price", _positive(err, "security.price", self.price))
        set_(self, "min_piece", _whole(err, "security.min_piece", self.min_piece))
        set_(self, "increment", _whole(err, "security.increment", self.increment))
        accrued = _finite(err, "security.accrued", self.accrued)
        if accrued < 0:
            raise err("security.accrued", self.accrued, "must be 0 or more")
        set_(self, "accrued", accrued)
        factor = _positive(err, "security.factor", self.factor)
        if factor > 1:
            raise err("security.factor", self.factor, "must be in (0, 1]")
        set_(self, "factor", factor)
        set_(self, "analytics", _float_mapping(err, "security.analytics", self.analytics))

    @property
    def cash_per_face(self) -> float:
        """Cash paid (or received) per unit of original face: factor x (price + accrued) / 100."""
        return self.factor * (self.price + self.accrued) / 100.0

    def market_value(self, face: float) -> float:
        """The settlement amount of *face* original face, accrued interest included."""
        return face * self.cash_per_face

    def is_legal(self, face: float) -> bool:
        """Whether *face* is 0 or ``min_piece + k * increment`` for a whole ``k >= 0``."""
        if face == 0:
            return True
        steps = (face - self.min_piece) / self.increment
        return steps >= 0 and steps == math.floor(steps)

    def sensitivity(self, metric: str) -> float | None:
        """The bond's analytic that moves account metric *metric*, or None.

        ``"spread_duration"`` and ``"active_spread_duration"`` both move with the
        bond's ``"spread_duration"``: buying with cash leaves the benchmark as it
        is, so the active number moves exactly as the absolute one.
        """
        if metric in self.analytics:
            return self.analytics[metric]
        if metric.startswith("active_"):
            return self.analytics.get(metric[len("active_") :])
        return None


# --- Account ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AccountLimits:
    """Optional per-account limits on a trade.

    Args:
        max_face: The most face this account may trade in one order.
        max_pct_nav: The largest position in the security after the trade, as
            a fraction of NAV by market value (``0.02`` is 2%).
        min_allocation: The smallest face worth allocating; smaller shares
            go to the other accounts.
    """

    max_face: float | None = None
    max_pct_nav: float | None = None
    min_allocation: float | None = None

    def __attrs_post_init__(self) -> None:
        err = InvalidAccountError
        if self.max_face is not None:
            value = _finite(err, "limits.max_face", self.max_face)
            if value < 0:
                raise err("limits.max_face", self.max_face, "must be 0 or more")
            object.__setattr__(self, "max_face", value)
        if self.max_pct_nav is not None:
            value = _finite(err, "limits.max_pct_nav", self.max_pct_nav)
            if not 0 <= value <= 1:
                raise err("limits.max_pct_nav", self.max_pct_nav, "must be a fraction in [0, 1]")
            object.__setattr__(self, "max_pct_nav", value)
        if self.min_allocation is not None:
            value = _finite(err, "limits.min_allocation", self.min_allocation)
            if value < 0:
                raise err("limits.min_allocation", self.min_allocation, "must be 0 or more")
            object.__setattr__(self, "min_allocation", value)


def _frozenset_of_str(value: Iterable[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


@attrs.frozen(kw_only=True)
class Account:
    """One account of a portfolio group.

    Args:
        id: The account (portfolio) identifier, unique within a group.
        nav: Net asset value, > 0.
        cash: Cash available to settle buys, or None when it is not known (buys
            are then not checked against cash, and the result warns).
        holdings: Original face held, by security id (negative when short).
        metrics: The account's risk numbers by name (spread duration, active
            spread duration, duration, OAS contribution, ...): the
            market-value-weighted sums over its holdings.
        restricted: Security ids this account must never receive.
        name: A display name.
        limits: Optional `AccountLimits`.

    Raises:
        InvalidAccountError: A field is invalid (empty id, NAV <= 0, NaN cash or
            metric, ...).
    """

    id: str
    nav: float
    cash: float | None = None
    holdings: Mapping[str, float] = attrs.field(factory=dict, hash=False)
    metrics: Mapping[str, float] = attrs.field(factory=dict, hash=False)
    restricted: frozenset[str] = attrs.field(factory=frozenset, converter=_frozenset_of_str)
    name: str | None = None
    limits: AccountLimits | None = None

    def __attrs_post_init__(self) -> None:
        err = InvalidAccountError
        where = f"account[{self.id!r}]" if isinstance(self.id, str) else "account"
        _identifier(err, "account.id", self.id)
        object.__setattr__(self, "nav", _positive(err, f"{where}.nav", self.nav))
        if self.cash is not None:
            object.__setattr__(self, "cash", _finite(err, f"{where}.cash", self.cash))
        object.__setattr__(
            self, "holdings", _float_mapping(err, f"{where}.holdings", self.holdings)
        )
        object.__setattr__(self, "metrics", _float_mapping(err, f"{where}.metrics", self.metrics))


# --- Order -----------------------------------------------------------------------------------


def _side(value: Side | str) -> Side:
    if isinstance(value, Side):
        return value
    if isinstance(value, str) and value.strip().upper() in Side.__members__:
        return Side[value.strip().upper()]
    raise InvalidOrderError("order.side", value, "must be 'BUY' or 'SELL'")


@attrs.frozen(kw_only=True)
class Order:
    """An order to allocate: buy or sell *quantity* face of *security*.

    Args:
        security: The bond.
        side: ``"BUY"`` or ``"SELL"`` (any case) or a `Side`.
        quantity: Original face to allocate across the accounts, a positive
            whole amount.
        settle_date: The settlement date, when known.
        reference: The caller's own reference for the order.

    Raises:
        InvalidOrderError: The side is unknown or the quantity is not a
            positive, finite, whole amount.
    """

    security: Security
    side: Side = attrs.field(converter=_side)
    quantity: float
    settle_date: dt.date | None = None
    reference: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.security, Security):
            raise InvalidOrderError("order.security", self.security, "must be a Security")
        object.__setattr__(
            self, "quantity", _whole(InvalidOrderError, "order.quantity", self.quantity)
        )


# --- AccountTable ----------------------------------------------------------------------------


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _floats(value: ArrayLike) -> FloatArray:
    """Columns are converted first and checked row by row after (see _column)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidAccountError("accounts column", value, "must be numbers") from exc


def _optional_floats(value: ArrayLike | None) -> FloatArray | None:
    return None if value is None else _floats(value)


def _float_columns(value: Mapping[str, ArrayLike] | None) -> dict[str, FloatArray]:
    return {str(k): _floats(v) for k, v in (value or {}).items()}


def _bool_columns(value: Mapping[str, ArrayLike] | None) -> dict[str, BoolArray]:
    return {str(k): np.asarray(v, dtype=bool) for k, v in (value or {}).items()}


def _optional_names(value: Iterable[str | None] | None) -> tuple[str | None, ...] | None:
    return None if value is None else tuple(value)


def _column(
    name: str, value: ArrayLike, n: int, ids: Sequence[str], *, default: float | None = None
) -> FloatArray:
    """A float64 column of length *n*, or an error naming the first bad row."""
    if value is None:
        if default is None:
            raise InvalidAccountError(f"accounts.{name}", value, "is required")
        # One read-only value seen n times: an absent column costs no memory.
        return np.broadcast_to(np.float64(default), (n,))
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidAccountError(f"accounts.{name}", value, "must be numbers") from exc
    if arr.ndim == 0:
        arr = np.full(n, float(arr), dtype=np.float64)
    if arr.shape != (n,):
        raise InvalidAccountError(
            f"accounts.{name}", f"shape {arr.shape}", f"must have one value per account ({n})"
        )
    return arr


def _check_ids(ids: tuple[str, ...]) -> None:
    """Every id a non-empty string and no id twice, or an error naming the first bad one.

    The common case costs two passes in C (``str.isspace`` refuses a
    non-string) and one set; the Python loop runs only to name the culprit.
    """
    try:
        clean = all(ids) and not any(map(str.isspace, ids))
    except TypeError:  # an id that is not a string
        clean = False
    if not clean:
        for i, ident in enumerate(ids):
            if not isinstance(ident, str) or not ident.strip():
                raise InvalidAccountError(f"accounts.ids[{i}]", ident, "must be a non-empty string")
    if len(set(ids)) != len(ids):
        counts = collections.Counter(ids)
        dup = next(x for x in ids if counts[x] > 1)
        raise InvalidAccountError("accounts.ids", dup, "appears more than once")


def _bad_row(name: str, arr: FloatArray, mask: BoolArray, ids: Sequence[str], reason: str) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise InvalidAccountError(f"accounts[{ids[i]!r}].{name}", arr[i].item(), reason)


@attrs.frozen(kw_only=True, eq=False)
class AccountTable:
    """A portfolio group's accounts as columns: the shape every engine works on.

    Each column has one entry per account, in the order of *ids*. Missing
    optional values are NaN: NaN *cash* means "not checked", NaN limits mean
    "no limit".

    Args:
        ids: Account identifiers, unique.
        nav: NAV per account, > 0.
        cash: Cash available per account (NaN: unknown, not checked).
        holdings: Face held per account, one column per security id.
        metrics: One column per metric name (NaN: unknown for that account).
        restricted: One boolean column per security id: True where the
            account must not receive it.
        names: Display names, or None.
        max_face: Per-account maximum face per order (NaN: none).
        max_pct_nav: Per-account maximum post-trade position as a fraction of
            NAV (NaN: none).
        min_allocation: Per-account minimum worthwhile allocation (NaN: none).

    Raises:
        InvalidAccountError: A column has the wrong length, a NaN or infinite
            value where a number is required, NAV <= 0, or ids repeat. The
            message names the first offending account.
    """

    ids: tuple[str, ...] = attrs.field(converter=_ids)
    nav: FloatArray = attrs.field(converter=_floats)
    cash: FloatArray | None = attrs.field(default=None, converter=_optional_floats)
    holdings: Mapping[str, FloatArray] = attrs.field(factory=dict, converter=_float_columns)
    metrics: Mapping[str, FloatArray] = attrs.field(factory=dict, converter=_float_columns)
    restricted: Mapping[str, BoolArray] = attrs.field(factory=dict, converter=_bool_columns)
    names: tuple[str | None, ...] | None = attrs.field(default=None, converter=_optional_names)
    max_face: FloatArray | None = attrs.field(default=None, converter=_optional_floats)
    max_pct_nav: FloatArray | None = attrs.field(default=None, converter=_optional_floats)
    min_allocation: FloatArray | None = attrs.field(default=None, converter=_optional_floats)
    # Row by id, built on the first `index` call (most allocations never look one up).
    _positions: dict[str, int] | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        ids = self.ids
        n = len(ids)
        if n == 0:
            raise InvalidAccountError("accounts", [], "must hold at least one account")
        _check_ids(ids)
        set_ = object.__setattr__
        nav = _column("nav", self.nav, n, ids)
        _bad_row("nav", nav, ~np.isfinite(nav) | (nav <= 0), ids, "must be a finite number > 0")
        set_(self, "nav", nav)
        cash = _column("cash", self.cash, n, ids, default=math.nan)
        _bad_row("cash", cash, np.isinf(cash), ids, "must be finite (NaN means unknown)")
        set_(self, "cash", cash)
        for field, lo, hi in (
            ("max_face", 0.0, math.inf),
            ("max_pct_nav", 0.0, 1.0),
            ("min_allocation", 0.0, math.inf),
        ):
            arr = _column(field, getattr(self, field), n, ids, default=math.nan)
            _bad_row(field, arr, (arr < lo) | (arr > hi), ids, f"must be in [{lo}, {hi}] or NaN")
            set_(self, field, arr)
        holdings = {}
        for sec, col in dict(self.holdings).items():
            arr = _column(f"holdings[{sec!r}]", col, n, ids)
            _bad_row(f"holdings[{sec!r}]", arr, ~np.isfinite(arr), ids, "must be finite")
            holdings[sec] = arr
        set_(self, "holdings", holdings)
        metrics = {}
        for name, col in dict(self.metrics).items():
            arr = _column(f"metrics[{name!r}]", col, n, ids)
            _bad_row(f"metrics[{name!r}]", arr, np.isinf(arr), ids, "must be finite (NaN: unknown)")
            metrics[name] = arr
        set_(self, "metrics", metrics)
        restricted = {}
        for sec, mask in dict(self.restricted).items():
            if mask.shape != (n,):
                raise InvalidAccountError(
                    f"accounts.restricted[{sec!r}]",
                    f"shape {mask.shape}",
                    f"must have one value per account ({n})",
                )
            restricted[sec] = mask
        set_(self, "restricted", restricted)
        if self.names is not None:
            names = tuple(self.names)
            if len(names) != n:
                raise InvalidAccountError(
                    "accounts.names", f"length {len(names)}", f"must have {n} entries"
                )
            set_(self, "names", names)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (
            f"AccountTable(n_accounts={len(self)}, metrics={sorted(self.metrics)}, "
            f"securities={sorted(set(self.holdings) | set(self.restricted))})"
        )

    def holding(self, security_id: str) -> FloatArray:
        """Face held of *security_id* per account (zeros when nobody holds it)."""
        col = self.holdings.get(security_id)
        return col if col is not None else np.zeros(len(self), dtype=np.float64)

    def is_restricted(self, security_id: str) -> BoolArray:
        """True where the account must not receive *security_id*."""
        col = self.restricted.get(security_id)
        return col if col is not None else np.zeros(len(self), dtype=bool)

    def index(self, account_id: str) -> int:
        """The row of *account_id*.

        Raises:
            KeyError: No account has that id.
        """
        positions = self._positions
        if positions is None:
            positions = dict(zip(self.ids, range(len(self.ids)), strict=True))
            object.__setattr__(self, "_positions", positions)
        return positions[account_id]

    def take(self, rows: ArrayLike) -> AccountTable:
        """A table of the given rows (an index array or a boolean mask), in that order."""
        idx = np.arange(len(self))[np.asarray(rows)]
        return AccountTable(
            ids=[self.ids[i] for i in idx],
            nav=self.nav[idx],
            cash=None if self.cash is None else self.cash[idx],
            holdings={k: v[idx] for k, v in self.holdings.items()},
            metrics={k: v[idx] for k, v in self.metrics.items()},
            restricted={k: v[idx] for k, v in self.restricted.items()},
            names=None if self.names is None else tuple(self.names[i] for i in idx),
            max_face=None if self.max_face is None else self.max_face[idx],
            max_pct_nav=None if self.max_pct_nav is None else self.max_pct_nav[idx],
            min_allocation=None if self.min_allocation is None else self.min_allocation[idx],
        )

    def account(self, i: int) -> Account:
        """Row *i* as an `Account` object."""
        assert self.cash is not None
        assert self.max_face is not None
        assert self.max_pct_nav is not None
        assert self.min_allocation is not None
        cash = float(self.cash[i])
        limits = AccountLimits(
            max_face=_opt(self.max_face[i]),
            max_pct_nav=_opt(self.max_pct_nav[i]),
            min_allocation=_opt(self.min_allocation[i]),
        )
        return Account(
            id=self.ids[i],
            nav=float(self.nav[i]),
            cash=None if math.isnan(cash) else cash,
            holdings={k: float(v[i]) for k, v in self.holdings.items() if v[i] != 0},
            metrics={k: float(v[i]) for k, v in self.metrics.items() if not math.isnan(v[i])},
            restricted=frozenset(k for k, v in self.restricted.items() if v[i]),
            name=None if self.names is None else self.names[i],
            limits=None if limits == AccountLimits() else limits,
        )

    def to_accounts(self) -> list[Account]:
        """Every row as an `Account` (builds one object per account: slow for 100,000)."""
        return [self.account(i) for i in range(len(self))]

    @classmethod
    def from_accounts(cls, accounts: Iterable[Account]) -> AccountTable:
        """Columns from `Account` objects.

        Raises:
            InvalidAccountError: The list is empty, ids repeat, or an item is
                not an `Account`.
        """
        items = list(accounts)
        for i, acc in enumerate(items):
            if not isinstance(acc, Account):
                raise InvalidAccountError(f"accounts[{i}]", acc, "must be an orderalloc.Account")
        n = len(items)
        securities = sorted({s for a in items for s in a.holdings})
        metric_names = sorted({m for a in items for m in a.metrics})
        restricted_ids = sorted({s for a in items for s in a.restricted})

        def lim(attr: str) -> list[float]:
            out = []
            for a in items:
                v = getattr(a.limits, attr) if a.limits is not None else None
                out.append(math.nan if v is None else v)
            return out

        return cls(
            ids=[a.id for a in items],
            nav=[a.nav for a in items],
            cash=[math.nan if a.cash is None else a.cash for a in items],
            holdings={s: [a.holdings.get(s, 0.0) for a in items] for s in securities},
            # An account without a metric others carry gets NaN there: unknown.
            metrics={m: [a.metrics.get(m, math.nan) for a in items] for m in metric_names},
            restricted={s: [s in a.restricted for a in items] for s in restricted_ids},
            names=None if all(a.name is None for a in items) else tuple(a.name for a in items),
            max_face=lim("max_face") if n else None,
            max_pct_nav=lim("max_pct_nav") if n else None,
            min_allocation=lim("min_allocation") if n else None,
        )

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        id_column: str = "id",
        holdings: Mapping[str, str] | None = None,
        metrics: Sequence[str] | None = None,
        restricted: Mapping[str, str] | None = None,
    ) -> AccountTable:
        """Columns from a pandas DataFrame.

        Args:
            frame: One row per account.
            id_column: The column holding account ids.
            holdings: Security id -> the column holding its face per account.
            metrics: The columns to read as metrics (default: ``metric:NAME``
                columns, read as metric ``NAME``).
            restricted: Security id -> a boolean column.

        The columns ``nav`` (required), ``cash``, ``name``, ``max_face``,
        ``max_pct_nav`` and ``min_allocation`` are read when present.
        """
        cols = set(frame.columns)
        if id_column not in cols:
            raise InvalidAccountError(
                "frame.columns", sorted(map(str, cols)), f"needs {id_column!r}"
            )
        if metrics is None:
            metric_cols = {
                c[len("metric:") :]: c for c in map(str, frame.columns) if c.startswith("metric:")
            }
        else:
            metric_cols = {m: m for m in metrics}

        def opt(name: str) -> ArrayLike:
            return frame[name].to_numpy(dtype=float) if name in cols else None

        if "nav" not in cols:
            raise InvalidAccountError("frame.columns", sorted(map(str, cols)), "needs 'nav'")
        return cls(
            ids=[str(x) for x in frame[id_column]],
            nav=frame["nav"].to_numpy(dtype=float),
            cash=opt("cash"),
            holdings={s: frame[c].to_numpy(dtype=float) for s, c in (holdings or {}).items()},
            metrics={m: frame[c].to_numpy(dtype=float) for m, c in metric_cols.items()},
            restricted={s: frame[c].to_numpy(dtype=bool) for s, c in (restricted or {}).items()},
            names=tuple(str(x) for x in frame["name"]) if "name" in cols else None,
            max_face=opt("max_face"),
            max_pct_nav=opt("max_pct_nav"),
            min_allocation=opt("min_allocation"),
        )


def _opt(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def as_table(accounts: Any) -> AccountTable:
    """Turn any accepted shape of accounts into an `AccountTable`.

    Accepts an `AccountTable` (returned as is), a sequence of `Account`, a
    mapping of columns (the keyword arguments of `AccountTable`, with ``id``
    accepted for ``ids``), or a pandas DataFrame (see `AccountTable.from_frame`).

    Raises:
        InvalidAccountError: The accounts are empty or cannot be read.
    """
    if isinstance(accounts, AccountTable):
        return accounts
    if isinstance(accounts, Mapping):
        columns = dict(accounts)
        if "id" in columns and "ids" not in columns:
            columns["ids"] = columns.pop("id")
        try:
            return AccountTable(**columns)
        except TypeError as exc:  # an unknown or missing column
            raise InvalidAccountError(
                "accounts", sorted(columns), f"unknown column: {exc}"
            ) from exc
    if type(accounts).__name__ == "DataFrame":
        return AccountTable.from_frame(accounts)
    if isinstance(accounts, (str, bytes)) or not isinstance(accounts, Iterable):
        raise InvalidAccountError(
            "accounts",
            accounts,
            "must be Accounts, an AccountTable, a mapping of columns or a DataFrame",
        )
    items: list[Account] = list(accounts)
    return AccountTable.from_accounts(items)
