"""The errors the desk raises, all under `~orderalloc.errors.DeskError`.

They are drawn, with every other error class of the package, in the tree of
`orderalloc.errors` (each is also an attribute of that module).
`orderalloc.desk` re-exports every one of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..audit.events import format_time
from ..errors import DeskError, defined_in
from ..sources.orders import ComplianceViolation

if TYPE_CHECKING:
    from ._values import CommitReceipt

__all__ = defined_in(__name__)  # listed in orderalloc.errors, which loads them lazily


class UnknownAllocationError(DeskError, LookupError):
    """Raised by `Desk.commit`, `Desk.history` and others when no preview has that id.

    The audit trail is the only memory the desk has: a preview made elsewhere is
    known here once its ``PREVIEWED`` event is in the same trail.
    """

    def __init__(self, allocation_id: str) -> None:
        self.allocation_id = allocation_id
        super().__init__(f"no preview {allocation_id!r} in the audit trail")


class UnknownOrderError(DeskError, LookupError):
    """Raised by `Desk.modify` and `Desk.cancel` when no committed allocation made that order."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"no allocation committed as order {order_id!r} in the audit trail")


class NothingToCommitError(DeskError):
    """Raised by `Desk.commit` when the preview allocated nothing (every line is 0)."""


class StalePreviewError(DeskError):
    """Raised by `Desk.commit` when the preview is older than the desk's ``max_age``.

    Prices, cash and holdings move; preview again to allocate on today's inputs.

    Attributes:
        allocation_id: The preview.
        age: How old it is.
        max_age: The most the desk accepts.
    """

    def __init__(self, allocation_id: str, age: dt.timedelta, max_age: dt.timedelta) -> None:
        self.allocation_id = allocation_id
        self.age = age
        self.max_age = max_age
        super().__init__(
            f"preview {allocation_id} is {age.total_seconds():.0f} s old (at most "
            f"{max_age.total_seconds():.0f} s): preview again"
        )


class InputsChangedError(DeskError):
    """Raised by `Desk.commit` when a line no longer fits the accounts reloaded from the source.

    A buy whose cash is gone, a sale of a position that shrank or would now
    leave a stub, an account newly restricted or gone from the group.

    Attributes:
        allocation_id: The preview.
        problems: Account id -> what no longer fits, in words.
    """

    def __init__(self, allocation_id: str, problems: Mapping[str, str]) -> None:
        self.allocation_id = allocation_id
        self.problems = dict(problems)
        shown = "; ".join(f"{k}: {v}" for k, v in list(self.problems.items())[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(
            f"preview {allocation_id}: {len(self.problems)} line(s) no longer fit the "
            f"accounts: {shown}{more}; preview again"
        )


class ComplianceRefusedError(DeskError):
    """Raised by `Desk.commit` when what-if compliance reports blocking violations.

    Commit again with ``override_warnings=True`` (and a comment) to post anyway;
    the override is recorded.

    Attributes:
        allocation_id: The preview.
        violations: Every violation reported (blocking or not).
        by_account: Account id -> its violations (``None``: about the whole order).
        quantities: Account id -> the face of its line, for the accounts with a violation.
    """

    def __init__(
        self,
        allocation_id: str,
        violations: Sequence[ComplianceViolation],
        quantities: Mapping[str, float],
    ) -> None:
        self.allocation_id = allocation_id
        self.violations = tuple(violations)
        by_account: dict[str | None, list[ComplianceViolation]] = {}
        for v in self.violations:
            by_account.setdefault(v.account_id, []).append(v)
        self.by_account = {k: tuple(v) for k, v in by_account.items()}
        self.quantities = {
            k: quantities[k] for k in by_account if k is not None and k in quantities
        }
        blocking = [v for v in self.violations if v.blocking]
        shown = "; ".join(f"{v.account_id}: {v.rule}" for v in blocking[:5])
        super().__init__(
            f"preview {allocation_id}: {len(blocking)} blocking compliance violation(s): "
            f"{shown}; commit with override_warnings=True to post anyway"
        )


class CommitInProgressError(DeskError):
    """Raised by `Desk.commit` when another process recorded the same attempt first.

    Two desks committing one allocation at the same moment: the audit trail
    refuses the second ``COMMIT_STARTED``, and nothing is sent. Commit again
    once the other is done (it then returns the order).
    """


class CommitFailedError(DeskError):
    """Raised by `Desk.commit` and `Desk.modify` when the order was not booked.

    Either the order system refused it (*retryable* False: the cause is the
    source's error, e.g. a 4xx) or the order was never sent (the connection
    could not be opened; *retryable* True). A later commit retries; it can
    never book twice. Its subclass `CommitOutcomeUnknownError` says the order
    may have been booked.

    Attributes:
        allocation_id: The allocation.
        retryable: Whether trying again may succeed without changing anything.
    """

    def __init__(self, allocation_id: str, message: str, *, retryable: bool) -> None:
        self.allocation_id = allocation_id
        self.retryable = retryable
        super().__init__(f"allocation {allocation_id}: {message}")


class CommitOutcomeUnknownError(CommitFailedError):
    """Raised by `Desk.commit` when it cannot tell (yet) whether the order was booked.

    The send failed ambiguously (a timeout, a 5xx, a dropped connection) and
    the order is not visible, or the look-up failed. A request that timed out
    may still be booked seconds later, so the attempt stays open: until the
    order is seen or *retry_at* (the commit lease) has passed, a commit sends
    nothing. Commit again: it looks the order up right before any send.

    Attributes:
        retry_at: When a commit may send again if the order has not appeared
            (``None``: as soon as the look-up answers).
    """

    def __init__(
        self,
        allocation_id: str,
        message: str,
        *,
        retryable: bool = True,
        retry_at: dt.datetime | None = None,
    ) -> None:
        self.retry_at = retry_at
        super().__init__(allocation_id, message, retryable=retryable)


class NothingToBookError(DeskError):
    """Raised by `Desk.allocate_fills` and `Desk.book` when no fill is left to book.

    Every fill of the order is covered by an active booking already, or the
    allocation placed nothing (its warnings say why).
    """


class FillsChangedError(DeskError):
    """Raised by `Desk.book` when the fill allocation no longer extends the order's bookings.

    Another allocation of the same order was booked since this one was
    previewed, a booking it extends was cancelled, or the order was modified:
    booking it would book fills twice or against a stale intent. Allocate the
    fills again (`Desk.allocate_fills`).
    """


class BasketIncompleteError(CommitFailedError):
    """Raised by `BasketDesk.commit` when some orders of the basket are not booked (yet).

    The orders booked are recorded (``committed``); the others are listed
    with why (``pending``): an outcome not known yet (a timeout: nothing is
    re-sent before ``retry_at``), another process sending them, never sent,
    or refused by the order system. Commit again: every pending order is
    looked up before anything is re-sent, and only the ones never placed are.

    Attributes:
        basket_ids: The baskets of the call.
        committed: A receipt per order booked so far.
        pending: Allocation id -> why it is not booked.
        retry_at: When a commit may re-send the orders whose outcome is
            unknown (``None``: at once).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        basket_ids: Sequence[str],
        committed: Sequence[CommitReceipt],
        pending: Mapping[str, str],
        *,
        retryable: bool,
        retry_at: dt.datetime | None,
    ) -> None:
        self.basket_ids = tuple(basket_ids)
        self.committed = tuple(committed)
        self.pending = dict(pending)
        self.retry_at = retry_at
        first = next(iter(self.pending.items()))
        when = f"; commit again after {format_time(retry_at)}" if retry_at else "; commit again"
        super().__init__(
            ", ".join(self.basket_ids),
            f"{len(self.committed)} order(s) booked, {len(self.pending)} not booked yet "
            f"(first: {first[0]}: {first[1]}){when}",
            retryable=retryable,
        )
