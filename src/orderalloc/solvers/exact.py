"""The ``"exact"`` backend: knapsack at a centre, and a search for the centre.

Target mode
    The centre is fixed, *f* is the quadratic knapsack of
    `orderalloc.solvers.problem.separable_form`, and one call to
    `solve_quadratic_knapsack` is the answer.

Mean mode, mean fixed by the total
    The weighted mean moves by ``sum_i w_i s_ij q_i``. When ``v_ij = w_i s_ij``
    is the same for every account (NAV weights with ``s_ij ∝ 1 / NAV_i``, the
    usual case), that is ``v_j * total`` whatever the split, so the mean is
    known in advance and one knapsack solve is again exact.

Mean mode, general
    ``F(q, mu) = sum_j c_j sum_i w_i (x_ij - mu_j)^2`` is jointly convex in
    ``(q, mu)`` and its minimum over *mu* for fixed *q* is the weighted mean,
    so ``min_q f = min_mu h(mu)`` with ``h(mu) = min_q F(q, mu)`` (a knapsack).
    *h* is convex and piecewise quadratic, with gradient
    ``-2 c * g(mu)``, ``g(mu) = mean(x(q(mu))) - mu``. We solve ``g(mu) = 0``:

    * ``J = 1``: *g* is piecewise linear and non-increasing, and the optimal
      mean lies in the range of metrics the accounts can reach, which brackets
      the root. Newton's method on the current linear piece (its slope comes
      from the knapsack's free accounts), replaced by bisection whenever a
      step leaves the bracket, lands on the root in a few knapsack solves.
    * ``J > 1``: the same (semi-smooth) Newton step with the ``J x J``
      Jacobian, damped by a backtracking line search on *h*, with the
      fixed-point step ``mu <- mean(x(q(mu)))`` (a descent direction) when
      Newton's is not.

    The search stops when ``|g_j| <= tol * scale_j`` with ``scale_j`` the size
    of the reachable metric range, and raises `SolverError` after *max_iter*
    knapsack solves.
"""

from __future__ import annotations

import numpy as np

from orderalloc.errors import SolverError
from orderalloc.typing import FloatArray

from .knapsack import KnapsackSolution, solve_quadratic_knapsack
from .problem import (
    ContinuousSolution,
    DispersionProblem,
    _Separable,
    _separable,
    capacity_split,
    weighted_sum,
)

__all__ = ["solve_exact"]

# Armijo constant of the J > 1 line search.
_ARMIJO = 1e-4


def solve_exact(
    problem: DispersionProblem, *, tol: float = 1e-9, max_iter: int = 100
) -> ContinuousSolution:
    """Solve the continuous minimum-dispersion problem exactly.

    Args:
        problem: The problem.
        tol: Relative tolerance on the mean-mode fixed point ``mean(x) = mu``.
        max_iter: The most knapsack solves of the mean-mode search.

    Returns:
        The solution; *iterations* counts knapsack solves and *status* is
        ``"optimal"``.

    Raises:
        SolverError: If the mean-mode search did not converge within
            *max_iter* knapsack solves (try ``backend="convex"``).

    .. versionadded:: 0.1.0
    """
    sep = _separable(problem)
    if problem.target is not None:
        sol = _knapsack(problem, sep, problem.target)
        return ContinuousSolution.of(
            problem, sol.q, backend="exact", status="optimal", iterations=1
        )

    # Mean mode. Is the mean fixed by the total?
    if sep.fixed_mean:
        mu = sep.wm + sep.v[0] * problem.total
        sol = _knapsack(problem, sep, mu)
        return ContinuousSolution.of(
            problem, sol.q, backend="exact", status="optimal", iterations=1
        )

    if problem.n_metrics == 1:
        q, iterations = _search_1d(problem, sep, tol, max_iter)
    else:
        q, iterations = _search_nd(problem, sep, tol, max_iter)
    return ContinuousSolution.of(
        problem, q, backend="exact", status="optimal", iterations=iterations
    )


def _knapsack(problem: DispersionProblem, sep: _Separable, mu: FloatArray) -> KnapsackSolution:
    return solve_quadratic_knapsack(sep.a, sep.at_shared(mu), problem.lo, problem.hi, problem.total)


def _mean(problem: DispersionProblem, sep: _Separable, q: FloatArray) -> FloatArray:
    return sep.wm + weighted_sum(q, sep.v)


def _reachable(problem: DispersionProblem) -> tuple[FloatArray, FloatArray]:
    """The range of each metric over accounts that count, for any feasible q."""
    counted = problem.w > 0
    if counted.all():  # the usual case: no copies
        m, s, lo, hi = problem.m, problem.s, problem.lo, problem.hi
    else:
        m, s, lo, hi = (
            problem.m[counted],
            problem.s[counted],
            problem.lo[counted],
            problem.hi[counted],
        )
    at_lo = m + s * lo[:, None]
    at_hi = m + s * hi[:, None]
    low = np.minimum(at_lo, at_hi).min(axis=0)
    high = np.maximum(at_lo, at_hi).max(axis=0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def _jacobian(
    problem: DispersionProblem, sep: _Separable, mu: FloatArray, sol: KnapsackSolution
) -> FloatArray:
    """``d mean / d mu`` on the knapsack's current linear piece, shape (J, J).

    On the free accounts ``q_i = t_i(mu) - lam r_i`` with ``r_i = 1 / (2 a_i)``
    and *lam* keeping the total, so ``dq_i/dmu_j = B_ij - r_i rho_j`` with
    ``B_ij = dt_i/dmu_j = c_j v_ij / a_i`` and ``rho = sum B / sum r``.
    """
    r = sep.r
    z = sep.at_shared(mu) - sol.lam * r
    free = (z > problem.lo) & (z < problem.hi)
    n_metrics = problem.n_metrics
    if sol.iterations == 0 or not free.any():  # every account at a bound
        return np.zeros((n_metrics, n_metrics))
    # One list of the free rows, gathered from each column (cheaper than a
    # boolean mask applied five times; the same values in the same order).
    rows = np.flatnonzero(free)
    b = np.where(sep.live[rows, None], sep.vc[rows] / sep.a_raw[rows, None], 0.0)
    r_free = r[rows]
    rho = b.sum(axis=0) / r_free.sum()
    dq = b - r_free[:, None] * rho
    v_free = sep.v[rows]
    return np.array([weighted_sum(v_free[:, j], dq) for j in range(n_metrics)])


def _search_1d(
    problem: DispersionProblem, sep: _Separable, tol: float, max_iter: int
) -> tuple[FloatArray, int]:
    low_arr, high_arr = _reachable(problem)
    low, high = float(low_arr[0]), float(high_arr[0])
    gtol = tol * max(high - low, abs(low), abs(high), np.finfo(float).tiny)
    # Start from the mean of a capacity-proportional split: inside the bracket.
    mu = float(np.clip(_mean(problem, sep, capacity_split(problem))[0], low, high))
    sol = _knapsack(problem, sep, np.array([mu]))
    for iteration in range(1, max_iter + 1):
        g = float(_mean(problem, sep, sol.q)[0]) - mu
        if abs(g) <= gtol or high - low <= 4 * np.finfo(float).eps * max(abs(low), abs(high)):
            return sol.q, iteration
        # g is non-increasing in mu: g > 0 means the root is above mu.
        if g > 0:
            low = mu
        else:
            high = mu
        slope = float(_jacobian(problem, sep, np.array([mu]), sol)[0, 0]) - 1.0
        candidate = mu - g / slope if slope < 0 else np.nan
        mu = candidate if low < candidate < high else 0.5 * (low + high)
        sol = _knapsack(problem, sep, np.array([mu]))
    raise SolverError(
        "exact",
        "max_iter",
        f"the search for the mean did not converge in {max_iter} knapsack solves "
        f"(|mean - mu| = {abs(g):.3g}); raise max_iter or try backend='convex'",
    )


def _h(problem: DispersionProblem, q: FloatArray, mu: FloatArray) -> float:
    dev = problem.m + problem.s * q[:, None] - mu
    return float(np.sum(weighted_sum(problem.w, dev * dev) * problem.c))


def _search_nd(
    problem: DispersionProblem, sep: _Separable, tol: float, max_iter: int
) -> tuple[FloatArray, int]:
    low, high = _reachable(problem)
    scale = np.maximum.reduce([high - low, np.abs(low), np.abs(high)])
    gtol = tol * np.maximum(scale, np.finfo(float).tiny)
    mu = sep.wm + sep.v.mean(axis=0) * problem.total
    mu = np.clip(mu, low, high)
    sol = _knapsack(problem, sep, mu)
    h = _h(problem, sol.q, mu)
    g = _mean(problem, sep, sol.q) - mu
    solves = 1
    while solves < max_iter:
        if bool((np.abs(g) <= gtol).all()):
            return sol.q, solves
        grad = -2.0 * problem.c * g
        jac = _jacobian(problem, sep, mu, sol) - np.eye(problem.n_metrics)
        try:
            step = np.linalg.lstsq(jac, -g, rcond=None)[0]
        except np.linalg.LinAlgError:
            step = g
        if not float(grad @ step) < 0:
            step = g  # the fixed-point step: -grad / (2c), always descent
        accepted = False
        alpha = 1.0
        while solves < max_iter and alpha > 1e-10:
            trial_mu = mu + alpha * step
            trial = _knapsack(problem, sep, trial_mu)
            solves += 1
            trial_h = _h(problem, trial.q, trial_mu)
            trial_g = _mean(problem, sep, trial.q) - trial_mu
            # Armijo on h, or (near the optimum, where h is flat to rounding)
            # a clear decrease of the fixed-point residual.
            if trial_h <= h + _ARMIJO * alpha * float(grad @ step) or np.max(
                np.abs(trial_g) / gtol
            ) < 0.5 * np.max(np.abs(g) / gtol):
                mu, sol, h, g = trial_mu, trial, trial_h, trial_g
                accepted = True
                break
            alpha *= 0.5
        if not accepted:
            break
    if bool((np.abs(g) <= gtol).all()):
        return sol.q, solves
    raise SolverError(
        "exact",
        "max_iter",
        f"the search for the mean did not converge in {solves} knapsack solves "
        f"(max |mean - mu| = {float(np.abs(g).max()):.3g}); raise max_iter or try "
        "backend='convex'",
    )
