"""A basket's pre-send checks: every order still to send checked as one unit.

Before a request is sent, every order still to send is checked as one unit:
the preview's age, each line against freshly read inputs (the per-order rules,
cash aside) and each account's cash against the whole basket's net spend (a
buy may rely on the same account's sale in the basket), then what-if
compliance per order. One failure refuses the basket: nothing is sent. The
per-order steps are the single commit's own (`~orderalloc.desk.Desk.commit`);
only the cash is judged here, for the basket as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs

from .._model import AccountTable, Order, Security, Side
from ..audit import AuditEvent
from ..sources.orders import ComplianceViolation
from ..sources.protocol import read_fresh
from ._basket_commit import Unit
from ._desk import Desk
from ._trail import fingerprint, line_problems
from .errors import InputsChangedError

__all__ = ["Checked", "check_basket"]

# Cash rounding tolerance of the basket re-check (settlement amounts are cents).
_CASH_TOLERANCE = 0.01

#: Per allocation id: the violations overridden and the events to record with its attempt.
Checked = dict[str, tuple[tuple[ComplianceViolation, ...], list[AuditEvent]]]


def check_basket(
    desk: Desk,
    units: Sequence[Unit],
    use_proceeds: Mapping[str, bool],
    override: bool,
    comment: str | None,
) -> Checked:
    """Age, fresh inputs (the basket's cash jointly), compliance; refuse all on one failure.

    Args:
        desk: The desk the orders go through (it records the refusals).
        units: The orders still to send.
        use_proceeds: Per basket id, whether its sales fund its buys.
        override: Post despite blocking what-if violations.
        comment: Recorded with an override.

    Returns:
        Per allocation id, the violations overridden and the events to record
        with its attempt.

    Raises:
        StalePreviewError, InputsChangedError, ComplianceRefusedError: The
            first failure (each refusal is recorded on its order's trail).
    """
    for unit in units:
        desk._check_age(unit.trail)
    fresh_orders, tables = _fresh_inputs(desk, units)
    problems: dict[str, dict[str, str]] = {}
    for unit in units:
        order = fresh_orders[unit.aid]
        table = tables[(unit.group, order.security.id)]
        # Cash is judged for the whole basket below: one order alone may rely on
        # another's proceeds.
        found = line_problems(order, unit.ticket.lines, attrs.evolve(table, cash=None))
        if found:
            problems[unit.aid] = found
    for aid, found in _cash_problems(units, fresh_orders, tables, use_proceeds).items():
        problems.setdefault(aid, {}).update(found)
    if problems:
        by_aid = {u.aid: u for u in units}
        for aid, found in problems.items():
            error = InputsChangedError(aid, found)
            desk._refuse(by_aid[aid].trail, "inputs_changed", error, {"problems": found})
        aid, found = next(iter(problems.items()))
        raise InputsChangedError(aid, found)
    out: Checked = {}
    for unit in units:
        order = fresh_orders[unit.aid]
        digest = fingerprint(order, tables[(unit.group, order.security.id)])
        out[unit.aid] = desk._compliance(
            unit.trail, unit.ticket, digest, override, comment, basket_id=unit.basket_id
        )
    return out


def _fresh_inputs(
    desk: Desk, units: Sequence[Unit]
) -> tuple[dict[str, Order], dict[tuple[str, str], AccountTable]]:
    """Each order with its security re-read, and each (group, security)'s accounts."""
    source = desk.source
    securities: dict[str, Security] = {}
    tables: dict[tuple[str, str], AccountTable] = {}
    orders: dict[str, Order] = {}
    for unit in units:
        order = unit.trail.order
        sec = order.security.id
        if sec not in securities:
            securities[sec] = read_fresh(source, "security", sec)
        if (unit.group, sec) not in tables:
            tables[(unit.group, sec)] = read_fresh(source, "accounts", unit.group, sec)
        orders[unit.aid] = attrs.evolve(order, security=securities[sec])
    return orders, tables


def _cash_problems(
    units: Sequence[Unit],
    orders: Mapping[str, Order],
    tables: Mapping[tuple[str, str], AccountTable],
    use_proceeds: Mapping[str, bool],
) -> dict[str, dict[str, str]]:
    """Buy lines of accounts whose fresh cash no longer covers the basket's net spend."""
    spend: dict[tuple[str, str], float] = {}
    cash: dict[tuple[str, str], float] = {}
    buyers: dict[tuple[str, str], list[str]] = {}
    for unit in units:
        order = orders[unit.aid]
        table = tables[(unit.group, order.security.id)]
        cpf = order.security.cash_per_face
        for line in unit.ticket.lines:
            key = (unit.group, line.account_id)
            if order.side is Side.SELL and not use_proceeds[unit.basket_id]:
                continue
            sign = 1.0 if order.side is Side.BUY else -1.0
            spend[key] = spend.get(key, 0.0) + sign * line.quantity * cpf
            if order.side is Side.BUY:
                buyers.setdefault(key, []).append(unit.aid)
            if key not in cash and table.cash is not None:
                try:
                    cash[key] = float(table.cash[table.index(line.account_id)])
                except KeyError:
                    cash[key] = math.nan  # gone from the group: line_problems says so
    problems: dict[str, dict[str, str]] = {}
    for key, aids in buyers.items():
        have = cash.get(key, math.nan)
        if math.isnan(have) or spend[key] <= have + _CASH_TOLERANCE:
            continue
        for aid in aids:
            problems.setdefault(aid, {})[key[1]] = (
                f"the basket needs {spend[key]:,.2f} of its cash, {have:,.2f} is left"
            )
    return problems
