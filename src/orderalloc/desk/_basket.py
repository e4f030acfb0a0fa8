"""The desk's baskets: the orders of one group previewed and committed as one audited unit.

`BasketDesk` wraps a `~orderalloc.desk.Desk` (its source, its audit trail,
its lease) and adds what a program trade needs::

    baskets = BasketDesk(desk)
    preview = baskets.preview("SMA-500", [("91282CJL6", "BUY", 5_000_000), ...])
    receipt = baskets.commit(preview.basket_id)

**The trail.** A preview allocates the basket with `orderalloc.allocate_basket`
(each account's cash shared across the orders) and records, in one atomic
append, one ``PREVIEWED`` per order (each order is an allocation of its own,
with the same payload as a single preview plus ``basket_id``: `Desk.commit`,
`Desk.modify`, `Desk.cancel` and ``audit show`` work on it) and the basket's
``BASKET_PREVIEWED`` (``allocation_id`` is the basket id) listing them. A
commit records, per order and before anything is sent, ``COMPLIANCE_CHECKED``
and ``COMMIT_STARTED`` (with the basket id and the request it travels in),
then ``COMMITTED`` per order booked, and ``BASKET_COMMITTED`` once every order
of the basket is.

**Exactly once per order.** Orders are posted in requests of at most
``batch_size`` (1,000: Aladdin's ``orders:batchPost`` limit) through the
source's ``post_orders`` (`~orderalloc.sources.protocol.BatchOrderSource`),
or one by one where the source has none. Each request's attempts are recorded
(one atomic append) right before it is sent, so a process killed mid-send
leaves the orders of later requests unstarted. After any failure every order
of the request is looked up by its external id (its allocation id): found
orders are recorded ``COMMITTED``; the others are closed ``not_booked``
(never sent), ``rejected`` (refused), or left open with outcome ``unknown``.
An open attempt is handled exactly as a single commit handles it
(`~orderalloc.desk.Desk.commit`): looked up first, nothing re-sent within the
desk's commit lease, and after it looked up once more right before it is
sent again. So a commit retried at once, or after the lease, or by another
process, re-sends only the orders never placed.

**Checks.** Before a request is sent, every order still to send is checked
as one unit: the preview's age, each line against freshly read inputs (the
per-order rules, cash aside) and each account's cash against the whole
basket's net spend, then what-if compliance per order. One failure refuses
the basket: nothing is sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .._basket import allocate_basket
from .._model import AccountTable, Order, Security, Side
from .._serialization import to_json
from ..audit import AuditEvent, EventKind
from ..audit.events import SOURCE_KEY, format_time
from ..errors import (
    AuditSinkError,
    DataSourceError,
    DeskError,
    InvalidOrderError,
    InvalidParameterError,
)
from ..sources.orders import ComplianceViolation, OrderTicket, PostedOrder
from ..sources.protocol import BatchOrderSource, read_fresh
from ._desk import Desk
from ._orders import _OrderRoute
from ._outcomes import OUTCOME_NOT_BOOKED, OUTCOME_REJECTED, OUTCOME_UNKNOWN, classify
from ._trail import (
    AllocationTrail,
    EventConflictError,
    fingerprint,
    jsonable,
    line_problems,
    violation_payload,
)
from ._values import BasketPreview, BasketReceipt, CommitReceipt, Preview
from .errors import (
    BasketIncompleteError,
    CommitInProgressError,
    CommitOutcomeUnknownError,
    ComplianceRefusedError,
    InputsChangedError,
    StalePreviewError,
    UnknownAllocationError,
)

__all__ = ["BasketDesk"]

logger = logging.getLogger("orderalloc.desk")

#: Aladdin's ``orders:batchPost`` takes at most this many orders per request.
MAX_BATCH = 1000
# Cash rounding tolerance of the basket re-check (settlement amounts are cents).
_CASH_TOLERANCE = 0.01


@attrs.frozen
class _Unit:
    """One order of a commit: its basket, trail and ticket."""

    basket_id: str
    route: _OrderRoute

    @property
    def trail(self) -> AllocationTrail:
        return self.route.trail

    @property
    def ticket(self) -> OrderTicket:
        return self.route.ticket

    @property
    def aid(self) -> str:
        return self.trail.allocation_id


def _merged(tables: Sequence[AccountTable], group: str) -> AccountTable:
    """One table with every security's holdings and restrictions (same accounts in each)."""
    base = tables[0]
    holdings = dict(base.holdings)
    restricted = dict(base.restricted)
    for table in tables[1:]:
        if table.ids != base.ids:
            raise DataSourceError(
                f"group {group!r}: the accounts changed while the basket's inputs were read; "
                "preview again"
            )
        holdings.update(table.holdings)
        restricted.update(table.restricted)
    return attrs.evolve(base, holdings=holdings, restricted=restricted)


def _order_specs(orders: Iterable[Any]) -> list[tuple[str, Side, float]]:
    specs: list[tuple[str, Side, float]] = []
    for i, item in enumerate(orders):
        try:
            security_id, side, quantity = item
        except (TypeError, ValueError):
            raise InvalidOrderError(
                f"orders[{i}]", item, "must be a (security_id, side, quantity) triple"
            ) from None
        if not isinstance(security_id, str) or not security_id.strip():
            raise InvalidOrderError(f"orders[{i}].security_id", security_id, "must be an id")
        if isinstance(side, str) and side.strip().upper() in Side.__members__:
            side = Side[side.strip().upper()]
        if not isinstance(side, Side):
            raise InvalidOrderError(f"orders[{i}].side", side, "must be 'BUY' or 'SELL'")
        specs.append((security_id.strip(), side, quantity))
    if not specs:
        raise InvalidOrderError("orders", [], "a basket needs at least one order")
    return specs


class BasketDesk:
    """Previews and commits baskets on a `~orderalloc.desk.Desk`, exactly once per order.

    See the module docstring for the events, the checks and the recovery.

    Args:
        desk: The desk: its source, audit trail, actor, clock, ``max_age``
            and commit lease are the basket's.
        batch_size: The most orders per post request (at most 1,000).

    Raises:
        InvalidParameterError: *batch_size* is not in 1..1000.

    .. versionadded:: 0.1
    """

    def __init__(self, desk: Desk, *, batch_size: int = MAX_BATCH) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise InvalidParameterError("batch_size", batch_size, "must be a whole number")
        if not 1 <= batch_size <= MAX_BATCH:
            raise InvalidParameterError("batch_size", batch_size, f"must be in 1..{MAX_BATCH}")
        self._desk = desk
        self._batch_size = batch_size

    def __repr__(self) -> str:
        return f"BasketDesk({self._desk!r}, batch_size={self._batch_size})"

    @property
    def desk(self) -> Desk:
        """The desk the baskets go through."""
        return self._desk

    # --- preview ------------------------------------------------------------------------

    def preview(
        self,
        group: str,
        orders: Iterable[tuple[str, Side | str, float]],
        method: str = "pro_rata",
        *,
        strategy: str = "joint",
        use_proceeds: bool = True,
        seed: int | None = None,
        label: str | None = None,
        **params: Any,
    ) -> BasketPreview:
        """Allocate a basket over *group* jointly and record it; nothing is sent.

        Args:
            group: The portfolio group.
            orders: ``(security_id, side, quantity)`` per order; at most one
                order per security and side.
            method: The engine of every order (as for `orderalloc.allocate_basket`).
            strategy: ``"joint"`` (default) or ``"sequential"``.
            use_proceeds: Whether sells' proceeds fund the buys.
            seed: Tie-break seed of every order.
            label: Recorded with the basket (the command line records a digest
                of the orders' file, to find an unfinished commit: `unfinished`).
            **params: The engine's parameters.

        Returns:
            The basket's id and one preview per order.

        Raises:
            InvalidOrderError: No orders, or an order is not a triple.
            NotFoundError: No such group or security.
            AuditSinkError: The preview could not be recorded (then it does not exist).
        """
        desk = self._desk
        specs = _order_specs(orders)
        securities: dict[str, Security] = {}
        for security_id, _, _ in specs:
            if security_id not in securities:
                securities[security_id] = desk.source.security(security_id)
        accounts = _merged([desk.source.accounts(group, s) for s in securities], group)
        basket = allocate_basket(
            [Order(security=securities[s], side=side, quantity=q) for s, side, q in specs],
            accounts,
            method,
            strategy=strategy,
            use_proceeds=use_proceeds,
            seed=seed,
            **params,
        )
        basket_id = str(uuid.uuid4())
        now = desk._now()
        events: list[AuditEvent] = []
        previews: list[Preview] = []
        for k, result in enumerate(basket.results):
            allocation_id = str(uuid.uuid4())
            digest = fingerprint(result.order, accounts)
            payload: dict[str, Any] = {
                "group": group,
                "security_id": result.order.security.id,
                "side": result.order.side.value,
                "quantity": result.order.quantity,
                "allocated": result.allocated,
                "method": method,
                "params": jsonable(to_json(dict(params))),
                "seed": seed,
                "fingerprint": digest,
                "inputs_as_of": format_time(now),
                "result": jsonable(to_json(result)),
                "basket_id": basket_id,
                "basket_position": k,
                SOURCE_KEY: desk._source_stamp,
            }
            allocated = [
                ident
                for ident, q in zip(result.account_ids, result.quantity.tolist(), strict=True)
                if q > 0
            ]
            events.append(
                AuditEvent(
                    allocation_id=allocation_id,
                    kind=EventKind.PREVIEWED,
                    actor=desk.actor,
                    payload=payload,
                    at=now,
                    account_ids=allocated,
                    security_id=result.order.security.id,
                )
            )
            previews.append(
                Preview(
                    allocation_id=allocation_id,
                    group=group,
                    result=result,
                    created_at=now,
                    fingerprint=digest,
                )
            )
        events.append(
            AuditEvent(
                allocation_id=basket_id,
                kind=EventKind.BASKET_PREVIEWED,
                actor=desk.actor,
                payload={
                    "group": group,
                    "method": method,
                    "strategy": basket.strategy,
                    "use_proceeds": use_proceeds,
                    "params": jsonable(to_json(dict(params))),
                    "seed": seed,
                    "orders": [p.allocation_id for p in previews],
                    "objective_name": basket.objective_name,
                    "objective": _finite(basket.objective),
                    "objective_sequential": _finite(basket.objective_sequential),
                    "warnings": list(basket.warnings),
                    "label": label,
                    SOURCE_KEY: desk._source_stamp,
                },
                at=now,
            )
        )
        desk._record(events)
        return BasketPreview(
            basket_id=basket_id,
            group=group,
            previews=tuple(previews),
            created_at=now,
            basket=basket,
        )

    def get_preview(self, basket_id: str) -> BasketPreview:
        """Rebuild a basket preview from the audit trail alone (any process).

        Raises:
            UnknownAllocationError: No basket with that id in the trail.
        """
        head = self._head(basket_id)
        previews = tuple(self._desk.get_preview(str(a)) for a in head.payload["orders"])
        return BasketPreview(
            basket_id=basket_id,
            group=str(head.payload["group"]),
            previews=previews,
            created_at=head.at,
        )

    def status(self, basket_id: str) -> dict[str, str]:
        """Allocation id -> where each order of the basket stands (see `Desk.status`).

        Raises:
            UnknownAllocationError: No basket with that id in the trail.
        """
        head = self._head(basket_id)
        return {str(a): self._desk.status(str(a)) for a in head.payload["orders"]}

    def unfinished(self, *, group: str | None = None, label: str | None = None) -> list[str]:
        """Baskets whose commit started (an order may be booked) but did not finish.

        Resume one with `commit` (its id), never by previewing the same
        orders again: that would be a new basket, booked a second time.

        Args:
            group: Only baskets of this group.
            label: Only baskets previewed with this label.
        """
        sink = self._desk.sink
        heads = [
            e
            for e in sink.events(kinds={EventKind.BASKET_PREVIEWED})
            if (group is None or e.payload.get("group") == group)
            and (label is None or e.payload.get("label") == label)
        ]
        if not heads:
            return []
        finished = {e.allocation_id for e in sink.events(kinds={EventKind.BASKET_COMMITTED})}
        started = {
            e.payload.get("basket_id") for e in sink.events(kinds={EventKind.COMMIT_STARTED})
        }
        return [
            e.allocation_id
            for e in heads
            if e.allocation_id not in finished and e.allocation_id in started
        ]

    def _head(self, basket_id: str) -> AuditEvent:
        events = self._desk.sink.events(allocation_id=basket_id, kinds={EventKind.BASKET_PREVIEWED})
        if not events:
            raise UnknownAllocationError(basket_id)
        return events[0]

    # --- commit -------------------------------------------------------------------------

    def commit(
        self, basket_id: str, *, comment: str | None = None, override_warnings: bool = False
    ) -> BasketReceipt:
        """Check and post every order of a recorded basket, exactly once per order.

        Safe to call again after any failure, from any process: orders
        committed are returned, orders whose send may have been applied are
        looked up first, and only orders never placed are sent.

        Args:
            basket_id: The basket preview's id.
            comment: Stored with each order (and with the override if any).
            override_warnings: Post despite blocking what-if violations
                (recorded as ``OVERRIDDEN`` per order).

        Returns:
            One receipt per order placed.

        Raises:
            UnknownAllocationError: No such basket.
            StalePreviewError, InputsChangedError, ComplianceRefusedError: The
                checks refused the basket; nothing was sent.
            CommitInProgressError: Another process started sending these
                orders; nothing was sent by this call.
            BasketIncompleteError: Some orders are not booked (yet); the
                others are recorded. Commit again.
            DataSourceError: A read failed before anything was sent.
            AuditSinkError: A step could not be recorded; the next commit
                finds and records whatever was booked.
        """
        return self.commit_many([basket_id], comment=comment, override_warnings=override_warnings)[
            0
        ]

    def commit_many(
        self,
        basket_ids: Sequence[str],
        *,
        comment: str | None = None,
        override_warnings: bool = False,
    ) -> tuple[BasketReceipt, ...]:
        """Commit several baskets (the same basket over many groups) in shared requests.

        Their orders travel together, at most ``batch_size`` per request; the
        checks refuse all of them if one fails. See `commit`.
        """
        desk = self._desk
        units: list[_Unit] = []
        empty: dict[str, list[str]] = {b: [] for b in basket_ids}
        for basket_id in basket_ids:
            for aid in self._head(basket_id).payload["orders"]:
                trail = desk._trail(str(aid))
                if not trail.lines:
                    empty[basket_id].append(trail.allocation_id)
                    continue
                ticket = OrderTicket(
                    security_id=str(trail.payload["security_id"]),
                    side=trail.side,
                    lines=trail.lines,
                    external_id=trail.external_id,
                    comment=comment,
                )
                units.append(_Unit(basket_id, _OrderRoute(desk, trail, ticket)))
        done: dict[str, CommitReceipt] = {}
        pending: dict[str, str] = {}
        retry_at: list[dt.datetime] = []
        to_send: list[_Unit] = []
        for unit in units:
            trail = unit.trail
            if trail.committed is not None:
                done[unit.aid] = desk._already_committed(trail, trail.committed)
                continue
            if trail.attempts:
                try:
                    resumed = desk._recovered(unit.route)
                except (CommitOutcomeUnknownError, CommitInProgressError) as exc:
                    # Held by the lease (or the look-up failed): nothing is sent for it.
                    pending[unit.aid] = str(exc)
                    retry_at.append(trail.attempts[-1].at + desk._commit_lease)
                    continue
                if resumed is not None:
                    assert isinstance(resumed, CommitReceipt)
                    done[unit.aid] = resumed
                    continue
            to_send.append(unit)
        requests = 0
        if to_send:
            checks = self._check(to_send, override_warnings, comment)
            size = self._batch_size
            for start in range(0, len(to_send), size):
                chunk = to_send[start : start + size]
                requests += self._send(chunk, checks, start // size, done, pending, retry_at)
        receipts = tuple(
            BasketReceipt(
                basket_id=b,
                receipts=tuple(done[u.aid] for u in units if u.basket_id == b and u.aid in done),
                empty=tuple(empty[b]),
                requests=requests,
            )
            for b in basket_ids
        )
        if pending:
            refused = any(OUTCOME_REJECTED in why for why in pending.values())
            raise BasketIncompleteError(
                basket_ids,
                [r for b in receipts for r in b.receipts],
                pending,
                retryable=not refused,
                retry_at=max(retry_at) if retry_at else None,
            )
        for receipt in receipts:
            self._record_basket_done(receipt)
        return receipts

    def _record_basket_done(self, receipt: BasketReceipt) -> None:
        """``BASKET_COMMITTED`` once per basket, when every order of it is booked."""
        desk = self._desk
        event = AuditEvent(
            allocation_id=receipt.basket_id,
            kind=EventKind.BASKET_COMMITTED,
            actor=desk.actor,
            payload={
                "orders": {r.allocation_id: r.order.order_id for r in receipt.receipts},
                "recovered": receipt.recovered,
                SOURCE_KEY: desk._source_stamp,
            },
            at=desk._now(),
            event_id=f"{receipt.basket_id}/basket_committed",
        )
        # A summary: every order's own COMMITTED is the record. If the trail fails
        # here, the next commit of the basket (nothing to send) records it.
        try:
            if desk.sink.get(event.event_id) is None:
                with contextlib.suppress(EventConflictError):  # another process was first
                    desk._record([event])
        except AuditSinkError as exc:
            logger.warning("could not record BASKET_COMMITTED for %s: %s", receipt.basket_id, exc)

    # --- the checks ---------------------------------------------------------------------

    def _check(
        self, units: Sequence[_Unit], override: bool, comment: str | None
    ) -> dict[str, tuple[tuple[ComplianceViolation, ...], list[AuditEvent]]]:
        """Age, fresh inputs (the basket's cash jointly), compliance; refuse all on one failure.

        Returns, per allocation id, the violations overridden and the events
        to record with its attempt.
        """
        desk = self._desk
        now = desk._now()
        for unit in units:
            age = now - unit.trail.created_at
            if age > desk._max_age:
                error: DeskError = StalePreviewError(unit.aid, age, desk._max_age)
                desk._refuse(unit.trail, "stale", error, {"age_seconds": age.total_seconds()})
                raise error
        fresh_orders, tables = self._fresh_inputs(units)
        problems: dict[str, dict[str, str]] = {}
        for unit in units:
            order = fresh_orders[unit.aid]
            table = tables[(str(unit.trail.payload["group"]), order.security.id)]
            # Cash is judged for the whole basket below: one order alone may rely on
            # another's proceeds.
            found = line_problems(order, unit.ticket.lines, attrs.evolve(table, cash=None))
            if found:
                problems[unit.aid] = found
        for aid, found in self._cash_problems(units, fresh_orders, tables).items():
            problems.setdefault(aid, {}).update(found)
        if problems:
            by_aid = {u.aid: u for u in units}
            for aid, found in problems.items():
                error = InputsChangedError(aid, found)
                desk._refuse(by_aid[aid].trail, "inputs_changed", error, {"problems": found})
            aid, found = next(iter(problems.items()))
            raise InputsChangedError(aid, found)
        out: dict[str, tuple[tuple[ComplianceViolation, ...], list[AuditEvent]]] = {}
        for unit in units:
            order = fresh_orders[unit.aid]
            table = tables[(str(unit.trail.payload["group"]), order.security.id)]
            report = desk.source.what_if(unit.ticket)
            blocking = tuple(v for v in report.violations if v.blocking)
            digest = fingerprint(order, table)
            checked = desk._event(
                unit.trail,
                EventKind.COMPLIANCE_CHECKED,
                {
                    "passed": report.passed,
                    "blocking": len(blocking),
                    "violations": [violation_payload(v) for v in report.violations],
                    "inputs_fingerprint": digest,
                    "inputs_changed": digest != unit.trail.payload["fingerprint"],
                    "basket_id": unit.basket_id,
                },
            )
            if blocking and not override:
                quantities = {line.account_id: line.quantity for line in unit.ticket.lines}
                refusal = ComplianceRefusedError(unit.aid, report.violations, quantities)
                desk._refuse(unit.trail, "compliance", refusal, {}, before=[checked])
                raise refusal
            events = [checked]
            if blocking:
                events.append(
                    desk._event(
                        unit.trail,
                        EventKind.OVERRIDDEN,
                        {
                            "by": desk.actor,
                            "comment": comment,
                            "violations": [violation_payload(v) for v in blocking],
                        },
                    )
                )
            out[unit.aid] = (blocking, events)
        return out

    def _fresh_inputs(
        self, units: Sequence[_Unit]
    ) -> tuple[dict[str, Order], dict[tuple[str, str], AccountTable]]:
        """Each order with its security re-read, and each (group, security)'s accounts."""
        source = self._desk.source
        securities: dict[str, Security] = {}
        tables: dict[tuple[str, str], AccountTable] = {}
        orders: dict[str, Order] = {}
        for unit in units:
            order = unit.trail.order
            sec = order.security.id
            if sec not in securities:
                securities[sec] = read_fresh(source, "security", sec)
            group = str(unit.trail.payload["group"])
            if (group, sec) not in tables:
                tables[(group, sec)] = read_fresh(source, "accounts", group, sec)
            orders[unit.aid] = attrs.evolve(order, security=securities[sec])
        return orders, tables

    def _cash_problems(
        self,
        units: Sequence[_Unit],
        orders: Mapping[str, Order],
        tables: Mapping[tuple[str, str], AccountTable],
    ) -> dict[str, dict[str, str]]:
        """Buy lines of accounts whose fresh cash no longer covers the basket's net spend."""
        spend: dict[tuple[str, str], float] = {}
        cash: dict[tuple[str, str], float] = {}
        buyers: dict[tuple[str, str], list[str]] = {}
        use_proceeds = {
            b: bool(self._head(b).payload.get("use_proceeds", True))
            for b in {u.basket_id for u in units}
        }
        for unit in units:
            order = orders[unit.aid]
            group = str(unit.trail.payload["group"])
            table = tables[(group, order.security.id)]
            cpf = order.security.cash_per_face
            for line in unit.ticket.lines:
                key = (group, line.account_id)
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

    # --- sending ------------------------------------------------------------------------

    def _send(
        self,
        chunk: Sequence[_Unit],
        checks: Mapping[str, tuple[tuple[ComplianceViolation, ...], list[AuditEvent]]],
        index: int,
        done: dict[str, CommitReceipt],
        pending: dict[str, str],
        retry_at: list[dt.datetime],
    ) -> int:
        """Record one request's attempts, send it, settle every order; the requests sent."""
        desk = self._desk
        events: list[AuditEvent] = []
        started: dict[str, AuditEvent] = {}
        sending: list[_Unit] = []
        for unit in chunk:
            trail = unit.trail
            settle: list[AuditEvent] = []
            if trail.attempts:
                # The checks took time: an earlier attempt's order may have appeared.
                try:
                    found = desk._look(unit.route)
                except CommitOutcomeUnknownError as exc:  # cannot look: send nothing
                    pending[unit.aid] = str(exc)
                    continue
                if found is not None:
                    last = int(trail.attempts[-1].payload["attempt"])
                    assert isinstance(found, PostedOrder)
                    done[unit.aid] = desk._committed(
                        trail, last, found, recovered=True, overridden=()
                    )
                    continue
                settle = desk._settle_expired(trail)
            attempt = len(trail.attempts) + 1
            kind = trail.started_kind
            event = desk._event(
                trail,
                kind,
                {
                    "attempt": attempt,
                    "external_id": unit.ticket.external_id,
                    "lines": len(unit.ticket.lines),
                    "quantity": unit.ticket.quantity,
                    "comment": unit.ticket.comment,
                    "basket_id": unit.basket_id,
                    "request": index,
                },
                event_id=f"{unit.aid}/{kind.value.lower()}/{attempt}",
            )
            started[unit.aid] = event
            events += [*settle, *checks[unit.aid][1], event]
            sending.append(unit)
        if not sending:
            return 0
        try:
            desk._record(events)
        except EventConflictError as exc:
            raise CommitInProgressError(
                f"basket {sending[0].basket_id}: an order's attempt was started by "
                f"{exc.stored.actor} at {format_time(exc.stored.at)}; nothing sent"
            ) from None
        posted, error, sent = self._post([u.ticket for u in sending])
        by_external = {p.external_id: p for p in posted}
        for i, unit in enumerate(sending):
            trail, aid = unit.trail, unit.aid
            attempt = int(started[aid].payload["attempt"])
            overridden = checks[aid][0]
            answer = by_external.get(unit.ticket.external_id)
            if answer is not None:
                done[aid] = desk._committed(
                    trail, attempt, answer, recovered=False, overridden=overridden
                )
                continue
            cause = "no answer" if error is None else f"{type(error).__name__}: {error}"
            if i >= sent:  # the source stopped before this one: it never left
                desk._settled_here.add((aid, attempt))
                desk._record_quietly(trail, attempt, OUTCOME_NOT_BOOKED, f"not sent ({cause})")
                pending[aid] = f"{OUTCOME_NOT_BOOKED}: not sent ({cause})"
                continue
            try:
                found = desk.source.find_order(unit.ticket.external_id)
            except Exception as lookup_exc:
                desk._record_quietly(
                    trail, attempt, OUTCOME_UNKNOWN, f"{cause}; look-up failed: {lookup_exc}"
                )
                pending[aid] = f"{OUTCOME_UNKNOWN}: {cause}; look-up failed ({lookup_exc})"
                retry_at.append(started[aid].at + desk._commit_lease)
                continue
            if found is not None:
                done[aid] = desk._committed(
                    trail, attempt, found, recovered=True, overridden=overridden
                )
                continue
            # Not found: the error says whether it may still be booked (see _outcomes).
            outcome = OUTCOME_UNKNOWN if error is None else classify(error)
            if outcome == OUTCOME_UNKNOWN:
                retry_at.append(started[aid].at + desk._commit_lease)
            if outcome != OUTCOME_UNKNOWN:
                desk._settled_here.add((aid, attempt))
            desk._record_quietly(trail, attempt, outcome, f"{cause}; the order is not visible")
            pending[aid] = f"{outcome}: {cause}"
        return 1

    def _post(
        self, tickets: Sequence[OrderTicket]
    ) -> tuple[list[PostedOrder], Exception | None, int]:
        """Post *tickets*: the answers, the error if any, and how many may have left."""
        source = self._desk.source
        if isinstance(source, BatchOrderSource):
            try:
                return list(source.post_orders(tickets)), None, len(tickets)
            except Exception as exc:  # every order of the request may have been placed
                return [], exc, len(tickets)
        posted: list[PostedOrder] = []
        for i, ticket in enumerate(tickets):
            try:
                posted.append(source.post_order(ticket))
            except Exception as exc:  # the later tickets were never sent
                return posted, exc, i + 1
        return posted, None, len(tickets)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
