"""Minimum dispersion: the split that leaves the accounts' risk as alike as possible.

The model (see `orderalloc.solvers.problem` for the algebra). Account *i*
holds a metric ``m_i``: a market-value-weighted sum over its holdings divided
by NAV (spread duration, duration, OAS contribution, or an *active* number,
i.e. minus its benchmark's). Buying ``q_i`` face for cash moves it linearly::

    x_i = m_i + s_i q_i,    s_i = sign * factor * (price + accrued) / 100 * b / NAV_i

where ``b`` is the bond's analytic for the metric (``active_X`` moves with the
bond's ``X``: the benchmark does not change). This is exact when the purchase
is paid from cash (cash carries none of the metric) and NAV does not move with
the trade; it is a first-order approximation when the account's metric is
stale or the trade is large enough to move prices.

`MinDispersion` minimises the weighted variance of *x* across the group,
``sum_i w_i (x_i - mean_w(x))^2`` (or ``sum_i w_i (x_i - T)^2`` toward a
target *T*, or a weighted sum over several metrics), subject to the order's
total and every account's bounds, then rounds to legal denominations with the
rounding objective taken from the optimum itself, so what rounding minimises
is the dispersion (exactly with NAV weights, where the weighted mean cannot
move; around the optimum's centre otherwise).

Backends: ``"exact"`` (default; a quadratic knapsack plus a search for the
mean, milliseconds at 100,000 accounts), ``"convex"`` (cvxpy, Clarabel by
default) and ``"slsqp"`` (SciPy, small groups). If the chosen backend fails,
the others are tried in the documented order (exact, convex, slsqp), and if all
fail the engine falls back to pro-rata by NAV; each step adds a warning.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .._reasons import Reason
from .._result import SolverInfo
from .._table import AccountTable
from ..errors import InvalidParameterError, SolverError
from ..lots._centre import MovingMean
from ..solvers.backends import BACKENDS, DEFAULT_FALLBACK_ORDER, solve_with_fallback
from ..solvers.problem import (
    DispersionProblem,
    _forget_separable,
    _separable,
    centre,
    objective,
    separable_form,
)
from ..typing import FloatArray
from .base import Engine, Ideal, Problem, _account_row
from .proportional import proportional_ideal

__all__ = ["MinDispersion"]

#: The named weightings (a mapping of account id to weight is the third kind).
WEIGHTINGS: tuple[str, ...] = ("nav", "equal")

#: The extra parameters each backend takes (``solver_params``), beyond tol and max_iter.
BACKEND_PARAMS: Mapping[str, frozenset[str]] = {
    "exact": frozenset(),
    "convex": frozenset({"solver", "solver_params", "dpp"}),
    "slsqp": frozenset({"ftol"}),
}

#: A target may lie at most this many metric scales outside the accounts' range
#: (the scale is the largest of the metric's spread, its largest magnitude and the
#: most one account could move it). Beyond it no split changes anything a desk
#: could tell apart, and the rounding's centres would lose every digit of precision.
TARGET_REACH = 1e3


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


class MinDispersion(Engine):
    """Split the order so the accounts' metric ends up as equal as possible.

    Args:
        metric: The metric name, or several names (e.g.
            ``("spread_duration", "duration")``). Every account must carry it
            and the security must have the matching analytic.
        metric_weights: Weights of several metrics, by name (default: each
            metric divided by its variance before the trade, so metrics on
            different scales count alike).
        weighting: ``"nav"`` (default: big accounts count more, and the
            weighted mean cannot move, so the optimum is exact water-filling),
            ``"equal"``, or weights by account id.
        target: Bring the metric toward this value instead of the group's
            mean (a number, or a mapping by metric for several metrics).
        backend: ``"exact"``, ``"convex"`` or ``"slsqp"``.
        fallback: Backends to try, in order, after *backend* fails (default:
            the other two in the order exact, convex, slsqp); pro-rata by NAV
            is always the last resort.
        tol: Solver tolerance.
        max_iter: Iteration limit of *backend* (default: its own; fallbacks
            always use their own).
        solver_params: Extra parameters for *backend* (e.g.
            ``{"solver": "OSQP"}`` for ``"convex"``).

    Raises:
        InvalidParameterError: An unknown metric, weighting, backend or an
            invalid weight or target.
    """

    name: ClassVar[str] = "min_dispersion"

    def __init__(
        self,
        *,
        metric: str | Sequence[str] = "spread_duration",
        metric_weights: Mapping[str, float] | None = None,
        weighting: str | Mapping[str, float] = "nav",
        target: float | Mapping[str, float] | None = None,
        backend: str = "exact",
        fallback: Sequence[str] | None = None,
        tol: float = 1e-9,
        max_iter: int | None = None,
        solver_params: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(metric, str):
            metrics: tuple[str, ...] = (metric,)
        elif isinstance(metric, (list, tuple)):
            metrics = tuple(metric)
        else:
            raise InvalidParameterError("metric", metric, "must be a metric name or names")
        if not metrics or not all(isinstance(m, str) and m.strip() for m in metrics):
            raise InvalidParameterError("metric", metric, "must be a metric name or names")
        if len(set(metrics)) != len(metrics):
            raise InvalidParameterError("metric", metric, "names a metric twice")
        self.metrics = metrics
        if metric_weights is not None:
            if not isinstance(metric_weights, Mapping):
                raise InvalidParameterError(
                    "metric_weights", metric_weights, "must be a mapping of metric to weight"
                )
            for name, value in metric_weights.items():
                if name not in metrics:
                    raise InvalidParameterError(
                        f"metric_weights[{name!r}]", value, "is not one of the metrics"
                    )
                if not (_is_number(value) and 0 < value <= 1e12):
                    raise InvalidParameterError(
                        f"metric_weights[{name!r}]", value, "must be a number in (0, 1e12]"
                    )
        self.metric_weights = dict(metric_weights) if metric_weights is not None else None
        if isinstance(weighting, str):
            if weighting not in WEIGHTINGS:
                raise InvalidParameterError(
                    "weighting", weighting, "must be 'nav', 'equal' or weights by account id"
                )
        elif not isinstance(weighting, Mapping):
            raise InvalidParameterError(
                "weighting", weighting, "must be 'nav', 'equal' or a mapping"
            )
        else:
            for key, value in weighting.items():
                if not isinstance(key, str) or not key:
                    raise InvalidParameterError("weighting key", key, "must be an account id")
                if not (_is_number(value) and 0 <= value <= 1e12):
                    raise InvalidParameterError(
                        f"weighting[{key!r}]", value, "must be a number in [0, 1e12]"
                    )
        self.weighting = weighting if isinstance(weighting, str) else dict(weighting)
        self.target = self._targets(target, metrics)
        if not isinstance(backend, str) or backend not in BACKENDS:
            raise InvalidParameterError(
                "backend", backend, f"no such backend; choose one of: {', '.join(BACKENDS)}"
            )
        self.backend = backend
        if fallback is not None and not isinstance(fallback, (list, tuple)):
            raise InvalidParameterError(
                "fallback", fallback, "must be a list of backend names (or None)"
            )
        chain = (
            tuple(b for b in DEFAULT_FALLBACK_ORDER if b != backend)
            if fallback is None
            else tuple(fallback)
        )
        for name in chain:
            if not isinstance(name, str) or name not in BACKENDS:
                raise InvalidParameterError(
                    "fallback", name, f"no such backend; choose from: {', '.join(BACKENDS)}"
                )
        self.fallback = chain
        if not (_is_number(tol) and 0 < tol < 1):
            raise InvalidParameterError("tol", tol, "must be a number in (0, 1)")
        self.tol = float(tol)
        if max_iter is not None and (
            not isinstance(max_iter, int)
            or isinstance(max_iter, bool)
            or not 1 <= max_iter <= 1_000_000
        ):
            raise InvalidParameterError(
                "max_iter", max_iter, "must be a whole number in [1, 1000000]"
            )
        self.max_iter = max_iter
        if solver_params is not None and not isinstance(solver_params, Mapping):
            raise InvalidParameterError(
                "solver_params", solver_params, "must be a mapping of parameter names to values"
            )
        accepted = BACKEND_PARAMS[backend]
        for key in solver_params or {}:
            if key not in accepted:
                raise InvalidParameterError(
                    f"solver_params[{key!r}]",
                    (solver_params or {})[key],
                    f"is not a parameter of backend {backend!r} "
                    f"(it takes: {', '.join(sorted(accepted)) or 'none beyond tol and max_iter'})",
                )
        self.solver_params = dict(solver_params or {})

    @staticmethod
    def _targets(
        target: float | Mapping[str, float] | None, metrics: tuple[str, ...]
    ) -> dict[str, float] | None:
        if target is None:
            return None
        if isinstance(target, Mapping):
            missing = [m for m in metrics if m not in target]
            if missing:
                raise InvalidParameterError("target", dict(target), f"needs a value for {missing}")
            extra = [k for k in target if k not in metrics]
            if extra:
                raise InvalidParameterError("target", dict(target), f"{extra} are not metrics")
            values = {m: target[m] for m in metrics}
        elif len(metrics) == 1:
            values = {metrics[0]: target}
        else:
            raise InvalidParameterError("target", target, "give one target per metric (a mapping)")
        for name, value in values.items():
            if not (_is_number(value) and math.isfinite(value) and abs(value) <= 1e9):
                raise InvalidParameterError(
                    f"target[{name!r}]", value, "must be a finite number in [-1e9, 1e9]"
                )
        return {k: float(v) for k, v in values.items()}

    @property
    def params(self) -> Mapping[str, Any]:
        """The parameters, as given (recorded in results and audits)."""
        return {
            "metric": list(self.metrics) if len(self.metrics) > 1 else self.metrics[0],
            "metric_weights": self.metric_weights,
            "weighting": self.weighting,
            "target": self.target,
            "backend": self.backend,
            "fallback": list(self.fallback),
            "tol": self.tol,
            "max_iter": self.max_iter,
            "solver_params": self.solver_params,
        }

    @property
    def _weighting_name(self) -> str:
        # The name dispersion summaries and pictures give the weighting.
        return self.weighting if isinstance(self.weighting, str) else "custom"

    def _account_weights(self, problem: Problem) -> FloatArray:
        table = problem.accounts
        if self.weighting == "nav":
            w = table.nav.copy()
        elif self.weighting == "equal":
            w = np.ones(len(table), dtype=np.float64)
        else:
            assert isinstance(self.weighting, dict)
            w = np.zeros(len(table), dtype=np.float64)
            for key, value in self.weighting.items():
                if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                    raise InvalidParameterError(
                        f"weighting[{key!r}]", value, "must be a number >= 0"
                    )
                w[_account_row(table, "weighting", key)] = value
            if float(w.sum()) <= 0:
                raise InvalidParameterError("weighting", self.weighting, "needs a weight > 0")
        weights: FloatArray = w / w.sum()
        return weights

    def _metric_columns(self, problem: Problem) -> tuple[FloatArray, FloatArray]:
        table, sec = problem.accounts, problem.order.security
        m_cols, s_cols = [], []
        for name in self.metrics:
            values = _metric_values(table, name)
            s = problem.sensitivity(name)
            if s is None:
                raise InvalidParameterError(
                    "metric",
                    name,
                    f"security {sec.id!r} has no analytic for it (it has: "
                    f"{', '.join(sorted(sec.analytics)) or 'none'})",
                )
            m_cols.append(values)
            s_cols.append(s)
        return np.column_stack(m_cols), np.column_stack(s_cols)

    def metric_weights_for(self, m: FloatArray, w: FloatArray) -> FloatArray:
        """The weight of each metric (columns of *m*) for accounts weighted *w*.

        The given *metric_weights*, or by default each metric divided by its
        weighted variance before the trade (1 for a metric already level), so
        that metrics on different scales count alike.
        """
        if self.metric_weights is not None:
            return np.array([self.metric_weights.get(k, 1.0) for k in self.metrics])
        if len(self.metrics) == 1:
            return np.ones(1)
        # Scale-free by default: each metric counts in units of its own spread.
        var = (w[:, None] * (m - w @ m) ** 2).sum(axis=0)
        return np.where(var > 0, 1.0 / np.where(var > 0, var, 1.0), 1.0)

    def _check_target_reach(
        self, target: FloatArray, m: FloatArray, s: FloatArray, hi: FloatArray, total: float
    ) -> None:
        """Refuse a target absurdly far from the accounts (see `TARGET_REACH`)."""
        most = np.minimum(hi, total)
        for j, name in enumerate(self.metrics):
            col = m[:, j]
            lo_m, hi_m = float(col.min()), float(col.max())
            reach = float(np.max(np.abs(s[:, j]) * most)) if len(col) else 0.0
            scale = max(hi_m - lo_m, abs(lo_m), abs(hi_m), reach, 1e-9)
            band = (lo_m - TARGET_REACH * scale, hi_m + TARGET_REACH * scale)
            if not band[0] <= target[j] <= band[1]:
                raise InvalidParameterError(
                    f"target[{name!r}]",
                    float(target[j]),
                    f"is out of range for these accounts: must lie in [{band[0]:.6g}, "
                    f"{band[1]:.6g}] (their {name} spans [{lo_m:.6g}, {hi_m:.6g}])",
                )

    def ideal(self, problem: Problem) -> Ideal:
        """The continuous minimum-dispersion split, and the rounding objective from it."""
        m, s = self._metric_columns(problem)
        w = self._account_weights(problem)
        n = len(problem.accounts)
        hi = problem.hi
        total = problem.placeable
        if total <= 0:
            zeros = np.zeros(n)
            return Ideal(
                target=zeros, cost=np.ones(n), share=zeros, eligible=np.ones(n, dtype=bool)
            )
        c = self.metric_weights_for(m, w)
        target = None if self.target is None else np.array([self.target[k] for k in self.metrics])
        if target is not None:
            self._check_target_reach(target, m, s, hi, total)
        lo = np.zeros(n)
        # Read-only arrays this engine owns are taken by reference, not copied.
        for array in (m, s, w, lo):
            array.setflags(write=False)
        dp = DispersionProblem(m=m, s=s, w=w, c=c, lo=lo, hi=hi, total=total, target=target)
        # max_iter and solver_params are the chosen backend's; fallbacks run on
        # their own defaults (iteration counts mean different things per backend).
        primary: dict[str, Any] = dict(self.solver_params)
        if self.max_iter is not None:
            primary["max_iter"] = self.max_iter
        params: dict[str, dict[str, Any]] = {self.backend: primary}
        started = time.perf_counter()
        try:
            solution, warnings = solve_with_fallback(
                dp, (self.backend, *self.fallback), tol=self.tol, backend_params=params
            )
        except SolverError as exc:
            fallback = proportional_ideal(problem, problem.accounts.nav)
            return Ideal(
                target=fallback.target,
                cost=fallback.cost,
                share=fallback.share,
                eligible=fallback.eligible,
                dispersion_weights=w,
                dispersion_weighting=self._weighting_name,
                solver=SolverInfo(
                    backend="pro_rata",
                    status="fallback",
                    iterations=0,
                    objective=math.nan,
                    seconds=time.perf_counter() - started,
                ),
                warnings=(
                    f"every min-dispersion backend failed, fell back to pro-rata by NAV: {exc}",
                ),
            )
        seconds = time.perf_counter() - started
        a, t = separable_form(dp, solution.mu)
        # Only the ratios of the curvatures matter to rounding; keep them O(1).
        scale = float(a.max())
        a = a / scale
        q = solution.q
        # With weights other than NAV the mean moves with the split, and the
        # separable form at the optimum's centre is only a stand-in for the
        # dispersion: the rounding then re-centres (small groups) and is
        # judged by the dispersion itself.
        moving_mean = self.target is None and not _separable(dp).fixed_mean
        if not moving_mean:
            # Only `recentre` needs the separable form again; free it before rounding.
            _forget_separable(dp)

        def dispersion(x: FloatArray) -> float:
            return objective(dp, x)

        def recentre(x: FloatArray) -> FloatArray:
            return separable_form(dp, centre(dp, x))[1]

        mm = None
        if moving_mean and m.shape[1] == 1:
            mm = _moving_mean(dp, hi, dispersion)
        std_opt = {}
        for j, name in enumerate(self.metrics):
            x = m[:, j] + s[:, j] * q
            mean = float(np.sum(w * x))
            std_opt[name] = math.sqrt(max(float(np.sum(w * (x - mean) ** 2)), 0.0))
        return Ideal(
            target=q,
            cost=a,
            share=q,
            eligible=np.ones(n, dtype=bool),
            centre=t,
            reason=Reason.DISPERSION_TARGET,
            dispersion_weights=w,
            dispersion_weighting=self._weighting_name,
            std_optimum=std_opt,
            objective=dispersion,
            objective_scale=scale,
            objective_floor=solution.objective,
            placed=total,
            recentre=recentre if moving_mean else None,
            moving_mean=mm,
            solver=SolverInfo(
                backend=solution.backend,
                status=solution.status,
                iterations=solution.iterations,
                objective=solution.objective,
                seconds=seconds,
            ),
            warnings=tuple(warnings),
        )


def _metric_values(table: AccountTable, name: str) -> FloatArray:
    """Metric *name* of every account, refused when an account lacks it or has it unknown.

    The check min dispersion makes of each of its metrics, before the trade
    (a basket makes it for the whole basket up front).

    Raises:
        InvalidParameterError: No account column carries *name*, or an
            account's value is NaN.
    """
    if name not in table.metrics:
        raise InvalidParameterError(
            "metric",
            name,
            "the accounts do not carry it (they carry: "
            f"{', '.join(sorted(table.metrics)) or 'no metrics'}; a DataFrame "
            f"column is read as a metric when named 'metric:{name}')",
        )
    values = table.metrics[name]
    unknown = np.isnan(values)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise InvalidParameterError(
            f"accounts[{table.ids[i]!r}].metrics[{name!r}]",
            math.nan,
            "is unknown; min dispersion needs the metric for every account",
        )
    return values


def _moving_mean(
    dp: DispersionProblem, hi: FloatArray, dispersion: Callable[[FloatArray], float]
) -> MovingMean:
    """One metric's dispersion about a fixed centre, for the rounding's search over it.

    ``c sum_i w_i (x_i - mu)^2 = f(q) + c W (mean(q) - mu)^2`` with ``W = sum w``;
    every mean lies between the least and the largest metric an account with
    weight can reach.
    """
    m, s, w = dp.m[:, 0], dp.s[:, 0], dp.w
    with_weight = w > 0
    ends = np.concatenate([m[with_weight], (m + s * hi)[with_weight]])
    return MovingMean(
        centre_at=lambda c: separable_form(dp, np.array([c]))[1],
        mean_of=lambda q: float(centre(dp, q)[0]),
        dispersion=dispersion,
        kappa=float(dp.c[0] * w.sum()),
        lo=float(ends.min()),
        hi=float(ends.max()),
    )
