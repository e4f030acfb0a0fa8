"""The front door: ``allocate(order, accounts, method=..., **params)``."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from ._result import AllocationResult
from .engines import get
from .engines.base import Engine
from .errors import InvalidParameterError

__all__ = ["allocate"]


def allocate(
    order: Any, accounts: Any, method: str = "pro_rata", *, seed: int | None = None, **params: Any
) -> AllocationResult:
    """Allocate *order* across *accounts* with the engine named *method*.

    Args:
        order: The `Order`.
        accounts: `Account` objects, an `AccountTable`, a mapping of columns
            or a pandas DataFrame.
        method: An engine name from `orderalloc.engines.available()`:
            ``"pro_rata"``, ``"custom_weights"``, ``"min_dispersion"``, or a plugin's.
        seed: Tie-break seed (default: derived from the order).
        **params: The engine's parameters (see the engine's class).

    Returns:
        Legal amounts for every account, each with its reason.

    Raises:
        UnknownMethodError: No engine is called *method*.
        InvalidParameterError: A parameter is unknown to the engine or invalid.
        InvalidInputError: The order or accounts are invalid.
    """
    return _engine_for(method, params).allocate(order, accounts, seed=seed)


def _engine_for(method: str, params: Mapping[str, Any]) -> Engine:
    """The engine named *method* with *params*, refusing unknown parameters by name."""
    engine_cls = get(method)
    accepted = [p for p in inspect.signature(engine_cls.__init__).parameters if p != "self"]
    for key in params:
        if key not in accepted:
            raise InvalidParameterError(
                key,
                params[key],
                f"is not a parameter of method {method!r} "
                f"(it takes: {', '.join(accepted) or 'none'})",
            )
    return engine_cls(**params)
