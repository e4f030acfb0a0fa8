"""A source of one's own signals 'sent, outcome unknown' with the library's root error."""

from __future__ import annotations

import orderalloc as oa
from orderalloc.testing import RecordingSink

IG = "037833DX5"


class BooksThenLosesTheAnswer:
    """A user's own source: the order is booked, then the answer is lost."""

    def __init__(self, inner: oa.MockAladdin) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def post_order(self, ticket: oa.OrderTicket) -> oa.PostedOrder:
        self.inner.post_order(ticket)
        raise oa.OutcomeUnknownError("gateway timed out after sending")


def test_outcome_unknown_is_looked_up_not_resent() -> None:
    """The desk finds the booked order by its external id: one order, recovered."""
    mock = oa.MockAladdin()
    desk = oa.Desk(BooksThenLosesTheAnswer(mock), RecordingSink(), actor="t")  # type: ignore[arg-type]
    preview = desk.preview("BIG6", IG, "BUY", 5_000_000)
    receipt = desk.commit(preview.allocation_id)
    assert receipt.recovered
    assert len(mock.orders()) == 1
    assert desk.status(preview.allocation_id) == "COMMITTED"
