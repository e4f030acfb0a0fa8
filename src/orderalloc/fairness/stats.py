"""Per-account fill statistics over a `FairnessTrail`: what each account was meant to get and got.

Every statistic is a plain sum over the (order, account) rows, so it does
not depend on the order of the events or of the accounts:

* **fill rate**: face allocated / face intended, over the period;
* **zero fills**: orders filled only in part (less placed than the targets
  sum to) in which the account had an intent and received nothing;
* **shortfall**: the pro-rata entitlement minus what the account received.
  The entitlement of account *i* in order *k* is
  ``target_ik / sum_i(target_ik) x placed_k``, the share the rotation
  (`orderalloc.fills.rotation`) fills towards; the cumulative shortfall
  over the orders, by time, is the rotation ledger's view without its
  carried credits. Positive: the account is owed face;
* **deviation from pro rata** of each pre-trade method: the intent minus
  the NAV pro-rata share of the same allocated total.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..typing import BoolArray, FloatArray, IntArray
from .trail import FairnessTrail

__all__ = ["account_stats", "cumulative_shortfall", "entitlement", "method_deviation"]


def _per_account(trail: FairnessTrail, values: FloatArray) -> FloatArray:
    out: FloatArray = np.bincount(
        trail.row_account, weights=values, minlength=trail.n_accounts
    ).astype(float)
    return out


def entitlement(trail: FairnessTrail) -> FloatArray:
    """Per row: the exact pro-rata share of the face placed, by target."""
    totals = np.bincount(trail.row_order, weights=trail.target, minlength=trail.n_orders)
    share = np.divide(
        trail.target,
        totals[trail.row_order],
        out=np.zeros_like(trail.target),
        where=totals[trail.row_order] > 0,
    )
    out: FloatArray = share * trail.placed[trail.row_order]
    return out


def partial_orders(trail: FairnessTrail) -> BoolArray:
    """Per order: True when less face was placed than the targets sum to."""
    totals = np.bincount(trail.row_order, weights=trail.target, minlength=trail.n_orders)
    tolerance = 0.5 * np.maximum(trail.increment, 1e-9)
    out: BoolArray = trail.placed < totals - tolerance
    return out


def account_stats(trail: FairnessTrail) -> dict[str, Any]:
    """Per account (arrays in the order of ``trail.account_ids``): the fill statistics.

    Returns:
        ``orders`` (with an intent), ``intent``, ``filled``, ``fill_rate``
        (NaN without intent), ``partial_orders`` (partial fills it took part
        in), ``zero_fills``, ``entitled``, ``shortfall`` (entitled - filled),
        ``shortfall_pct`` (of the entitlement), ``deviation`` (intent minus NAV
        pro rata, summed) and ``deviation_pct`` (of the intent).
    """
    intent = _per_account(trail, trail.intent)
    filled = _per_account(trail, trail.quantity)
    entitled_rows = entitlement(trail)
    entitled = _per_account(trail, entitled_rows)
    has_intent = trail.intent > 0
    partial = partial_orders(trail)[trail.row_order]
    in_partial = has_intent & partial
    zero = in_partial & (trail.quantity <= 0)
    ref = np.nan_to_num(trail.reference, nan=0.0)
    known = ~np.isnan(trail.reference)
    deviation = _per_account(trail, np.where(known, trail.intent - ref, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        fill_rate = np.where(intent > 0, filled / intent, np.nan)
        shortfall_pct = np.where(entitled > 0, (entitled - filled) / entitled, np.nan)
        deviation_pct = np.where(intent > 0, deviation / intent, np.nan)
    return {
        "orders": _per_account(trail, has_intent.astype(float)).astype(np.int64),
        "intent": intent,
        "filled": filled,
        "fill_rate": fill_rate,
        "partial_orders": _per_account(trail, in_partial.astype(float)).astype(np.int64),
        "zero_fills": _per_account(trail, zero.astype(float)).astype(np.int64),
        "entitled": entitled,
        "shortfall": entitled - filled,
        "shortfall_pct": shortfall_pct,
        "deviation": deviation,
        "deviation_pct": deviation_pct,
    }


def cumulative_shortfall(trail: FairnessTrail) -> FloatArray:
    """Shortfall of each account after each order: array of shape (n_orders, n_accounts).

    Rows follow ``trail.order_ids`` (by first execution); row *k* sums
    orders 0..k. Positive: the account is owed face.
    """
    per_order = trail.matrix(entitlement(trail) - trail.quantity)
    out: FloatArray = np.cumsum(per_order, axis=0)
    return out


def method_deviation(trail: FairnessTrail) -> dict[str, dict[str, float]]:
    """Per pre-trade method: how far its allocations were from NAV pro rata.

    Returns:
        Method -> ``orders``, ``intent`` (face), ``moved`` (half the sum of
        absolute deviations: face given to other accounts than NAV pro rata
        would) and ``moved_pct`` (moved / intent).
    """
    out: dict[str, dict[str, float]] = {}
    known = ~np.isnan(trail.reference)
    dev = np.abs(np.where(known, trail.intent - np.nan_to_num(trail.reference), 0.0))
    per_order_dev = np.bincount(trail.row_order, weights=dev, minlength=trail.n_orders)
    per_order_intent = np.bincount(
        trail.row_order, weights=np.where(known, trail.intent, 0.0), minlength=trail.n_orders
    )
    has_ref = np.bincount(trail.row_order, weights=known.astype(float), minlength=trail.n_orders)
    methods: IntArray = np.asarray(
        [sorted(set(trail.method)).index(m) for m in trail.method], dtype=np.int64
    )
    for j, name in enumerate(sorted(set(trail.method))):
        rows = (methods == j) & (has_ref > 0)
        intent = float(per_order_intent[rows].sum())
        moved = float(per_order_dev[rows].sum()) / 2.0
        out[name] = {
            "orders": float(rows.sum()),
            "intent": intent,
            "moved": moved,
            "moved_pct": moved / intent if intent > 0 else float("nan"),
        }
    return out
