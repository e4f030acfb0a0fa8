"""What every engine shares: the pipeline from order and accounts to an explained result.

An engine only decides the *ideal* split (`Ideal`): a continuous amount per
account within its cap, and how much a face of deviation from it costs. The
rest is the same for every engine and lives here, once:

1. the accounts become columns (`orderalloc._model.as_table`);
2. every account's legal set is computed (`orderalloc.limits.trade_bounds`);
3. the engine computes its ideal split (`Engine.ideal`);
4. the ideal is made tradable with the exact total (`orderalloc.lots.round_to_lots`);
5. each line gets its reason, the metrics move, and the warnings are written.
"""

from __future__ import annotations

import abc
import hashlib
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs
import numpy as np

from .._model import AccountTable, Order, Side, as_table
from .._reasons import Reason
from .._result import AllocationResult, SolverInfo, dispersion_summary
from ..errors import InvalidOrderError, InvalidParameterError
from ..limits import TradeBounds, trade_bounds
from ..lots import Rounding, round_to_lots
from ..lots._centre import MovingMean
from ..typing import BoolArray, FloatArray, IntArray

__all__ = ["Engine", "Ideal", "Problem", "canonical_order", "reordered", "rounding_gap"]


@attrs.frozen(eq=False)
class Problem:
    """One order against one group, as the engines see it.

    Attributes:
        order: The order.
        accounts: The accounts, as columns.
        bounds: Every account's legal set for this order.
    """

    order: Order
    accounts: AccountTable
    bounds: TradeBounds

    @property
    def hi(self) -> FloatArray:
        """The continuous upper bound per account: its largest legal amount."""
        return self.bounds.max_legal

    @property
    def placeable(self) -> float:
        """The most of the order the continuous problem can place: min(order, sum of caps)."""
        return min(self.order.quantity, float(self.hi.sum()))

    def sensitivity(self, metric: str) -> FloatArray | None:
        """How one face of the trade moves *metric* per account, or None if it cannot.

        ``sign * factor * (price + accrued) / 100 * b / NAV``, where ``b`` is the
        security's analytic for the metric: the trade is funded from cash,
        which carries none of the metric, and NAV does not change.
        """
        b = self.order.security.sensitivity(metric)
        if b is None:
            return None
        scale: FloatArray = (
            self.order.side.sign * self.order.security.cash_per_face * b / self.accounts.nav
        )
        return scale


@attrs.frozen(eq=False, kw_only=True)
class Ideal:
    """An engine's ideal split, before denominations.

    Attributes:
        target: Ideal face per account, within ``[0, problem.hi]``, summing to
            ``problem.placeable``.
        cost: Cost of one face of deviation squared, per account (> 0): what
            the rounding keeps small.
        share: The plain share before caps (what the account "deserves").
        eligible: False where the engine gives the account nothing at all
            (zero weight); those accounts stay at 0 through rounding.
        centre: The point rounding measures deviations from (default:
            *target*). Min dispersion passes the unconstrained optimum at the
            continuous centre, so rounding minimises the dispersion itself.
        reason: The reason of a line that received its ideal amount.
        dispersion_weights: Weights of the dispersion summary (None: NAV, so
            that every engine's summary of the same book is comparable).
        dispersion_weighting: The name of those weights (``"nav"``,
            ``"equal"``, ``"custom"``), shown on every summary and picture.
        std_optimum: Metric -> standard deviation at the continuous optimum.
        solver: The continuous solver's report, when there is one.
        warnings: Sentences to pass on to the result.
        objective: The objective the rounding is judged by, when it is not
            ``sum_i cost_i (q_i - centre_i)^2`` itself (min dispersion: the
            dispersion of a split).
        objective_scale: ``objective = objective_scale * rounding cost +
            const`` when the objective is separable (*recentre* is None).
        objective_floor: A lower bound on *objective* over splits placing
            *placed* (the continuous optimum).
        placed: The total *objective_floor* holds for.
        recentre: For an objective that is not separable (the mean moves
            with the split): the centre of its separable form at a split's
            own mean, for the rounding's re-centring rounds.
        moving_mean: With *recentre*, for one metric: the dispersion as a
            function of its centre, for the rounding's exact search over it.
    """

    target: FloatArray
    cost: FloatArray
    share: FloatArray
    eligible: BoolArray
    centre: FloatArray | None = None
    reason: Reason = Reason.FULL_SHARE
    dispersion_weights: FloatArray | None = None
    dispersion_weighting: str = "nav"
    std_optimum: Mapping[str, float] = attrs.field(factory=dict)
    solver: SolverInfo | None = None
    warnings: tuple[str, ...] = ()
    objective: Callable[[FloatArray], float] | None = None
    objective_scale: float = 1.0
    objective_floor: float = -math.inf
    placed: float = math.nan
    recentre: Callable[[FloatArray], FloatArray] | None = None
    moving_mean: MovingMean | None = None


class Engine(abc.ABC):
    """The base of every allocation engine.

    Subclasses set `name`, take their parameters as keyword arguments in
    ``__init__`` (validated there, so bad parameters fail before any work),
    and implement `ideal`. Third-party engines register under the entry-point
    group ``orderalloc.engines``.
    """

    #: The registry name, e.g. ``"pro_rata"``.
    name: ClassVar[str]

    @abc.abstractmethod
    def ideal(self, problem: Problem) -> Ideal:
        """The ideal continuous split of *problem* (see `Ideal`)."""

    @property
    @abc.abstractmethod
    def params(self) -> Mapping[str, Any]:
        """The engine's parameters, JSON-able, as recorded in results and audits."""

    def allocate(self, order: Order, accounts: Any, *, seed: int | None = None) -> AllocationResult:
        """Allocate *order* across *accounts*, legally and with every line explained.

        Args:
            order: The order.
            accounts: `Account` objects, an `AccountTable`, a mapping of
                columns or a pandas DataFrame.
            seed: Tie-break seed; by default derived from the order, so that
                ties go to different accounts from one order to the next.

        Returns:
            The result: legal amounts, exact total or the unallocated face
            with its cause, reasons, metrics and dispersion summary.
        """
        if not isinstance(order, Order):
            raise InvalidOrderError("order", order, "must be an orderalloc.Order")
        if seed is not None and (
            not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_))
        ):
            raise InvalidParameterError("seed", seed, "must be a whole number or None")
        table = as_table(accounts)
        bounds = trade_bounds(order, table)
        problem = Problem(order=order, accounts=table, bounds=bounds)
        # Small and mid-sized groups are solved in a canonical order (by NAV,
        # then id), so no float sum, sort or tie depends on input position.
        perm = canonical_order(table)
        work = problem
        if perm is not None:
            work_table = reordered(table, perm)
            work = Problem(order=order, accounts=work_table, bounds=_take_bounds(bounds, perm))
        ideal = self.ideal(work)
        rounded_bounds = work.bounds.restrict(ideal.eligible)
        rounding = round_to_lots(
            ideal.target if ideal.centre is None else ideal.centre,
            ideal.cost,
            rounded_bounds,
            order.quantity,
            ids=work.accounts.ids,
            seed=default_seed(order) if seed is None else seed,
            ideal=None if ideal.centre is None else ideal.target,
            objective=ideal.objective if ideal.recentre is not None else None,
            recentre=ideal.recentre,
            moving_mean=ideal.moving_mean,
        )
        q = rounding.q
        # The gap is measured in the order the rounding worked in.
        gap = rounding_gap(rounding, ideal)
        if perm is not None:
            inv = np.empty_like(perm)
            inv[perm] = np.arange(perm.size)
            ideal = _reorder_ideal(ideal, inv)
            q = q[inv]
            rounded_bounds = bounds.restrict(ideal.eligible)
        return build_result(
            self,
            problem,
            ideal,
            rounded_bounds,
            q,
            rounding_gap=gap,
            best_effort=rounding.best_effort,
        )


#: Groups up to this size are solved in a canonical order (see `canonical_order`).
#: Beyond it the reordered copy of the group would lift the peak memory of an
#: allocation from about 4 to 6.5 times its numeric input (tests/test_peak_memory.py).
CANONICAL_MAX_ACCOUNTS = 50_000


def _account_row(table: AccountTable, field: str, key: str) -> int:
    """The row of account *key*, named in parameter *field* (weights by account id).

    Raises:
        InvalidParameterError: No account of *table* has that id.
    """
    try:
        return table.index(key)
    except KeyError:
        raise InvalidParameterError(field, key, "is not an account of this allocation") from None


def canonical_order(table: AccountTable) -> IntArray | None:
    """Rows sorted by (NAV, id), or None if already so or the group is large.

    Sums of floats depend on the order of their terms in the last bits, and a
    near-tie in rounding can fall either way on such a bit. Solving in an
    order that depends only on the accounts (not on where they stand in the
    input) makes every allocation of a group up to `CANONICAL_MAX_ACCOUNTS`
    accounts exactly the same under any permutation (what it costs at 10,000
    accounts is measured by ``benchmarks/bench_rounding.py``). Larger groups
    are solved in input order, to keep their memory: there, only decisions
    whose two sides agree to about one part in 10**15 may depend on it.
    """
    n = len(table)
    if n > CANONICAL_MAX_ACCOUNTS or n < 2:
        return None
    nav = table.nav
    order = np.argsort(nav)  # any sort: tied NAVs are put in id order below
    ranked = nav[order]
    tied = np.flatnonzero(ranked[1:] == ranked[:-1])
    if tied.size:
        ids = table.ids
        # Runs of equal NAVs: each starts where a tie begins after a non-tie.
        starts = tied[np.r_[True, tied[1:] != tied[:-1] + 1]]
        stops = tied[np.r_[tied[1:] != tied[:-1] + 1, True]] + 2
        for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
            block = order[start:stop].tolist()
            order[start:stop] = sorted(block, key=ids.__getitem__)
    if (order == np.arange(n)).all():
        return None
    out: IntArray = order
    return out


def reordered(table: AccountTable, rows: IntArray) -> AccountTable:
    """*table* with its rows in the order *rows* (a permutation), without revalidating.

    The rows are already valid; `AccountTable.take` would check them again,
    which costs more than the allocation itself for a few thousand accounts.
    """
    n = len(table)
    new = object.__new__(AccountTable)
    for field in attrs.fields(AccountTable):
        value = getattr(table, field.name)
        if field.name == "_positions":
            value = None  # the id index is built on first use
        elif isinstance(value, np.ndarray) and value.shape[:1] == (n,):
            value = value[rows]
        elif isinstance(value, tuple) and len(value) == n:
            # Through an object array: a permuted tuple of many ids at C speed.
            value = tuple(np.fromiter(value, dtype=object, count=n)[rows].tolist())
        elif isinstance(value, Mapping):
            value = {
                k: v[rows] if isinstance(v, np.ndarray) and v.shape[:1] == (n,) else v
                for k, v in value.items()
            }
        object.__setattr__(new, field.name, value)
    return new


def _take_bounds(bounds: TradeBounds, rows: IntArray) -> TradeBounds:
    """*bounds* with every per-account array in the order *rows* (no recomputation)."""
    return attrs.evolve(
        bounds,
        **{
            f.name: getattr(bounds, f.name)[rows]
            for f in attrs.fields(TradeBounds)
            if isinstance(getattr(bounds, f.name), np.ndarray)
        },
    )


def _reorder_ideal(ideal: Ideal, rows: IntArray) -> Ideal:
    """The same ideal with every per-account column taken in the order *rows*."""

    def take(x: FloatArray | None) -> FloatArray | None:
        return None if x is None else x[rows]

    def objective(q: FloatArray, inner: Any = ideal.objective) -> float:
        back = np.empty_like(q)
        back[rows] = q
        return float(inner(back))

    return attrs.evolve(
        ideal,
        target=ideal.target[rows],
        cost=ideal.cost[rows],
        share=ideal.share[rows],
        eligible=ideal.eligible[rows],
        centre=take(ideal.centre),
        dispersion_weights=take(ideal.dispersion_weights),
        objective=None if ideal.objective is None else objective,
        recentre=None,
        moving_mean=None,
    )


def rounding_gap(rounding: Rounding, ideal: Ideal) -> float | None:
    """An upper bound on how much the rounding's objective could still fall, relative.

    ``(F(q) - L) / F(q)`` where *F* is the objective the rounding minimises
    (the chi-square distance to the ideal for pro-rata and custom weights,
    the dispersion for min dispersion) and *L* a lower bound on *F* over
    every legal split of the same total: the dual bound of the rounding, or
    the continuous optimum. 0 means proven optimal; None, no bound is known.
    """
    if rounding.exact and ideal.recentre is None:
        return 0.0
    if ideal.objective is None:
        gap = rounding.gap
        return None if math.isnan(gap) else gap
    value = float(ideal.objective(rounding.q))
    if value <= 0:
        return 0.0
    lower = ideal.objective_floor if rounding.total == ideal.placed else -math.inf
    if not math.isnan(rounding.objective_bound):
        lower = max(lower, rounding.objective_bound)  # the centre search's proof
    if ideal.recentre is None and not math.isnan(rounding.lower_bound):
        # Separable: F = scale * cost + const, so the cost's bound moves F's.
        lower = max(lower, value - ideal.objective_scale * (rounding.cost - rounding.lower_bound))
    if not math.isfinite(lower):
        return None
    return min(1.0, max(0.0, (value - lower) / value))


def default_seed(order: Order) -> int:
    """A tie-break seed that changes from order to order (security, side, size, date, ref)."""
    text = "|".join(
        str(x)
        for x in (
            order.security.id,
            order.side.value,
            order.quantity,
            order.settle_date,
            order.reference,
        )
    )
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def explain(q: FloatArray, ideal: Ideal, bounds: TradeBounds, problem: Problem) -> FloatArray:
    """The `Reason` code of every line (vectorised; see `orderalloc._reasons.Reason`)."""
    t, share = ideal.target, ideal.share
    tol = 1e-6 * max(problem.order.quantity, 1.0) / max(bounds.n, 1)
    tol = max(tol, 1e-6)
    max_legal = bounds.max_legal
    # The cap binds where the ideal was pushed up to the largest legal amount.
    capped = (bounds.cap_reason >= 0) & (t >= max_legal - tol)
    min_alloc_binding = (bounds.klo > 0) & (t < bounds.min_legal)
    nothing_legal = max_legal == 0
    codes = np.select(
        [
            bounds.restricted,
            ~ideal.eligible & (q == 0),
            (q == 0) & nothing_legal & (bounds.cap_reason >= 0),
            (q == 0) & nothing_legal,
            capped & (q >= max_legal) & (q > 0),
            (q == 0) & (t > tol) & min_alloc_binding,
            (q == 0) & (t > tol) & (t < bounds.min_piece),
            q > t + tol,
            q < t - tol,
            t > share + tol,
            (q == 0) & (ideal.reason is Reason.DISPERSION_TARGET),
        ],
        [
            Reason.RESTRICTED.code,
            Reason.ZERO_WEIGHT.code,
            bounds.cap_reason,
            Reason.BELOW_MIN_PIECE.code,
            bounds.cap_reason,
            Reason.BELOW_MIN_ALLOCATION.code,
            Reason.BELOW_MIN_PIECE.code,
            Reason.ROUNDED_UP.code,
            Reason.ROUNDED_DOWN.code,
            Reason.REDISTRIBUTED.code,
            Reason.NOT_NEEDED.code,
        ],
        default=ideal.reason.code,
    )
    out: FloatArray = codes
    return out


def build_result(
    engine: Engine,
    problem: Problem,
    ideal: Ideal,
    bounds: TradeBounds,
    q: FloatArray,
    *,
    rounding_gap: float | None = None,
    best_effort: bool = False,
) -> AllocationResult:
    """Assemble the result: reasons, metrics before and after, summary, warnings."""
    order, table = problem.order, problem.accounts
    pre: dict[str, FloatArray] = dict(table.metrics)

    # dispersion_summary normalises the weights itself: pass them as they are.
    weights = ideal.dispersion_weights if ideal.dispersion_weights is not None else table.nav
    weighting = ideal.dispersion_weighting if ideal.dispersion_weights is not None else "nav"

    def reasons_and_summaries() -> dict[str, Any]:
        # Computed on the result's first read of any (AllocationResult.deferred).
        post: dict[str, FloatArray] = {}
        for name, values in pre.items():
            s = problem.sensitivity(name)
            if s is not None:
                post[name] = values + s * q
        return {
            "post_metrics": post,
            "reason_codes": explain(q, ideal, bounds, problem).astype(np.int64),
            "dispersion": {
                name: dispersion_summary(
                    name,
                    pre[name],
                    post[name],
                    weights,
                    std_optimum=ideal.std_optimum.get(name),
                    weighting=weighting,
                )
                for name in post
            },
        }

    warnings = list(ideal.warnings)
    unallocated = order.quantity - float(q.sum())
    reason_text = None
    if unallocated > 0:
        reason_text = _unallocated_cause(problem, ideal, bounds, q, best_effort=best_effort)
        warnings.append(f"{unallocated:,.0f} face unallocated: {reason_text}")
    if order.side is Side.BUY:
        unchecked = int(np.count_nonzero(~bounds.cash_checked))
        if unchecked:
            warnings.append(
                f"cash not given for {unchecked} account(s): their buys were not checked "
                "against cash"
            )
    return AllocationResult.deferred(
        reasons_and_summaries,
        order=order,
        method=engine.name,
        params=dict(engine.params),
        account_ids=table.ids,
        quantity=q,
        ideal=ideal.target,
        share=ideal.share,
        cap=bounds.cap,
        pre_metrics=pre,
        warnings=tuple(warnings),
        unallocated_reason=reason_text,
        solver=ideal.solver,
        nav=table.nav,
        dispersion_weights=weights / float(weights.sum()),
        rounding_gap=rounding_gap,
    )


def _unallocated_cause(
    problem: Problem,
    ideal: Ideal,
    bounds: TradeBounds,
    q: FloatArray,
    *,
    best_effort: bool = False,
) -> str:
    """Why part of the order was not placed, in one sentence with the numbers."""
    order = problem.order
    m, d = bounds.min_piece, bounds.increment
    # Accounts the method gives no share (a zero basis or weight) are the first
    # cause when they are many: say so before the caps of the others.
    shut = ~ideal.eligible
    capacity = float(bounds.max_legal[~shut].sum())
    if order.quantity < m:
        return f"the order is smaller than the min piece {m:,.0f}"
    if capacity < order.quantity:
        counts = {
            reason: int(np.count_nonzero(bounds.cap_reason[~shut] == reason.code))
            for reason in (
                Reason.CAPPED_BY_CASH,
                Reason.CAPPED_BY_HOLDINGS,
                Reason.STUB_AVOIDED,
                Reason.LIMIT_HIT,
                Reason.RESTRICTED,
            )
        }
        detail = ", ".join(f"{r.description}: {c}" for r, c in counts.items() if c)
        n_shut = int(np.count_nonzero(shut))
        head = "the accounts"
        if n_shut:
            head = (
                f"{n_shut:,} of {len(shut):,} accounts get no share under this method "
                f"(zero weight or basis); the other {len(shut) - n_shut:,}"
            )
        return f"{head} can legally take at most {capacity:,.0f} in all" + (
            f" ({detail})" if detail else ""
        )
    if best_effort:
        return (
            f"the largest legal total found is {float(q.sum()):,.0f} (0 or {m:,.0f} + "
            f"k x {d:,.0f} per account, within each account's cap); the search for a "
            f"split of {order.quantity:,.0f} ran out of its budget, so one may exist"
        )
    return (
        f"no legal split (0 or {m:,.0f} + k x {d:,.0f} per account, within each "
        f"account's cap) adds up to {order.quantity:,.0f}; the largest is "
        f"{float(q.sum()):,.0f}"
    )
