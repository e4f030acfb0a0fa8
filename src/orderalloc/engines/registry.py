"""Engines by name: the built-ins and third-party engines from entry points.

A package adds an engine by declaring, in its ``pyproject.toml``::

    [project.entry-points."orderalloc.engines"]
    my_method = "my_package.engines:MyEngine"

where ``MyEngine`` subclasses `orderalloc.engines.Engine`. Names are
case-insensitive and ``-`` equals ``_`` (``"min-dispersion"`` is
``"min_dispersion"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UnknownMethodError
from .base import Engine

if TYPE_CHECKING:
    from collections.abc import Iterable
    from importlib.metadata import EntryPoint

__all__ = ["available", "get", "register"]

ENTRY_POINT_GROUP = "orderalloc.engines"
_registered: dict[str, type[Engine]] = {}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def register(engine: type[Engine], *, name: str | None = None) -> type[Engine]:
    """Register *engine* under *name* (default: ``engine.name``); usable as a decorator."""
    _registered[_normalise(name or engine.name)] = engine
    return engine


def entry_points(*, group: str) -> Iterable[EntryPoint]:
    """The installed entry points of *group* (importlib.metadata, imported on first use)."""
    # importlib.metadata takes ~40 ms to import: pay it only when a plugin is looked up.
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def _plugins() -> dict[str, EntryPoint]:
    return {_normalise(ep.name): ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> tuple[str, ...]:
    """The names of every engine: built-in, registered and installed plugins, sorted."""
    return tuple(sorted(set(_registered) | set(_plugins())))


def get(name: str) -> type[Engine]:
    """The engine class registered as *name*.

    Raises:
        UnknownMethodError: No engine has that name (the message lists them).
    """
    if not isinstance(name, str):
        raise UnknownMethodError(repr(name), available())
    key = _normalise(name)
    if key in _registered:
        return _registered[key]
    plugin = _plugins().get(key)
    if plugin is not None:
        engine = plugin.load()
        if not (isinstance(engine, type) and issubclass(engine, Engine)):
            raise UnknownMethodError(name, available())
        _registered[key] = engine
        return engine
    raise UnknownMethodError(name, available())
