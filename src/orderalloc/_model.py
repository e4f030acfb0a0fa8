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
  DataFrame) into a table. Both live in the private ``_table`` module and are
  importable from here.

Accepted ranges (refused outside them, with the range in the message, so that
no product of two inputs can overflow a float): face amounts, cash, holdings
and NAV at most ``1e15`` in magnitude, NAV at least ``1e-6``; metrics and
analytics at most ``1e9`` in magnitude; prices in ``[1e-6, 1e6]``. A number is
an ``int``, a ``float`` or a numpy number; a bool, bytes or text never is.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from .errors import (
    InvalidAccountError,
    InvalidInputError,
    InvalidOrderError,
    InvalidSecurityError,
)

if TYPE_CHECKING:
    pass

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

#: The largest face, cash, NAV or holding accepted (a quadrillion): beyond any
#: bond issue, and small enough that products of amounts cannot overflow.
MAX_AMOUNT = 1e15
#: The smallest NAV accepted: metrics are divided by NAV, so a NAV near zero
#: would turn any trade into an infinite move.
MIN_NAV = 1e-6
#: The largest magnitude of a metric or analytic (spread duration, OAS, DV01, ...).
MAX_METRIC = 1e9
#: Prices per 100 of face are accepted in [MIN_PRICE, MAX_PRICE].
MIN_PRICE = 1e-6
MAX_PRICE = 1e6
#: The security id that restricts an account from every security.
ALL_SECURITIES = "*"


def _is_number(value: Any) -> bool:
    """A real number that is not a bool (a bool or bytes is never a quantity)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _finite(
    error: type[InvalidInputError],
    field: str,
    value: Any,
    *,
    limit: float = MAX_AMOUNT,
) -> float:
    if not _is_number(value):
        raise error(field, value, f"must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError as exc:
        raise error(field, value, f"must be within [-{limit:g}, {limit:g}]") from exc
    if not math.isfinite(number):
        raise error(field, value, "must be a finite number (not NaN or infinity)")
    if abs(number) > limit:
        raise error(field, value, f"must be within [-{limit:g}, {limit:g}]")
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


def _optional_text(error: type[InvalidInputError], field: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise error(field, value, f"must be a string or None, not {type(value).__name__}")
    return value


def _float_mapping(
    error: type[InvalidInputError], field: str, value: Any, *, limit: float = MAX_AMOUNT
) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise error(field, value, "must be a mapping of names to numbers")
    out: dict[str, float] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise error(f"{field} key", key, "must be a non-empty string")
        out[key] = _finite(error, f"{field}[{key!r}]", item, limit=limit)
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
        price = _positive(err, "security.price", self.price)
        if not MIN_PRICE <= price <= MAX_PRICE:
            raise err("security.price", self.price, f"must be in [{MIN_PRICE:g}, {MAX_PRICE:g}]")
        set_(self, "price", price)
        set_(self, "min_piece", _whole(err, "security.min_piece", self.min_piece))
        set_(self, "increment", _whole(err, "security.increment", self.increment))
        accrued = _finite(err, "security.accrued", self.accrued, limit=MAX_PRICE)
        if accrued < 0:
            raise err("security.accrued", self.accrued, "must be 0 or more")
        set_(self, "accrued", accrued)
        factor = _positive(err, "security.factor", self.factor)
        if factor > 1:
            raise err("security.factor", self.factor, "must be in (0, 1]")
        set_(self, "factor", factor)
        set_(
            self,
            "analytics",
            _float_mapping(err, "security.analytics", self.analytics, limit=MAX_METRIC),
        )
        for name in ("name", "ticker", "asset_class"):
            _optional_text(err, f"security.{name}", getattr(self, name))
        _identifier(err, "security.currency", self.currency)

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
    """Security ids: one id, or an iterable of ids (never a mapping, bytes or a number)."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, (bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise InvalidAccountError(
            "account.restricted", value, "must be a security id or a collection of ids"
        )
    out = frozenset(value)
    for item in out:
        if not isinstance(item, str) or not item.strip():
            raise InvalidAccountError(
                "account.restricted", item, "must hold security ids (non-empty strings)"
            )
    return out


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
        nav = _positive(err, f"{where}.nav", self.nav)
        if nav < MIN_NAV:
            raise err(f"{where}.nav", self.nav, f"must be in [{MIN_NAV:g}, {MAX_AMOUNT:g}]")
        object.__setattr__(self, "nav", nav)
        if self.cash is not None:
            object.__setattr__(self, "cash", _finite(err, f"{where}.cash", self.cash))
        object.__setattr__(
            self, "holdings", _float_mapping(err, f"{where}.holdings", self.holdings)
        )
        object.__setattr__(
            self,
            "metrics",
            _float_mapping(err, f"{where}.metrics", self.metrics, limit=MAX_METRIC),
        )
        _optional_text(err, f"{where}.name", self.name)
        if self.limits is not None and not isinstance(self.limits, AccountLimits):
            raise err(f"{where}.limits", self.limits, "must be an AccountLimits or None")


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
        err = InvalidOrderError
        if not isinstance(self.security, Security):
            raise err("order.security", self.security, "must be a Security")
        object.__setattr__(self, "quantity", _whole(err, "order.quantity", self.quantity))
        date = self.settle_date
        if date is not None and (not isinstance(date, dt.date) or isinstance(date, dt.datetime)):
            raise err("order.settle_date", date, "must be a datetime.date (not a time) or None")
        _optional_text(err, "order.reference", self.reference)


# The columnar table lives in its own module; its names stay importable from here.
from ._table import AccountTable, as_table  # noqa: E402
