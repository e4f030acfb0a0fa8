"""The continuous problem: validation, objective, separable form, repair."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from dispersion_strategies import assert_feasible, make_problem, problems
from hypothesis import given
from hypothesis import strategies as st

from orderalloc.errors import InvalidParameterError
from orderalloc.solvers import (
    DEGENERATE_CURVATURE,
    DispersionProblem,
    capacity_split,
    centre,
    objective,
    repair_feasibility,
    separable_form,
)


def _arrays(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "m": [[5.0], [6.0], [4.0]],
        "s": [[1e-3], [2e-3], [1e-3]],
        "w": [0.5, 0.25, 0.25],
        "c": [1.0],
        "lo": [0.0, 0.0, 0.0],
        "hi": [100.0, 100.0, 100.0],
        "total": 150.0,
    }
    base.update(changes)
    return base


class TestDispersionProblem:
    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"m": [5.0, 6.0, 4.0]}, "m"),
            ({"s": [[1.0], [2.0]]}, "s"),
            ({"w": [0.5, 0.5]}, "w"),
            ({"c": [1.0, 1.0]}, "c"),
            ({"lo": [0.0, 0.0]}, "lo"),
            ({"hi": [[1.0, 1.0, 1.0]]}, "hi"),
            ({"target": [5.0, 5.0]}, "target"),
            ({"m": [[5.0], [np.nan], [4.0]]}, "m[1, 0]"),
            ({"hi": [100.0, np.inf, 100.0]}, "hi[1]"),
            ({"w": [0.75, 0.5, -0.25]}, "w[2]"),
            ({"w": [0.5, 0.5, 0.5]}, "w"),
            ({"c": [0.0]}, "c[0]"),
            ({"lo": [0.0, 120.0, 0.0]}, "hi[1]"),
            ({"total": 301.0}, "total"),
            ({"total": -1.0}, "total"),
            ({"total": np.nan}, "total"),
        ],
    )
    def test_invalid_field_is_named(self, changes: dict[str, Any], field: str) -> None:
        """Each invalid input raises InvalidParameterError naming the offending field."""
        with pytest.raises(InvalidParameterError) as info:
            DispersionProblem(**_arrays(**changes))
        assert info.value.field == field

    def test_arrays_are_private_read_only_copies(self) -> None:
        """Editing the caller's array later does not change the problem, which is read-only."""
        hi = np.array([100.0, 100.0, 100.0])
        problem = DispersionProblem(**_arrays(hi=hi))
        hi[0] = 0.0
        assert problem.hi[0] == 100.0
        with pytest.raises(ValueError, match="read-only"):
            problem.hi[0] = 1.0

    def test_total_at_the_edges_is_accepted(self) -> None:
        """A total equal to sum(lo) or sum(hi) (to rounding) is valid."""
        DispersionProblem(**_arrays(total=300.0 * (1 + 1e-12)))
        DispersionProblem(**_arrays(total=0.0))


class TestObjective:
    @given(problems(max_n=12, max_metrics=3), st.integers(0, 2**32 - 1))
    def test_matches_the_definition(self, problem: DispersionProblem, seed: int) -> None:
        """objective() equals sum_j c_j sum_i w_i (x_ij - mu_j)^2 written as loops."""
        q = problem.lo + np.random.default_rng(seed).uniform(0, 1, problem.n_accounts) * (
            problem.hi - problem.lo
        )
        n, n_metrics = problem.m.shape
        expected = 0.0
        for j in range(n_metrics):
            x = [problem.m[i, j] + problem.s[i, j] * q[i] for i in range(n)]
            if problem.target is None:
                mu = sum(problem.w[i] * x[i] for i in range(n))
            else:
                mu = problem.target[j]
            expected += problem.c[j] * sum(problem.w[i] * (x[i] - mu) ** 2 for i in range(n))
        np.testing.assert_allclose(objective(problem, q), expected, rtol=1e-10, atol=1e-300)

    def test_centre_is_weighted_mean_or_target(self) -> None:
        """centre() is the weighted mean after the trade in mean mode, the target otherwise."""
        problem = DispersionProblem(**_arrays())
        q = np.array([100.0, 50.0, 0.0])
        np.testing.assert_allclose(centre(problem, q), [0.5 * 5.1 + 0.25 * 6.1 + 0.25 * 4.0])
        targeted = DispersionProblem(**_arrays(target=[4.5]))
        np.testing.assert_allclose(centre(targeted, q), [4.5])


class TestSeparableForm:
    @given(problems(max_n=15, max_metrics=3, degenerate=False), st.integers(0, 2**32 - 1))
    def test_equals_objective_up_to_a_constant(self, problem: DispersionProblem, seed: int) -> None:
        """At a fixed centre, sum a (q - t)^2 differs from f(q; mu) by the same constant."""
        rng = np.random.default_rng(seed)
        mu = rng.normal(5.0, 1.0, problem.n_metrics)
        a, t = separable_form(problem, mu)
        fixed = as_target_mode(problem, mu)
        values = []
        for _ in range(3):
            q = problem.lo + rng.uniform(0, 1, problem.n_accounts) * (problem.hi - problem.lo)
            values.append(objective(fixed, q) - float(a @ (q - t) ** 2))
        scale = objective(fixed, problem.lo) + objective(fixed, problem.hi) + 1e-300
        np.testing.assert_allclose(values, values[0], atol=1e-9 * scale)

    def test_degenerate_accounts_get_tiny_curvature_and_lo(self) -> None:
        """Zero-weight and zero-sensitivity accounts get a_i = 1e-12 max(a) and t_i = lo_i."""
        problem = DispersionProblem(
            **_arrays(s=[[1e-3], [0.0], [1e-3]], w=[0.5, 0.5, 0.0], lo=[0.0, 5.0, 7.0], total=50.0)
        )
        a, t = separable_form(problem, np.array([5.0]))
        np.testing.assert_allclose(a[1:], DEGENERATE_CURVATURE * a[0])
        np.testing.assert_allclose(t[1:], [5.0, 7.0])
        # For J = 1 the live account's t brings it exactly to the centre.
        np.testing.assert_allclose(problem.m[0, 0] + problem.s[0, 0] * t[0], 5.0)


def as_target_mode(problem: DispersionProblem, mu: np.ndarray) -> DispersionProblem:
    """The same problem in target mode at *mu*."""
    return DispersionProblem(
        m=problem.m,
        s=problem.s,
        w=problem.w,
        c=problem.c,
        lo=problem.lo,
        hi=problem.hi,
        total=problem.total,
        target=mu,
    )


class TestRepairAndStart:
    @given(problems(max_n=40), st.integers(0, 2**32 - 1))
    def test_repair_restores_bounds_and_total(self, problem: DispersionProblem, seed: int) -> None:
        """A split perturbed past its bounds and total comes back exactly feasible."""
        rng = np.random.default_rng(seed)
        q = capacity_split(problem)
        assert_feasible(problem, q)
        noisy = q + rng.normal(0.0, 1e-3, problem.n_accounts) * (1 + problem.hi)
        assert_feasible(problem, repair_feasibility(problem, noisy))

    def test_repair_leaves_a_feasible_split_alone(self) -> None:
        """Repair does not move a split that is already feasible."""
        problem = make_problem(20, seed=3)
        q = capacity_split(problem)
        np.testing.assert_allclose(repair_feasibility(problem, q), q, rtol=1e-15)
