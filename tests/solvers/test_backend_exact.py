"""The exact backend: knapsack reference, KKT, the fixed-mean shortcut, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from dispersion_strategies import (
    assert_feasible,
    assert_kkt,
    make_problem,
    problems,
    random_feasible_split,
    reference_knapsack,
    worse_or_equal,
)
from hypothesis import given
from hypothesis import strategies as st

from orderalloc.errors import SolverError
from orderalloc.solvers import (
    DispersionProblem,
    capacity_split,
    objective,
    separable_form,
    solve_exact,
)


class TestAgainstReference:
    @given(problems(max_n=60, max_metrics=3, target_mode=True))
    def test_target_mode_matches_breakpoint_sort(self, problem: DispersionProblem) -> None:
        """In target mode the answer is the breakpoint-sort knapsack's, account by account."""
        assert problem.target is not None
        a, t = separable_form(problem, problem.target)
        expected = reference_knapsack(a, t, problem.lo, problem.hi, problem.total)
        solution = solve_exact(problem)
        np.testing.assert_allclose(
            solution.q, expected, rtol=1e-9, atol=1e-9 * float(problem.hi.max())
        )
        assert solution.iterations == 1

    @given(problems(max_n=60, max_metrics=3, target_mode=False))
    def test_mean_mode_is_the_knapsack_at_its_own_mean(self, problem: DispersionProblem) -> None:
        """In mean mode q is the breakpoint-sort knapsack at the centre q itself produces."""
        solution = solve_exact(problem)
        a, t = separable_form(problem, solution.mu)
        expected = reference_knapsack(a, t, problem.lo, problem.hi, problem.total)
        np.testing.assert_allclose(
            objective(problem, expected), solution.objective, rtol=1e-8, atol=1e-15
        )


class TestOptimality:
    @given(problems(max_n=200, max_metrics=3))
    def test_kkt_conditions_hold(self, problem: DispersionProblem) -> None:
        """The solution satisfies the KKT conditions of the full problem."""
        solution = solve_exact(problem)
        assert_feasible(problem, solution.q)
        assert_kkt(problem, solution.q)

    @given(problems(max_n=200, max_metrics=3), st.integers(0, 2**32 - 1))
    def test_no_feasible_split_is_better(self, problem: DispersionProblem, seed: int) -> None:
        """The objective is at most that of the capacity pro-rata split or a random split."""
        solution = solve_exact(problem)
        np.testing.assert_allclose(solution.objective, objective(problem, solution.q))
        assert worse_or_equal(problem, solution.q, capacity_split(problem))
        assert worse_or_equal(problem, solution.q, random_feasible_split(problem, seed))


class TestMeanFixedByTotal:
    @given(
        st.integers(1, 500),
        st.integers(1, 3),
        st.floats(0.0, 1.0),
        st.sampled_from([1.0, -1.0]),
        st.integers(0, 2**32 - 1),
    )
    def test_nav_weights_need_one_knapsack_solve(
        self, n: int, n_metrics: int, fraction: float, side: float, seed: int
    ) -> None:
        """With NAV weights the mean is w @ m + v * total, and one knapsack solve is exact."""
        problem = make_problem(n, n_metrics, fraction=fraction, side=side, seed=seed)
        v = problem.w[0] * problem.s[0]
        predicted = problem.w @ problem.m + v * problem.total
        solution = solve_exact(problem)
        assert solution.iterations == 1
        np.testing.assert_allclose(solution.mu, predicted, rtol=1e-12)
        assert_kkt(problem, solution.q)

    def test_equal_weights_need_a_search(self) -> None:
        """With equal weights the mean moves with the split and the search takes a few steps."""
        problem = make_problem(1000, weighting="equal", seed=11)
        solution = solve_exact(problem)
        assert 1 < solution.iterations <= 10
        assert_kkt(problem, solution.q)


class TestEdgeCases:
    def test_single_account_takes_everything(self) -> None:
        """One account gets the whole total and the dispersion is zero."""
        problem = make_problem(1, fraction=0.4, weighting="equal")
        solution = solve_exact(problem)
        np.testing.assert_allclose(solution.q, [problem.total])
        np.testing.assert_allclose(solution.objective, 0.0, atol=1e-30)

    @pytest.mark.parametrize("fraction", [0.0, 1.0])
    def test_total_at_a_bound_pins_every_account(self, fraction: float) -> None:
        """A total of sum(lo) or sum(hi) leaves every account at that bound."""
        problem = make_problem(50, weighting="random", positive_lo=True, fraction=fraction)
        solution = solve_exact(problem)
        np.testing.assert_allclose(solution.q, problem.lo if fraction == 0.0 else problem.hi)

    def test_no_sensitivity_anywhere_still_splits(self) -> None:
        """When no account's metric moves, any feasible split is optimal and one is returned."""
        base = make_problem(10, weighting="equal", seed=5)
        problem = DispersionProblem(
            m=base.m, s=np.zeros_like(base.s), w=base.w, c=base.c,
            lo=base.lo, hi=base.hi, total=base.total,
        )  # fmt: skip
        solution = solve_exact(problem)
        assert_feasible(problem, solution.q)
        np.testing.assert_allclose(solution.objective, objective(problem, base.lo))

    def test_zero_weight_account_absorbs_only_the_excess(self) -> None:
        """An account with zero weight stays at lo when the others can use the total."""
        problem = make_problem(20, weighting="equal", zero_weight=True, fraction=0.2, seed=2)
        solution = solve_exact(problem)
        assert solution.q[-1] <= problem.lo[-1] + 1e-6 * problem.hi[-1]

    def test_iteration_cap_raises_solver_error(self) -> None:
        """A search stopped by max_iter raises SolverError naming the backend and the fix."""
        problem = make_problem(200, weighting="equal", seed=4)
        with pytest.raises(SolverError, match="max_iter") as info:
            solve_exact(problem, max_iter=1)
        assert info.value.backend == "exact"

    def test_two_metrics_search_converges(self) -> None:
        """The J > 1 Newton search converges in a handful of knapsack solves."""
        problem = make_problem(2000, 2, weighting="random", seed=8)
        solution = solve_exact(problem)
        assert solution.iterations <= 20
        assert_kkt(problem, solution.q)


class TestScale:
    def test_hundred_thousand_accounts_in_a_few_steps(self) -> None:
        """100,000 NAV-weighted accounts solve exactly in a handful of knapsack steps.

        Its time is measured in benchmarks/ (tests never assert wall time).
        """
        problem = make_problem(100_000, seed=1)
        solution = solve_exact(problem)
        assert solution.iterations <= 20
        assert_kkt(problem, solution.q)
