"""Fixtures for the data-source tests: the mock, the Aladdin mock handler, a loopback server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from orderalloc.sources.aladdin import AladdinClient
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler, LoopbackServer, serve


@pytest.fixture(name="mock", scope="session")
def _mock() -> MockAladdin:
    """One mock (with a 500-account SMA group) shared by read-only tests."""
    return MockAladdin(extra_groups={"SMA-500": 500})


@pytest.fixture(name="handler")
def _handler(mock: MockAladdin) -> AladdinMockHandler:
    """A fresh handler (no faults, small pages) over the shared mock."""
    return AladdinMockHandler(mock, page_size=50)


@pytest.fixture(name="client")
def _client(handler: AladdinMockHandler) -> Iterator[AladdinClient]:
    """A sync client talking to the handler through httpx.MockTransport."""
    config = handler.config("http://aladdin.test", rate_limit=1e6, backoff_initial=0.001)
    with AladdinClient(config, transport=httpx.MockTransport(handler)) as client:
        yield client


@pytest.fixture(name="server")
def _server(handler: AladdinMockHandler) -> Iterator[LoopbackServer]:
    """The handler behind a real HTTP server on 127.0.0.1."""
    with serve(handler) as server:
        yield server


@pytest.fixture(name="anyio_backend")
def _anyio_backend() -> str:
    """Run async tests on asyncio."""
    return "asyncio"
