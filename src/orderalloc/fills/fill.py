"""One execution of an order: a `Fill`, and why each account's ticket is what it is.

A fill is what the street gave the desk: *quantity* face at *price*. The
allocator (`orderalloc.fills.allocate`) splits every fill into one ticket per
account; `FillReason` says, line by line, why an account holds what it holds.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import attrs

from .._reasons import CodedReason, describe
from ..errors import InvalidInputError

__all__ = ["Fill", "FillReason"]


class InvalidFillError(InvalidInputError):
    """Raised by `Fill` and `allocate_fills` for a fill that cannot be allocated."""


def _positive(field: str, value: Any, *, what: str, whole: bool = False) -> float:
    """*value* as a finite float greater than 0 (a whole number if *whole*).

    Raises:
        InvalidFillError: Naming *field* and *value*; *what* names the
            quantity in the message ("number" for face, "price").
    """
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidFillError(field, value, "must be a number") from exc
    if not math.isfinite(number) or number <= 0:
        raise InvalidFillError(field, value, f"must be a finite {what} greater than 0")
    if whole and number != math.floor(number):
        raise InvalidFillError(field, value, "must be a whole amount of face")
    return number


@attrs.frozen(kw_only=True)
class Fill:
    """An execution of the order: *quantity* face (original face) at a clean *price*.

    Args:
        quantity: Face executed, a positive whole amount (original face, as
            orders are).
        price: Clean price per 100 of current face, e.g. ``99.25``.
        fill_id: The execution's id (FIX ExecID, the trade's id), if known.
        time: When it was executed (UTC), if known.

    Raises:
        InvalidFillError: The quantity is not a positive whole amount or the
            price is not a positive finite number (an `InvalidInputError`).

    .. versionadded:: 26.1
    """

    quantity: float
    price: float
    fill_id: str | None = None
    time: dt.datetime | None = None

    def __attrs_post_init__(self) -> None:
        quantity = _positive("fill.quantity", self.quantity, what="number", whole=True)
        object.__setattr__(self, "quantity", quantity)
        object.__setattr__(self, "price", _positive("fill.price", self.price, what="price"))


class FillReason(CodedReason):
    """Why an account's cumulative filled amount is what it is.

    The order of the members is the code stored in a fill allocation's
    ``reason_codes`` column: append new members at the end, never reorder.
    """

    #: Within one ticket of its exact pro-rata share of what was filled.
    PRO_RATA = "PRO_RATA"
    #: Received its whole (legal) intent.
    INTENT_FILLED = "INTENT_FILLED"
    #: Behind its exact share: it is first in the rotation for the next fill.
    WAITING_ROTATION = "WAITING_ROTATION"
    #: Received a piece ahead of its exact share: its turn in the rotation came first.
    AHEAD_ROTATION = "AHEAD_ROTATION"
    #: No intent recorded for this account (or none it may legally take).
    NO_INTENT = "NO_INTENT"
    #: The security is restricted for this account.
    RESTRICTED = "RESTRICTED"
    #: Buys: cash at the fill's price stopped a ticket.
    CAPPED_BY_CASH = "CAPPED_BY_CASH"
    #: Deviation mode: min dispersion chose the amount, bounded by the intent.
    DEVIATION = "DEVIATION"


describe(
    FillReason,
    {
        FillReason.PRO_RATA: "pro rata to the intent, within one ticket",
        FillReason.INTENT_FILLED: "whole intent filled",
        FillReason.WAITING_ROTATION: "behind its share: first in the rotation for the next fill",
        FillReason.AHEAD_ROTATION: "received a piece ahead of its share: its turn in the rotation",
        FillReason.NO_INTENT: "no intent (or none it may legally take)",
        FillReason.RESTRICTED: "security restricted for this account",
        FillReason.CAPPED_BY_CASH: "capped by cash at the fill's price",
        FillReason.DEVIATION: (
            "deviation: min dispersion on the filled amount, bounded by the intent"
        ),
    },
)
