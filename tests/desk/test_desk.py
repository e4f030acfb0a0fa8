"""Desk: preview -> what-if -> commit -> modify / cancel on the mock, audited in SQLite."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from desk_helpers import TSY, Clock, DrainedSource, kinds, orders_for

import orderalloc as oa
from orderalloc.audit import EventKind, SQLiteAuditSink
from orderalloc.desk import (
    CommitFailedError,
    CommitInProgressError,
    ComplianceRefusedError,
    Desk,
    InputsChangedError,
    NothingToCommitError,
    StalePreviewError,
    UnknownAllocationError,
    UnknownOrderError,
)
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.sources.orders import OrderStatus
from orderalloc.testing.faults import Fault, FaultMode, FaultySource
from orderalloc.testing.recording import RecordingSink


class TestHappyPath:
    """A preview committed on the mock books one order equal to the allocation, audited."""

    def test_preview_then_commit(self, mock: MockAladdin, sqlite_sink: SQLiteAuditSink) -> None:
        """Events PREVIEWED, COMPLIANCE_CHECKED, COMMIT_STARTED, COMMITTED; lines = allocation."""
        desk = Desk(mock, sqlite_sink, actor="trader@desk")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        assert mock.orders() == ()  # a preview sends nothing
        assert kinds(desk.history(preview.allocation_id)) == ["PREVIEWED"]

        receipt = desk.commit(preview.allocation_id)

        events = desk.history(preview.allocation_id)
        assert kinds(events) == ["PREVIEWED", "COMPLIANCE_CHECKED", "COMMIT_STARTED", "COMMITTED"]
        assert {e.actor for e in events} == {"trader@desk"}
        assert events[-1].order_id == receipt.order.order_id
        allocated = {k: q for k, q in preview.result.quantities.items() if q > 0}
        assert {line.account_id: line.quantity for line in receipt.order.lines} == allocated
        assert receipt.order.external_id == preview.allocation_id
        assert receipt.order.status == OrderStatus.OPEN
        assert not receipt.already_committed
        assert not receipt.recovered
        assert desk.status(preview.allocation_id) == "COMMITTED"
        assert sqlite_sink.verify().count == 4

    def test_commit_again_books_nothing(
        self, mock: MockAladdin, sqlite_sink: SQLiteAuditSink
    ) -> None:
        """A second commit returns the same order and records nothing."""
        desk = Desk(mock, sqlite_sink, actor="trader")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        first = desk.commit(preview.allocation_id)
        again = desk.commit(preview.allocation_id)
        assert again.already_committed
        assert again.order == first.order
        assert len(orders_for(mock, preview.allocation_id)) == 1
        assert len(desk.history(preview.allocation_id)) == 4

    def test_preview_event_holds_what_an_auditor_needs(
        self, mock: MockAladdin, sqlite_sink: SQLiteAuditSink, clock: Clock
    ) -> None:
        """PREVIEWED names the method, params, fingerprint, inputs' time and allocated accounts."""
        desk = Desk(mock, sqlite_sink, actor="trader", clock=clock)
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000, method="pro_rata", seed=3)
        event = desk.history(preview.allocation_id)[0]
        payload = event.payload
        assert payload["method"] == "pro_rata"
        assert payload["seed"] == 3
        assert payload["fingerprint"] == preview.fingerprint
        assert len(preview.fingerprint) == 64
        assert payload["inputs_as_of"] == "2024-06-11T13:30:00.000000+00:00"
        assert event.at == clock.now == preview.created_at
        assert event.security_id == TSY
        assert set(event.account_ids) == {k for k, q in preview.result.quantities.items() if q > 0}

    def test_preview_is_rebuilt_from_the_trail_alone(
        self, mock: MockAladdin, tmp_path: Path
    ) -> None:
        """A new process (new sink, new desk) rebuilds the preview and commits it."""
        path = tmp_path / "audit.sqlite3"
        with SQLiteAuditSink(path) as sink:
            preview = Desk(mock, sink, actor="a").preview("OPNIC", WELL_KNOWN["IG"], "BUY", 9e6)
        with SQLiteAuditSink(path) as sink:
            desk = Desk(mock, sink, actor="b")
            rebuilt = desk.get_preview(preview.allocation_id)
            assert rebuilt.fingerprint == preview.fingerprint
            assert rebuilt.group == "OPNIC"
            assert rebuilt.result.account_ids == preview.result.account_ids
            np.testing.assert_array_equal(rebuilt.result.quantity, preview.result.quantity)
            np.testing.assert_array_equal(rebuilt.result.reason_codes, preview.result.reason_codes)
            assert rebuilt.result.order == preview.result.order
            receipt = desk.commit(preview.allocation_id)
            assert receipt.order.quantity == preview.result.allocated
            sink.verify()

    def test_same_inputs_same_fingerprint(self, mock: MockAladdin) -> None:
        """Two previews of the same order on unchanged data carry the same fingerprint."""
        desk = Desk(mock, RecordingSink(), actor="t")
        a = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        b = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        c = desk.preview("BIG6", TSY, "BUY", 6_000_000)
        assert a.allocation_id != b.allocation_id
        assert a.fingerprint == b.fingerprint != c.fingerprint


class TestRefusals:
    """Commit refuses stale previews, moved inputs and blocking compliance, and says why."""

    def test_stale_preview(self, mock: MockAladdin, clock: Clock) -> None:
        """A preview older than max_age is refused and nothing is sent."""
        sink = RecordingSink()
        desk = Desk(mock, sink, actor="t", clock=clock, max_age=dt.timedelta(minutes=5))
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        clock.advance(minutes=5, seconds=1)
        with pytest.raises(StalePreviewError, match="preview again") as info:
            desk.commit(preview.allocation_id)
        assert info.value.age == dt.timedelta(minutes=5, seconds=1)
        assert mock.orders() == ()
        failed = desk.history(preview.allocation_id)[-1]
        assert failed.kind is EventKind.COMMIT_FAILED
        assert failed.payload["check"] == "stale"

    def test_cash_drained_after_preview(self, mock: MockAladdin) -> None:
        """A buy whose accounts lost their cash since the preview is refused, per account."""
        source = DrainedSource(mock)
        desk = Desk(source, RecordingSink(), actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        source.cash_factor = 0.0
        with pytest.raises(InputsChangedError) as info:
            desk.commit(preview.allocation_id)
        filled = {k for k, q in preview.result.quantities.items() if q > 0}
        assert set(info.value.problems) == filled
        assert all("cash" in why for why in info.value.problems.values())
        assert mock.orders() == ()
        assert desk.status(preview.allocation_id) == "COMMIT_FAILED"
        source.cash_factor = 1.0  # the cash came back: the same preview commits
        assert desk.commit(preview.allocation_id).order.quantity == preview.result.allocated

    def test_holdings_shrunk_before_a_sale(self) -> None:
        """A sale whose positions shrank since the preview is refused."""
        mock = MockAladdin("sell_down")
        source = DrainedSource(mock)
        desk = Desk(source, RecordingSink(), actor="t")
        preview = desk.preview("BIG6", TSY, "SELL", 2_000_000, method="pro_rata")
        source.holding_factor = 0.001
        with pytest.raises(InputsChangedError, match="no longer fit"):
            desk.commit(preview.allocation_id)
        assert mock.orders() == ()

    def test_small_moves_that_still_fit_commit(self, mock: MockAladdin) -> None:
        """Cash that moved but still covers every line is not a reason to refuse."""
        source = DrainedSource(mock)
        desk = Desk(source, RecordingSink(), actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 1_000_000, method="pro_rata")
        source.cash_factor = 0.999
        receipt = desk.commit(preview.allocation_id)
        checked = desk.history(preview.allocation_id)[1]
        assert checked.payload["inputs_changed"] is True
        assert receipt.order.quantity == preview.result.allocated

    def test_compliance_refused_then_overridden(self) -> None:
        """Blocking violations refuse the commit; an override posts it and records who and why."""
        mock = MockAladdin("compliance_violation")
        desk = Desk(mock, RecordingSink(), actor="pm@desk")
        preview = desk.preview("PUBLICPRE", TSY, "BUY", 20_000_000, method="pro_rata")
        with pytest.raises(ComplianceRefusedError, match="override_warnings=True") as info:
            desk.commit(preview.allocation_id)
        refused = info.value
        blocking = [v for v in refused.violations if v.blocking]
        assert blocking
        assert all(v.rule == "ISSUER_CONC_3PCT" for v in blocking)
        for account, violations in refused.by_account.items():
            assert account is not None
            assert refused.quantities[account] == preview.result.quantities[account]
            assert violations
        assert mock.orders() == ()

        receipt = desk.commit(
            preview.allocation_id, override_warnings=True, comment="PM approved: index event"
        )
        assert receipt.overridden == tuple(blocking)
        history = desk.history(preview.allocation_id)
        assert kinds(history) == [
            "PREVIEWED",
            "COMPLIANCE_CHECKED",
            "COMMIT_FAILED",
            "COMPLIANCE_CHECKED",
            "OVERRIDDEN",
            "COMMIT_STARTED",
            "COMMITTED",
        ]
        override = history[4].payload
        assert override["by"] == "pm@desk"
        assert override["comment"] == "PM approved: index event"
        assert len(override["violations"]) == len(blocking)
        assert len(orders_for(mock, preview.allocation_id)) == 1

    def test_nothing_allocated(self, mock: MockAladdin) -> None:
        """A preview that placed nothing cannot be committed."""
        source = DrainedSource(mock)
        source.holding_factor = 0.0  # nobody holds the bond: nothing can be sold
        desk = Desk(source, RecordingSink(), actor="t")
        preview = desk.preview("BIG6", TSY, "SELL", 1_000_000)
        assert preview.result.allocated == 0
        with pytest.raises(NothingToCommitError):
            desk.commit(preview.allocation_id)

    def test_unknown_allocation(self, mock: MockAladdin) -> None:
        """An id the trail does not know is refused by commit, history and status."""
        desk = Desk(mock, RecordingSink(), actor="t")
        for call in (desk.commit, desk.history, desk.status, desk.get_preview):
            with pytest.raises(UnknownAllocationError, match="no preview"):
                call("nope")

    def test_rejected_by_the_order_system(self, mock: MockAladdin) -> None:
        """A 4xx refusal is recorded as COMMIT_FAILED (rejected); a later commit retries it."""
        source = FaultySource(mock, [Fault("post_order", 1, FaultMode.REJECT)])
        desk = Desk(source, RecordingSink(), actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        with pytest.raises(CommitFailedError, match="refused") as info:
            desk.commit(preview.allocation_id)
        assert info.value.retryable is False
        failed = desk.history(preview.allocation_id)[-1]
        assert failed.payload["outcome"] == "rejected"
        receipt = desk.commit(preview.allocation_id)
        assert receipt.order.external_id == preview.allocation_id
        assert len(orders_for(mock, preview.allocation_id)) == 1

    def test_racing_process_is_refused(self, mock: MockAladdin) -> None:
        """If another process already recorded this attempt, nothing is sent."""
        sink = RecordingSink()
        desk = Desk(mock, sink, actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        rival = oa.audit.AuditEvent(
            allocation_id=preview.allocation_id,
            kind=EventKind.COMMIT_STARTED,
            actor="other-process",
            payload={"attempt": 1},
            event_id=f"{preview.allocation_id}/commit_started/1",
        )
        original_events = sink.events

        def events_hiding_the_rival(**kwargs: object) -> list[oa.audit.AuditEvent]:
            # The rival appends between our read of the trail and our append.
            found = original_events(**kwargs)  # type: ignore[arg-type]
            if not any(e.event_id == rival.event_id for e in found):
                sink.append([rival])
            return [e for e in found if e.event_id != rival.event_id]

        sink.events = events_hiding_the_rival  # type: ignore[method-assign]
        with pytest.raises(CommitInProgressError, match="other-process"):
            desk.commit(preview.allocation_id)
        assert mock.orders() == ()


class TestModifyCancel:
    """Modify re-allocates and replaces a live order's lines; cancel cancels it, once."""

    def test_modify_round_trip(self, mock: MockAladdin, sqlite_sink: SQLiteAuditSink) -> None:
        """The new allocation uses the original method; the order keeps its id and external id."""
        desk = Desk(mock, sqlite_sink, actor="t")
        preview = desk.preview("PUBLICPRE", TSY, "BUY", 10_000_000, method="pro_rata")
        first = desk.commit(preview.allocation_id)
        receipt = desk.modify(first.order.order_id, quantity=4_000_000, comment="client cut")
        assert receipt.order.order_id == first.order.order_id
        assert receipt.order.version == first.order.version + 1
        assert receipt.order.quantity == 4_000_000
        assert receipt.order.external_id == preview.allocation_id
        assert receipt.allocation_id != preview.allocation_id
        new = desk.get_preview(receipt.allocation_id)
        assert new.result.method == "pro_rata"
        assert {line.account_id: line.quantity for line in receipt.order.lines} == {
            k: q for k, q in new.result.quantities.items() if q > 0
        }
        history = desk.history(receipt.allocation_id)
        assert kinds(history) == ["PREVIEWED", "COMPLIANCE_CHECKED", "MODIFIED", "COMMITTED"]
        assert history[0].payload["modifies"]["allocation_id"] == preview.allocation_id
        assert history[0].order_id == first.order.order_id
        assert len(orders_for(mock, preview.allocation_id)) == 1
        sqlite_sink.verify()

    def test_modify_answer_lost(self, mock: MockAladdin) -> None:
        """A modification applied but unanswered is recognised, not sent twice."""
        source = FaultySource(mock, [Fault("modify_order", 1, FaultMode.AFTER)])
        desk = Desk(source, RecordingSink(), actor="t")
        first = desk.commit(desk.preview("BIG6", TSY, "BUY", 5_000_000).allocation_id)
        receipt = desk.modify(first.order.order_id, quantity=3_000_000)
        assert receipt.recovered
        assert mock.get_order(first.order.order_id).version == 2

    def test_cancel_twice(self, mock: MockAladdin, sqlite_sink: SQLiteAuditSink) -> None:
        """The second cancel returns the cancelled order and records nothing new."""
        desk = Desk(mock, sqlite_sink, actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        order_id = desk.commit(preview.allocation_id).order.order_id
        cancelled = desk.cancel(order_id, reason="client withdrew")
        again = desk.cancel(order_id, reason="client withdrew")
        assert cancelled.status == again.status == OrderStatus.CANCELLED
        assert kinds(desk.history(preview.allocation_id)).count("CANCELLED") == 1
        assert desk.status(preview.allocation_id) == "CANCELLED"
        assert desk.history(preview.allocation_id)[-1].payload["reason"] == "client withdrew"

    def test_cancel_after_modify_and_lost_answer(self, mock: MockAladdin) -> None:
        """A cancel whose answer is lost is recognised; it lands on the current allocation."""
        source = FaultySource(mock, [Fault("cancel_order", 1, FaultMode.AFTER)])
        desk = Desk(source, RecordingSink(), actor="t")
        first = desk.commit(desk.preview("BIG6", TSY, "BUY", 5_000_000).allocation_id)
        modified = desk.modify(first.order.order_id, quantity=2_000_000)
        cancelled = desk.cancel(first.order.order_id, reason="done")
        assert cancelled.status == OrderStatus.CANCELLED
        assert desk.status(modified.allocation_id) == "CANCELLED"

    def test_unknown_order(self, mock: MockAladdin) -> None:
        """Orders the desk did not commit are not its to modify or cancel."""
        desk = Desk(mock, RecordingSink(), actor="t")
        with pytest.raises(UnknownOrderError):
            desk.cancel("70009999", reason="x")
        with pytest.raises(UnknownOrderError):
            desk.modify("70009999", quantity=1_000)

    def test_modify_cancelled_order_fails(self, mock: MockAladdin) -> None:
        """The order system refuses to modify a cancelled order; the desk says so."""
        desk = Desk(mock, RecordingSink(), actor="t")
        first = desk.commit(desk.preview("BIG6", TSY, "BUY", 5_000_000).allocation_id)
        desk.cancel(first.order.order_id, reason="x")
        with pytest.raises(CommitFailedError, match="refused"):
            desk.modify(first.order.order_id, quantity=1_000_000)


class TestLargeGroup:
    """10,000 accounts: one order with one line per filled account."""

    def test_sma_10k(self, mock: MockAladdin, sqlite_sink: SQLiteAuditSink) -> None:
        """The whole round trip works and the order equals the allocation."""
        mock.accounts("SMA-10K", TSY)  # build the group outside the timing
        desk = Desk(mock, sqlite_sink, actor="t")
        preview = desk.preview("SMA-10K", TSY, "BUY", 50_000_000)
        receipt = desk.commit(preview.allocation_id)
        filled = {k: q for k, q in preview.result.quantities.items() if q > 0}
        assert len(filled) > 9_000
        assert {line.account_id: line.quantity for line in receipt.order.lines} == filled
        sqlite_sink.verify()
