"""A basket's batch commit and look-up recovery: exactly once per order.

Orders are posted in requests of at most ``batch_size`` (1,000: Aladdin's
``orders:batchPost`` limit) through the source's ``post_orders``
(`~orderalloc.sources.protocol.BatchOrderSource`), or one by one where the
source has none. Each request's attempts are recorded (one atomic append)
right before it is sent, so a process killed mid-send leaves the orders of
later requests unstarted. After any failure every order of the request is
looked up by its external id (its allocation id): found orders are recorded
``COMMITTED``; the others are closed ``not_booked`` (never sent), ``rejected``
(refused), or left open with outcome ``unknown``.

An open attempt is handled exactly as a single commit handles it
(`~orderalloc.desk.Desk.commit`, over the same `~orderalloc.desk._core.DeskCore`):
looked up first, nothing re-sent within the desk's commit lease, and after it
looked up once more right before it is sent again. So a commit retried at
once, or after the lease, or by another process, re-sends only the orders
never placed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import attrs

from ..audit import AuditEvent
from ..audit.events import format_time
from ..sources.orders import ComplianceViolation, OrderTicket, PostedOrder
from ..sources.protocol import BatchOrderSource, DataSource
from ._desk import Desk
from ._orders import _OrderRoute
from ._outcomes import OUTCOME_NOT_BOOKED, OUTCOME_UNKNOWN, classify
from ._records import AttemptStarted
from ._trail import EventConflictError
from ._values import CommitReceipt
from .errors import CommitInProgressError, CommitOutcomeUnknownError

__all__ = ["Progress", "Unit", "resume", "send_request"]


@attrs.frozen
class Unit(_OrderRoute):
    """One order of a basket commit: an order's route that knows its basket."""

    basket_id: str
    group: str  # the basket's group, which every order of it is allocated over

    @property
    def aid(self) -> str:
        """The order's allocation id (its external id)."""
        return self.trail.allocation_id


@attrs.define
class Progress:
    """Where the orders of one commit stand: booked, pending (and why), when to retry.

    Attributes:
        done: Allocation id -> the receipt of its order, booked.
        pending: Allocation id -> why it is not booked (yet).
        retry_at: When held attempts' leases end.
        requests: The post requests sent.
    """

    done: dict[str, CommitReceipt] = attrs.Factory(dict)
    pending: dict[str, str] = attrs.Factory(dict)
    retry_at: list[dt.datetime] = attrs.Factory(list)
    requests: int = 0


def resume(desk: Desk, units: Sequence[Unit], progress: Progress) -> list[Unit]:
    """Settle what earlier commits did; return the orders still to check and send.

    An order committed before is done; an order with attempts is looked up
    (found: done; held by its lease or not looked up: pending, nothing sent).
    """
    to_send: list[Unit] = []
    for unit in units:
        trail = unit.trail
        if trail.committed is not None:
            progress.done[unit.aid] = desk._already_committed(trail, trail.committed)
            continue
        if trail.attempts:
            try:
                resumed = desk._recovered(unit)
            except (CommitOutcomeUnknownError, CommitInProgressError) as exc:
                # Held by the lease (or the look-up failed): nothing is sent for it.
                progress.pending[unit.aid] = str(exc)
                progress.retry_at.append(trail.attempts[-1].at + desk._commit_lease)
                continue
            if resumed is not None:
                progress.done[unit.aid] = resumed
                continue
        to_send.append(unit)
    return to_send


def send_request(
    desk: Desk,
    chunk: Sequence[Unit],
    checks: Mapping[str, tuple[tuple[ComplianceViolation, ...], list[AuditEvent]]],
    index: int,
    progress: Progress,
) -> None:
    """Record one request's attempts, send it, settle every order of it.

    *checks* holds each order's overridden violations and check events (see
    `~orderalloc.desk._basket_checks.check_basket`); *index* numbers the
    request within the commit.
    """
    events: list[AuditEvent] = []
    started: dict[str, AuditEvent] = {}
    sending: list[Unit] = []
    for unit in chunk:
        trail = unit.trail
        settle: list[AuditEvent] = []
        if trail.attempts:
            # The checks took time: an earlier attempt's order may have appeared
            # (its lease has passed: `resume` held the others back).
            try:
                found = desk._recovered(unit)
            except CommitOutcomeUnknownError as exc:  # cannot look: send nothing
                progress.pending[unit.aid] = str(exc)
                continue
            if found is not None:
                progress.done[unit.aid] = found
                continue
            settle = desk._settle_expired(trail)
        attempt = len(trail.attempts) + 1
        kind = trail.started_kind
        opening = attrs.evolve(
            AttemptStarted.of(unit.ticket, unit.ticket.comment),
            attempt=attempt,
            basket_id=unit.basket_id,
            request=index,
        )
        event = desk._event(
            trail, kind, opening, event_id=f"{unit.aid}/{kind.value.lower()}/{attempt}"
        )
        started[unit.aid] = event
        events += [*settle, *checks[unit.aid][1], event]
        sending.append(unit)
    if not sending:
        return
    try:
        desk._record(events)
    except EventConflictError as exc:
        raise CommitInProgressError(
            f"basket {sending[0].basket_id}: an order's attempt was started by "
            f"{exc.stored.actor} at {format_time(exc.stored.at)}; nothing sent"
        ) from None
    progress.requests += 1
    posted, error, sent = _post(desk.source, [u.ticket for u in sending])
    by_external = {p.external_id: p for p in posted}
    for i, unit in enumerate(sending):
        attempt = unit.trail.attempt_number(started[unit.aid])
        answer = by_external.get(unit.ticket.external_id)
        if answer is not None:
            progress.done[unit.aid] = unit.done(
                attempt, answer, recovered=False, overridden=checks[unit.aid][0]
            )
            continue
        _settle(
            desk,
            unit,
            attempt,
            error,
            never_sent=i >= sent,
            lease_end=started[unit.aid].at + desk._commit_lease,
            overridden=checks[unit.aid][0],
            progress=progress,
        )


def _settle(
    desk: Desk,
    unit: Unit,
    attempt: int,
    error: Exception | None,
    *,
    never_sent: bool,
    lease_end: dt.datetime,
    overridden: tuple[ComplianceViolation, ...],
    progress: Progress,
) -> None:
    """Settle an order of the request with no answer: look it up, else record why.

    *error* is the request's (None: the source answered without this order);
    *never_sent*: the source stopped before this order left.
    """
    trail, aid = unit.trail, unit.aid
    cause = "no answer" if error is None else f"{type(error).__name__}: {error}"
    if never_sent:
        desk._settled_here.add((aid, attempt))
        desk._record_quietly(trail, attempt, OUTCOME_NOT_BOOKED, f"not sent ({cause})")
        progress.pending[aid] = f"{OUTCOME_NOT_BOOKED}: not sent ({cause})"
        return
    try:
        found = unit.lookup()
    except Exception as lookup_exc:
        desk._record_quietly(
            trail, attempt, OUTCOME_UNKNOWN, f"{cause}; look-up failed: {lookup_exc}"
        )
        progress.pending[aid] = f"{OUTCOME_UNKNOWN}: {cause}; look-up failed ({lookup_exc})"
        progress.retry_at.append(lease_end)
        return
    if found is not None:
        progress.done[aid] = unit.done(attempt, found, recovered=True, overridden=overridden)
        return
    # Not found: the error says whether it may still be booked (see _outcomes).
    outcome = OUTCOME_UNKNOWN if error is None else classify(error)
    if outcome == OUTCOME_UNKNOWN:
        progress.retry_at.append(lease_end)
    else:
        desk._settled_here.add((aid, attempt))
    desk._record_quietly(trail, attempt, outcome, f"{cause}; the order is not visible")
    progress.pending[aid] = f"{outcome}: {cause}"


def _post(
    source: DataSource, tickets: Sequence[OrderTicket]
) -> tuple[list[PostedOrder], Exception | None, int]:
    """Post *tickets*: the answers, the error if any, and how many may have left."""
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
