"""The backend registry and the fallback chain."""

from __future__ import annotations

import pytest
from dispersion_strategies import assert_feasible, make_problem

from orderalloc.errors import InvalidParameterError, SolverError
from orderalloc.solvers import (
    BACKENDS,
    DEFAULT_FALLBACK_ORDER,
    get_backend,
    solve_convex,
    solve_exact,
    solve_slsqp,
    solve_with_fallback,
)


class TestGetBackend:
    def test_names_map_to_the_backends(self) -> None:
        """Each documented name solves with its backend (convex and slsqp load lazily)."""
        assert get_backend("exact") is solve_exact
        problem = make_problem(8, 1, seed=3)
        for name, direct in (("convex", solve_convex), ("slsqp", solve_slsqp)):
            via_registry = get_backend(name)(problem)
            assert via_registry.backend == name
            assert via_registry.objective == pytest.approx(direct(problem).objective, rel=1e-9)
        assert set(BACKENDS) == set(DEFAULT_FALLBACK_ORDER)

    def test_unknown_name_lists_the_choices(self) -> None:
        """An unknown backend raises InvalidParameterError naming backend and the choices."""
        with pytest.raises(InvalidParameterError, match="exact, convex, slsqp") as info:
            get_backend("newton")
        assert info.value.field == "backend"

    def test_registry_is_read_only(self) -> None:
        """Users cannot replace a backend by writing to the registry."""
        with pytest.raises(TypeError):
            BACKENDS["exact"] = solve_slsqp  # type: ignore[index]


class TestSolveWithFallback:
    def test_first_backend_answers_without_warnings(self) -> None:
        """With the default order the exact backend answers and nothing is reported."""
        problem = make_problem(40, weighting="equal")
        solution, warnings = solve_with_fallback(problem)
        assert solution.backend == "exact"
        assert warnings == []

    def test_failed_backend_is_reported_and_the_next_answers(self) -> None:
        """A failing first backend gives one warning sentence and the next backend's answer."""
        problem = make_problem(30, 2, weighting="equal", seed=9)
        solution, warnings = solve_with_fallback(
            problem, ("slsqp", "exact"), backend_params={"slsqp": {"max_iter": 1}}
        )
        assert solution.backend == "exact"
        assert_feasible(problem, solution.q)
        assert len(warnings) == 1
        assert warnings[0].startswith("Backend 'slsqp' failed")
        assert warnings[0].endswith(".")

    def test_all_failing_raises_with_every_reason(self) -> None:
        """When every backend fails, the SolverError lists each failure."""
        problem = make_problem(200, weighting="equal", seed=4)
        with pytest.raises(SolverError) as info:
            solve_with_fallback(
                problem,
                ("exact", "slsqp"),
                backend_params={"exact": {"max_iter": 1}, "slsqp": {"max_iter": 1}},
            )
        assert info.value.backend == "slsqp"
        assert "'exact' failed" in str(info.value)
        assert "'slsqp' failed" in str(info.value)

    def test_invalid_parameters_are_not_swallowed(self) -> None:
        """A bad solver name is raised at once rather than hidden behind a fallback."""
        with pytest.raises(InvalidParameterError):
            solve_with_fallback(
                make_problem(5),
                ("convex", "exact"),
                backend_params={"convex": {"solver": "NOT_A_SOLVER"}},
            )

    @pytest.mark.parametrize("order", [(), ("exact", "simplex")])
    def test_bad_order_is_refused(self, order: tuple[str, ...]) -> None:
        """An empty order or an unknown name in it raises InvalidParameterError."""
        with pytest.raises(InvalidParameterError):
            solve_with_fallback(make_problem(5), order)
