"""The exact continuous optimum when NAVs span eight orders of magnitude (issue 10).

With equal weights the curvature of an account is ``(price * sd / NAV)^2 / n``:
NAVs from 1e3 to 1e11 put curvatures 1e16 apart. The exact backend used to
raise every curvature below ``1e-12 * max`` to that floor, which solved a
different problem (1e-5 to a few % above the optimum); a second solver is the
referee.
"""

from __future__ import annotations

import numpy as np
import pytest

from orderalloc.solvers.exact import solve_exact
from orderalloc.solvers.problem import DispersionProblem, objective


@pytest.mark.parametrize("seed", [0, 2])
def test_exact_is_no_worse_than_the_convex_solver(seed: int) -> None:
    """The exact optimum is at most 1e-9 above a conic solver's, and feasible."""
    pytest.importorskip("cvxpy")
    from orderalloc.solvers.convex import solve_convex

    rng = np.random.default_rng(seed)
    n = 200
    nav = np.exp(rng.uniform(np.log(1e3), np.log(1e11), n))
    problem = DispersionProblem(
        m=rng.uniform(2, 7, (n, 1)),
        s=(0.99 * 4.0 / nav)[:, None],
        w=np.full(n, 1 / n),
        c=np.ones(1),
        lo=np.zeros(n),
        hi=np.minimum(nav * 0.5, 5e7),
        total=2e7,
    )
    exact = solve_exact(problem)
    referee = solve_convex(problem)
    assert abs(float(exact.q.sum()) - 2e7) <= 1e-6
    assert bool(np.all(exact.q >= 0))
    assert bool(np.all(exact.q <= problem.hi))
    f_exact, f_ref = objective(problem, exact.q), objective(problem, referee.q)
    assert f_exact <= f_ref * (1 + 1e-9)
