"""`import orderalloc` loads the engines only; adapters load on first use (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orderalloc as oa

_SRC = str(Path(oa.__file__).resolve().parent.parent)

# What an engine never needs: the HTTP client, SQLite, cattrs, the adapters.
_ADAPTERS = (
    "httpx",
    "sqlite3",
    "cattrs",
    "importlib.metadata",
    "orderalloc.desk",
    "orderalloc.audit",
    "orderalloc.sources",
    "orderalloc._serialization",
    "orderalloc._cli",
    "scipy",
    "cvxpy",
    "threadpoolctl",
    "orderalloc.parallel",
    "orderalloc.fairness",
    "pandas",
    "matplotlib",
)


def _fresh(code: str) -> object:
    """Run *code* in a fresh interpreter and return what it prints, as JSON."""
    env = {**os.environ, "PYTHONPATH": _SRC}
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    return json.loads(out.stdout)


class TestLazyImports:
    """The adapters are imported on first use, and nothing else changes."""

    def test_import_loads_no_adapter(self) -> None:
        """A bare `import orderalloc` imports no adapter, HTTP client or database module."""
        loaded = _fresh(
            "import json, sys, orderalloc\n"
            f"print(json.dumps([m for m in {_ADAPTERS!r} if m in sys.modules]))"
        )
        assert loaded == []

    def test_import_loads_no_engine(self) -> None:
        """A bare `import orderalloc` loads no numpy, attrs or engine; the first use does."""
        loaded = _fresh(
            "import json, sys, orderalloc as oa\n"
            "heavy = ('numpy', 'attrs', 'orderalloc.engines', 'orderalloc._model')\n"
            "before = [m for m in heavy if m in sys.modules]\n"
            "oa.MinDispersion\n"
            "print(json.dumps([before, [m for m in heavy if m in sys.modules]]))"
        )
        assert loaded == [[], ["numpy", "attrs", "orderalloc.engines", "orderalloc._model"]]

    def test_allocate_loads_no_adapter(self) -> None:
        """Allocating with the default engine still imports no adapter."""
        loaded = _fresh(
            "import json, sys, orderalloc as oa\n"
            "sec = oa.Security(id='B', price=100.0, analytics={'spread_duration': 5.0})\n"
            "order = oa.Order(security=sec, side='BUY', quantity=10_000_000.0)\n"
            "oa.allocate(order, {'ids': ['a', 'b'], 'nav': [1e8, 2e8], "
            "'metrics': {'spread_duration': [4.0, 6.0]}}, method='min_dispersion')\n"
            f"print(json.dumps([m for m in {_ADAPTERS!r} if m in sys.modules]))"
        )
        assert loaded == []

    def test_dir_lists_every_public_name_before_use(self) -> None:
        """`dir(orderalloc)` lists every name of `__all__` before any adapter is loaded."""
        missing = _fresh(
            "import json, orderalloc as oa\n"
            "print(json.dumps(sorted(set(oa.__all__) - set(dir(oa)))))"
        )
        assert missing == []

    def test_lazy_names_are_the_adapters_objects(self) -> None:
        """A lazily loaded name is the very object its module defines, presented as orderalloc.X."""
        from orderalloc._serialization import to_json
        from orderalloc.desk import Desk
        from orderalloc.sources import MockAladdin

        assert oa.Desk is Desk
        assert oa.MockAladdin is MockAladdin
        assert oa.to_json is to_json
        assert Desk.__module__ == "orderalloc"

    def test_loaded_names_present_as_orderalloc(self) -> None:
        """Loading the desk presents the classes it loads too: its signatures read orderalloc.X."""
        modules = _fresh(
            "import json, orderalloc as oa\n"
            "oa.Desk\n"
            "from orderalloc.sources.orders import PostedOrder\n"
            "from orderalloc.audit.events import AuditEvent\n"
            "print(json.dumps([PostedOrder.__module__, AuditEvent.__module__]))"
        )
        assert modules == ["orderalloc", "orderalloc"]

    def test_version_is_a_string(self) -> None:
        """`orderalloc.__version__` is still there, read from the package metadata."""
        assert isinstance(oa.__version__, str)
        assert oa.__version__

    def test_unknown_name_is_an_attribute_error(self) -> None:
        """An unknown attribute raises AttributeError, so hasattr and getattr work."""
        assert not hasattr(oa, "NoSuchThing")
