"""The working state of one `orderalloc.allocate_basket` call.

The basket's orders become *legs* (sells, the buy legs of switches, the other
buys), each knowing its settle date's bucket and how it moves every metric
per account. The accounts are sorted by id, so the result depends neither on
the order of the orders nor on that of the accounts. `BasketState.call`
allocates one leg given the quantities of the others (the cash they leave,
the metrics they move); the strategies (`orderalloc._basket_strategies`)
decide which legs to call in what order; `BasketState.assemble` puts the
accounts back in the caller's order and builds the `BasketResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from ._basket_cash import Flow, SharedCash, settle_dates
from ._basket_result import BasketResult, order_key
from ._model import AccountTable, Order, Side, as_table
from ._result import AllocationResult, dispersion_summary
from ._switches import PairedBuy, Switch, nearest_legal
from .engines import MinDispersion
from .engines.base import Engine, Problem
from .errors import InvalidOrderError
from .limits import trade_bounds
from .typing import FloatArray, IntArray

__all__ = ["BUY", "SELL", "SWITCH_BUY", "BasketState", "Leg"]

# Phases of the canonical order: sells, switch buy legs, other buys.
SELL, SWITCH_BUY, BUY = 0, 1, 2


@attrs.define
class Leg:
    """One order of the basket, with what the basket needs to know about it."""

    order: Order
    phase: int
    position: int
    bucket: int
    sens: dict[str, FloatArray]
    switch: Switch | None = None
    paired_sell: int = -1

    @property
    def cpf(self) -> float:
        return self.order.security.cash_per_face

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (self.phase, self.order.security.id, self.order.side.value)


class BasketState:
    """The working state of one `allocate_basket` call (accounts sorted by id)."""

    def __init__(
        self,
        orders: list[Order],
        accounts: Any,
        engine: Engine,
        *,
        switches: list[Switch],
        use_proceeds: bool,
        seed: int | None,
    ) -> None:
        if not orders and not switches:
            raise InvalidOrderError("orders", orders, "a basket needs at least one order")
        for i, order in enumerate(orders):
            if not isinstance(order, Order):
                raise InvalidOrderError(f"orders[{i}]", order, "must be an orderalloc.Order")
        for i, switch in enumerate(switches):
            if not isinstance(switch, Switch):
                raise InvalidOrderError(f"switches[{i}]", switch, "must be an orderalloc.Switch")
        given = as_table(accounts)
        ids = np.array(given.ids, dtype=object)
        self.perm: IntArray = np.argsort(ids, kind="stable").astype(np.int64)
        self.inverse: IntArray = np.empty_like(self.perm)
        self.inverse[self.perm] = np.arange(len(self.perm))
        self.given = given
        in_order = bool((self.perm == np.arange(len(ids))).all())
        self.table = given if in_order else given.take(self.perm)
        self.engine = engine
        self.seed = seed
        self.switches = tuple(switches)
        self.min_dispersion = isinstance(engine, MinDispersion)

        all_orders: list[tuple[Order, int, Switch | None]] = [
            (o, BUY if o.side is Side.BUY else SELL, None) for o in orders
        ]
        for sw in switches:
            all_orders.append((sw.sell, SELL, sw))
        dates = [o.settle_date for o, _, _ in all_orders] + [s.buy_settle_date for s in switches]
        assert self.table.cash is not None
        self.cash = SharedCash(self.table.cash, settle_dates(dates), use_proceeds)
        seen: set[str] = set()
        self.legs: list[Leg] = []
        for order, phase, paired in all_orders:
            key = order_key(order)
            if key in seen:
                raise InvalidOrderError("orders", key, "appears twice in the basket")
            seen.add(key)
            self.legs.append(self._leg(order, phase, paired))
        for switch in switches:
            # The buy leg's size is set once the sale is known (see _paired).
            sell = next(k for k, leg in enumerate(self.legs) if leg.switch is switch)
            leg = self._leg(switch.buy_order(switch.buy.min_piece), SWITCH_BUY, switch)
            leg.paired_sell = sell
            if order_key(leg.order) in seen:
                raise InvalidOrderError(
                    "switches", order_key(leg.order), "the switch buys a bond the basket buys"
                )
            seen.add(order_key(leg.order))
            self.legs.append(leg)
        self.order_of = sorted(range(len(self.legs)), key=lambda k: self.legs[k].sort_key)
        # Metrics every leg (switch buy legs included) moves: the basket's post metrics.
        self.moved = [
            name
            for name in self.table.metrics
            if all(name in leg.sens for leg in self.legs)
            and all(s.buy.sensitivity(name) is not None for s in switches)
        ]
        self.w, self.c = self._dispersion_weights()
        # Summaries weigh accounts as single orders' do: NAV, or min dispersion's own weights.
        nav_w = self.table.nav / float(self.table.nav.sum())
        self.summary_weights: FloatArray = self.w if self.min_dispersion else nav_w
        self.weighting = "nav"
        if isinstance(engine, MinDispersion) and engine.weighting != "nav":
            self.weighting = engine.weighting if isinstance(engine.weighting, str) else "custom"
        if isinstance(engine, MinDispersion) and len(engine.metrics) > 1:
            # One set of metric weights for every order: the basket's objective. Only
            # their ratios matter, so scale the largest to 1 (an inverse variance near 0
            # would exceed what the engine accepts, and mean the same split).
            scaled = np.maximum(self.c / float(self.c.max()), np.finfo(np.float64).tiny)
            weights = dict(zip(engine.metrics, scaled.tolist(), strict=True))
            self.engine = MinDispersion(**{**engine.params, "metric_weights": weights})

    # --- set-up ------------------------------------------------------------------------------

    def _leg(self, order: Order, phase: int, switch: Switch | None) -> Leg:
        sec = order.security
        sens = {}
        for name in self.table.metrics:
            b = sec.sensitivity(name)
            if b is not None:
                sens[name] = order.side.sign * sec.cash_per_face * b / self.table.nav
        return Leg(
            order=order,
            phase=phase,
            position=len(self.legs),
            bucket=self.cash.bucket(order.settle_date),
            sens=sens,
            switch=switch,
        )

    def _dispersion_weights(self) -> tuple[FloatArray, FloatArray]:
        """Account weights *w* and metric weights *c* of the basket's dispersion."""
        table, n = self.table, len(self.table)
        if not isinstance(self.engine, MinDispersion):
            return np.full(n, 1.0 / n), np.ones(0)
        md = self.engine
        # The engine's own checks and weights (a metric every account carries,
        # known for each), on the first leg it allocates: the basket refuses
        # what that call would, before it starts.
        first = self.legs[self.order_of[0]].order
        problem = Problem(order=first, accounts=table, bounds=trade_bounds(first, table))
        m, _ = md._metric_columns(problem)
        w = md._account_weights(problem)
        # As the engine weighs metrics for one order (each in units of its spread before).
        return w, md.metric_weights_for(m, w)

    # --- the state: a quantity and a result per leg ------------------------------------------

    def effect(self, q: dict[int, FloatArray], name: str, skip: int = -1) -> FloatArray:
        """The basket's move of metric *name* per account (without leg *skip*)."""
        total = np.zeros(len(self.table))
        for k, qk in q.items():
            if k != skip and name in self.legs[k].sens:
                total += self.legs[k].sens[name] * qk
        return total

    def flows(self, q: dict[int, FloatArray], skip: int = -1) -> list[Flow]:
        """What each leg with a quantity in *q* (but *skip*) pays or receives, per account."""
        return [
            (self.legs[k].bucket, self.legs[k].order.side, qk * self.legs[k].cpf)
            for k, qk in q.items()
            if k != skip
        ]

    def call(
        self, k: int, q: dict[int, FloatArray], *, cash: FloatArray | None = None
    ) -> AllocationResult | None:
        """Allocate leg *k* given the other legs' quantities *q* (None: a switch buys nothing)."""
        leg = self.legs[k]
        changes: dict[str, Any] = {}
        if leg.order.side is Side.BUY:
            if cash is None:
                cash = self.cash.available(self.flows(q, skip=k), self.legs[k].bucket)
            changes["cash"] = cash
        if self.min_dispersion:
            changes["metrics"] = {
                name: values + self.effect(q, name, skip=k)
                for name, values in self.table.metrics.items()
            }
        table = attrs.evolve(self.table, **changes) if changes else self.table
        if leg.phase == SWITCH_BUY:
            return self._paired(k, q, table)
        return self.engine.allocate(leg.order, table, seed=self.seed)

    def _paired(
        self, k: int, q: dict[int, FloatArray], table: AccountTable
    ) -> AllocationResult | None:
        """The buy leg of a switch: each account's sale times the ratio, nearest legal."""
        leg = self.legs[k]
        assert leg.switch is not None
        switch = leg.switch
        target = q[leg.paired_sell] * switch.ratio
        # Every account's legal set for B with no order-size cap: the size is their sum.
        bounds = trade_bounds(switch.buy_order(float(10**15)), table)
        size = float(nearest_legal(target, bounds).sum())
        if size <= 0:
            return None
        ids = table.ids
        engine = PairedBuy(switch=switch, targets=dict(zip(ids, target.tolist(), strict=True)))
        leg.order = switch.buy_order(size)
        return engine.allocate(leg.order, table, seed=self.seed)

    # --- the result --------------------------------------------------------------------------

    def _restate(
        self, k: int, q: dict[int, FloatArray], result: AllocationResult
    ) -> AllocationResult:
        """*result* with its metrics shown against every other leg, in the input account order."""
        leg = self.legs[k]
        pre = dict(result.pre_metrics)
        post = dict(result.post_metrics)
        summaries = dict(result.dispersion)
        # The order's own summary weights (NAV unless min dispersion was given others).
        weights = (
            self.summary_weights
            if result.dispersion_weights is None
            else (result.dispersion_weights)
        )
        for name in self.moved:
            before = self.table.metrics[name] + self.effect(q, name, skip=k)
            after = before + leg.sens[name] * q[k]
            changed = name not in pre or not np.array_equal(before, pre[name])
            pre[name], post[name] = before, after
            old = summaries.get(name)
            optimum = None if changed or old is None else old.std_optimum
            summaries[name] = dispersion_summary(
                name, before, after, weights, std_optimum=optimum, weighting=self.weighting
            )
        inv = self.inverse
        return attrs.evolve(
            result,
            account_ids=self.given.ids,
            quantity=result.quantity[inv],
            ideal=result.ideal[inv],
            share=result.share[inv],
            cap=result.cap[inv],
            reason_codes=result.reason_codes[inv],
            pre_metrics={name: v[inv] for name, v in pre.items()},
            post_metrics={name: v[inv] for name, v in post.items()},
            dispersion=summaries,
            nav=None if result.nav is None else result.nav[inv],
            dispersion_weights=(
                None if result.dispersion_weights is None else result.dispersion_weights[inv]
            ),
        )

    def assemble(
        self,
        q: dict[int, FloatArray],
        results: dict[int, AllocationResult],
        *,
        strategy: str,
        objective: float,
        objective_sequential: float,
        sweeps: int,
        warnings: list[str],
        params: Mapping[str, Any],
    ) -> BasketResult:
        """The `BasketResult` of the split *q*, in the caller's order of accounts."""
        spent, proceeds = self.cash.totals(self.flows(q))
        unknown = int(np.count_nonzero(np.isnan(self.cash.balance)))
        if unknown and any(self.legs[k].order.side is Side.BUY for k in q):
            warnings.append(f"cash not given for {unknown} account(s): their buys were not checked")
        pre = dict(self.table.metrics)
        post = {name: pre[name] + self.effect(q, name) for name in self.moved}
        dispersion = {
            name: dispersion_summary(
                name, pre[name], post[name], self.summary_weights, weighting=self.weighting
            )
            for name in post
        }
        kept = sorted(q, key=self._rank)
        inv = self.inverse
        return BasketResult(
            method=self.engine.name,
            params=dict(params),
            strategy=strategy,
            orders=tuple(self.legs[k].order for k in kept),
            results=tuple(self._restate(k, q, results[k]) for k in kept),
            switches=self.switches,
            account_ids=self.given.ids,
            cash=self.cash.balance[inv],
            spent=spent[inv],
            proceeds=proceeds[inv],
            pre_metrics={name: v[inv] for name, v in pre.items()},
            post_metrics={name: v[inv] for name, v in post.items()},
            dispersion=dispersion,
            objective_name="dispersion" if self.min_dispersion else "unallocated_value",
            objective=objective,
            objective_sequential=objective_sequential,
            sweeps=sweeps,
            warnings=tuple(warnings),
        )

    def _rank(self, k: int) -> tuple[int, int, int]:
        """The orders given first, in their order; then each switch's sell and buy legs."""
        leg = self.legs[k]
        if leg.switch is None:
            return (0, leg.position, 0)
        index = next(i for i, s in enumerate(self.switches) if s is leg.switch)
        return (1, index, 1 if leg.phase == SWITCH_BUY else 0)
