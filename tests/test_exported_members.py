"""The public surface: `import orderalloc` offers __all__ and the documented public modules.

Modeled on httpx's ``tests/test_exported_members.py``: no name leaks. A module whose
name starts with an underscore is an implementation detail; every other module
directly under ``orderalloc`` is part of the surface and documented in the API
reference (``docs/reference/api.md``).
"""

import importlib
import pkgutil
import re
from pathlib import Path

import orderalloc as oa

API_REFERENCE = Path(__file__).parents[1] / "docs" / "reference" / "api.md"


def _documented_modules() -> set[str]:
    """The top-level modules the API reference documents (``automodule`` directives)."""
    text = API_REFERENCE.read_text(encoding="utf-8")
    return set(re.findall(r"automodule:: orderalloc\.([a-z]\w*)", text))


def _top_level_modules() -> set[str]:
    return {info.name for info in pkgutil.iter_modules(oa.__path__)} - {"__main__"}


def test_every_public_module_is_documented_and_every_other_is_private() -> None:
    """A module users may import is in the API reference; the rest are _private."""
    public = {name for name in _top_level_modules() if not name.startswith("_")}
    assert public == _documented_modules()


def test_nothing_leaks_into_the_package_namespace() -> None:
    """With every module loaded, each public name is in __all__ or a public module."""
    for name in sorted(_top_level_modules()):
        importlib.import_module(f"orderalloc.{name}")
    namespace = {name for name in vars(oa) if not name.startswith("_")}
    assert namespace - set(oa.__all__) <= _documented_modules()
    assert set(oa.__all__) - {"__version__"} <= set(dir(oa))


def test_all_is_the_lazy_map_plus_the_errors() -> None:
    """__all__ lists exactly the lazily loaded names and the errors loaded with the package."""
    eager = set(oa.__all__) - set(oa._lazy_map()) - {"__version__", "errors"}
    assert eager <= set(oa.errors.__all__)
    assert set(oa._lazy_map()) <= set(oa.__all__)


def test_reprs_name_the_package() -> None:
    """Public classes present themselves as orderalloc.X."""
    for name in oa.__all__:
        obj = getattr(oa, name)
        if isinstance(obj, type):
            assert obj.__module__ == "orderalloc", name
