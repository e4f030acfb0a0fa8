"""The desk decides "booked or not?" from the data-source port's errors, whatever the adapter."""

from __future__ import annotations

import pickle

import pytest
from desk_helpers import TSY, orders_for

from orderalloc.desk import CommitFailedError, CommitOutcomeUnknownError, Desk
from orderalloc.errors import DataSourceError, OutcomeUnknownError
from orderalloc.sources.aladdin import (
    AladdinAPIError,
    AladdinAuthError,
    AladdinNotFoundError,
    AladdinOutcomeUnknownError,
    AladdinRateLimitError,
    AladdinResponseError,
    AladdinServerError,
    AladdinTransportError,
)
from orderalloc.sources.errors import RequestRejectedError, SourceUnavailableError
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin_faults import aladdin_fault_error
from orderalloc.testing.faults import Fault, FaultMode, FaultySource, port_error
from orderalloc.testing.recording import RecordingSink


def _api(cls: type[AladdinAPIError], status: int | None) -> AladdinAPIError:
    return cls(status=status, code=None, message="injected", request_id="r-1", path="orders")


# What a send that raised the error (and booked nothing) is recorded as.
CASES = [
    (SourceUnavailableError("no connection", sent=False), "not_booked"),
    (AladdinTransportError("no connection", request_id=None, sent=False), "not_booked"),
    (SourceUnavailableError("read timed out"), "unknown"),
    (AladdinTransportError("read timed out", request_id=None), "unknown"),
    (OutcomeUnknownError("answer lost"), "unknown"),
    (_api(AladdinOutcomeUnknownError, 504), "unknown"),
    (_api(AladdinServerError, 503), "unknown"),
    (TimeoutError("timed out"), "unknown"),
    (OSError("connection reset"), "unknown"),
    (RequestRejectedError("refused"), "rejected"),
    (_api(AladdinAPIError, 400), "rejected"),
    (_api(AladdinRateLimitError, 429), "rejected"),
    (_api(AladdinAuthError, 403), "rejected"),
    (DataSourceError("refused, in its own words"), "rejected"),
]


class TestOutcomes:
    """A failed send is recorded by what the port's error says, not by the adapter's class."""

    @pytest.mark.parametrize(
        ("error", "outcome"), CASES, ids=[f"{type(e).__name__}-{o}" for e, o in CASES]
    )
    def test_recorded_outcome(self, error: Exception, outcome: str) -> None:
        """Never sent: not booked; sent or not known: unknown (nothing re-sent); else rejected."""
        mock = MockAladdin()
        source = FaultySource(
            mock, [Fault("post_order", 1, FaultMode.REJECT)], errors=lambda *_: error
        )
        desk = Desk(source, RecordingSink(), actor="t")
        preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
        with pytest.raises(CommitFailedError) as info:
            desk.commit(preview.allocation_id)
        assert desk.history(preview.allocation_id)[-1].payload["outcome"] == outcome
        assert isinstance(info.value, CommitOutcomeUnknownError) == (outcome == "unknown")
        assert info.value.retryable == (outcome != "rejected")
        assert info.value.__cause__ is error
        assert orders_for(mock, preview.allocation_id) == []

    @pytest.mark.parametrize("mode", list(FaultMode))
    @pytest.mark.parametrize("method", ["post_order", "book_trade", "accounts"])
    def test_aladdin_faults_read_as_port_faults(self, mode: FaultMode, method: str) -> None:
        """Each Aladdin fault classifies as the port fault of the same mode (sent flag too)."""
        port = port_error(method, 1, mode)
        aladdin = aladdin_fault_error(method, 1, mode)
        assert isinstance(aladdin, DataSourceError)
        for family in (SourceUnavailableError, OutcomeUnknownError):
            assert isinstance(aladdin, family) == isinstance(port, family)
        assert getattr(aladdin, "sent", None) == getattr(port, "sent", None)

    def test_unavailable_pickles_with_its_flag(self) -> None:
        """A never-sent error keeps ``sent=False`` across processes (it decides a retry)."""
        again = pickle.loads(pickle.dumps(SourceUnavailableError("down", sent=False)))
        assert again.sent is False
        assert str(again) == "down"

    @pytest.mark.parametrize(
        "error",
        [
            AladdinTransportError("read timed out", request_id="r-9", attempts=3, sent=False),
            AladdinResponseError("nodes: not a list", request_id="r-2", path="/m", status=200),
            _api(AladdinAPIError, 400),
            _api(AladdinNotFoundError, 404),
            _api(AladdinOutcomeUnknownError, 504),
            AladdinServerError(
                status=503, code=14, message="down", request_id="r-3", path="p", retry_after=2.5
            ),
        ],
        ids=lambda e: type(e).__name__,
    )
    def test_aladdin_errors_pickle_with_their_fields(self, error: Exception) -> None:
        """An Aladdin error crosses a process boundary with its class, message and every field."""
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error)
        assert str(again) == str(error)
        assert vars(again) == vars(error)
        assert vars(again)  # the fields are there, not just the message
