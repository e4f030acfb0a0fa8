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
of the basket is. Every payload is a record of `~orderalloc.desk._records`.

This module is the facade (preview, commit, reading baskets back); the
checks before a request is sent live in `~orderalloc.desk._basket_checks`,
the requests, their recording and the look-up recovery (exactly once per
order) in `~orderalloc.desk._basket_commit`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from .._basket import allocate_basket
from .._model import AccountTable, Order, Security, Side
from .._serialization import to_json
from ..audit import AuditEvent, EventKind
from ..audit.events import SOURCE_KEY
from ..errors import AuditSinkError, DataSourceError, InvalidOrderError, InvalidParameterError
from ._basket_checks import check_basket
from ._basket_commit import Progress, Unit, resume, send_request
from ._desk import Desk
from ._orders import PreviewRequest
from ._outcomes import OUTCOME_REJECTED
from ._records import BasketCommitted, BasketPreviewed, decode, encode
from ._trail import EventConflictError, fingerprint, jsonable
from ._values import BasketPreview, BasketReceipt, Preview
from .errors import BasketIncompleteError, UnknownAllocationError

__all__ = ["MAX_BATCH", "BasketDesk"]

logger = logging.getLogger("orderalloc.desk")

#: Aladdin's ``orders:batchPost`` takes at most this many orders per request.
MAX_BATCH = 1000


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
    """The ``(security_id, side, quantity)`` triples, checked; the side as a `Side`."""
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


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class BasketDesk:
    """Previews and commits baskets on a `~orderalloc.desk.Desk`, exactly once per order.

    See the module docstring for the events, `~orderalloc.desk._basket_checks`
    for the checks and `~orderalloc.desk._basket_commit` for the recovery.

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
            order = result.order
            request = PreviewRequest(
                group=group,
                security_id=order.security.id,
                side=order.side,
                quantity=order.quantity,
                method=method,
                seed=seed,
                params=params,
            )
            digest = fingerprint(order, accounts)
            event, preview = desk._previewed(
                request, result, digest, as_of=now, at=now, basket_id=basket_id, basket_position=k
            )
            events.append(event)
            previews.append(preview)
        head = BasketPreviewed(
            group=group,
            method=method,
            strategy=basket.strategy,
            use_proceeds=use_proceeds,
            params=jsonable(to_json(dict(params))),
            seed=seed,
            orders=tuple(p.allocation_id for p in previews),
            objective_name=basket.objective_name,
            objective=_finite(basket.objective),
            objective_sequential=_finite(basket.objective_sequential),
            warnings=tuple(basket.warnings),
            label=label,
        )
        events.append(self._basket_event(basket_id, EventKind.BASKET_PREVIEWED, head, at=now))
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
        event = self._head_event(basket_id)
        head = decode(BasketPreviewed, event.payload)
        return BasketPreview(
            basket_id=basket_id,
            group=head.group,
            previews=tuple(self._desk.get_preview(a) for a in head.orders),
            created_at=event.at,
        )

    def status(self, basket_id: str) -> dict[str, str]:
        """Allocation id -> where each order of the basket stands (see `Desk.status`).

        Raises:
            UnknownAllocationError: No basket with that id in the trail.
        """
        return {a: self._desk.status(a) for a in self._head(basket_id).orders}

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

    def _head_event(self, basket_id: str) -> AuditEvent:
        """The basket's ``BASKET_PREVIEWED``; `UnknownAllocationError` if there is none."""
        events = self._desk.sink.events(allocation_id=basket_id, kinds={EventKind.BASKET_PREVIEWED})
        if not events:
            raise UnknownAllocationError(basket_id)
        return events[0]

    def _head(self, basket_id: str) -> BasketPreviewed:
        """The basket's ``BASKET_PREVIEWED`` record."""
        return decode(BasketPreviewed, self._head_event(basket_id).payload)

    def _basket_event(
        self,
        basket_id: str,
        kind: EventKind,
        record: BasketPreviewed | BasketCommitted,
        *,
        at: dt.datetime,
        event_id: str | None = None,
    ) -> AuditEvent:
        """An event of the basket itself (under its id), its payload stamped with the source."""
        return AuditEvent(
            allocation_id=basket_id,
            kind=kind,
            actor=self._desk.actor,
            payload={**encode(record), SOURCE_KEY: self._desk._source_stamp},
            at=at,
            event_id=event_id or str(uuid.uuid4()),
        )

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
        heads = {b: self._head(b) for b in basket_ids}
        units: list[Unit] = []
        empty: dict[str, list[str]] = {b: [] for b in basket_ids}
        for basket_id, head in heads.items():
            for aid in head.orders:
                trail = desk._trail(aid)
                if not trail.lines:
                    empty[basket_id].append(trail.allocation_id)
                    continue
                units.append(Unit.of(desk, trail, comment, basket_id=basket_id, group=head.group))
        progress = Progress()
        to_send = resume(desk, units, progress)
        if to_send:
            use_proceeds = {b: head.use_proceeds for b, head in heads.items()}
            checks = check_basket(desk, to_send, use_proceeds, override_warnings, comment)
            size = self._batch_size
            for start in range(0, len(to_send), size):
                send_request(desk, to_send[start : start + size], checks, start // size, progress)
        done = progress.done
        receipts = tuple(
            BasketReceipt(
                basket_id=b,
                receipts=tuple(done[u.aid] for u in units if u.basket_id == b and u.aid in done),
                empty=tuple(empty[b]),
                requests=progress.requests,
            )
            for b in basket_ids
        )
        if progress.pending:
            refused = any(OUTCOME_REJECTED in why for why in progress.pending.values())
            raise BasketIncompleteError(
                basket_ids,
                [r for b in receipts for r in b.receipts],
                progress.pending,
                retryable=not refused,
                retry_at=max(progress.retry_at) if progress.retry_at else None,
            )
        for receipt in receipts:
            self._record_basket_done(receipt)
        return receipts

    def _record_basket_done(self, receipt: BasketReceipt) -> None:
        """``BASKET_COMMITTED`` once per basket, when every order of it is booked."""
        desk = self._desk
        done = BasketCommitted(
            orders={r.allocation_id: r.order.order_id for r in receipt.receipts},
            recovered=receipt.recovered,
        )
        event = self._basket_event(
            receipt.basket_id,
            EventKind.BASKET_COMMITTED,
            done,
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
