"""Every audit event records the data source (kind and host): mock and real never mix."""

from __future__ import annotations

import httpx
from desk_helpers import TSY

from orderalloc.desk import Desk
from orderalloc.sources.aladdin import AladdinClient
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler
from orderalloc.testing.faults import FaultySource
from orderalloc.testing.recording import RecordingSink


def test_mock_and_aladdin_events_are_told_apart() -> None:
    """One trail, two sources: each event names its own kind and host."""
    sink = RecordingSink()
    mock_desk = Desk(FaultySource(MockAladdin()), sink, actor="t")
    on_mock = mock_desk.preview("BIG6", TSY, "BUY", 5_000_000)
    mock_desk.commit(on_mock.allocation_id)
    handler = AladdinMockHandler(MockAladdin())
    config = handler.config("http://aladdin.test", rate_limit=1e6)
    with AladdinClient(config, transport=httpx.MockTransport(handler)) as client:
        real_desk = Desk(client, sink, actor="t")
        on_aladdin = real_desk.preview("BIG6", TSY, "BUY", 5_000_000)
        real_desk.commit(on_aladdin.allocation_id)
    events = sink.events()
    assert len(events) >= 6
    for event in events:
        want = (
            {"kind": "mock", "host": None}
            if event.allocation_id == on_mock.allocation_id
            else {"kind": "aladdin", "host": "http://aladdin.test"}
        )
        assert dict(event.payload["source"]) == want, event.kind
