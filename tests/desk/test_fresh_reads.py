"""Commit and modify read the inputs fresh, never from the Aladdin client's read cache."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from desk_helpers import TSY

from orderalloc.desk import Desk, InputsChangedError
from orderalloc.sources.aladdin import AladdinClient
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler
from orderalloc.testing.recording import RecordingSink


@pytest.fixture(name="aladdin")
def _aladdin() -> Iterator[tuple[MockAladdin, AladdinClient]]:
    """A client (5-minute read cache) over an Aladdin stand-in whose data the test edits."""
    book = MockAladdin()
    handler = AladdinMockHandler(book)
    config = handler.config("http://aladdin.test", rate_limit=1e6)
    assert config.cache_ttl >= 60  # the cache would hide a change made since the preview
    with AladdinClient(config, transport=httpx.MockTransport(handler)) as client:
        yield book, client


def test_commit_sees_cash_spent_since_the_preview(
    aladdin: tuple[MockAladdin, AladdinClient],
) -> None:
    """Cash gone a minute after the preview: the commit refuses, nothing is posted."""
    book, client = aladdin
    desk = Desk(client, RecordingSink(), actor="t")
    preview = desk.preview("BIG6", TSY, "BUY", 5_000_000)
    data = book.group_data("BIG6")
    data.cash[:] = 0.0
    data.ladder[:] = 0.0
    with pytest.raises(InputsChangedError):
        desk.commit(preview.allocation_id)
    assert book.orders() == ()


def test_modify_sees_a_new_restriction(aladdin: tuple[MockAladdin, AladdinClient]) -> None:
    """An account restricted after the commit gets nothing in the re-allocation."""
    book, client = aladdin
    desk = Desk(client, RecordingSink(), actor="t")
    receipt = desk.commit(desk.preview("BIG6", TSY, "BUY", 5_000_000).allocation_id)
    data = book.group_data("BIG6")
    j = [b.security.id for b in book.bonds].index(TSY)
    first = receipt.order.lines[0].account_id
    data.restricted[data.ids.index(first), j] = True
    changed = desk.modify(receipt.order.order_id, quantity=6_000_000)
    assert first not in {line.account_id for line in changed.order.lines}
    assert sum(line.quantity for line in changed.order.lines) == pytest.approx(6_000_000)
