"""Pro-rata and custom weights: split the order in proportion to a weight per account.

Both engines give account i the share ``w_i / sum(w) * Q``. An account that
cannot take its share (cash, holdings, limits, restrictions) is capped, and
what it cannot take goes to the others *in proportion to their weights*: the
ideal is ``min(cap_i, theta * w_i)`` with one level ``theta`` for everyone
(water-filling), the solution of the quadratic knapsack with ``t = 0`` and
``a_i = 1 / w_i`` (`orderalloc.solvers.knapsack`). Rounding to denominations
then minimises ``sum_i (q_i - ideal_i)^2 / w_i``: relative, not absolute,
deviations, so small accounts are not rounded away for the sake of large ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .._model import Side
from ..errors import InvalidParameterError
from ..solvers.knapsack import solve_quadratic_knapsack
from ..typing import FloatArray
from .base import Engine, Ideal, Problem, _account_row

__all__ = ["CustomWeights", "ProRata", "proportional_ideal"]


def proportional_ideal(problem: Problem, weights: FloatArray) -> Ideal:
    """The capped proportional split of *problem* by *weights* (>= 0, sum > 0)."""
    eligible = weights > 0
    total_w = float(weights.sum())
    if total_w <= 0:  # nobody holds the security (sell by holdings): nothing to split
        zeros = np.zeros_like(weights)
        return Ideal(target=zeros, cost=np.ones_like(weights), share=zeros, eligible=eligible)
    w = weights / total_w
    share = problem.order.quantity * w
    # Scale the curvatures to O(1) so the multiplier stays well within float range.
    if eligible.all():  # the usual case (NAV): no masks, no copies, the same values
        hi = problem.hi
        mean_w = float(w.mean())
        a = mean_w / w
    else:
        hi = np.where(eligible, problem.hi, 0.0)
        mean_w = float(w[eligible].mean())
        a = np.where(eligible, mean_w / np.where(eligible, w, 1.0), 1.0)
    zeros = np.zeros_like(w)
    total = min(problem.order.quantity, float(hi.sum()))
    target = solve_quadratic_knapsack(a, zeros, zeros, hi, total).q if total > 0 else zeros
    return Ideal(target=target, cost=a, share=share, eligible=eligible)


def _check_weights(
    field: str, values: FloatArray, ids: tuple[str, ...], *, allow_all_zero: bool = False
) -> None:
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidParameterError(
            f"{field}[{ids[i]!r}]", float(values[i]), "must be a finite number >= 0"
        )
    if not allow_all_zero and float(values.sum()) <= 0:
        raise InvalidParameterError(field, "all zero", "at least one account needs a weight > 0")


class ProRata(Engine):
    """Split the order in proportion to a per-account basis.

    Args:
        basis: What to be proportional to: ``"nav"``, ``"holdings"`` (face of
            the security held; the natural basis for sells), ``"market_value"``
            (market value of the position held), or the name of any metric the
            accounts carry. Default: ``"nav"`` for buys, ``"holdings"`` for sells.

    Raises:
        InvalidParameterError: The basis is unknown, or negative / NaN for an
            account, or zero for every account.
    """

    name: ClassVar[str] = "pro_rata"

    def __init__(self, *, basis: str | None = None) -> None:
        if basis is not None and (not isinstance(basis, str) or not basis):
            raise InvalidParameterError("basis", basis, "must be a non-empty string")
        self.basis = basis

    @property
    def params(self) -> Mapping[str, Any]:
        """``{"basis": ...}``."""
        return {"basis": self.basis}

    def weights(self, problem: Problem) -> FloatArray:
        """The basis value per account."""
        table, order = problem.accounts, problem.order
        basis = self.basis or ("nav" if order.side is Side.BUY else "holdings")
        if basis == "nav":
            values = table.nav
        elif basis == "holdings":
            values = np.maximum(table.holding(order.security.id), 0.0)
        elif basis == "market_value":
            values = (
                np.maximum(table.holding(order.security.id), 0.0) * order.security.cash_per_face
            )
        elif basis in table.metrics:
            values = table.metrics[basis]
        else:
            raise InvalidParameterError(
                "basis",
                basis,
                "must be 'nav', 'holdings', 'market_value' or a metric the accounts carry "
                f"({', '.join(sorted(table.metrics)) or 'none'})",
            )
        # Positions may all be zero (nobody holds what is sold): then nothing is allocated.
        held_basis = basis in ("holdings", "market_value")
        _check_weights(f"basis {basis!r}", values, table.ids, allow_all_zero=held_basis)
        return values

    def ideal(self, problem: Problem) -> Ideal:
        """Capped proportional split by the basis (see the module docstring)."""
        return proportional_ideal(problem, self.weights(problem))


class CustomWeights(Engine):
    """Split the order by weights given per account id.

    Args:
        weights: Account id -> weight. Weights are >= 0 and sum to 1 (within
            *tolerance*); accounts not named get 0. A share an account cannot
            take goes to the others in proportion to their weights.
        tolerance: How far from 1 the sum may be.

    Raises:
        InvalidParameterError: A weight is negative or NaN, the sum is not 1,
            or (at allocation) an id is not one of the accounts.
    """

    name: ClassVar[str] = "custom_weights"

    def __init__(self, *, weights: Mapping[str, float], tolerance: float = 1e-6) -> None:
        if (
            not isinstance(tolerance, (int, float, np.integer, np.floating))
            or isinstance(tolerance, (bool, np.bool_))
            or not 0 <= tolerance <= 0.1
        ):
            raise InvalidParameterError("tolerance", tolerance, "must be a number in [0, 0.1]")
        if not isinstance(weights, Mapping) or not weights:
            raise InvalidParameterError(
                "weights", weights, "must be a non-empty mapping of account id to weight"
            )
        clean: dict[str, float] = {}
        for key, value in weights.items():
            if not isinstance(key, str) or not key.strip():
                raise InvalidParameterError("weights key", key, "must be an account id (a string)")
            if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(
                value, (bool, np.bool_)
            ):
                raise InvalidParameterError(
                    f"weights[{key!r}]", value, f"must be a number, not {type(value).__name__}"
                )
            try:
                number = float(value)
            except OverflowError as exc:
                raise InvalidParameterError(
                    f"weights[{key!r}]", value, "must be in [0, 1]"
                ) from exc
            # Weights sum to 1, so none can exceed 1 (+ tolerance): refusing more
            # here also keeps the sum from overflowing.
            if not math.isfinite(number) or not 0 <= number <= 1 + tolerance:
                raise InvalidParameterError(
                    f"weights[{key!r}]", value, "must be a finite number in [0, 1]"
                )
            clean[key] = number
        total = math.fsum(clean.values())
        if abs(total - 1.0) > tolerance:
            raise InvalidParameterError(
                "weights", clean, f"sum to {total:.9g}; they must sum to 1 (within {tolerance:g})"
            )
        self.weights = clean
        self.tolerance = float(tolerance)

    @property
    def params(self) -> Mapping[str, Any]:
        """``{"weights": {...}, "tolerance": ...}``."""
        return {"weights": dict(self.weights), "tolerance": self.tolerance}

    def ideal(self, problem: Problem) -> Ideal:
        """Capped proportional split by the given weights."""
        table = problem.accounts
        values = np.zeros(len(table), dtype=np.float64)
        for key, weight in self.weights.items():
            values[_account_row(table, "weights", key)] = weight
        _check_weights("weights", values, table.ids)
        return proportional_ideal(problem, values)
