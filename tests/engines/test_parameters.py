"""Engine parameters are checked by type and range, each refusal naming the parameter."""

from __future__ import annotations

import math

import pytest

import orderalloc as oa

SEC = oa.Security(id="X", price=99.0, analytics={"sd": 4.0})
ACCOUNTS = [
    oa.Account(id="A", nav=1e6, cash=1e6, metrics={"sd": 4.0}),
    oa.Account(id="B", nav=2e6, cash=1e6, metrics={"sd": 5.0}),
]
ORDER = oa.Order(security=SEC, side="BUY", quantity=1e6)


class TestTarget:
    """A target absurdly far from the accounts is refused instead of hanging the rounding."""

    @pytest.mark.parametrize("target", [1e15, 1e6, -1e6])
    def test_far_target_refused_with_range(self, target: float) -> None:
        """target=1e15 never returned once; now the accepted range is named."""
        with pytest.raises(oa.InvalidParameterError, match=r"target\['sd'\]") as info:
            oa.allocate(ORDER, ACCOUNTS, method="min_dispersion", metric="sd", target=target)
        assert "must" in info.value.reason

    @pytest.mark.parametrize("target", [3.0, 4.5, 6.0, 100.0])
    def test_reasonable_target_allocates(self, target: float) -> None:
        """A target in (or near) the metric's range allocates the whole order."""
        result = oa.allocate(ORDER, ACCOUNTS, method="min_dispersion", metric="sd", target=target)
        assert result.allocated == 1e6


class TestTypes:
    """Wrong types are InvalidParameterError, never TypeError or AttributeError."""

    @pytest.mark.parametrize(
        ("param", "value"),
        [
            ("metric", 5),
            ("backend", [1]),
            ("fallback", 5),
            ("fallback", "convex"),
            ("solver_params", {"bogus": 1}),
            ("solver_params", "x"),
            ("max_iter", True),
            ("tol", True),
        ],
    )
    def test_min_dispersion(self, param: str, value: object) -> None:
        """Each bad min-dispersion parameter names itself."""
        with pytest.raises(oa.InvalidParameterError, match=param):
            oa.MinDispersion(**{"metric": "sd", param: value})  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"weights": {"A": 0.5, "B": 0.5}, "tolerance": math.nan}, "tolerance"),
            ({"weights": {"A": 1e308, "B": 1e308}}, "weights['A']"),
            ({"weights": {"A": True}}, "weights['A']"),
            ({"weights": {"A": "1"}}, "weights['A']"),
            ({"weights": {5: 1.0}}, "weights key"),
        ],
    )
    def test_custom_weights(self, kwargs: dict[str, object], field: str) -> None:
        """tolerance=nan once put the whole order on one account; 1e308 overflowed."""
        with pytest.raises(oa.InvalidParameterError) as info:
            oa.CustomWeights(**kwargs)  # type: ignore[arg-type]
        assert info.value.field == field

    def test_solver_params_accepted_per_backend(self) -> None:
        """A backend's own parameters are accepted (ftol for SLSQP)."""
        engine = oa.MinDispersion(metric="sd", backend="slsqp", solver_params={"ftol": 1e-8})
        assert engine.solver_params == {"ftol": 1e-8}

    def test_missing_metric_hints_the_prefix(self) -> None:
        """A metric the accounts lack suggests the DataFrame column name that would carry it."""
        with pytest.raises(oa.InvalidParameterError, match="metric:duration"):
            oa.allocate(ORDER, ACCOUNTS, method="min_dispersion", metric="duration")

    @pytest.mark.parametrize("seed", [True, "x", 1.5])
    def test_seed(self, seed: object) -> None:
        """A seed must be a whole number."""
        with pytest.raises(oa.InvalidParameterError, match="seed"):
            oa.allocate(ORDER, ACCOUNTS, seed=seed)  # type: ignore[arg-type]
