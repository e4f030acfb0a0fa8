"""Allocation engines: each turns an order and a group into an ideal split.

``get(name)`` and ``available()`` look engines up by name; ``Engine`` is the
base class of every engine, built-in or third-party.
"""

from __future__ import annotations

from .base import Engine, Ideal, Problem
from .min_dispersion import MinDispersion
from .proportional import CustomWeights, ProRata
from .registry import available, get, register

register(ProRata)
register(CustomWeights)
register(MinDispersion)

__all__ = [
    "CustomWeights",
    "Engine",
    "Ideal",
    "MinDispersion",
    "ProRata",
    "Problem",
    "available",
    "get",
    "register",
]
