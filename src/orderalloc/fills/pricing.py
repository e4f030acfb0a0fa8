"""Average prices and principal to the cent.

Two modes (``price_mode=`` of `orderalloc.allocate_fills`):

``"vwap"`` (the default, and the usual policy for block trades)
    Every account gets the block's volume-weighted average price,
    ``p_bar = sum_k P_k p_k / sum_k P_k`` over the face ``P_k`` placed from
    each fill *k*. Principal is ``face x factor x price / 100``. The block's
    principal in cents is the sum of each fill's principal rounded to the
    cent (half up); it is split across the accounts in proportion to their
    face by the largest-remainder rule (Hamilton): each account first gets its
    exact share rounded down to the cent, then the cents left over go one each
    to the largest remainders (ties: the account's tie key). So the accounts'
    principal adds up to the block's to the cent, and no account is more than
    one cent from its exact share.

``"per_fill"``
    Each ticket is booked at its own fill's price; each fill's principal in
    cents is split over its tickets by the same rule, and an account's
    average price is its principal-weighted mean of the fill prices. Because
    every fill is split pro rata, each account's mix of fills (and so its
    average price) differs from the block's only by the rounding of pieces.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Sequence

import numpy as np

from ..lots import tie_keys
from ..typing import FloatArray

__all__ = ["PRICE_MODES", "fill_cents", "split_cents", "vwap"]

PRICE_MODES = ("vwap", "per_fill")


def fill_cents(face: float, price: float, factor: float) -> int:
    """The principal of *face* at *price* in cents, rounded half up (exact decimal arithmetic)."""
    value = (
        decimal.Decimal(repr(float(face)))
        * decimal.Decimal(repr(float(price)))
        * decimal.Decimal(repr(float(factor)))
    )
    return int(value.to_integral_value(rounding=decimal.ROUND_HALF_UP))


def vwap(placed: Sequence[float], prices: Sequence[float]) -> float:
    """The volume-weighted average price of what was placed (NaN when nothing was)."""
    total = math.fsum(placed)
    if total <= 0:
        return math.nan
    return math.fsum(f * p for f, p in zip(placed, prices, strict=True)) / total


def split_cents(total_cents: int, face: FloatArray, ids: Sequence[str], seed: int) -> FloatArray:
    """Split *total_cents* in proportion to *face* by largest remainder; returns cents.

    Ties between equal remainders go to the smaller tie key of the account
    id, so the split does not depend on the order of the accounts.
    """
    out = np.zeros(face.shape[0], dtype=np.float64)
    volume = float(face.sum())
    if volume <= 0 or total_cents == 0:
        return out
    exact = face * (total_cents / volume)
    base = np.floor(exact)
    rem = exact - base
    left = total_cents - int(base.sum())
    if left > 0:
        base += _pick(rem, left, ids, seed, largest=True)
    elif left < 0:  # float rounding put a cent too many: take back from the smallest
        base -= _pick(np.where(base > 0, rem, np.inf), -left, ids, seed, largest=False)
    out[:] = base
    return out


def _pick(
    rem: FloatArray, count: int, ids: Sequence[str], seed: int, *, largest: bool
) -> FloatArray:
    """A 0/1 mask of *count* accounts with the largest (or smallest) remainders."""
    key = -rem if largest else rem
    n = key.shape[0]
    count = min(count, n)
    mask = np.zeros(n, dtype=np.float64)
    if count <= 0:
        return mask
    kth = float(np.partition(key, count - 1)[count - 1])
    sure = np.flatnonzero(key < kth)
    tied = np.flatnonzero(key == kth)
    need = count - sure.size
    mask[sure] = 1.0
    if need > 0:
        keys = tie_keys([ids[i] for i in tied.tolist()], seed)
        order = np.argsort(np.array(keys, dtype=np.uint64), kind="stable")
        mask[tied[order[:need]]] = 1.0
    return mask
