"""The front door of post-trade allocation: ``allocate_fills(order, accounts, ...)``.

Rules (each with its basis in ``docs/explain/fills.md``):

1. Shares are pro rata to the recorded intent: after the fills so far place
   ``Phi`` face, account *i* is entitled to ``A_i / sum(A) x Phi`` (plus any
   credit carried in from earlier orders of the same book). On exact
   amounts this is the same as splitting each fill pro rata to the intent
   still unfilled; the rotation (`orderalloc.fills.rotation`) decides who
   gets the indivisible pieces, most-behind first.
2. No account receives more than its intent; a later fill never takes back
   what an earlier one gave (cumulative amounts never decrease).
3. Every ticket, and every cumulative amount, is 0 or a legal denomination
   (``min_piece + k x increment``) within the account's bounds
   (`orderalloc.limits.trade_bounds`: holdings, no stub, restrictions,
   limits); buys fit in cash at each fill's own price.
4. The total of each fill is placed exactly, or what is left is reported
   with its cause.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import attrs
import numpy as np

from .._model import AccountTable, Order, Side, as_table
from .._result import AllocationResult
from ..engines.base import default_seed
from ..engines.min_dispersion import MinDispersion
from ..errors import InvalidParameterError
from ..limits import TradeBounds, trade_bounds
from ..typing import FloatArray
from .fill import Fill, FillReason
from .ledger import FillLedger, book_key
from .pricing import PRICE_MODES, fill_cents, split_cents
from .result import FillAllocation
from .rotation import rotate_fill, ticket_sets

__all__ = ["METHODS", "allocate_fills", "legal_intent"]

METHODS = ("pro_rata", "deviation")


def allocate_fills(
    order: Order,
    accounts: Any,
    *,
    intent: Mapping[str, float] | AllocationResult | Any | None = None,
    fills: Sequence[Fill],
    previous: FillAllocation | None = None,
    ledger: FillLedger | None = None,
    group: str | None = None,
    price_mode: str = "vwap",
    method: str = "pro_rata",
    deviation: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> FillAllocation:
    """Allocate the fills of *order* to the accounts' recorded *intent*.

    Args:
        order: The order the fills execute (as allocated before the trade).
        accounts: The accounts as they were when the order was allocated
            (before any fill): `Account` objects, an `AccountTable`, a mapping
            of columns or a pandas DataFrame.
        intent: Face per account recorded before execution: the pre-trade
            `AllocationResult`, a mapping of account id to face, or an array
            in the order of *accounts*. Accounts left out get 0. May be
            omitted with *previous* (its intent is used).
        fills: The new fills, earliest first.
        previous: An earlier allocation of the same order: its tickets stay
            as they are and the new fills are added after them.
        ledger: The rotation ledger carried from earlier orders (see
            `FillLedger`); None starts an empty one.
        group: The portfolio group: with the security's ``asset_class`` it
            names the ledger book.
        price_mode: ``"vwap"`` (every account at the block's average price,
            principal split to the cent) or ``"per_fill"`` (each ticket at its
            fill's price).
        method: ``"pro_rata"`` (the rotation) or ``"deviation"``: a disclosed
            alternative that re-runs min dispersion on each fill, bounded by
            the intent still unfilled, with the reason on every line.
        deviation: `MinDispersion` parameters for ``method="deviation"``
            (e.g. ``{"metric": "spread_duration"}``).
        seed: Tie-break seed (default: derived from the order).

    Returns:
        The allocation: cumulative and per-fill face, average prices,
        principal, credits, reasons, the ledger to carry forward.

    Raises:
        InvalidParameterError: An unknown mode or method, an intent for an
            unknown account or negative, a *previous* of another order, or
            a fill that is not a `Fill`.
        InvalidInputError: The order or the accounts are invalid.

    .. versionadded:: 26.1
    """
    if price_mode not in PRICE_MODES:
        raise InvalidParameterError(
            "price_mode", price_mode, f"must be one of: {', '.join(PRICE_MODES)}"
        )
    if method not in METHODS:
        raise InvalidParameterError("method", method, f"must be one of: {', '.join(METHODS)}")
    if deviation is not None and method != "deviation":
        raise InvalidParameterError("deviation", deviation, "is only used with method='deviation'")
    engine = MinDispersion(**dict(deviation or {})) if method == "deviation" else None
    new_fills = _check_fills(fills)
    table = as_table(accounts)
    n = len(table)
    sec = order.security
    m, d = sec.min_piece, sec.increment
    bounds = trade_bounds(order, _without_cash(table))
    warnings: list[str] = []

    if previous is not None:
        rows = _previous_rows(previous, order, table)
        if intent is not None:
            given = intent_column(intent, table)
            if not np.array_equal(given, previous.intent[rows]):
                raise InvalidParameterError(
                    "intent", "differs from previous.intent", "the intent is recorded once"
                )
        if ledger is not None:
            raise InvalidParameterError(
                "ledger", "given with previous", "the order's ledger is previous.ledger_in"
            )
        if group is not None and book_key(group, sec.asset_class) != previous.book:
            raise InvalidParameterError("group", group, f"previous used book {previous.book!r}")
        if method != previous.method:
            raise InvalidParameterError("method", method, f"previous used {previous.method!r}")
        intent_col = previous.intent[rows]
        target = previous.target[rows]
        held = previous.quantity[rows].copy()
        old_tickets = [t[rows] for t in previous.tickets]
        old_fills = list(previous.fills)
        placed = list(previous.placed_by_fill)
        out_of_turn = list(previous.out_of_turn)
        book = previous.book
        ledger_in = previous.ledger_in
        seed = previous.seed if seed is None else seed
        warnings.extend(w for w in previous.warnings if w.startswith("fill "))
    else:
        if intent is None:
            raise InvalidParameterError("intent", None, "is required without previous")
        intent_col = intent_column(intent, table)
        target = legal_intent(intent_col, bounds)
        held = np.zeros(n)
        old_tickets, old_fills, placed, out_of_turn = [], [], [], []
        book = book_key(group, sec.asset_class)
        ledger_in = ledger if ledger is not None else FillLedger()
        seed = default_seed(order) if seed is None else seed

    # Weights and carried credits (re-centred so the participants' credits sum to <= 0).
    total_target = float(target.sum())
    part = target > 0
    weight = target / total_target if total_target > 0 else np.zeros(n)
    carried = ledger_in.credits(book)
    credit = np.array([carried.get(i, 0.0) for i in table.ids]) if carried else np.zeros(n)
    credit = np.where(part, credit, 0.0)
    excess = math.fsum(credit[part].tolist())
    if excess > 0:
        credit = credit - excess * weight

    spent = np.zeros(n)
    if sec.factor > 0 and old_fills:
        for fill, column in zip(old_fills, old_tickets, strict=True):
            spent += column * sec.factor * (fill.price + sec.accrued) / 100.0
    cash = table.cash if table.cash is not None else np.full(n, np.nan)
    cash_known = ~np.isnan(cash) & (order.side is Side.BUY)
    causes: list[str] = []
    for k, fill in enumerate(new_fills, start=len(old_fills)):
        cpf = sec.factor * (fill.price + sec.accrued) / 100.0
        with np.errstate(invalid="ignore"):
            room_cash = np.where(cash_known, np.floor(np.maximum(cash - spent, 0.0) / cpf), np.inf)
        if engine is None:
            sets = ticket_sets(
                min_piece=m,
                increment=d,
                held=held,
                low=bounds.low,
                top=bounds.top,
                full=bounds.full,
                intent=target,
                cash_room=room_cash,
            )
            rotation = rotate_fill(
                fill.quantity,
                held=held,
                credit=credit,
                weight=weight,
                tickets=sets,
                ids=table.ids,
                seed=seed,
            )
            x = rotation.tickets
            out_of_turn.append(rotation.out_of_turn)
            if rotation.out_of_turn > 0:
                warnings.append(
                    f"fill {k}: {rotation.out_of_turn:,.0f} face went to accounts out of turn "
                    f"because the next due piece did not fit the {fill.quantity:,.0f} filled"
                )
        else:
            x = _deviation_tickets(engine, order, table, fill, held, target, spent, seed, m, d)
            out_of_turn.append(0.0)
        left = fill.quantity - float(x.sum())
        if left > 0:
            cause = _unplaced_cause(fill, left, held, target, room_cash, m)
            causes.append(f"fill {k}: {cause}")
            warnings.append(f"fill {k}: {left:,.0f} face unallocated: {cause}")
        held = held + x
        spent = spent + x * cpf
        old_tickets.append(x)
        old_fills.append(fill)
        placed.append(float(x.sum()))

    # What cash still buys at the last fill's price: an account it stops is CAPPED_BY_CASH.
    last_room = np.full(n, np.inf)
    if old_fills:
        cpf = sec.factor * (old_fills[-1].price + sec.accrued) / 100.0
        with np.errstate(invalid="ignore"):
            last_room = np.where(cash_known, np.floor(np.maximum(cash - spent, 0.0) / cpf), np.inf)
    phi = float(held.sum())
    credit_out = np.where(part, weight * phi + credit - held, 0.0)
    rows = np.flatnonzero(part)
    kept = _outside(carried, table, part)
    ledger_out = ledger_in._with_columns(
        book, kept, [table.ids[i] for i in rows.tolist()], credit_out[rows]
    )

    block_cents = tuple(
        fill_cents(p, f.price, sec.factor) for p, f in zip(placed, old_fills, strict=True)
    )
    if price_mode == "vwap":
        cents = split_cents(sum(block_cents), held, table.ids, seed)
    else:
        cents = np.zeros(n)
        for c, column in zip(block_cents, old_tickets, strict=True):
            cents += split_cents(c, column, table.ids, seed)
    principal = cents / 100.0

    codes = _reasons(held, target, credit_out, bounds, part, last_room, d, method, cash_known)
    _intent_warnings(warnings, intent_col, target, order, bounds, m, d, method)
    if price_mode == "vwap" and cash_known.any():
        accrued = held * sec.factor * sec.accrued / 100.0
        over = cash_known & (principal + accrued > cash + 0.005)
        if over.any():
            warnings.append(
                f"{int(over.sum())} account(s) pay more at the block's average price than their "
                "cash (cash was checked at each fill's own price)"
            )
    return FillAllocation(
        order=order,
        account_ids=table.ids,
        intent=intent_col,
        target=target,
        fills=tuple(old_fills),
        tickets=tuple(old_tickets),
        quantity=held,
        principal=principal,
        credit=credit_out,
        reason_codes=codes,
        price_mode=price_mode,
        method=method,
        params=dict(engine.params) if engine is not None else {},
        book=book,
        ledger_in=ledger_in,
        ledger=ledger_out,
        seed=seed,
        placed_by_fill=tuple(placed),
        out_of_turn=tuple(out_of_turn),
        block_cents=block_cents,
        warnings=tuple(_unique(warnings)),
        unallocated_reason="; ".join(causes) if causes else None,
    )


# --- inputs ----------------------------------------------------------------------------------


def _check_fills(fills: Sequence[Fill]) -> list[Fill]:
    if isinstance(fills, Fill):
        fills = [fills]
    out = list(fills)
    for i, fill in enumerate(out):
        if not isinstance(fill, Fill):
            raise InvalidParameterError(f"fills[{i}]", fill, "must be an orderalloc.Fill")
    return out


def intent_column(intent: Any, table: AccountTable) -> FloatArray:
    """Intent per account in the order of *table* (0 where not given).

    Raises:
        InvalidParameterError: An unknown account id, or a negative or
            non-finite amount.
    """
    n = len(table)
    if isinstance(intent, AllocationResult):
        if intent.account_ids == table.ids:
            return intent.quantity.astype(np.float64, copy=True)
        intent = intent.quantities
    if isinstance(intent, Mapping):
        col = np.zeros(n)
        for key, value in intent.items():
            try:
                row = table.index(key)
            except KeyError:
                raise InvalidParameterError(
                    f"intent[{key!r}]", value, "is not an account of this allocation"
                ) from None
            try:
                number = float(value)
            except (TypeError, ValueError) as exc:
                raise InvalidParameterError(f"intent[{key!r}]", value, "must be a number") from exc
            if not math.isfinite(number) or number < 0:
                raise InvalidParameterError(f"intent[{key!r}]", value, "must be a number >= 0")
            col[row] = number
        return col
    try:
        col = np.asarray(intent, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError("intent", intent, "must be a mapping or numbers") from exc
    if col.shape != (n,):
        raise InvalidParameterError("intent", f"shape {col.shape}", f"must have {n} entries")
    bad = ~np.isfinite(col) | (col < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidParameterError(f"intent[{table.ids[i]!r}]", float(col[i]), "must be >= 0")
    out: FloatArray = col.copy()
    return out


def legal_intent(intent: FloatArray, bounds: TradeBounds) -> FloatArray:
    """The largest legal amount at or below each account's intent (0 when none)."""
    low, top, full, d = bounds.low, bounds.top, bounds.full, bounds.increment
    with np.errstate(invalid="ignore"):
        grid = np.minimum(top, low + np.floor((intent - low) / d) * d)
    grid = np.where((intent >= low) & (low <= top), grid, 0.0)
    iso = np.where(full <= intent, full, 0.0)
    out: FloatArray = np.maximum(grid, iso)
    return out


class _WithoutCash:
    """The accounts as `trade_bounds` reads them, with cash unknown.

    Cash is checked per fill, at the fill's own price, so the order's bounds
    must not cap buys by cash at the security's price. A view, not a copy:
    rebuilding (and re-validating) a 100,000-row table would cost more than
    the whole allocation.
    """

    def __init__(self, table: AccountTable) -> None:
        self._table = table
        self.cash = np.full(len(table), np.nan)

    def __len__(self) -> int:
        return len(self._table)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _without_cash(table: AccountTable) -> AccountTable:
    """The accounts with cash unknown (see `_WithoutCash`)."""
    if table.cash is None or np.isnan(table.cash).all():
        return table
    return cast(AccountTable, _WithoutCash(table))


def _previous_rows(previous: FillAllocation, order: Order, table: AccountTable) -> Any:
    if not isinstance(previous, FillAllocation):
        raise InvalidParameterError("previous", previous, "must be a FillAllocation")
    po = previous.order
    if (po.security.id, po.side, po.quantity) != (order.security.id, order.side, order.quantity):
        raise InvalidParameterError(
            "previous", repr(previous), "allocates another order (security, side or quantity)"
        )
    if previous.account_ids == table.ids:
        return slice(None)
    if set(previous.account_ids) != set(table.ids) or len(previous.account_ids) != len(table):
        raise InvalidParameterError("previous", repr(previous), "was allocated over other accounts")
    where = {ident: i for i, ident in enumerate(previous.account_ids)}
    return np.array([where[i] for i in table.ids], dtype=np.int64)


def _outside(carried: Mapping[str, float], table: AccountTable, part: Any) -> dict[str, float]:
    """The carried credits of accounts that take no part in this order (kept as they are)."""
    out = {}
    for account, value in carried.items():
        try:
            inside = bool(part[table.index(account)])
        except KeyError:
            inside = False
        if not inside:
            out[account] = value
    return out


# --- deviation mode --------------------------------------------------------------------------


def _deviation_tickets(
    engine: MinDispersion,
    order: Order,
    table: AccountTable,
    fill: Fill,
    held: FloatArray,
    target: FloatArray,
    spent: FloatArray,
    seed: int,
    m: float,
    d: float,
) -> FloatArray:
    """Min dispersion on one fill, bounded by the intent still unfilled."""
    sec = attrs.evolve(order.security, price=fill.price)
    reopen = math.fmod(m, d) == 0
    room = np.where((held == 0) | reopen, target - held, 0.0)
    sign = order.side.sign
    cpf = sec.cash_per_face
    metrics = {}
    for name, values in table.metrics.items():
        b = sec.sensitivity(name)
        metrics[name] = values if b is None else values + sign * cpf * b / table.nav * held
    holdings = dict(table.holdings)
    holdings[sec.id] = table.holding(sec.id) + sign * held
    assert table.cash is not None
    assert table.min_allocation is not None
    state = attrs.evolve(
        table,
        cash=table.cash - spent,
        holdings=holdings,
        metrics=metrics,
        max_face=room,
        min_allocation=np.where(held > 0, np.nan, table.min_allocation),
    )
    step = Order(security=sec, side=order.side, quantity=fill.quantity)
    result = engine.allocate(step, state, seed=seed)
    tickets: FloatArray = np.minimum(result.quantity, room)
    return tickets


# --- explanations ----------------------------------------------------------------------------


def _unplaced_cause(
    fill: Fill, left: float, held: FloatArray, target: FloatArray, room_cash: FloatArray, m: float
) -> str:
    unfilled = float((target - held).sum())
    if unfilled < fill.quantity:
        return f"the fill exceeds the intent still unfilled ({unfilled:,.0f})"
    cash_room = float(np.minimum(target - held, room_cash).sum())
    if cash_room < fill.quantity:
        return f"cash at {fill.price:g} buys at most {cash_room:,.0f} of the intent still unfilled"
    return (
        f"the {left:,.0f} left is smaller than every account's next legal ticket "
        f"(at least the min piece {m:,.0f})"
    )


def _reasons(
    held: FloatArray,
    target: FloatArray,
    credit: FloatArray,
    bounds: TradeBounds,
    part: Any,
    room_cash: FloatArray,
    d: float,
    method: str,
    cash_known: Any,
) -> Any:
    codes = np.full(held.shape[0], FillReason.PRO_RATA.code, dtype=np.int64)
    half = 0.5 * d
    codes[credit >= half] = FillReason.WAITING_ROTATION.code
    codes[credit <= -half] = FillReason.AHEAD_ROTATION.code
    cash_bound = cash_known & (held < target) & (room_cash < bounds.min_piece) & (credit > 0)
    codes[cash_bound] = FillReason.CAPPED_BY_CASH.code
    codes[part & (held >= target)] = FillReason.INTENT_FILLED.code
    if method == "deviation":  # the disclosed policy is the reason on every line
        codes[part] = FillReason.DEVIATION.code
    codes[~part] = FillReason.NO_INTENT.code
    codes[bounds.restricted] = FillReason.RESTRICTED.code
    return codes


def _intent_warnings(
    warnings: list[str],
    intent: FloatArray,
    target: FloatArray,
    order: Order,
    bounds: TradeBounds,
    m: float,
    d: float,
    method: str,
) -> None:
    cut = intent > target
    if cut.any():
        warnings.append(
            f"intent of {int(cut.sum())} account(s) reduced to the largest amount they may "
            f"legally take ({float((intent - target)[cut].sum()):,.0f} face in all: "
            "denominations, holdings, limits or restrictions)"
        )
    if math.fmod(m, d) != 0:
        warnings.append(
            f"the min piece {m:,.0f} is not a whole number of increments {d:,.0f}: an account "
            "takes at most one ticket of this order"
        )
    if method == "deviation":
        warnings.append(
            "deviation from pro rata: each fill was split by min dispersion, bounded by the "
            "intent still unfilled (a disclosed alternative policy)"
        )


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
