"""One odd field in a Positions answer: ignored where unused, named where the allocator uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sources_helpers import assert_tables_equal

from orderalloc.sources.aladdin import AladdinClient, AladdinResponseError
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler

SEC = WELL_KNOWN["IG"]


class EditPositions:
    """A transport that edits the first position of every Positions answer."""

    def __init__(self, handler: AladdinMockHandler, edit: Callable[[dict[str, Any]], None]) -> None:
        self.handler = handler
        self.edit = edit
        self.edited: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.handler(request)
        if "/positions" not in request.url.path or response.status_code != 200:
            return response
        data = response.json()
        items = data if isinstance(data, list) else []
        if items:
            self.edit(items[0])
            self.edited.append(items[0])
        return httpx.Response(200, json=data, headers=dict(response.headers))


def _client(handler: AladdinMockHandler, transport: EditPositions) -> AladdinClient:
    config = handler.config("http://aladdin.test", rate_limit=1e6, max_attempts=1)
    return AladdinClient(config, transport=httpx.MockTransport(transport))


def test_a_flag_in_price_as_pct_does_not_abort_the_load() -> None:
    """``"priceAsPct": "Y"`` in one position: the group loads, exactly as without it."""
    mock = MockAladdin()
    handler = AladdinMockHandler(mock)
    transport = EditPositions(handler, lambda p: p.update(priceAsPct="Y"))
    with _client(handler, transport) as client:
        table = client.accounts("BIG6", SEC)
    assert transport.edited
    assert_tables_equal(table, mock.accounts("BIG6", SEC), SEC)


def test_a_malformed_quantity_names_the_account_and_field() -> None:
    """A position quantity that is not a number: the error names the portfolio and the field."""
    mock = MockAladdin()
    handler = AladdinMockHandler(mock)
    transport = EditPositions(handler, lambda p: p.update(posQuantity="lots"))
    with _client(handler, transport) as client, pytest.raises(AladdinResponseError) as info:
        client.accounts("BIG6", SEC)
    portfolio = transport.edited[0]["portfolioName"]
    assert portfolio in str(info.value)
    assert "posQuantity" in str(info.value)
