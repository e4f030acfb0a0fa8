"""The registry of continuous minimum-dispersion backends, and the fallback chain.

Every backend has the signature
``solve(problem, *, tol=1e-9, max_iter=..., **backend_params) -> ContinuousSolution``:

``"exact"`` (default)
    `solve_exact`: knapsack at a centre plus a search for the mean; exact to
    floating point and O(n) per step (milliseconds at 100,000 accounts).
``"convex"``
    `solve_convex`: cvxpy (Clarabel by default), compiled once per shape;
    parameters *solver*, *solver_params*, *dpp*.
``"slsqp"``
    `solve_slsqp`: SciPy's SLSQP, for small groups; parameter *ftol*.

`solve_with_fallback` tries them in a documented order and reports, one
sentence each, why the ones before the answer failed. The engine ends its own
chain with pro-rata when every backend fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from orderalloc.errors import InvalidParameterError, SolverError

from .exact import solve_exact
from .problem import ContinuousSolution, DispersionProblem

__all__ = ["BACKENDS", "DEFAULT_FALLBACK_ORDER", "Backend", "get_backend", "solve_with_fallback"]

#: A backend: ``solve(problem, *, tol, max_iter, **backend_params)``.
Backend = Callable[..., ContinuousSolution]


def solve_convex(problem: DispersionProblem, **params: Any) -> ContinuousSolution:
    """`orderalloc.solvers.convex.solve_convex`, imported on first use (cvxpy is slow to import)."""
    from .convex import solve_convex as solve

    return solve(problem, **params)


def solve_slsqp(problem: DispersionProblem, **params: Any) -> ContinuousSolution:
    """`orderalloc.solvers.slsqp.solve_slsqp`, imported on first use (scipy.optimize)."""
    from .slsqp import solve_slsqp as solve

    return solve(problem, **params)


#: The backends by name (read-only).
BACKENDS: Mapping[str, Backend] = MappingProxyType(
    {"exact": solve_exact, "convex": solve_convex, "slsqp": solve_slsqp}
)

#: The order `solve_with_fallback` tries backends in: the exact algorithm,
#: then an interior-point solver that does not share its algebra, then SLSQP.
DEFAULT_FALLBACK_ORDER: tuple[str, ...] = ("exact", "convex", "slsqp")


def get_backend(name: str) -> Backend:
    """The backend called *name*.

    Args:
        name: One of ``BACKENDS`` (``"exact"``, ``"convex"``, ``"slsqp"``).

    Raises:
        InvalidParameterError: Naming ``backend`` and listing the choices, if
            there is no such backend.
    """
    try:
        return BACKENDS[name]
    except (KeyError, TypeError):
        raise InvalidParameterError(
            "backend", name, f"no such backend; choose one of: {', '.join(BACKENDS)}"
        ) from None


def solve_with_fallback(
    problem: DispersionProblem,
    order: Sequence[str] = DEFAULT_FALLBACK_ORDER,
    *,
    tol: float = 1e-9,
    backend_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[ContinuousSolution, list[str]]:
    """Solve with the first backend in *order* that succeeds.

    Only `SolverError` moves on to the next backend; an invalid problem or
    parameter is raised at once, since no other backend would accept it.

    Args:
        problem: The problem.
        order: Backend names, tried left to right (all checked first).
        tol: Passed to every backend.
        backend_params: Extra keyword arguments per backend name, e.g.
            ``{"convex": {"solver": "OSQP"}, "slsqp": {"max_iter": 1000}}``.

    Returns:
        The first solution and the warnings of the backends that failed
        before it (one sentence each, in order).

    Raises:
        InvalidParameterError: If *order* is empty or names an unknown backend.
        SolverError: If every backend failed; its message joins the warnings
            and its *backend* and *status* are the last one's.

    .. versionadded:: 0.1.0
    """
    backends = [(name, get_backend(name)) for name in order]
    if not backends:
        raise InvalidParameterError("order", tuple(order), "name at least one backend")
    params = backend_params or {}
    warnings: list[str] = []
    last: SolverError | None = None
    for name, backend in backends:
        try:
            return backend(problem, tol=tol, **params.get(name, {})), warnings
        except SolverError as exc:
            last = exc
            warnings.append(f"Backend {name!r} failed (status {exc.status!r}): {exc}.")
    assert last is not None  # the loop ran at least once and only failed
    raise SolverError(last.backend, last.status, " ".join(warnings)) from last
