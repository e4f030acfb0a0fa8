"""`analyse_fairness`: every statistic of one group over a period, in one `FairnessReport`.

The report holds the trail (`FairnessTrail`), the per-account statistics
(`orderalloc.fairness.stats`), the cumulative shortfall over time, each
method's distance from pro rata, the late or changed allocations, the
overrides, and, given later prices, the P&L and the permutation test
(`orderalloc.fairness.permutation`). It renders as a pandas DataFrame
(`FairnessReport.summary`), plain columns (`FairnessReport.columns`),
JSON (`FairnessReport.records`), an 80-column text (`FairnessReport.text`)
and a self-contained HTML page (`orderalloc.fairness.html`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ..audit.events import format_time
from ..errors import InvalidParameterError, require
from ..typing import FloatArray
from .permutation import PermutationResult, later_prices, order_returns, permutation_test
from .stats import account_stats, cumulative_shortfall, method_deviation
from .trail import FairnessTrail, read_trail

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FairnessReport", "analyse_fairness"]

#: The columns of `FairnessReport.summary`, in order.
SUMMARY_COLUMNS = (
    "orders",
    "intent",
    "filled",
    "fill_rate",
    "partial_orders",
    "zero_fills",
    "entitled",
    "shortfall",
    "shortfall_pct",
    "deviation",
    "deviation_pct",
    "late_or_changed",
    "overrides",
    "pnl",
    "excess_pnl",
    "z",
    "p_value",
    "p_holm",
    "flagged",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return _jsonable(value.item())
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return format_time(value)
    return value


@attrs.frozen(kw_only=True, eq=False)
class FairnessReport:
    """The fairness statistics of one group over a period.

    Attributes:
        trail: The columns read from the audit trail.
        stats: Per-account statistics (`orderalloc.fairness.stats.account_stats`).
        shortfall_path: Cumulative shortfall after each order, shape (n_orders, n_accounts).
        methods: Per pre-trade method, its distance from NAV pro rata.
        permutation: The P&L and permutation test, or None without later prices.
        alpha: The level at which an account is flagged (Holm-adjusted p-value).

    .. versionadded:: 26.1
    """

    trail: FairnessTrail
    stats: Mapping[str, Any]
    shortfall_path: FloatArray
    methods: Mapping[str, Mapping[str, float]]
    permutation: PermutationResult | None
    alpha: float = 0.01

    def __repr__(self) -> str:
        flagged = () if self.permutation is None else self.permutation.flagged(self.alpha)
        return (
            f"FairnessReport(group={self.trail.group!r}, orders={self.trail.n_orders}, "
            f"accounts={self.trail.n_accounts}, flagged={list(flagged)!r})"
        )

    @property
    def account_ids(self) -> tuple[str, ...]:
        """The accounts, sorted."""
        return self.trail.account_ids

    @property
    def changes(self) -> tuple[Mapping[str, Any], ...]:
        """Allocations decided, modified or re-booked after an execution."""
        return self.trail.changes

    @property
    def overrides(self) -> tuple[Mapping[str, Any], ...]:
        """Commits despite blocking compliance violations: who, when, why, which accounts."""
        return self.trail.overrides

    def flagged(self) -> tuple[str, ...]:
        """Accounts whose Holm-adjusted p-value is below *alpha* (none without prices)."""
        return () if self.permutation is None else self.permutation.flagged(self.alpha)

    def columns(self) -> dict[str, Any]:
        """The summary as plain columns: ``account_id`` and every `SUMMARY_COLUMNS` entry."""
        n = self.trail.n_accounts
        index = {a: i for i, a in enumerate(self.trail.account_ids)}

        def counts(items: tuple[Mapping[str, Any], ...]) -> np.ndarray[Any, Any]:
            c: Counter[str] = Counter()
            for item in items:
                c.update(set(item.get("accounts", ())))
            out = np.zeros(n, dtype=np.int64)
            for a, k in c.items():
                if a in index:
                    out[index[a]] = k
            return out

        nan = np.full(n, np.nan)
        perm = self.permutation
        cols: dict[str, Any] = {"account_id": list(self.trail.account_ids)}
        cols.update({k: self.stats[k] for k in SUMMARY_COLUMNS if k in self.stats})
        cols["late_or_changed"] = counts(self.changes)
        cols["overrides"] = counts(self.overrides)
        cols["pnl"] = nan if perm is None else perm.pnl
        cols["excess_pnl"] = nan if perm is None else perm.excess
        cols["z"] = nan if perm is None else perm.z
        cols["p_value"] = nan if perm is None else perm.p_value
        cols["p_holm"] = nan if perm is None else perm.p_holm
        cols["flagged"] = np.isin(np.asarray(self.trail.account_ids, dtype=object), self.flagged())
        return {k: cols[k] for k in ("account_id", *SUMMARY_COLUMNS)}

    def summary(self) -> pd.DataFrame:
        """One row per account, indexed by account id (`SUMMARY_COLUMNS`).

        Raises:
            MissingExtraError: pandas is not installed (``pip install 'orderalloc[pandas]'``).
        """
        require("FairnessReport.summary", "pandas", "pandas")
        import pandas as pd

        cols = self.columns()
        ids = cols.pop("account_id")
        frame: pd.DataFrame = pd.DataFrame(cols, index=pd.Index(ids, name="account_id"))
        return frame

    def records(self, *, path_accounts: int = 10) -> dict[str, Any]:
        """The report as JSON-able data (NaN as null).

        Args:
            path_accounts: How many accounts' cumulative shortfall over time to
                include (those furthest from zero at the end).
        """
        t = self.trail
        cols = self.columns()
        ids = cols.pop("account_id")
        rows = [
            {"account_id": a, **{k: _jsonable(v[i]) for k, v in cols.items()}}
            for i, a in enumerate(ids)
        ]
        perm = self.permutation
        return {
            "group": t.group,
            "since": None if t.since is None else format_time(t.since),
            "until": None if t.until is None else format_time(t.until),
            "orders": t.n_orders,
            "accounts": t.n_accounts,
            "partial_orders": int(np.sum(self._partial())),
            "alpha": self.alpha,
            "flagged": list(self.flagged()),
            "permutation": None
            if perm is None
            else {
                "permutations": perm.permutations,
                "seed": perm.seed,
                "orders": perm.orders,
                "strata": perm.strata,
            },
            "methods": _jsonable(self.methods),
            "summary": rows,
            "shortfall_over_time": _jsonable(self.shortfall_series(path_accounts)),
            "changes": _jsonable(list(self.changes)),
            "overrides": _jsonable(list(self.overrides)),
        }

    def _partial(self) -> np.ndarray[Any, Any]:
        from .stats import partial_orders

        return partial_orders(self.trail)

    def shortfall_series(self, accounts: int = 10) -> dict[str, Any]:
        """The cumulative shortfall over time of the *accounts* furthest from zero at the end."""
        t = self.trail
        path = self.shortfall_path
        if not t.n_orders or not t.n_accounts:
            return {"time": [], "accounts": {}}
        last = np.abs(path[-1])
        top = np.argsort(-last, kind="stable")[:accounts]
        return {
            "time": [format_time(x) for x in t.executed_at],
            "accounts": {t.account_ids[i]: path[:, i] for i in top.tolist()},
        }

    def text(self, *, limit: int = 20, width: int = 80) -> str:
        """A terminal summary that fits *width* columns: the accounts most worth a look first.

        Accounts are listed flagged first, then by p-value, then by shortfall.
        """
        from .html import text_report

        return text_report(self, limit=limit, width=width)

    def html(self, *, title: str | None = None, accounts: int = 30) -> str:
        """The self-contained HTML report (needs the ``plot`` extra for its pictures)."""
        from .html import html_report

        return html_report(self, title=title, accounts=accounts)


def analyse_fairness(
    sink: Any,
    group: str,
    *,
    since: dt.datetime | dt.date | None = None,
    until: dt.datetime | dt.date | None = None,
    prices: Any = None,
    permutations: int = 9_999,
    seed: int = 0,
    alpha: float = 0.01,
    trail: FairnessTrail | None = None,
) -> FairnessReport:
    """Read a group's audit trail for a period and compute every fairness statistic.

    Args:
        sink: Any `~orderalloc.audit.AuditSink` (SQLite, Snowflake, outbox, recording).
        group: The portfolio group.
        since: Start of the period (a date is midnight UTC).
        until: End of the period, exclusive.
        prices: Later prices for the P&L and the permutation test (see
            `orderalloc.fairness.permutation.later_prices`): a mapping, a
            DataFrame, a callable or a data source. None skips both.
        permutations: Random reallocations drawn for each p-value.
        seed: Their seed.
        alpha: The family-wise level at which an account is flagged.
        trail: An already read trail (then *sink*, *since* and *until* are unused).

    Returns:
        The report.

    Raises:
        InvalidInputError: A naive time, an empty group, bad prices, or
            *alpha* outside (0, 1).
        AuditSinkError: The sink could not be read.

    .. versionadded:: 26.1
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise InvalidParameterError("alpha", alpha, "must be a number in (0, 1)")
    t = trail if trail is not None else read_trail(sink, group, since=since, until=until)
    perm = None
    if prices is not None:
        returns = order_returns(t, later_prices(t, prices))
        perm = permutation_test(t, returns, permutations=permutations, seed=seed)
    return FairnessReport(
        trail=t,
        stats=account_stats(t),
        shortfall_path=cumulative_shortfall(t),
        methods=method_deviation(t),
        permutation=perm,
        alpha=float(alpha),
    )
