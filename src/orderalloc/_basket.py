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
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ._allocation import _engine_for
from ._model import AccountTable, Order, Side, as_table
from ._reasons import Reason
from ._result import AllocationResult, DispersionSummary, dispersion_summary
from ._switches import PairedBuy, Switch, nearest_legal
from .engines import MinDispersion
from .engines.base import Engine
from .errors import InvalidOrderError, InvalidParameterError, require
from .limits import trade_bounds
from .typing import FloatArray, IntArray

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BasketResult", "allocate_basket"]

STRATEGIES = ("joint", "sequential")

# Phases of the canonical order: sells, switch buy legs, other buys.
_SELL, _SWITCH_BUY, _BUY = 0, 1, 2


@attrs.frozen(kw_only=True, eq=False)
class BasketResult:
    """A basket allocated over one group: one result per order, and the basket's effect.

    Per-account columns follow *account_ids*, the accounts in the order given.

    Attributes:
        method: The engine's registry name.
        params: The engine's parameters, as given.
        strategy: ``"joint"`` or ``"sequential"``: which split this is.
        orders: Every order of the basket: the orders given, in their order,
            then each switch's sell and buy legs.
        results: One `AllocationResult` per order, in the order of *orders*.
            Each shows the metrics with every other order of the basket
            applied, before and after its own.
        switches: The switches of the basket.
        account_ids: The accounts, in the order given.
        cash: Cash before the basket (NaN: unknown, not checked).
        spent: Settlement paid for the buys, per account.
        proceeds: Settlement received from the sells, per account.
        pre_metrics: Metric name -> values before the basket.
        post_metrics: Metric name -> values after the whole basket (metrics
            every order's bond has an analytic for).
        dispersion: Metric name -> `DispersionSummary` of the whole basket.
        objective_name: What *objective* measures: ``"dispersion"`` (min
            dispersion's weighted variance over the basket, summed over
            metrics) or ``"unallocated_value"`` (settlement value of the face
            left unallocated).
        objective: Its value for this split (lower is better).
        objective_sequential: Its value for the sequential split.
        sweeps: Passes of the joint improvement over the orders.
        warnings: Everything a reviewer should read, one sentence each.
        created_at: When the basket was computed (UTC).

    .. versionadded:: 0.1.0
    """

    method: str
    params: Mapping[str, Any]
    strategy: str
    orders: tuple[Order, ...]
    results: tuple[AllocationResult, ...]
    switches: tuple[Switch, ...] = ()
    account_ids: tuple[str, ...]
    cash: FloatArray
    spent: FloatArray
    proceeds: FloatArray
    pre_metrics: Mapping[str, FloatArray] = attrs.field(factory=dict)
    post_metrics: Mapping[str, FloatArray] = attrs.field(factory=dict)
    dispersion: Mapping[str, DispersionSummary] = attrs.field(factory=dict)
    objective_name: str
    objective: float
    objective_sequential: float
    sweeps: int = 0
    warnings: tuple[str, ...] = ()
    created_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.timezone.utc))

    def __len__(self) -> int:
        return len(self.orders)

    def __repr__(self) -> str:
        return (
            f"BasketResult(method={self.method!r}, strategy={self.strategy!r}, "
            f"n_orders={len(self.orders)}, n_accounts={len(self.account_ids)}, "
            f"unallocated={sum(r.unallocated for r in self.results):,.0f}, "
            f"warnings={len(self.warnings)})"
        )

    @property
    def cash_used(self) -> FloatArray:
        """Net cash per account: buys paid minus sells' proceeds (negative: cash raised)."""
        used: FloatArray = self.spent - self.proceeds
        return used

    @property
    def cash_after(self) -> FloatArray:
        """Cash per account once the whole basket has settled (NaN where unknown)."""
        after: FloatArray = self.cash - self.cash_used
        return after

    @property
    def unallocated(self) -> dict[str, float]:
        """Face left unallocated per order, keyed by ``"SIDE security_id"``."""
        return {_key(r.order): r.unallocated for r in self.results}

    def result(self, security_id: str, side: Side | str | None = None) -> AllocationResult:
        """The result of the order for *security_id* (and *side*, when the basket has both).

        Raises:
            InvalidParameterError: No order of the basket trades that security
                (on that side), or more than one does and *side* is not given.
        """
        found = [
            r
            for r in self.results
            if r.order.security.id == security_id
            and (side is None or r.order.side.value == str(side).upper())
        ]
        if len(found) != 1:
            on_side = f" on side {side}" if side else ""
            raise InvalidParameterError(
                "security_id", security_id, f"{len(found)} orders of the basket trade it{on_side}"
            )
        return found[0]

    def to_frame(self) -> pd.DataFrame:
        """Every non-zero line of the basket as a pandas DataFrame (one row per order and account).

        Columns: ``security_id``, ``side``, ``account_id``, ``quantity``,
        ``market_value``, ``reason``.

        Raises:
            MissingExtraError: pandas is not installed (``pip install orderalloc[pandas]``).
        """
        require("BasketResult.to_frame", "pandas", "pandas")
        import pandas as pd

        rows = []
        for r in self.results:
            sec = r.order.security
            for i in np.flatnonzero(r.quantity).tolist():
                q = float(r.quantity[i])
                rows.append(
                    {
                        "security_id": sec.id,
                        "side": r.order.side.value,
                        "account_id": r.account_ids[i],
                        "quantity": q,
                        "market_value": sec.market_value(q),
                        "reason": Reason.from_code(int(r.reason_codes[i])).value,
                    }
                )
        columns = ["security_id", "side", "account_id", "quantity", "market_value", "reason"]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=columns)
        return frame


def _key(order: Order) -> str:
    return f"{order.side.value} {order.security.id}"


@attrs.define
class _Leg:
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
    basket = _Basket(
        list(orders),
        accounts,
        engine,
        switches=list(switches),
        use_proceeds=use_proceeds,
        seed=seed,
    )
    return basket.run(strategy=strategy, max_sweeps=max_sweeps, params=params)


class _Basket:
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
        self.use_proceeds = use_proceeds
        self.switches = tuple(switches)
        self.min_dispersion = isinstance(engine, MinDispersion)
        assert self.table.cash is not None
        self.cash: FloatArray = self.table.cash

        all_orders: list[tuple[Order, int, Switch | None]] = [
            (o, _BUY if o.side is Side.BUY else _SELL, None) for o in orders
        ]
        for sw in switches:
            all_orders.append((sw.sell, _SELL, sw))
        dates = {o.settle_date for o, _, _ in all_orders} | {s.buy_settle_date for s in switches}
        if None in dates and len(dates) > 1:
            raise InvalidOrderError(
                "orders.settle_date",
                sorted(str(d) for d in dates),
                "give every order of a basket a settle date, or none of them",
            )
        self.dates: list[dt.date | None] = sorted(
            dates, key=lambda d: (d is None, d or dt.date.min)
        )
        seen: set[str] = set()
        self.legs: list[_Leg] = []
        for order, phase, paired in all_orders:
            key = _key(order)
            if key in seen:
                raise InvalidOrderError("orders", key, "appears twice in the basket")
            seen.add(key)
            self.legs.append(self._leg(order, phase, paired))
        for switch in switches:
            # The buy leg's size is set once the sale is known (see _paired).
            sell = next(k for k, leg in enumerate(self.legs) if leg.switch is switch)
            leg = self._leg(switch.buy_order(switch.buy.min_piece), _SWITCH_BUY, switch)
            leg.paired_sell = sell
            if _key(leg.order) in seen:
                raise InvalidOrderError(
                    "switches", _key(leg.order), "the switch buys a bond the basket buys"
                )
            seen.add(_key(leg.order))
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

    def _leg(self, order: Order, phase: int, switch: Switch | None) -> _Leg:
        sec = order.security
        sens = {}
        for name in self.table.metrics:
            b = sec.sensitivity(name)
            if b is not None:
                sens[name] = order.side.sign * sec.cash_per_face * b / self.table.nav
        return _Leg(
            order=order,
            phase=phase,
            position=len(self.legs),
            bucket=self.dates.index(order.settle_date),
            sens=sens,
            switch=switch,
        )

    def _dispersion_weights(self) -> tuple[FloatArray, FloatArray]:
        """Account weights *w* and metric weights *c* of the basket's dispersion."""
        table, n = self.table, len(self.table)
        if not isinstance(self.engine, MinDispersion):
            return np.full(n, 1.0 / n), np.ones(0)
        md = self.engine
        for name in md.metrics:
            if name not in table.metrics:
                raise InvalidParameterError(
                    "metric",
                    name,
                    "the accounts do not carry it (they carry: "
                    f"{', '.join(sorted(table.metrics)) or 'no metrics'})",
                )
            unknown = np.isnan(table.metrics[name])
            if unknown.any():
                i = int(np.flatnonzero(unknown)[0])
                raise InvalidParameterError(
                    f"accounts[{table.ids[i]!r}].metrics[{name!r}]",
                    math.nan,
                    "is unknown; min dispersion needs the metric for every account",
                )
        if md.weighting == "nav":
            w = table.nav / table.nav.sum()
        elif md.weighting == "equal":
            w = np.full(n, 1.0 / n)
        else:
            assert isinstance(md.weighting, dict)
            raw = np.zeros(n)
            for key, value in md.weighting.items():
                if key in table.ids:
                    raw[table.index(key)] = float(value)
            w = raw / raw.sum() if raw.sum() > 0 else np.full(n, 1.0 / n)
        m = np.column_stack([table.metrics[k] for k in md.metrics])
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

    def slack(self, q: dict[int, FloatArray], skip: int = -1) -> FloatArray:
        """Cash left per settle date and account, shape (n_dates, n_accounts) (NaN: unknown)."""
        n_dates, n = len(self.dates), len(self.table)
        spent = np.zeros((n_dates, n))
        received = np.zeros((n_dates, n))
        for k, qk in q.items():
            leg = self.legs[k]
            if k == skip:
                continue
            if leg.order.side is Side.BUY:
                spent[leg.bucket] += qk * leg.cpf
            elif self.use_proceeds:
                received[leg.bucket] += qk * leg.cpf
        out: FloatArray = self.cash + np.cumsum(received, axis=0) - np.cumsum(spent, axis=0)
        return out

    def available(self, q: dict[int, FloatArray], k: int) -> FloatArray:
        """The cash leg *k* may spend: the least slack on its date or any later one."""
        slack = self.slack(q, skip=k)[self.legs[k].bucket :]
        avail: FloatArray = np.min(slack, axis=0)
        return avail

    def feasible(self, q: dict[int, FloatArray]) -> bool:
        """Whether every account's cash covers its buys on every date."""
        slack = self.slack(q)
        tol = 1e-9 * np.maximum(np.abs(self.cash), 1.0) + 1e-6
        return bool(np.all(np.isnan(slack) | (slack >= -tol)))

    def call(
        self, k: int, q: dict[int, FloatArray], *, cash: FloatArray | None = None
    ) -> AllocationResult | None:
        """Allocate leg *k* given the other legs' quantities *q* (None: a switch buys nothing)."""
        leg = self.legs[k]
        changes: dict[str, Any] = {}
        if leg.order.side is Side.BUY:
            changes["cash"] = self.available(q, k) if cash is None else cash
        if self.min_dispersion:
            changes["metrics"] = {
                name: values + self.effect(q, name, skip=k)
                for name, values in self.table.metrics.items()
            }
        table = attrs.evolve(self.table, **changes) if changes else self.table
        if leg.phase == _SWITCH_BUY:
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

    # --- the strategies ----------------------------------------------------------------------

    def sequential(self) -> tuple[dict[int, FloatArray], dict[int, AllocationResult], list[str]]:
        """Every leg in the canonical order, each seeing what the previous ones left."""
        q: dict[int, FloatArray] = {}
        results: dict[int, AllocationResult] = {}
        warnings: list[str] = []
        for k in self.order_of:
            result = self.call(k, q)
            if result is None:
                switch = self.legs[k].switch
                assert switch is not None
                warnings.append(
                    f"switch {switch.sell.security.id} -> {switch.buy.id}: no account sold "
                    f"enough to buy a legal amount of {switch.buy.id}, so nothing is bought"
                )
                continue
            results[k], q[k] = result, result.quantity
        return q, results, warnings

    def objective(self, q: dict[int, FloatArray], results: dict[int, AllocationResult]) -> float:
        """The score a strategy minimises (see `BasketResult.objective_name`)."""
        if not self.min_dispersion:
            return math.fsum(
                r.unallocated * r.order.security.cash_per_face for r in results.values()
            )
        assert isinstance(self.engine, MinDispersion)
        total = 0.0
        for j, name in enumerate(self.engine.metrics):
            x = self.table.metrics[name] + self.effect(q, name)
            if self.engine.target is not None:
                centre = self.engine.target[name]
            else:
                centre = float(np.sum(self.w * x))
            total += float(self.c[j]) * float(np.sum(self.w * (x - centre) ** 2))
        return total

    def joint_min_dispersion(
        self,
        q: dict[int, FloatArray],
        results: dict[int, AllocationResult],
        max_sweeps: int,
    ) -> tuple[int, int]:
        """Block-coordinate descent from the sequential split; returns (sweeps, changes)."""
        f = self.objective(q, results)
        scale = max(self.objective({}, {}), f, 1e-300)
        movable = [k for k in self.order_of if self.legs[k].switch is None and k in q]
        sweeps = changes = 0
        for _ in range(max_sweeps):
            sweeps += 1
            start = f
            for k in movable:
                old = results[k]
                new = self.call(k, q)
                if new is None or new.allocated < old.allocated:
                    continue
                if np.array_equal(new.quantity, q[k]):
                    continue
                trial = {**q, k: new.quantity}
                if self.legs[k].order.side is Side.SELL and not self.feasible(trial):
                    continue  # less proceeds than some account's buys rely on
                f_new = self.objective(trial, results)
                if f_new < f - 1e-12 * scale:
                    q[k], results[k], f = new.quantity, new, f_new
                    changes += 1
            if f >= start - 1e-6 * f:  # the last pass gained under a millionth: converged
                break
        return sweeps, changes

    def joint_proportional(
        self, q: dict[int, FloatArray], results: dict[int, AllocationResult]
    ) -> None:
        """Divide each account's cash among the buys by need, then top up (see the module)."""
        buys = [k for k in self.order_of if self.legs[k].phase == _BUY]
        if not buys:
            return
        base = {k: v for k, v in q.items() if k not in buys}
        need: dict[int, FloatArray] = {}
        for k in buys:
            need[k] = self._must(self.call(k, base)).quantity
        slack = self.slack(base)
        n_dates = len(self.dates)
        cum_need = np.zeros((n_dates, len(self.table)))
        for k in buys:
            cum_need[self.legs[k].bucket] += need[k] * self.legs[k].cpf
        cum_need = np.cumsum(cum_need, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(cum_need > 0, slack / np.where(cum_need > 0, cum_need, 1.0), np.inf)
        r = np.clip(np.nan_to_num(ratio.min(axis=0), nan=np.inf), 0.0, 1.0)
        for k in buys:
            leg = self.legs[k]
            # Whole face within the budget, plus half a face so the engine's floor keeps it.
            face = np.floor(need[k] * r + 1e-9)
            cash = np.where(np.isnan(self.cash), np.nan, (face + 0.5) * leg.cpf)
            results[k] = self._must(self.call(k, base, cash=cash))
            q[k] = results[k].quantity
        for k in buys:
            if results[k].unallocated > 0:
                top = self._must(self.call(k, q))
                if top.allocated > results[k].allocated:
                    results[k], q[k] = top, top.quantity

    @staticmethod
    def _must(result: AllocationResult | None) -> AllocationResult:
        assert result is not None  # only a switch's buy leg can be empty
        return result

    def run(self, *, strategy: str, max_sweeps: int, params: Mapping[str, Any]) -> BasketResult:
        """Allocate the basket with *strategy* and assemble the result."""
        q, results, warnings = self.sequential()
        f_seq = self.objective(q, results)
        used, sweeps = "sequential", 0
        if strategy == "joint":
            jq, jr = dict(q), dict(results)
            changes = 0
            if self.min_dispersion:
                sweeps, changes = self.joint_min_dispersion(jq, jr, max_sweeps)
            else:
                self.joint_proportional(jq, jr)
                changes = 1
            f_joint = self.objective(jq, jr)
            if changes and f_joint <= f_seq and self.feasible(jq):
                q, results, used = jq, jr, "joint"
            else:
                warnings.append(
                    "the joint allocation was not better than the sequential one "
                    f"({self._name()} {f_joint:.6g} vs {f_seq:.6g}): the result is the "
                    "sequential allocation"
                )
        return self._assemble(q, results, used, f_seq, sweeps, warnings, params)

    def _name(self) -> str:
        return "dispersion" if self.min_dispersion else "unallocated value"

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

    def _assemble(
        self,
        q: dict[int, FloatArray],
        results: dict[int, AllocationResult],
        strategy: str,
        f_seq: float,
        sweeps: int,
        warnings: list[str],
        params: Mapping[str, Any],
    ) -> BasketResult:
        n = len(self.table)
        spent, proceeds = np.zeros(n), np.zeros(n)
        for k, qk in q.items():
            if self.legs[k].order.side is Side.BUY:
                spent += qk * self.legs[k].cpf
            else:
                proceeds += qk * self.legs[k].cpf
        unknown = int(np.count_nonzero(np.isnan(self.cash)))
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
            cash=self.cash[inv],
            spent=spent[inv],
            proceeds=proceeds[inv],
            pre_metrics={name: v[inv] for name, v in pre.items()},
            post_metrics={name: v[inv] for name, v in post.items()},
            dispersion=dispersion,
            objective_name="dispersion" if self.min_dispersion else "unallocated_value",
            objective=self.objective(q, results),
            objective_sequential=f_seq,
            sweeps=sweeps,
            warnings=tuple(warnings),
        )

    def _rank(self, k: int) -> tuple[int, int, int]:
        """The orders given first, in their order; then each switch's sell and buy legs."""
        leg = self.legs[k]
        if leg.switch is None:
            return (0, leg.position, 0)
        index = next(i for i, s in enumerate(self.switches) if s is leg.switch)
        return (1, index, 1 if leg.phase == _SWITCH_BUY else 0)
