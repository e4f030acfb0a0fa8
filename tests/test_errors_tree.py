"""One error root: every error class is drawn in `orderalloc.errors` and reachable from it."""

from __future__ import annotations

import builtins
import importlib
import pkgutil
import re

import pytest

import orderalloc
import orderalloc.errors as errors

# A drawn line: the box drawing, the class name, an optional "(also ...)".
_LINE = re.compile(
    r"^(?P<indent>[ │]*)(?:[├└]── )?(?P<name>[A-Z]\w*Error)\b(?: \(also (?P<also>[^)]*)\))?"
)


def _every_module() -> None:
    """Import every module of the package, so every error class is defined."""
    for info in pkgutil.walk_packages(orderalloc.__path__, "orderalloc."):
        if info.name == "orderalloc.__main__":  # runs the command
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional extra (snowflake, ...) is not installed
            continue


def _subclasses(root: type) -> set[type]:
    found: set[type] = set()
    todo = [root]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def _drawn() -> list[tuple[str, str | None, tuple[str, ...]]]:
    """(class name, drawn parent, its "also" bases) for every line of the docstring's tree."""
    doc = errors.__doc__ or ""
    tree = doc.split("::", 1)[1]
    rows: list[tuple[str, str | None, tuple[str, ...]]] = []
    parents: list[tuple[int, str]] = []  # (depth, name)
    for line in tree.splitlines():
        match = _LINE.match(line.strip("\n")[4:]) if line.startswith("    ") else None
        if match is None:
            if rows and line.strip() and not line.startswith("    "):
                break  # the prose after the tree
            continue
        depth = len(match["indent"]) // 4 + (0 if line[4:].startswith("OrderAllocError") else 1)
        while parents and parents[-1][0] >= depth:
            parents.pop()
        also = tuple(a.strip() for a in (match["also"] or "").split(",") if a.strip())
        rows.append((match["name"], parents[-1][1] if parents else None, also))
        parents.append((depth, match["name"]))
    return rows


@pytest.fixture(name="classes", scope="module")
def _classes() -> set[type]:
    """Every public subclass of OrderAllocError, once every module is imported."""
    _every_module()
    return {c for c in _subclasses(errors.OrderAllocError) if not c.__name__.startswith("_")} | {
        errors.OrderAllocError
    }


class TestErrorsTree:
    """The drawn tree is complete and true, and every class in it is `orderalloc.errors.X`."""

    def test_every_class_is_drawn(self, classes: set[type]) -> None:
        """Every error class of the package appears in the tree (add a new one there)."""
        drawn = {row[0] for row in _drawn()}
        missing = sorted(c.__name__ for c in classes if c.__name__ not in drawn)
        assert missing == [], f"draw these in orderalloc/errors.py's docstring: {missing}"

    def test_every_class_is_an_attribute(self, classes: set[type]) -> None:
        """`orderalloc.errors.X` is the class itself, for every error class."""
        for cls in classes:
            assert getattr(errors, cls.__name__) is cls, cls.__name__
        assert {c.__name__ for c in classes} <= set(dir(errors))

    def test_drawn_parents_are_true(self) -> None:
        """Each drawn class is an OrderAllocError under the class it is drawn under."""
        rows = _drawn()
        assert rows[0] == ("OrderAllocError", None, ())
        assert len(rows) == len({row[0] for row in rows})  # each drawn once
        for name, parent, also in rows[1:]:
            cls = getattr(errors, name)
            assert parent is not None
            assert issubclass(cls, getattr(errors, parent)), (name, parent)
            for other in also:  # "(also ValueError)", "(also NotFoundError, KeyError)"
                base = getattr(errors, other, None) or getattr(builtins, other)
                assert issubclass(cls, base), (name, other)
