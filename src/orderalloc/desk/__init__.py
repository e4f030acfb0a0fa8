"""The desk: preview -> what-if -> commit -> modify / cancel, every step audited first.

A `Desk` joins a data source (Aladdin, the mock, your adapter) and an audit sink::

    desk = Desk(AladdinClient(AladdinConfig.from_env()))     # SQLite trail by default
    preview = desk.preview("BIG6", "91282CJL6", "BUY", 5_000_000)
    receipt = desk.commit(preview.allocation_id)

What it records, in order, for one allocation (``allocation_id``)::

    PREVIEWED            inputs' fingerprint, the full result: the allocation can be
                         rebuilt from the trail alone, by another process
    COMPLIANCE_CHECKED   what-if violations, whether the inputs moved since the preview
    OVERRIDDEN           who overrode blocking violations, and why (only then)
    COMMIT_STARTED       attempt n, written before the order is sent (MODIFIED for a change)
    COMMITTED            order id, version, status: once per allocation, ever
    COMMIT_FAILED        outcome: rejected, not_booked, unknown (retry), refused (checks)
    CANCELLED            the order was cancelled

**Idempotency.** The order carries the allocation id as its external id. A write
whose outcome is unknown (a timeout, a 5xx after sending, a dropped connection,
a process killed mid-commit) is never re-sent blindly: whenever the trail holds
an attempt, `Desk.commit` first asks the source (``find_order``) whether the
order exists, and records ``COMMITTED`` if it does. ``COMMITTED`` has a fixed
event id per allocation and ``COMMIT_STARTED`` one per attempt, so two
processes racing on one allocation cannot both record either: the loser gets
`CommitInProgressError`.

**Outcome unknown.** A request that timed out may still be booked seconds
later: the order system was processing it when the client gave up. Not
finding the order at once proves nothing, so such an attempt is recorded
``COMMIT_FAILED`` with outcome ``unknown`` and stays open: until the order is
seen or the attempt's *commit lease* has passed, every commit looks it up and
sends nothing (`CommitOutcomeUnknownError`, with ``retry_at``). After the
lease, a commit re-reads the inputs and the what-if, then looks the order up
once more right before it sends, and only then closes the old attempt as
``not_booked``. Only a send that certainly never left the client (no
connection could be opened) is ``not_booked`` at once.

The desk also books fills (see `~orderalloc.desk._fills` for its events:
``FILL_RECORDED``, ``FILLS_ALLOCATED``, ``BOOK_STARTED``, ``BOOKED``,
``BOOK_FAILED``, ``TRADE_CANCELLED``) and commits baskets (`BasketDesk`:
``BASKET_PREVIEWED``, ``BASKET_COMMITTED``). The errors it raises
(`orderalloc.desk.errors`) are drawn in the tree of `orderalloc.errors`.

The layout::

    __init__.py   the public names (this file)
    errors.py     the desk's errors, under DeskError
    _values.py    Preview, CommitReceipt, FillPreview, BookingReceipt
    _desk.py      Desk: its state, history and status; the two halves below
    _orders.py    preview, what-if, commit, modify, cancel; the order route
    _fills.py     fills, fill allocations, bookings; the trade route
    _basket.py    BasketDesk: a basket previewed and committed as one unit
                  (orders:batchPost), exactly once per order; the facade
    _basket_checks.py  the basket's checks before a request is sent: age,
                  fresh inputs, the basket's cash as a whole, compliance
    _basket_commit.py  the basket's requests: attempts recorded before
                  each is sent, orders looked up after a failure
    _core.py      the exactly-once core: attempts recorded before sending,
                  looked up after an ambiguous failure, leases; recording
    _outcomes.py  what a failed send means (not booked, unknown, rejected),
                  from the data-source port's errors alone
    _records.py   the typed trail: an attrs record per event payload, one
                  converter that writes and reads them
    _trail.py     what an allocation's events say (AllocationTrail); the
                  inputs' fingerprint; the result rebuilt from its payload

A new event: a record in ``_records.py``. A new retry or ambiguity rule:
``_outcomes.py``. A new kind of send: a route over ``_core.py``.
"""

from __future__ import annotations

import attrs

from ._basket import BasketDesk
from ._desk import Desk
from ._trail import fingerprint
from ._values import (
    BasketPreview,
    BasketReceipt,
    BookingReceipt,
    CommitReceipt,
    FillPreview,
    Preview,
)
from .errors import (
    BasketIncompleteError,
    CommitFailedError,
    CommitInProgressError,
    CommitOutcomeUnknownError,
    ComplianceRefusedError,
    FillsChangedError,
    InputsChangedError,
    NothingToBookError,
    NothingToCommitError,
    StalePreviewError,
    UnknownAllocationError,
    UnknownOrderError,
)

__all__ = [
    "BasketDesk",
    "BasketIncompleteError",
    "BasketPreview",
    "BasketReceipt",
    "BookingReceipt",
    "CommitFailedError",
    "CommitInProgressError",
    "CommitOutcomeUnknownError",
    "CommitReceipt",
    "ComplianceRefusedError",
    "Desk",
    "FillPreview",
    "FillsChangedError",
    "InputsChangedError",
    "NothingToBookError",
    "NothingToCommitError",
    "Preview",
    "StalePreviewError",
    "UnknownAllocationError",
    "UnknownOrderError",
    "fingerprint",
]

# Reprs, tracebacks and docs say orderalloc.desk.X, where users import them from
# (`orderalloc` presents the names it re-exports as orderalloc.X in turn).
# Annotations are resolved first, in the class's own module, for cattrs and typing.
for _name in __all__:
    _obj = globals()[_name]
    if attrs.has(_obj):
        attrs.resolve_types(_obj)
    _obj.__module__ = __name__
del _name, _obj
