"""The two strategies of `orderalloc.allocate_basket`: sequential and joint.

``"sequential"`` allocates one leg after the other in the canonical order,
each seeing the cash (and, for min dispersion, the metrics) the previous ones
left. ``"joint"`` starts from that split and improves it: block-coordinate
descent on the basket's dispersion for min dispersion, a division of each
account's cash among the buys by need for the other engines. The joint split
is kept only when it scores no worse than the sequential one (see the
`orderalloc._basket` module docstring for the rules).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._basket_result import BasketResult
from ._basket_state import BUY, BasketState
from ._model import Side
from ._result import AllocationResult
from .engines import MinDispersion
from .typing import FloatArray

__all__ = ["STRATEGIES", "run"]

STRATEGIES = ("joint", "sequential")

Split = dict[int, FloatArray]
Results = dict[int, AllocationResult]


def run(
    basket: BasketState, *, strategy: str, max_sweeps: int, params: Mapping[str, Any]
) -> BasketResult:
    """Allocate *basket* with *strategy* and assemble the result."""
    q, results, warnings = sequential(basket)
    f_seq = objective(basket, q, results)
    used, sweeps = "sequential", 0
    if strategy == "joint":
        jq, jr = dict(q), dict(results)
        changes = 0
        if basket.min_dispersion:
            sweeps, changes = joint_min_dispersion(basket, jq, jr, max_sweeps)
        else:
            joint_proportional(basket, jq, jr)
            changes = 1
        f_joint = objective(basket, jq, jr)
        if changes and f_joint <= f_seq and basket.cash.feasible(basket.flows(jq)):
            q, results, used = jq, jr, "joint"
        else:
            name = "dispersion" if basket.min_dispersion else "unallocated value"
            warnings.append(
                "the joint allocation was not better than the sequential one "
                f"({name} {f_joint:.6g} vs {f_seq:.6g}): the result is the "
                "sequential allocation"
            )
    return basket.assemble(
        q,
        results,
        strategy=used,
        objective=objective(basket, q, results),
        objective_sequential=f_seq,
        sweeps=sweeps,
        warnings=warnings,
        params=params,
    )


def sequential(basket: BasketState) -> tuple[Split, Results, list[str]]:
    """Every leg in the canonical order, each seeing what the previous ones left."""
    q: Split = {}
    results: Results = {}
    warnings: list[str] = []
    for k in basket.order_of:
        result = basket.call(k, q)
        if result is None:
            switch = basket.legs[k].switch
            assert switch is not None
            warnings.append(
                f"switch {switch.sell.security.id} -> {switch.buy.id}: no account sold "
                f"enough to buy a legal amount of {switch.buy.id}, so nothing is bought"
            )
            continue
        results[k], q[k] = result, result.quantity
    return q, results, warnings


def objective(basket: BasketState, q: Split, results: Results) -> float:
    """The score a strategy minimises (see `BasketResult.objective_name`)."""
    if not basket.min_dispersion:
        return math.fsum(r.unallocated * r.order.security.cash_per_face for r in results.values())
    assert isinstance(basket.engine, MinDispersion)
    total = 0.0
    for j, name in enumerate(basket.engine.metrics):
        x = basket.table.metrics[name] + basket.effect(q, name)
        if basket.engine.target is not None:
            centre = basket.engine.target[name]
        else:
            centre = float(np.sum(basket.w * x))
        total += float(basket.c[j]) * float(np.sum(basket.w * (x - centre) ** 2))
    return total


def joint_min_dispersion(
    basket: BasketState, q: Split, results: Results, max_sweeps: int
) -> tuple[int, int]:
    """Block-coordinate descent from the sequential split; returns (sweeps, changes)."""
    f = objective(basket, q, results)
    scale = max(objective(basket, {}, {}), f, 1e-300)
    movable = [k for k in basket.order_of if basket.legs[k].switch is None and k in q]
    sweeps = changes = 0
    for _ in range(max_sweeps):
        sweeps += 1
        start = f
        for k in movable:
            old = results[k]
            new = basket.call(k, q)
            if new is None or new.allocated < old.allocated:
                continue
            if np.array_equal(new.quantity, q[k]):
                continue
            trial = {**q, k: new.quantity}
            if basket.legs[k].order.side is Side.SELL and not basket.cash.feasible(
                basket.flows(trial)
            ):
                continue  # less proceeds than some account's buys rely on
            f_new = objective(basket, trial, results)
            if f_new < f - 1e-12 * scale:
                q[k], results[k], f = new.quantity, new, f_new
                changes += 1
        if f >= start - 1e-6 * f:  # the last pass gained under a millionth: converged
            break
    return sweeps, changes


def joint_proportional(basket: BasketState, q: Split, results: Results) -> None:
    """Divide each account's cash among the buys by need, then top up (see the module)."""
    buys = [k for k in basket.order_of if basket.legs[k].phase == BUY]
    if not buys:
        return
    base = {k: v for k, v in q.items() if k not in buys}
    need: Split = {}
    for k in buys:
        need[k] = _must(basket.call(k, base)).quantity
    slack = basket.cash.slack(basket.flows(base))
    n_dates = len(basket.cash.dates)
    cum_need = np.zeros((n_dates, len(basket.table)))
    for k in buys:
        cum_need[basket.legs[k].bucket] += need[k] * basket.legs[k].cpf
    cum_need = np.cumsum(cum_need, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cum_need > 0, slack / np.where(cum_need > 0, cum_need, 1.0), np.inf)
    r = np.clip(np.nan_to_num(ratio.min(axis=0), nan=np.inf), 0.0, 1.0)
    balance = basket.cash.balance
    for k in buys:
        leg = basket.legs[k]
        # Whole face within the budget, plus half a face so the engine's floor keeps it.
        face = np.floor(need[k] * r + 1e-9)
        cash = np.where(np.isnan(balance), np.nan, (face + 0.5) * leg.cpf)
        results[k] = _must(basket.call(k, base, cash=cash))
        q[k] = results[k].quantity
    for k in buys:
        if results[k].unallocated > 0:
            top = _must(basket.call(k, q))
            if top.allocated > results[k].allocated:
                results[k], q[k] = top, top.quantity


def _must(result: AllocationResult | None) -> AllocationResult:
    assert result is not None  # only a switch's buy leg can be empty
    return result
