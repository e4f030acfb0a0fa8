"""The three backends agree on the optimum, and every one returns a feasible split."""

from __future__ import annotations

import numpy as np
import pytest
from dispersion_strategies import assert_feasible, make_problem, problems, worse_or_equal
from hypothesis import given, settings

from orderalloc.errors import InvalidParameterError, SolverError
from orderalloc.solvers import (
    ContinuousSolution,
    DispersionProblem,
    capacity_split,
    objective,
    solve_convex,
    solve_exact,
    solve_slsqp,
)


def assert_same_optimum(
    problem: DispersionProblem, reference: ContinuousSolution, other: ContinuousSolution
) -> None:
    """Objectives agree to 1e-6 relative; splits too where the optimum is unique."""
    scale = reference.objective + 1e-9 * _start_objective(problem)
    assert abs(other.objective - reference.objective) <= 1e-6 * scale + 1e-300
    # No account without weight or sensitivity: f is strictly convex on the
    # feasible set (the sensitivities share a sign), so the split is unique.
    # The optimum can be nearly flat along the total (accounts with almost the
    # same sensitivity), where a 1e-8 objective gap allows splits that differ
    # by a few tenths of a percent of the largest bound (seen: 0.5% at 710
    # accounts with Clarabel); the objective above is the sharp check.
    unique = bool((problem.w > 0).all() and (np.abs(problem.s).sum(axis=1) > 0).all())
    if unique and problem.n_accounts > 1:
        np.testing.assert_allclose(
            other.q, reference.q, rtol=0, atol=2e-2 * float(problem.hi.max())
        )


def _start_objective(problem: DispersionProblem) -> float:
    return objective(problem, capacity_split(problem))


class TestSlsqpAgreesWithExact:
    @settings(max_examples=60)
    @given(problems(min_n=1, max_n=30, max_metrics=2))
    def test_same_optimum(self, problem: DispersionProblem) -> None:
        """SLSQP and exact reach the same objective (and split) on small groups."""
        exact = solve_exact(problem)
        slsqp = solve_slsqp(problem)
        assert_feasible(problem, slsqp.q)
        assert slsqp.backend == "slsqp"
        assert_same_optimum(problem, exact, slsqp)

    def test_iteration_limit_raises_readable_error(self) -> None:
        """SLSQP stopped after one iteration raises SolverError with SciPy's reason and a fix."""
        problem = make_problem(30, 2, weighting="equal", seed=9)
        with pytest.raises(SolverError, match="max_iter") as info:
            solve_slsqp(problem, max_iter=1)
        assert info.value.backend == "slsqp"
        assert info.value.status == "9"  # SciPy: iteration limit reached
        assert "Iteration limit" in str(info.value)


class TestConvexAgreesWithExact:
    @settings(max_examples=40)
    @given(problems(min_n=1, max_n=2000, max_metrics=2))
    def test_same_optimum(self, problem: DispersionProblem) -> None:
        """The cvxpy backend (Clarabel) and exact reach the same objective (and split)."""
        exact = solve_exact(problem)
        convex = solve_convex(problem)
        assert_feasible(problem, convex.q)
        assert convex.status in ("optimal", "optimal_inaccurate")
        assert_same_optimum(problem, exact, convex)
        assert worse_or_equal(problem, exact.q, convex.q)

    @pytest.mark.parametrize("n_metrics", [1, 2])
    @pytest.mark.parametrize("target_mode", [False, True])
    def test_constant_build_matches_compiled(self, n_metrics: int, target_mode: bool) -> None:
        """The constant-data build used for large groups gives the compiled problem's answer."""
        problem = make_problem(300, n_metrics, weighting="random", target_mode=target_mode)
        compiled = solve_convex(problem, dpp=True)
        constant = solve_convex(problem, dpp=False)
        np.testing.assert_allclose(constant.objective, compiled.objective, rtol=1e-7)

    def test_compiled_once_per_shape(self) -> None:
        """A second problem of the same shape reuses the cached compiled problem."""
        from orderalloc.solvers.convex import _compiled

        solve_convex(make_problem(123, seed=1))
        before = _compiled.cache_info()
        solution = solve_convex(make_problem(123, weighting="equal", seed=2))
        after = _compiled.cache_info()
        assert after.hits == before.hits + 1
        assert after.misses == before.misses
        assert_feasible(make_problem(123, weighting="equal", seed=2), solution.q)

    @pytest.mark.parametrize("solver", ["OSQP", "SCS"])
    def test_first_order_solvers_are_repaired(self, solver: str) -> None:
        """OSQP and SCS answers are repaired to exact bounds and total, near the optimum."""
        problem = make_problem(2000, weighting="equal", seed=6)
        solution = solve_convex(problem, solver=solver, tol=1e-7)
        assert_feasible(problem, solution.q)
        exact = solve_exact(problem)
        np.testing.assert_allclose(solution.objective, exact.objective, rtol=1e-3)
        assert solution.objective >= exact.objective * (1 - 1e-9)

    def test_unknown_solver_is_an_invalid_parameter(self) -> None:
        """A solver that is not installed raises InvalidParameterError naming solver."""
        with pytest.raises(InvalidParameterError) as info:
            solve_convex(make_problem(5), solver="NOT_A_SOLVER")
        assert info.value.field == "solver"

    @pytest.mark.filterwarnings("ignore:Solution may be inaccurate:UserWarning")
    def test_failed_status_raises_with_a_fix(self) -> None:
        """A solver stopped before optimality raises SolverError suggesting backend='exact'."""
        problem = make_problem(500, weighting="equal", seed=7)
        with pytest.raises(SolverError, match="backend='exact'") as info:
            solve_convex(problem, solver_params={"max_iter": 1})
        assert info.value.backend == "convex"
