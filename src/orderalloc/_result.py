"""What an allocation returns: columns per account, explained, with a dispersion summary.

An `AllocationResult` keeps its per-account data as numpy columns (one entry per
account, in the order of ``account_ids``), so a result for 100,000 accounts
costs a few arrays. `Allocation` objects, one per account line, are built only
when asked for (``result.allocations``, ``result.line(id)``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np

from ._account_columns import AccountLines
from ._model import Order
from ._reasons import Reason
from .errors import require
from .typing import FloatArray, IntArray

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Allocation", "AllocationResult", "DispersionSummary", "SolverInfo"]


@attrs.frozen(kw_only=True)
class Allocation:
    """One account's line of an allocation.

    Attributes:
        account_id: The account.
        quantity: Face allocated: 0 or a legal denomination.
        ideal: The engine's ideal (continuous, bounded) amount before rounding.
        share: The plain share before any account's cap was applied.
        cap: The most this account could take ignoring denominations.
        reason: Why the amount is what it is.
        message: The reason in words, with the numbers.
        market_value: Settlement amount of *quantity*, accrued included.
        pre_metrics: The account's metrics before the trade.
        post_metrics: The account's metrics after the trade (metrics the
            security has an analytic for).
    """

    account_id: str
    quantity: float
    ideal: float
    share: float
    cap: float
    reason: Reason
    message: str
    market_value: float
    pre_metrics: Mapping[str, float] = attrs.field(factory=dict)
    post_metrics: Mapping[str, float] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class DispersionSummary:
    """How alike the accounts are on one metric, before and after the trade.

    Means and standard deviations are weighted by the result's dispersion
    weights, named by *weighting*: NAV for every engine unless min dispersion
    was asked for other weights, so pro-rata and min dispersion of the same
    book report the same "before".

    Attributes:
        metric: The metric's name.
        std_before: Standard deviation across accounts before the trade.
        std_after: The same after the trade.
        max_deviation_before: Largest distance of an account from the mean, before.
        max_deviation_after: The same after.
        std_optimum: The continuous optimum's standard deviation (a bound no
            legal split can beat), when a min-dispersion engine computed it.
        weighting: How accounts were weighted: ``"nav"``, ``"equal"`` or
            ``"custom"``.
    """

    metric: str
    std_before: float
    std_after: float
    max_deviation_before: float
    max_deviation_after: float
    std_optimum: float | None = None
    weighting: str = "nav"

    @property
    def improvement(self) -> float:
        """``std_before - std_after``: positive when the accounts ended up more alike."""
        return self.std_before - self.std_after

    @property
    def improvement_pct(self) -> float:
        """Improvement as a percentage of ``std_before`` (0 when there was no dispersion)."""
        return 100.0 * self.improvement / self.std_before if self.std_before > 0 else 0.0

    @property
    def captured(self) -> float | None:
        """Share of the reachable improvement the legal split achieved (1.0 = all of it).

        Measured on variances, the quantity min dispersion minimises. None
        without a continuous optimum or when the optimum improves nothing.
        """
        if self.std_optimum is None:
            return None
        reachable = self.std_before**2 - self.std_optimum**2
        if reachable <= 1e-15 * max(self.std_before**2, 1e-300):
            return None
        return (self.std_before**2 - self.std_after**2) / reachable


@attrs.frozen(kw_only=True)
class SolverInfo:
    """Which continuous solver produced the ideal split, and how it ended.

    Attributes:
        backend: ``"exact"``, ``"slsqp"``, ``"convex"``, or ``"pro_rata"`` after
            a fallback.
        status: The solver's own status word.
        iterations: Iterations the solver reported.
        objective: The continuous optimum's objective value.
        seconds: Wall time of the continuous solve.
    """

    backend: str
    status: str
    iterations: int
    objective: float
    seconds: float


def _fmt_face(x: float) -> str:
    return f"{x:,.0f}"


#: The fields an engine may leave to be computed on first access
#: (`AllocationResult.deferred`): reasons, metrics after the trade and
#: dispersion summaries.
DEFERRED_FIELDS = ("reason_codes", "dispersion", "post_metrics")

# Stands for a deferred field's value until it is computed.
_PENDING: Any = object()


@attrs.frozen(kw_only=True, eq=False)
class AllocationResult(AccountLines[Reason]):
    """An allocation of one order across a group's accounts.

    Every column has one entry per account in the order of *account_ids*.

    Attributes:
        order: The order allocated.
        method: The engine's registry name.
        params: The engine's parameters, as given.
        account_ids: Every account of the input, allocated or not.
        quantity: Face per account, array of shape (n_accounts,).
        ideal: The engine's ideal continuous amounts (within each account's cap).
        share: The plain shares before caps were applied.
        cap: Per-account cap on the amount, ignoring denominations.
        reason_codes: `Reason` codes, int array.
        pre_metrics: Metric name -> values before the trade.
        post_metrics: Metric name -> values after (metrics the security moves).
        dispersion: Metric name -> `DispersionSummary`.
        warnings: Everything a reviewer should read, one sentence each.
        unallocated_reason: Why part of the order was not placed (or None).
        solver: The continuous solver's report, for min dispersion.
        rounding_gap: An upper bound on how much lower the rounding's
            objective (chi-square to the ideal for pro-rata and custom
            weights, the dispersion for min dispersion) could be in the best
            legal split of the same total, as a fraction of its value here:
            0 when proven optimal, None when no bound is known.
        created_at: When the allocation was computed (UTC).
        nav: NAV per account (None in records written before it was kept).
        dispersion_weights: The weights of the dispersion summary, summing
            to 1 (None in records written before they were kept).
    """

    order: Order
    method: str
    params: Mapping[str, Any]
    account_ids: tuple[str, ...]
    quantity: FloatArray
    ideal: FloatArray
    share: FloatArray
    cap: FloatArray
    reason_codes: IntArray
    pre_metrics: Mapping[str, FloatArray] = attrs.field(factory=dict)
    post_metrics: Mapping[str, FloatArray] = attrs.field(factory=dict)
    dispersion: Mapping[str, DispersionSummary] = attrs.field(factory=dict)
    warnings: tuple[str, ...] = ()
    unallocated_reason: str | None = None
    solver: SolverInfo | None = None
    rounding_gap: float | None = None
    created_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.timezone.utc))
    nav: FloatArray | None = None
    dispersion_weights: FloatArray | None = None
    # Computes the deferred fields (None once they are known); not part of the
    # value: no init, repr or JSON.
    _compute: Callable[[], Mapping[str, Any]] | None = attrs.field(
        init=False, default=None, repr=False
    )

    _reason_type = Reason

    @classmethod
    def deferred(cls, compute: Callable[[], Mapping[str, Any]], **fields: Any) -> AllocationResult:
        """A result whose reasons, metrics after and summaries are computed on first access.

        An allocation of 100,000 accounts spends a fifth of its time on reasons
        and summaries that a caller who only posts the amounts never reads.
        The result is the same value either way: reading ``reason_codes``,
        ``post_metrics`` or ``dispersion`` (directly, or through `to_json`,
        `table`, `line`...) calls *compute* once and stores what it returns.

        Args:
            compute: Returns ``{"reason_codes": ..., "dispersion": ...,
                "post_metrics": ...}``.
            **fields: Every other field, as for the constructor.
        """
        result = cls(**dict.fromkeys(DEFERRED_FIELDS, _PENDING), **fields)
        object.__setattr__(result, "_compute", compute)
        for name in DEFERRED_FIELDS:
            # An unset slot sends attribute lookups to __getattr__ below.
            object.__delattr__(result, name)
        return result

    def __getattr__(self, name: str) -> Any:
        # Only reached for a slot that is not set: a deferred field, or a cached
        # property of the bases (quantities, ...), not yet computed.
        if name in DEFERRED_FIELDS:
            compute = object.__getattribute__(self, "_compute")
            if compute is not None:
                values = compute()
                for field in DEFERRED_FIELDS:
                    object.__setattr__(self, field, values[field])
                object.__setattr__(self, "_compute", None)
                return values[name]
        # attrs computes the bases' cached properties in the __getattr__ it
        # gives them; mypy cannot see that method.
        return super().__getattr__(name)  # type: ignore[misc]

    def __repr__(self) -> str:
        return (
            f"AllocationResult(method={self.method!r}, side={self.order.side.value}, "
            f"security={self.order.security.id!r}, requested={self.requested:,.0f}, "
            f"allocated={self.allocated:,.0f}, unallocated={self.unallocated:,.0f}, "
            f"n_accounts={len(self)}, n_filled={int(np.count_nonzero(self.quantity))}, "
            f"warnings={len(self.warnings)})"
        )

    @property
    def requested(self) -> float:
        """The order size."""
        return self.order.quantity

    @property
    def unallocated(self) -> float:
        """Face of the order that could not be placed legally (see *unallocated_reason*)."""
        return self.requested - self.allocated

    def line(self, account_id: str) -> Allocation:
        """The `Allocation` line of one account.

        Raises:
            UnknownAccountError: The account is not part of this allocation (also a
                `KeyError`).
        """
        return self._line(self._row(account_id))

    @property
    def allocations(self) -> tuple[Allocation, ...]:
        """Every account line as an `Allocation` object (built on demand)."""
        return tuple(self._line(i) for i in range(len(self)))

    def message(self, i: int) -> str:
        """The explanation of row *i*, with its numbers."""
        reason = Reason.from_code(int(self.reason_codes[i]))
        q, ideal, share, cap = (
            float(self.quantity[i]),
            float(self.ideal[i]),
            float(self.share[i]),
            float(self.cap[i]),
        )
        sec = self.order.security
        text = f"{reason.description}: {_fmt_face(q)}"
        if reason in (Reason.ROUNDED_UP, Reason.ROUNDED_DOWN, Reason.FULL_SHARE):
            text += f" (ideal {ideal:,.2f})"
        elif reason is Reason.REDISTRIBUTED:
            text += f" (plain share {share:,.2f}, ideal after others' caps {ideal:,.2f})"
        elif reason in (
            Reason.CAPPED_BY_CASH,
            Reason.CAPPED_BY_HOLDINGS,
            Reason.LIMIT_HIT,
            Reason.STUB_AVOIDED,
        ):
            text += f" (cap {_fmt_face(cap)}, plain share {share:,.2f})"
        elif reason is Reason.BELOW_MIN_PIECE:
            text += f" (ideal {ideal:,.2f} < min piece {_fmt_face(sec.min_piece)})"
        elif reason is Reason.DISPERSION_TARGET:
            text += f" (continuous optimum {ideal:,.2f})"
        return text

    def _line(self, i: int) -> Allocation:
        q = float(self.quantity[i])
        return Allocation(
            account_id=self.account_ids[i],
            quantity=q,
            ideal=float(self.ideal[i]),
            share=float(self.share[i]),
            cap=float(self.cap[i]),
            reason=Reason.from_code(int(self.reason_codes[i])),
            message=self.message(i),
            market_value=self.order.security.market_value(q),
            pre_metrics={k: float(v[i]) for k, v in self.pre_metrics.items()},
            post_metrics={k: float(v[i]) for k, v in self.post_metrics.items()},
        )

    def to_frame(self) -> pd.DataFrame:
        """The account lines as a pandas DataFrame, one row per account.

        Indexed by account id (index name ``account_id``), with columns
        ``quantity``, ``ideal``, ``share``, ``cap``, ``reason``,
        ``market_value``, and ``pre:NAME`` / ``post:NAME`` per metric.

        Raises:
            MissingExtraError: pandas is not installed (``pip install orderalloc[pandas]``).
        """
        require("AllocationResult.to_frame", "pandas", "pandas")
        import pandas as pd

        cols: dict[str, Any] = {
            "quantity": self.quantity,
            "ideal": self.ideal,
            "share": self.share,
            "cap": self.cap,
            "reason": [Reason.from_code(int(c)).value for c in self.reason_codes.tolist()],
            "market_value": self.quantity * self.order.security.cash_per_face,
        }
        for name, values in self.pre_metrics.items():
            cols[f"pre:{name}"] = values
        for name, values in self.post_metrics.items():
            cols[f"post:{name}"] = values
        index = pd.Index(list(self.account_ids), name="account_id")
        frame: pd.DataFrame = pd.DataFrame(cols, index=index)
        return frame

    def plot(
        self,
        *,
        metric: str | Sequence[str] | None = None,
        relative: bool = False,
        unit: Literal["face", "pct_nav"] = "face",
        view: Literal["auto", "accounts", "histogram"] = "auto",
        max_accounts: int = 60,
        path: str | Path | None = None,
    ) -> Any:
        """The overview picture, a matplotlib Figure (needs the plot extra).

        See `orderalloc.plot.plot_result` for the arguments;
        ``pip install 'orderalloc[plot]'``.
        """
        from .plot import plot_result

        return plot_result(
            self,
            metric=metric,
            relative=relative,
            unit=unit,
            view=view,
            max_accounts=max_accounts,
            path=path,
        )

    def _repr_html_(self) -> str:
        """The result as an HTML summary, for Jupyter."""
        from ._render import result_html

        return result_html(self)

    def table(self, *, limit: int | None = 50, width: int = 80) -> str:
        """A plain-text table of the account lines and the dispersion summary.

        Fits *width* columns. When accounts are left out, the count and face
        of every reason over the whole group follow the table.

        Args:
            limit: Show at most this many accounts, largest allocations
                first (None: all).
            width: The most columns a line may take.
        """
        from ._render import result_table

        return result_table(self, limit=limit, width=width)


def dispersion_summary(
    metric: str,
    before: FloatArray,
    after: FloatArray,
    weights: FloatArray,
    *,
    std_optimum: float | None = None,
    weighting: str = "nav",
) -> DispersionSummary:
    """Weighted standard deviation and largest deviation, before and after.

    Accounts whose metric is unknown (NaN) are left out of both.
    """
    known = ~np.isnan(before)
    if not known.all():
        before, after, weights = before[known], after[known], weights[known]
    if before.size == 0 or float(weights.sum()) <= 0:
        nan = math.nan
        return DispersionSummary(
            metric=metric,
            std_before=nan,
            std_after=nan,
            max_deviation_before=nan,
            max_deviation_after=nan,
            std_optimum=std_optimum,
            weighting=weighting,
        )
    w = weights / weights.sum()

    def stats(x: FloatArray) -> tuple[float, float]:
        # Elementwise sums, not BLAS dot products: faster for one vector and
        # immune to the BLAS thread pool's start-up on a loaded machine.
        mean = float(np.sum(w * x))
        dev = x - mean
        var = float(np.sum(w * dev * dev))
        return math.sqrt(max(var, 0.0)), float(np.max(np.abs(dev)))

    sb, mb = stats(before)
    sa, ma = stats(after)
    return DispersionSummary(
        metric=metric,
        std_before=sb,
        std_after=sa,
        max_deviation_before=mb,
        max_deviation_after=ma,
        std_optimum=std_optimum,
        weighting=weighting,
    )
