"""Allocation engines: each turns an order and a group into an ideal split.

``get(name)`` and ``available()`` look engines up by name; ``Engine`` is the
base class of every engine, built-in or third-party.
"""

from __future__ import annotations

from .base import Engine, Ideal, Problem
from .proportional import CustomWeights, ProRata
from .registry import available, get, register

register(ProRata)
register(CustomWeights)

__all__ = [
    "CustomWeights",
    "Engine",
    "Ideal",
    "ProRata",
    "Problem",
    "available",
    "get",
    "register",
]
