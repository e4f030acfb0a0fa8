"""Third-party engines: registered at run time or found through an entry point."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import numpy as np
import pytest

import orderalloc as oa
from orderalloc.engines import Ideal, Problem, registry
from orderalloc.engines.proportional import proportional_ideal


class LargestFirst(oa.Engine):
    """A toy policy: everything to the account with the largest NAV."""

    name: ClassVar[str] = "largest_first"

    def __init__(self) -> None:
        pass

    @property
    def params(self) -> Mapping[str, Any]:
        return {}

    def ideal(self, problem: Problem) -> Ideal:
        weights = np.zeros(len(problem.accounts))
        weights[int(np.argmax(problem.accounts.nav))] = 1.0
        return proportional_ideal(problem, weights)


ACCOUNTS = (oa.Account(id="S", nav=1e8), oa.Account(id="L", nav=5e8))
BOND = oa.Security(id="B", price=100.0)


class TestPlugins:
    """A plugin engine is a first-class method, with the shared tradability rules."""

    def test_entry_point_engine(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An engine declared under the orderalloc.engines entry point is found by name."""
        point = EntryPoint(
            name="largest-first", value=f"{__name__}:LargestFirst", group="orderalloc.engines"
        )
        monkeypatch.setattr(registry, "entry_points", lambda group: [point])
        monkeypatch.setattr(registry, "_registered", dict(registry._registered))
        assert "largest_first" in oa.engines.available()
        order = oa.Order(security=BOND, side="BUY", quantity=3_000)
        result = oa.allocate(order, list(ACCOUNTS), method="largest-first")
        assert result.quantities == {"S": 0.0, "L": 3_000.0}
        assert result.method == "largest_first"

    def test_entry_point_that_is_not_an_engine(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An entry point that loads something else is refused as unknown."""
        point = EntryPoint(name="broken", value="math:sqrt", group="orderalloc.engines")
        monkeypatch.setattr(registry, "entry_points", lambda group: [point])
        with pytest.raises(oa.UnknownMethodError):
            oa.engines.get("broken")
