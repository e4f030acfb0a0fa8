"""The ``"slsqp"`` backend: SciPy's SLSQP on the continuous problem.

A general-purpose reference, independent of the knapsack algebra, for small
groups (its dense quasi-Newton updates cost O(n^2) memory and O(n^3) time per
iteration, so it is impractical beyond a few thousand accounts).

To keep SLSQP's absolute tolerances meaningful the problem is scaled: the
variables are ``u = q / scale`` with *scale* the largest bound or the mean
share of the total, and the objective is divided by its value at the
capacity-proportional starting point. The gradient and the Jacobian of the
total constraint are analytic::

    df/dq_i = 2 sum_j c_j w_i s_ij (x_ij - mu_j)

(in mean mode the derivative through *mu* vanishes because the weighted
deviations sum to zero). The result's ``success`` flag is always read, and a
successful answer is repaired (`repair_feasibility`) so that the bounds and
the total hold exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize

from orderalloc.errors import SolverError
from orderalloc.typing import FloatArray

from .problem import (
    ContinuousSolution,
    DispersionProblem,
    capacity_split,
    objective,
    repair_feasibility,
)

__all__ = ["solve_slsqp"]


def solve_slsqp(
    problem: DispersionProblem,
    *,
    tol: float = 1e-9,
    max_iter: int = 500,
    ftol: float | None = None,
) -> ContinuousSolution:
    """Solve the continuous minimum-dispersion problem with SciPy's SLSQP.

    Args:
        problem: The problem.
        tol: Relative accuracy wanted on the objective; sets *ftol* when that
            is not given.
        max_iter: SLSQP's iteration limit.
        ftol: SLSQP's own stopping tolerance on the scaled objective (which
            is 1 at the starting point); default ``tol * 1e-3``.

    Returns:
        The solution, within bounds and summing to the total;
        *status* is SciPy's message.

    Raises:
        SolverError: If SLSQP reports failure (iteration limit, line search
            or singular matrix), with SciPy's status and message.

    .. versionadded:: 0.1.0
    """
    lo, hi = problem.lo, problem.hi
    n = problem.n_accounts
    scale = max(float(np.abs(lo).max()), float(np.abs(hi).max()), abs(problem.total) / n)
    if scale == 0.0:  # every bound is 0: the only split is q = 0
        q0 = np.zeros(n)
        return ContinuousSolution.of(
            problem, q0, backend="slsqp", status="all bounds are zero", iterations=0
        )
    q_start = capacity_split(problem)
    fscale = objective(problem, q_start)
    if fscale <= 0.0:  # the starting point already has no dispersion
        return ContinuousSolution.of(
            problem,
            repair_feasibility(problem, q_start),
            backend="slsqp",
            status="start is optimal",
            iterations=0,
        )

    m, s, w, c = problem.m, problem.s, problem.w, problem.c
    target = problem.target

    def fun(u: FloatArray) -> tuple[float, FloatArray]:
        q = u * scale
        x = m + s * q[:, None]
        mu = target if target is not None else w @ x
        dev = x - mu
        value = float(w @ (dev * dev) @ c) / fscale
        grad = 2.0 * w * ((s * dev) @ c) * (scale / fscale)
        return value, grad

    ones = np.ones(n)
    constraint = {
        "type": "eq",
        "fun": lambda u: np.array([float(u.sum()) - problem.total / scale]),
        "jac": lambda u: ones[None, :],
    }
    options: dict[str, Any] = {
        "maxiter": int(max_iter),
        "ftol": float(ftol) if ftol is not None else tol * 1e-3,
    }
    result = minimize(
        fun,
        q_start / scale,
        jac=True,
        method="SLSQP",
        bounds=list(zip(lo / scale, hi / scale, strict=True)),
        constraints=[constraint],
        options=options,
    )
    if not result.success:
        raise SolverError(
            "slsqp",
            str(result.status),
            f"{result.message} after {result.nit} iterations; raise max_iter or loosen "
            "ftol, or use backend='exact' (exact and much faster)",
        )
    q = repair_feasibility(problem, np.asarray(result.x, dtype=np.float64) * scale)
    return ContinuousSolution.of(
        problem, q, backend="slsqp", status=str(result.message), iterations=int(result.nit)
    )
