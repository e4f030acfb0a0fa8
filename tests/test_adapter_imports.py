"""The core never imports an adapter: only the places that choose a source import Aladdin's."""

from __future__ import annotations

import ast
from pathlib import Path

import orderalloc

PACKAGE = Path(orderalloc.__file__).resolve().parent
ALADDIN = "orderalloc.sources.aladdin"

# Who may import the Aladdin adapter, and why.
ALLOWED = (
    "orderalloc/sources/aladdin/",  # the adapter itself
    "orderalloc/testing/aladdin",  # its test doubles (aladdin.py, aladdin/, aladdin_faults.py)
    "orderalloc/sources/__init__.py",  # default_source: the source selection
    "orderalloc/cli.py",  # --source: the source selection
    "orderalloc/__init__.py",  # the front door re-exports AladdinClient & co. (lazily)
    "orderalloc/errors.py",  # the drawn error tree names every error class (lazily)
)


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module *path* imports, anywhere in it (functions and TYPE_CHECKING blocks too)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _offenders() -> dict[str, list[str]]:
    offenders: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent).as_posix()
        if where.startswith(ALLOWED):
            continue
        bad = sorted(m for m in _imports(path) if m == ALADDIN or m.startswith(ALADDIN + "."))
        if bad:
            offenders[where] = bad
    return offenders


def test_only_source_selection_imports_aladdin() -> None:
    """No module outside the adapter, its test doubles and the source selection imports it."""
    assert _offenders() == {}


def test_the_scan_sees_relative_imports() -> None:
    """The scan resolves ``from ..sources.aladdin.errors import X`` (it would catch the desk's)."""
    desk = PACKAGE / "desk" / "_outcomes.py"
    assert "orderalloc.sources.errors" in _imports(desk)
    assert "orderalloc.errors.DataSourceError" in _imports(desk)
