"""`AccountTable`: the accounts of a group as columns, and `as_table`.

One idea: the columnar shape the engines work on (numpy arrays, one value per
account), validated column by column and vectorised so that a 100,000-account
table costs a few array operations per column; `as_table` turns `Account`
objects, a mapping of columns or a pandas DataFrame into one. The single
account's validators it shares live in `orderalloc._model`.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ._model import (
    ALL_SECURITIES,
    MAX_AMOUNT,
    MAX_METRIC,
    MIN_NAV,
    Account,
    AccountLimits,
    _is_number,
)
from .errors import InvalidAccountError, require
from .typing import ArrayLike, BoolArray, FloatArray

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AccountTable", "as_table"]


# Columns arrive as lists, tuples, numpy arrays or pandas Series. Converters keep
# them as given; ``__attrs_post_init__`` checks and converts each column once,
# vectorised for numpy input (one dtype check, one pass of isfinite and the range),
# so a 100,000-account table costs a few array operations per column.


def _keep(value: Any) -> Any:
    return value


def _ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise InvalidAccountError(
            "accounts.ids", value, "must be a sequence of account ids (strings)"
        )
    return tuple(value)


def _optional_names(value: Any) -> tuple[str | None, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise InvalidAccountError("accounts.names", value, "must be a sequence of names")
    return tuple(value)


_NUMBER_TYPES = (int, float, np.integer, np.floating)
_BOOL_TYPES = (bool, np.bool_)


def _number_type(tp: type) -> bool:
    return issubclass(tp, _NUMBER_TYPES) and not issubclass(tp, _BOOL_TYPES)


def _first_bad(values: Iterable[Any], ok: Any) -> tuple[int, Any]:
    for i, item in enumerate(values):
        if not ok(item):
            return i, item
    return -1, None  # pragma: no cover - only called when a bad item exists


def _where(field: str, i: int, ids: Sequence[str]) -> str:
    """``accounts['ID'].field`` for row *i* (or ``accounts.field[i]`` past the ids)."""
    return f"accounts[{ids[i]!r}].{field}" if i < len(ids) else f"accounts.{field}[{i}]"


def _numbers(field: str, value: Any, n: int, ids: Sequence[str], *, nan_ok: bool) -> FloatArray:
    """A float64 column from numbers only: bools, strings and bytes are refused by row."""
    name = f"accounts.{field}"
    if isinstance(value, (str, bytes, bytearray, Mapping)):
        raise InvalidAccountError(name, value, "must be a column of numbers")
    if isinstance(value, (list, tuple)):
        types = set(map(type, value))
        if not all(_number_type(t) or (nan_ok and t is type(None)) for t in types):
            i, item = _first_bad(value, lambda v: _is_number(v) or (nan_ok and v is None))
            raise InvalidAccountError(
                _where(field, i, ids), item, f"must be a number, not {type(item).__name__}"
            )
        if type(None) in types:
            value = [math.nan if v is None else v for v in value]
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged input
        raise InvalidAccountError(name, value, "must be a flat column of numbers") from exc
    kind = arr.dtype.kind
    if kind == "O":
        flat = arr.ravel().tolist()
        types = set(map(type, flat))
        if not all(_number_type(t) or (nan_ok and t is type(None)) for t in types):
            i, item = _first_bad(flat, lambda v: _is_number(v) or (nan_ok and v is None))
            raise InvalidAccountError(
                _where(field, i, ids), item, f"must be a number, not {type(item).__name__}"
            )
        flat = [math.nan if v is None else v for v in flat]
        try:
            arr = np.asarray(flat, dtype=np.float64).reshape(arr.shape)
        except OverflowError as exc:
            i, item = _first_bad(flat, lambda v: abs(v) <= MAX_AMOUNT * 1e3)
            raise InvalidAccountError(
                _where(field, i, ids), item, "is out of range (overflows a float)"
            ) from exc
    elif kind == "b":
        raise InvalidAccountError(name, value, "must be numbers, not booleans")
    elif kind not in "iuf":
        raise InvalidAccountError(
            name, value, f"must be a column of numbers (got dtype {arr.dtype})"
        )
    with np.errstate(over="raise"):
        try:
            arr = arr.astype(np.float64, copy=False)
        except FloatingPointError as exc:  # float128 and friends beyond float64
            raise InvalidAccountError(name, value, "is out of range (overflows a float)") from exc
    if arr.ndim == 0:
        arr = np.full(n, float(arr), dtype=np.float64)
    if arr.shape != (n,):
        raise InvalidAccountError(
            name, f"shape {arr.shape}", f"must have one value per account ({n})"
        )
    return arr


def _column(
    field: str,
    value: Any,
    n: int,
    ids: Sequence[str],
    *,
    lo: float,
    hi: float,
    nan_ok: bool,
    default: float | None = None,
) -> FloatArray:
    """A checked float64 column: numbers in [lo, hi] (NaN only where *nan_ok*)."""
    if value is None:
        if default is None:
            raise InvalidAccountError(f"accounts.{field}", value, "is required")
        # One read-only value seen n times: an absent column costs no memory.
        return np.broadcast_to(np.float64(default), (n,))
    arr = _numbers(field, value, n, ids, nan_ok=nan_ok)
    nan = np.isnan(arr)
    with np.errstate(invalid="ignore"):
        bad = (arr < lo) | (arr > hi) | np.isinf(arr)
    if not nan_ok:
        bad |= nan
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = "or NaN (unknown)" if nan_ok else "(not NaN)"
        raise InvalidAccountError(
            _where(field, i, ids), arr[i].item(), f"must be a number in [{lo:g}, {hi:g}] {where}"
        )
    return arr


def _flags(field: str, value: Any, n: int, ids: Sequence[str]) -> BoolArray:
    """A boolean column: True/False only (0/1 integers accepted; NaN and text refused)."""
    name = f"accounts.{field}"
    if isinstance(value, (str, bytes, bytearray, Mapping)):
        raise InvalidAccountError(name, value, "must be a column of True/False")
    if isinstance(value, (list, tuple)):
        types = set(map(type, value))
        if not all(issubclass(t, _BOOL_TYPES) for t in types):
            i, item = _first_bad(value, lambda v: isinstance(v, _BOOL_TYPES))
            raise InvalidAccountError(_where(field, i, ids), item, "must be True or False")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidAccountError(name, value, "must be a flat column of True/False") from exc
    kind = arr.dtype.kind
    if kind == "O":
        flat = arr.ravel().tolist()
        if not all(isinstance(v, _BOOL_TYPES) for v in flat):
            i, item = _first_bad(flat, lambda v: isinstance(v, _BOOL_TYPES))
            raise InvalidAccountError(_where(field, i, ids), item, "must be True or False")
        arr = np.asarray(flat, dtype=bool).reshape(arr.shape)
    elif kind in "iu":
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            raise InvalidAccountError(
                _where(field, i, ids), arr.ravel()[i].item(), "must be True or False (or 0/1)"
            )
        arr = arr.astype(bool)
    elif kind != "b":
        raise InvalidAccountError(
            name, value, f"must be a column of True/False (got dtype {arr.dtype})"
        )
    if arr.ndim == 0:
        arr = np.full(n, bool(arr), dtype=bool)
    if arr.shape != (n,):
        raise InvalidAccountError(
            name, f"shape {arr.shape}", f"must have one value per account ({n})"
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


def _columns(field: str, value: Any) -> dict[str, Any]:
    """A mapping of named columns, keys checked (non-empty strings)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidAccountError(f"accounts.{field}", value, "must be a mapping of columns")
    for key in value:
        if not isinstance(key, str) or not key.strip():
            raise InvalidAccountError(f"accounts.{field} key", key, "must be a non-empty string")
    return dict(value)


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
    nav: FloatArray = attrs.field(converter=_keep)
    cash: FloatArray | None = attrs.field(default=None, converter=_keep)
    holdings: Mapping[str, FloatArray] = attrs.field(factory=dict, converter=_keep)
    metrics: Mapping[str, FloatArray] = attrs.field(factory=dict, converter=_keep)
    restricted: Mapping[str, BoolArray] = attrs.field(factory=dict, converter=_keep)
    names: tuple[str | None, ...] | None = attrs.field(default=None, converter=_optional_names)
    max_face: FloatArray | None = attrs.field(default=None, converter=_keep)
    max_pct_nav: FloatArray | None = attrs.field(default=None, converter=_keep)
    min_allocation: FloatArray | None = attrs.field(default=None, converter=_keep)
    # Row by id, built on the first `index` call (most allocations never look one up).
    _positions: dict[str, int] | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        ids = self.ids
        n = len(ids)
        if n == 0:
            raise InvalidAccountError("accounts", [], "must hold at least one account")
        _check_ids(ids)
        set_ = object.__setattr__
        set_(self, "nav", _column("nav", self.nav, n, ids, lo=MIN_NAV, hi=MAX_AMOUNT, nan_ok=False))
        big = MAX_AMOUNT
        cash = _column("cash", self.cash, n, ids, lo=-big, hi=big, nan_ok=True, default=math.nan)
        set_(self, "cash", cash)
        for field, hi in (("max_face", big), ("max_pct_nav", 1.0), ("min_allocation", big)):
            arr = _column(
                field, getattr(self, field), n, ids, lo=0.0, hi=hi, nan_ok=True, default=math.nan
            )
            set_(self, field, arr)
        set_(
            self,
            "holdings",
            {
                sec: _column(f"holdings[{sec!r}]", col, n, ids, lo=-big, hi=big, nan_ok=False)
                for sec, col in _columns("holdings", self.holdings).items()
            },
        )
        set_(
            self,
            "metrics",
            {
                name: _column(
                    f"metrics[{name!r}]", col, n, ids, lo=-MAX_METRIC, hi=MAX_METRIC, nan_ok=True
                )
                for name, col in _columns("metrics", self.metrics).items()
            },
        )
        set_(
            self,
            "restricted",
            {
                sec: _flags(f"restricted[{sec!r}]", col, n, ids)
                for sec, col in _columns("restricted", self.restricted).items()
            },
        )
        if self.names is not None:
            names = tuple(self.names)
            if len(names) != n:
                raise InvalidAccountError(
                    "accounts.names", f"length {len(names)}", f"must have {n} entries"
                )
            for i, name in enumerate(names):
                if name is not None and not isinstance(name, str):
                    raise InvalidAccountError(
                        _where("names", i, ids), name, "must be a string or None"
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
        """True where the account must not receive *security_id* (or any security: ``"*"``)."""
        col = self.restricted.get(security_id)
        every = self.restricted.get(ALL_SECURITIES)
        if every is not None:
            return every if col is None else col | every
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
        ignore: Sequence[str] = (),
    ) -> AccountTable:
        """Columns from a pandas DataFrame, one row per account.

        The account ids come from the *id_column* column, else an ``account_id``
        column (what `AllocationResult.to_frame` and `AccountTable.to_frame`
        write as the index), else the frame's index when it is not the default
        ``0..n-1``. The columns ``nav`` (required), ``cash``, ``name``,
        ``max_face``, ``max_pct_nav`` and ``min_allocation`` are read when
        present, and by prefix:

        * ``metric:NAME``: metric ``NAME``;
        * ``holding:SECURITY``: face held of ``SECURITY``;
        * ``restricted:SECURITY``: True where the account must not receive it;
        * ``restricted`` (no suffix): True where the account must receive no
          security at all (stored as the security id ``"*"``).

        Every other column is an error naming it: a column the library does
        not understand is never dropped silently (it may be a restriction).
        Name it in *ignore* to skip it on purpose.

        Args:
            frame: One row per account.
            id_column: The column holding account ids.
            holdings: Security id -> the column holding its face per account.
            metrics: The columns to read as metrics, by their own names
                (default: the ``metric:NAME`` columns).
            restricted: Security id -> a True/False column.
            ignore: Columns to leave unread.

        Raises:
            InvalidAccountError: No ids or no ``nav``; an unknown column; a
                value of the wrong type (a NaN or text restriction, a text
                NAV, a missing id), named by column and account.

        .. versionchanged:: 0.1
           Ids from ``account_id`` or the index; unknown columns are refused.
        """
        columns = list(frame.columns)
        for c in columns:
            if not isinstance(c, str):
                raise InvalidAccountError("frame.columns", c, "column names must be strings")
        cols = set(columns)
        used: set[str] = set(ignore)
        if id_column in cols:
            raw_ids: Any = frame[id_column].tolist()
            used.add(id_column)
        elif "account_id" in cols:
            raw_ids = frame["account_id"].tolist()
            used.add("account_id")
        elif type(frame.index).__name__ != "RangeIndex" or frame.index.name is not None:
            raw_ids = frame.index.tolist()
        else:
            raise InvalidAccountError(
                "frame.columns",
                sorted(cols),
                f"needs account ids: a {id_column!r} or 'account_id' column, or ids as the index",
            )
        ids: list[str] = []
        for i, ident in enumerate(raw_ids):
            if isinstance(ident, (int, np.integer)) and not isinstance(ident, (bool, np.bool_)):
                ident = str(ident)
            if not isinstance(ident, str) or not ident.strip():
                raise InvalidAccountError(
                    f"frame.ids[{i}]", ident, "must be a non-empty string (or a whole number)"
                )
            ids.append(ident)

        def column(name: str) -> Any:
            used.add(name)
            series = frame[name]
            import pandas as pd

            numeric = pd.api.types.is_numeric_dtype(series.dtype)
            if numeric and not pd.api.types.is_bool_dtype(series.dtype):
                return series.to_numpy(dtype=np.float64, na_value=math.nan)
            return series.to_numpy()

        def opt(name: str) -> Any:
            return column(name) if name in cols else None

        if "nav" not in cols:
            raise InvalidAccountError("frame.columns", sorted(cols), "needs 'nav'")
        metric_cols = (
            {c[len("metric:") :]: c for c in columns if c.startswith("metric:")}
            if metrics is None
            else {m: m for m in metrics}
        )
        holding_cols = {c[len("holding:") :]: c for c in columns if c.startswith("holding:")}
        holding_cols.update(holdings or {})
        restricted_cols = {
            c[len("restricted:") :]: c for c in columns if c.startswith("restricted:")
        }
        if "restricted" in cols:
            restricted_cols[ALL_SECURITIES] = "restricted"
        restricted_cols.update(restricted or {})
        for mapping in (metric_cols, holding_cols, restricted_cols):
            for c in mapping.values():
                if c not in cols:
                    raise InvalidAccountError("frame.columns", c, "no such column")
        names = None
        if "name" in cols:
            used.add("name")
            names = tuple(
                None if (isinstance(x, float) and math.isnan(x)) or x is None else x
                for x in frame["name"].tolist()
            )
        # Errors name the table's field; say which frame column it came from.
        sources = {f"metrics[{m!r}]": c for m, c in metric_cols.items()}
        sources.update({f"holdings[{h!r}]": c for h, c in holding_cols.items()})
        sources.update({f"restricted[{r!r}]": c for r, c in restricted_cols.items()})
        try:
            table = cls(
                ids=ids,
                nav=column("nav"),
                cash=opt("cash"),
                holdings={s: column(c) for s, c in holding_cols.items()},
                metrics={m: column(c) for m, c in metric_cols.items()},
                restricted={s: column(c) for s, c in restricted_cols.items()},
                names=names,
                max_face=opt("max_face"),
                max_pct_nav=opt("max_pct_nav"),
                min_allocation=opt("min_allocation"),
            )
        except InvalidAccountError as exc:
            source = next((c for key, c in sources.items() if key in exc.field), None)
            if source is None:
                raise
            raise InvalidAccountError(
                f"{exc.field} (column {source!r})", exc.value, exc.reason
            ) from exc
        unknown = [c for c in columns if c not in used]
        if unknown:
            hints = [_column_hint(frame, c) for c in unknown]
            raise InvalidAccountError(
                "frame.columns",
                unknown,
                "not understood, and a column is never dropped silently: "
                + "; ".join(hints)
                + " (or pass ignore=[...] to skip them on purpose)",
            )
        return table

    def to_frame(self) -> pd.DataFrame:
        """The table as a pandas DataFrame indexed by account id (``account_id``).

        Columns ``nav``, ``cash``, ``max_face``, ``max_pct_nav``,
        ``min_allocation``, ``name`` (when names are set), and ``metric:NAME``,
        ``holding:SECURITY``, ``restricted:SECURITY`` (``restricted`` for
        ``"*"``) per column: `from_frame` reads it back to an equal table.

        Raises:
            MissingExtraError: pandas is not installed (``pip install orderalloc[pandas]``).

        .. versionadded:: 0.1
        """
        require("AccountTable.to_frame", "pandas", "pandas")
        import pandas as pd

        cols: dict[str, Any] = {"nav": self.nav, "cash": self.cash}
        if self.names is not None:
            cols["name"] = list(self.names)
        cols.update(
            max_face=self.max_face, max_pct_nav=self.max_pct_nav, min_allocation=self.min_allocation
        )
        for name, values in self.metrics.items():
            cols[f"metric:{name}"] = values
        for sec, values in self.holdings.items():
            cols[f"holding:{sec}"] = values
        for sec, flags in self.restricted.items():
            cols["restricted" if sec == ALL_SECURITIES else f"restricted:{sec}"] = flags
        index = pd.Index(list(self.ids), name="account_id")
        frame: pd.DataFrame = pd.DataFrame(cols, index=index)
        return frame


def _column_hint(frame: Any, name: str) -> str:
    """What an unknown DataFrame column probably is, and how to name it."""
    dtype = frame[name].dtype
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return f"{name!r} looks like a restriction: name it 'restricted:<SECURITY_ID>'"
    if kind in "iuf":
        return (
            f"{name!r} holds numbers: name it 'metric:{name}' for a metric or "
            f"'holding:<SECURITY_ID>' for a position"
        )
    return f"{name!r} is not a column orderalloc reads"


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
