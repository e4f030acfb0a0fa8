"""Continuous minimum-dispersion solvers.

Layout:

* `knapsack`: the continuous quadratic knapsack, the problem every engine
  reduces to at a fixed centre;
* `problem`: `DispersionProblem` (the model, documented there),
  `ContinuousSolution`, the objective and the separable form;
* `exact`, `convex`, `slsqp`: the three backends, one module each;
* `backends`: the registry by name and the fallback chain.
"""

from __future__ import annotations

from .backends import (
    BACKENDS,
    DEFAULT_FALLBACK_ORDER,
    Backend,
    get_backend,
    solve_with_fallback,
)
from .exact import solve_exact
from .knapsack import KnapsackSolution, solve_quadratic_knapsack
from .problem import (
    DEGENERATE_CURVATURE,
    ContinuousSolution,
    DispersionProblem,
    capacity_split,
    centre,
    objective,
    repair_feasibility,
    separable_form,
)

_LAZY = {
    "DPP_MAX_ACCOUNTS": "convex",
    "default_convex_solver": "convex",
    "solve_convex": "convex",
    "solve_slsqp": "slsqp",
}


def __getattr__(name: str) -> object:
    # cvxpy and scipy.optimize take most of a second to import: load the
    # backends that need them on first use.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "BACKENDS",
    "DEFAULT_FALLBACK_ORDER",
    "DEGENERATE_CURVATURE",
    "DPP_MAX_ACCOUNTS",
    "Backend",
    "ContinuousSolution",
    "DispersionProblem",
    "KnapsackSolution",
    "capacity_split",
    "centre",
    "default_convex_solver",
    "get_backend",
    "objective",
    "repair_feasibility",
    "separable_form",
    "solve_convex",
    "solve_exact",
    "solve_quadratic_knapsack",
    "solve_slsqp",
    "solve_with_fallback",
]
