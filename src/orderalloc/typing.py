"""Array aliases used in signatures across orderalloc.

Shapes are written in docstrings as "array of shape (n_accounts,)".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["ArrayLike", "BoolArray", "FloatArray", "IntArray"]

#: A float64 array, in practice of shape (n_accounts,).
FloatArray = NDArray[np.float64]
#: An int64 array (counts of increments, reason codes widened).
IntArray = NDArray[np.int64]
#: A boolean mask over accounts.
BoolArray = NDArray[np.bool_]
#: Anything numpy can turn into an array: a list, a tuple, a pandas Series, an array.
ArrayLike = Any
