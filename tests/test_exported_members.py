"""The public surface: what `import orderalloc` offers is exactly __all__."""

from __future__ import annotations

import orderalloc as oa


def test_all_is_the_public_surface() -> None:
    """Every public name is in __all__ and every name in __all__ exists."""
    public = {name for name in dir(oa) if not name.startswith("_")}
    exported = set(oa.__all__) - {"__version__"}
    assert exported <= public
    # Submodules imported as a side effect are not part of the surface.
    assert public - exported <= {
        "allocation",
        "basket",
        "parallel",
        "plot",
        "switches",
        "fills",
        "fairness",
        "model",
        "reasons",
        "result",
        "serialization",
        "solvers",
        "testing",
        "typing",
        "sources",
        "audit",
        "cli",
        "annotations",  # from __future__ import annotations
    }


def test_reprs_name_the_package() -> None:
    """Public classes present themselves as orderalloc.X."""
    for name in oa.__all__:
        obj = getattr(oa, name)
        if isinstance(obj, type):
            assert obj.__module__ == "orderalloc", name
