"""Baskets: the orders of one group allocated together, sharing each account's cash.

A program trade buys and sells many bonds for one group at once. Allocating
its orders one at a time with `orderalloc.allocate` lets every buy see all of
an account's cash (so the basket can spend it several times over) and cannot
balance a risk metric over the whole basket. `allocate_basket` does both.

The rules
---------
**Cash is shared.** An account pays for all of its buys from one cash balance.
A sale's proceeds fund a buy of the same account when the sale settles no
later than the buy: orders without a settle date settle together (the
basket's own date), and a basket whose orders all carry a date is checked on
each date ``D``::

    sum of buys settling on or before D  <=  cash + proceeds of sells settling on or before D

(mixing orders with and without a date is refused, because whether the
proceeds arrive in time would be a guess). ``use_proceeds=False`` ignores
proceeds altogether. Unknown cash (NaN) is not checked, as for one order.

**Every other rule holds per order**, exactly as `allocate` applies it:
holdings, no stubs, restrictions, ``max_face`` (per order), ``max_pct_nav``
(per bond) and ``min_allocation``; each order is rounded to its own bond's
denominations, with its own exact total or a reported residual.

**The canonical order.** Where a step is sequential it runs sells first, then
the buy legs of switches, then the other buys, each group by security id.
Accounts are sorted by id internally. So the result depends neither on the
order of the orders nor on the order of the accounts.

Strategies
----------
``"sequential"`` (the baseline)
    One order after the other in the canonical order, each seeing the cash
    the previous ones left (and, for min dispersion, the metrics they left).
``"joint"`` (default)
    *Min dispersion*: starting from the sequential split, block-coordinate
    descent on the basket's dispersion -- the weighted variance of
    ``m + sum_k s_k q_k`` over accounts, summed over metrics -- re-solving one
    order at a time exactly (continuous optimum, then rounding) against the
    others' effect and the cash they leave, keeping a new split only if it
    lowers the basket's dispersion and respects every account's cash. So
    the joint result is never worse than the sequential one.
    *Pro-rata and custom weights*: each account's cash is divided among the
    buys in proportion to what each buy would take from it with the cash to
    itself (no order is starved for coming later by id), then the cash left
    over is offered to the buys that could not be filled, in the canonical order.
    Its score is the face value left unallocated (at settlement prices).

If the joint pass is not better than the sequential split, the result *is*
the sequential split, ``strategy == "sequential"``, and a warning says so.

Where it lives
--------------
This module is the front door. `orderalloc._basket_cash` holds the cash
rule, `orderalloc._basket_state` the legs and the engine calls,
`orderalloc._basket_strategies` the two strategies and
`orderalloc._basket_result` the `BasketResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._allocation import _engine_for
from ._basket_result import BasketResult
from ._basket_state import BasketState
from ._basket_strategies import STRATEGIES, run
from ._model import Order
from ._switches import Switch
from .errors import InvalidParameterError

__all__ = ["BasketResult", "allocate_basket"]


def allocate_basket(
    orders: Sequence[Order],
    accounts: Any,
    method: str = "pro_rata",
    *,
    strategy: str = "joint",
    switches: Sequence[Switch] = (),
    use_proceeds: bool = True,
    max_sweeps: int = 10,
    seed: int | None = None,
    **params: Any,
) -> BasketResult:
    """Allocate the orders of a basket over one group, sharing each account's cash.

    See the module docstring for the cash rule, the canonical order and the
    two strategies.

    Args:
        orders: The basket's orders; at most one per security and side.
        accounts: `Account` objects, an `AccountTable`, a mapping of columns
            or a pandas DataFrame (as for `allocate`).
        method: The engine for every order: ``"pro_rata"``,
            ``"custom_weights"``, ``"min_dispersion"`` or a plugin's.
        strategy: ``"joint"`` (default) or ``"sequential"`` (the baseline).
        switches: `Switch` legs to add to the basket (sell A, buy B per account).
        use_proceeds: Whether sells' proceeds fund buys that settle no earlier.
        max_sweeps: The most passes of the joint improvement (min dispersion).
        seed: Tie-break seed of every order (default: derived from each order).
        **params: The engine's parameters, exactly as for `allocate` (e.g.
            ``metric="spread_duration"`` for min dispersion). They are the
            engine class's own keyword arguments, validated by name.

    Returns:
        One result per order plus the basket's cash and metrics before and after.

    Raises:
        InvalidOrderError: The basket is empty, an item is not an `Order`, two
            orders trade the same security on the same side, or settle dates
            are given for some orders but not others.
        InvalidParameterError: An unknown strategy, a bad *max_sweeps*, or an
            engine parameter the method does not take.
        UnknownMethodError: No engine is called *method*.

    .. versionadded:: 0.1.0
    """
    if strategy not in STRATEGIES:
        raise InvalidParameterError("strategy", strategy, "must be 'joint' or 'sequential'")
    if not isinstance(max_sweeps, int) or isinstance(max_sweeps, bool) or max_sweeps < 0:
        raise InvalidParameterError("max_sweeps", max_sweeps, "must be a whole number >= 0")
    engine = _engine_for(method, params)
    basket = BasketState(
        list(orders),
        accounts,
        engine,
        switches=list(switches),
        use_proceeds=use_proceeds,
        seed=seed,
    )
    return run(basket, strategy=strategy, max_sweeps=max_sweeps, params=params)
