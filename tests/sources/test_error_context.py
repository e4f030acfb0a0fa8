"""Errors about an answer name the request and the HTTP status, so that support can find it."""

from __future__ import annotations

import httpx
import pytest

from orderalloc.sources.aladdin import AladdinClient, AladdinResponseError
from orderalloc.sources.aladdin.wire import REQUEST_ID
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler


class WrongShape:
    """A transport whose group-members answers are JSON, but not the published shape."""

    def __init__(self, handler: AladdinMockHandler) -> None:
        self.handler = handler
        self.request_ids: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/members"):
            self.request_ids.append(request.headers[REQUEST_ID])
            return httpx.Response(200, json={"nodes": "not a list"})
        return self.handler(request)


def test_malformed_200_names_status_and_request() -> None:
    """A 200 whose body is not JSON: the error says HTTP 200 and the request id."""
    handler = AladdinMockHandler(MockAladdin())
    handler.script("members", 200, malformed=True, times=10)
    config = handler.config("http://aladdin.test", rate_limit=1e6, max_attempts=1)
    with (
        AladdinClient(config, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(AladdinResponseError) as info,
    ):
        client.groups()
    sent = [r.request_id for r in handler.records if r.path.endswith("/members")]
    assert info.value.status == 200
    assert "HTTP 200" in str(info.value)
    assert info.value.request_id == sent[-1]
    assert sent[-1] in str(info.value)


def test_shape_error_names_the_request() -> None:
    """JSON of the wrong shape: the error carries the request id of the answer, not None."""
    handler = AladdinMockHandler(MockAladdin())
    transport = WrongShape(handler)
    config = handler.config("http://aladdin.test", rate_limit=1e6, max_attempts=1)
    with (
        AladdinClient(config, transport=httpx.MockTransport(transport)) as client,
        pytest.raises(AladdinResponseError) as info,
    ):
        client.groups()
    assert transport.request_ids
    assert info.value.request_id == transport.request_ids[-1]
    assert info.value.status == 200
    assert transport.request_ids[-1] in str(info.value)
