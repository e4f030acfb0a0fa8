"""Headers that age: the Origin-Timestamp and the bearer token are set after the rate-limit wait."""

from __future__ import annotations

import datetime as dt

import httpx

from orderalloc.sources.aladdin import AladdinClient
from orderalloc.sources.aladdin.wire import ORIGIN_TIMESTAMP
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler


class Stamps:
    """A transport that notes, per request, how old its Origin-Timestamp is on arrival."""

    def __init__(self, handler: AladdinMockHandler) -> None:
        self.handler = handler
        self.ages: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        stamp = dt.datetime.fromisoformat(request.headers[ORIGIN_TIMESTAMP])
        self.ages.append((dt.datetime.now(dt.timezone.utc) - stamp).total_seconds())
        return self.handler(request)


def test_stamped_and_authorised_after_the_wait() -> None:
    """Queued requests leave with a current timestamp and a live token (no 401 to recover)."""
    handler = AladdinMockHandler(MockAladdin(), token_ttl=2.5)
    stamps = Stamps(handler)
    # A request every 1.5 s: each request waits that long for its slot,
    # and the token (good for 2.5 s) expires while the second one waits.
    config = handler.config("http://aladdin.test", rate_limit=40.0, rate_burst=1)
    with AladdinClient(config, transport=httpx.MockTransport(stamps)) as client:
        for _ in range(3):
            client.groups(fresh=True)
    # The stamp has whole seconds: up to 1 s old when sent at once.
    assert max(stamps.ages) < 1.3, stamps.ages
    assert handler.count(status=401) == 0
    assert handler.problems == []
