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
from .convex import DPP_MAX_ACCOUNTS, default_convex_solver, solve_convex
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
from .slsqp import solve_slsqp

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
