"""The ``"convex"`` backend: the problem as a cvxpy QP, compiled once per shape.

Formulation (scaled, with ``q = scale * u``)::

    minimise    sum_j || D_j + A_j * u - K_j * mu_j ||^2
    subject to  lo / scale <= u <= hi / scale,   sum(u) = total / scale

with ``K_ij = sqrt(c_j w_i / fscale)``, ``A_ij = K_ij s_ij scale`` and
``D_ij = K_ij m_ij`` in mean mode, where ``mu`` is a variable (the optimal
``mu`` is the weighted mean, so no dense ``n x n`` centring matrix is
needed). In target mode ``D_ij = K_ij (m_ij - T_j)`` and there is no ``mu``.
*fscale* is the objective at the capacity-proportional split, so the optimal
value is of order one or less whatever the units.

Compile once, re-parameterise
    Up to `DPP_MAX_ACCOUNTS` accounts, *A*, *D*, *K*, the bounds and the total
    are cvxpy ``Parameter``s and every product is parameter-times-variable, so
    the problem is DPP: it is compiled once per ``(n_accounts, n_metrics,
    mode)`` (a small LRU cache keeps the last few shapes) and later solves only
    substitute new values (about 3x faster at 100 accounts, 2x at 1,000).
    cvxpy's parameter-to-data map for an elementwise ``Parameter * Variable``
    grows like ``n^2`` (1.7 s to compile 10,000 accounts, 14 s for 30,000, out
    of memory at 100,000), while building with constants costs about a third
    of the solve, so larger problems are built with constants on every call.
    *dpp* forces either path.

The solver is chosen by *solver* (default Clarabel, else OSQP, else SCS,
among ``cvxpy.installed_solvers()``), with *solver_params* passed through.
``optimal`` and ``optimal_inaccurate`` are accepted (the status is recorded);
anything else raises `SolverError`. First-order solvers (OSQP, SCS) can leave
bounds broken by visible amounts, so the answer is always repaired
(`repair_feasibility`) and its objective re-evaluated.

A compiled problem holds parameter values while it solves, so solves of the
same shape are serialised by a lock.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
from collections.abc import Mapping
from typing import Any

import attrs
import cvxpy as cp
import numpy as np

from orderalloc.errors import InvalidParameterError, SolverError

from .problem import (
    ContinuousSolution,
    DispersionProblem,
    capacity_split,
    objective,
    repair_feasibility,
)

__all__ = ["DPP_MAX_ACCOUNTS", "default_convex_solver", "solve_convex"]

# cvxpy's atoms reach its namespace through implicit re-exports, which mypy
# --strict does not follow; the atoms are used through this untyped alias.
_cp: Any = cp

#: Solvers tried for the default, in order of preference.
_PREFERRED = ("CLARABEL", "OSQP", "SCS")
_ACCEPTED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)


def _major_version(distribution: str) -> int:
    try:
        return int(importlib.metadata.version(distribution).split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return 0


_OSQP_MAJOR = _major_version("osqp")


def default_convex_solver() -> str:
    """The solver used when none is given: Clarabel, else OSQP, else SCS.

    Raises:
        SolverError: If none of them is installed.
    """
    installed = _cp.installed_solvers()
    for name in _PREFERRED:
        if name in installed:
            return name
    raise SolverError(
        "convex",
        "no_solver",
        f"none of {', '.join(_PREFERRED)} is installed (pip install clarabel); "
        "or use backend='exact'",
    )


#: Above this many accounts the problem is built with constants on each call
#: (see the module docstring).
DPP_MAX_ACCOUNTS = 5_000


@attrs.frozen(eq=False)
class _Formulation:
    problem: cp.Problem
    u: cp.Variable
    # One vector per metric: slicing a matrix parameter makes cvxpy's
    # parameter-to-data tensor dense in n.
    a: tuple[Any, ...]
    d: tuple[Any, ...]
    k: tuple[Any, ...]
    lo: Any
    hi: Any
    total: Any
    lock: threading.Lock = attrs.field(factory=threading.Lock)


def _formulate(
    a: tuple[Any, ...],
    d: tuple[Any, ...],
    k: tuple[Any, ...],
    lo: Any,
    hi: Any,
    total: Any,
) -> _Formulation:
    """The QP over parameters or constants; *k* is empty in target mode."""
    n = int(lo.shape[0])
    u = cp.Variable(n, name="u")
    mu = cp.Variable(len(a), name="mu") if k else None
    residuals = []
    for j in range(len(a)):
        r = d[j] + _cp.multiply(a[j], u)
        if mu is not None:
            r = r - k[j] * mu[j]
        residuals.append(_cp.sum_squares(r))
    problem = cp.Problem(
        cp.Minimize(_cp.sum(_cp.hstack(residuals))),
        [u >= lo, u <= hi, _cp.sum(u) == total],
    )
    return _Formulation(problem=problem, u=u, a=a, d=d, k=k, lo=lo, hi=hi, total=total)


@functools.lru_cache(maxsize=8)
def _compiled(n: int, n_metrics: int, mean_mode: bool) -> _Formulation:
    formulation = _formulate(
        a=tuple(cp.Parameter(n, name=f"A{j}") for j in range(n_metrics)),
        d=tuple(cp.Parameter(n, name=f"D{j}") for j in range(n_metrics)),
        k=tuple(cp.Parameter(n, name=f"K{j}", nonneg=True) for j in range(n_metrics))
        if mean_mode
        else (),
        lo=cp.Parameter(n, name="lo"),
        hi=cp.Parameter(n, name="hi"),
        total=cp.Parameter(name="total"),
    )
    if not formulation.problem.is_dpp():  # pragma: no cover (guards edits above)
        raise SolverError("convex", "not_dpp", "the min-dispersion problem must be DPP")
    return formulation


def _default_params(solver: str, tol: float, max_iter: int) -> dict[str, Any]:
    if solver == "CLARABEL":
        return {
            "tol_gap_abs": tol,
            "tol_gap_rel": tol,
            "tol_feas": tol,
            "max_iter": max_iter,
        }
    if solver == "OSQP":
        return {
            "eps_abs": tol,
            "eps_rel": tol,
            "max_iter": max(max_iter, 100_000),
            # OSQP 1.0 renamed "polish" (warning on the old name).
            "polishing" if _OSQP_MAJOR >= 1 else "polish": True,
        }
    if solver == "SCS":
        return {"eps_abs": tol, "eps_rel": tol, "max_iters": max(max_iter, 100_000)}
    return {}


def solve_convex(
    problem: DispersionProblem,
    *,
    tol: float = 1e-9,
    max_iter: int = 200,
    solver: str | None = None,
    solver_params: Mapping[str, Any] | None = None,
    dpp: bool | None = None,
) -> ContinuousSolution:
    """Solve the continuous minimum-dispersion problem with cvxpy.

    Args:
        problem: The problem.
        tol: The solver's gap and feasibility tolerances (unless
            *solver_params* sets them).
        max_iter: The solver's iteration limit (first-order solvers get at
            least 100,000).
        solver: A cvxpy solver name (``"CLARABEL"``, ``"OSQP"``, ``"SCS"``...);
            default `default_convex_solver`.
        solver_params: Keyword arguments for ``cvxpy.Problem.solve``, on top
            of (and overriding) the tolerances derived from *tol*.
        dpp: Whether to reuse a compiled, parameterised problem; default:
            when there are at most `DPP_MAX_ACCOUNTS` accounts.

    Returns:
        The solution, within bounds and summing to the total; *status* is
        cvxpy's (``"optimal"`` or ``"optimal_inaccurate"``).

    Raises:
        InvalidParameterError: If *solver* is not installed.
        SolverError: If the solver fails or ends with any other status.

    .. versionadded:: 0.1.0
    """
    if solver is None:
        solver = default_convex_solver()
    else:
        solver = solver.upper()
        installed = _cp.installed_solvers()
        if solver not in installed:
            raise InvalidParameterError(
                "solver", solver, f"not installed; installed: {', '.join(installed)}"
            )
    params = _default_params(solver, tol, max_iter)
    params.update(solver_params or {})

    n = problem.n_accounts
    lo, hi = problem.lo, problem.hi
    scale = max(float(np.abs(lo).max()), float(np.abs(hi).max()), abs(problem.total) / n)
    if scale == 0.0:
        scale = 1.0
    q_start = capacity_split(problem)
    fscale = objective(problem, q_start)
    if not fscale > 0.0:
        fscale = 1.0

    k = np.sqrt(problem.w[:, None] * problem.c / fscale)
    dev = problem.m if problem.target is None else problem.m - problem.target
    a_value = k * problem.s * scale
    d_value = k * dev
    n_metrics = problem.n_metrics
    mean_mode = problem.target is None
    use_dpp = dpp if dpp is not None else n <= DPP_MAX_ACCOUNTS
    if use_dpp:
        formulation = _compiled(n, n_metrics, mean_mode)
    else:
        formulation = _formulate(
            a=tuple(a_value[:, j] for j in range(n_metrics)),
            d=tuple(d_value[:, j] for j in range(n_metrics)),
            k=tuple(k[:, j] for j in range(n_metrics)) if mean_mode else (),
            lo=lo / scale,
            hi=hi / scale,
            total=problem.total / scale,
        )
    with formulation.lock:
        if use_dpp:
            for j in range(n_metrics):
                formulation.a[j].value = a_value[:, j]
                formulation.d[j].value = d_value[:, j]
            for j, k_j in enumerate(formulation.k):
                k_j.value = k[:, j]
            formulation.lo.value = lo / scale
            formulation.hi.value = hi / scale
            formulation.total.value = problem.total / scale
        try:
            # cvxpy's solve() is untyped.
            formulation.problem.solve(solver=solver, **params)  # type: ignore[no-untyped-call]
        except cp.error.SolverError as exc:
            raise SolverError(
                "convex",
                "solver_error",
                f"{solver} failed ({exc}); try another solver= or backend='exact'",
            ) from exc
        status = str(formulation.problem.status)
        u = formulation.u.value
        stats = formulation.problem.solver_stats
        iterations = int(stats.num_iters or 0)
    if status not in _ACCEPTED or u is None:
        raise SolverError(
            "convex",
            status,
            f"{solver} ended with status {status!r}; try another solver= "
            "(CLARABEL, OSQP, SCS), looser tolerances in solver_params, or backend='exact'",
        )
    q = repair_feasibility(problem, np.asarray(u, dtype=np.float64) * scale)
    return ContinuousSolution.of(problem, q, backend="convex", status=status, iterations=iterations)
