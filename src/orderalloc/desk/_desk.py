"""`Desk`: the order half and the post-trade half over one exactly-once core.

The class itself holds only what makes a desk (its source, sink, actor,
limits and clock) and reads whole trails back (`Desk.history`,
`Desk.status`); its methods come from `~orderalloc.desk._orders.OrderDesk`
(preview, commit, modify, cancel) and `~orderalloc.desk._fills.PostTrade`
(fills, fill allocations, bookings), both over `~orderalloc.desk._core.DeskCore`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import warnings
from collections.abc import Callable

from .._closing import Closing
from ..audit import AuditEvent, AuditSink, EventKind, SQLiteAuditSink
from ..sources import source_stamp
from ..sources.protocol import DataSource
from ._fills import PostTrade
from ._orders import OrderDesk
from .errors import UnknownAllocationError

__all__ = ["Desk"]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "unknown"


class Desk(OrderDesk, PostTrade, Closing):
    """Previews, commits, modifies and cancels orders, recording each step before it happens.

    Every decision is read back from the audit trail, not from memory: a
    preview made in one process can be committed, or an interrupted commit
    resumed, by another.

    Args:
        source: Where accounts and securities come from and orders go to.
        sink: The audit trail. Defaults to a `~orderalloc.audit.SQLiteAuditSink`
            in the user's data directory (closed by `close`).
        actor: Who is acting, recorded on every event. Defaults to the login name.
        max_age: How old a preview `commit` still accepts.
        commit_lease: How long an attempt whose outcome is not known stays
            open: one with no recorded outcome (another process may still be
            sending: `CommitInProgressError`) or one whose send failed
            ambiguously (a timeout: `CommitOutcomeUnknownError`). Within it, a
            `commit` that cannot find the order sends nothing: the order
            system may still book the first send. Make it longer than the
            order system can take to process a write it received (the
            client's timeouts and retries included).
        clock: Returns the current time, timezone-aware (tests pass a fake).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        source: DataSource,
        sink: AuditSink | None = None,
        *,
        actor: str | None = None,
        max_age: dt.timedelta = dt.timedelta(minutes=15),
        commit_lease: dt.timedelta = dt.timedelta(minutes=2),
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._source = source
        # Every event says which source it was about (mock or real, and where).
        self._source_stamp = source_stamp(source)
        self._owns_sink = sink is None
        if sink is None:  # say where: a silent default would hide the trail from its owner
            sink = SQLiteAuditSink()
            warnings.warn(
                f"Desk: no sink given, recording the audit trail in {sink.path}", stacklevel=2
            )
        self._sink: AuditSink = sink
        self._actor = actor or _default_actor()
        self._max_age = max_age
        self._commit_lease = commit_lease
        self._clock = clock
        self._settled_here: set[tuple[str, int]] = set()

    def __repr__(self) -> str:
        return f"Desk(source={self._source!r}, sink={self._sink!r}, actor={self._actor!r})"

    def close(self) -> None:
        """Close the audit sink if the desk opened it (the default one)."""
        if self._owns_sink:
            self._sink.close()

    # --- reading the trail --------------------------------------------------------------

    def history(self, allocation_id: str) -> list[AuditEvent]:
        """Every event of an allocation, in the order recorded.

        Raises:
            UnknownAllocationError: The trail holds nothing for it.
        """
        events = self._sink.events(allocation_id=allocation_id)
        if not events:
            raise UnknownAllocationError(allocation_id)
        return events

    def status(self, allocation_id: str) -> str:
        """Where an allocation stands: the kind of its latest lifecycle event.

        ``"PREVIEWED"``, ``"COMMIT_STARTED"`` or ``"MODIFIED"`` (sent; outcome not
        recorded yet), ``"COMMITTED"``, ``"COMMIT_FAILED"`` (a later commit may
        retry) or ``"CANCELLED"``. Compliance checks and overrides do not change it.

        Raises:
            UnknownAllocationError: The trail holds nothing for it.
        """
        lifecycle = [
            e
            for e in self.history(allocation_id)
            if e.kind not in (EventKind.COMPLIANCE_CHECKED, EventKind.OVERRIDDEN)
        ]
        return lifecycle[-1].kind.value
