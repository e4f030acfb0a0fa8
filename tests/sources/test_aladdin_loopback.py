"""AladdinClient against a real HTTP server on 127.0.0.1, with injected faults.

The server (`orderalloc.testing.aladdin.serve`) speaks the published shapes,
validates every request body against the swagger schema, measures arrival
times, and fails a seeded share of requests with 429 / 503.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sources_helpers import assert_tables_equal

from orderalloc.sources.aladdin import (
    AladdinClient,
    AladdinOutcomeUnknownError,
    AladdinTransportError,
    AsyncAladdinClient,
)
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.sources.orders import OrderLine, OrderTicket
from orderalloc.testing.aladdin import AladdinMockHandler, FaultPlan, serve

SEC = WELL_KNOWN["IG"]
RATE = 6000.0  # requests per minute: 100 per second keeps the tests quick
# Small batches and pages so that one load makes many requests.
BATCHES = {"positions_batch": 25, "cash_batch": 25, "page_size": 50}


def _within_rate(handler: AladdinMockHandler, burst: int = 1) -> None:
    """No window of the server's arrival log holds more than the bucket allows."""
    per_second = RATE / 60.0
    for window in (0.25, 0.5, 1.0):
        # +2: arrival times are measured at the server, after network jitter.
        assert handler.max_in_window(window) <= burst + per_second * window + 2, window


class TestLoadUnderFaults:
    """A 500-account group loads exactly while 20% of requests fail."""

    def test_sync(self, mock: MockAladdin) -> None:
        """Retries absorb 429/503, the rate holds, the data are exact, every body is valid."""
        handler = AladdinMockHandler(
            mock, faults=FaultPlan(rate=0.2, seed=7, retry_after=0.01), page_size=50
        )
        with serve(handler) as server:
            config = handler.config(
                server.url, rate_limit=RATE, max_attempts=8, backoff_initial=0.01, **BATCHES
            )
            with AladdinClient(config) as client:
                timer = threading.Timer(0.3, handler.expire_tokens)  # token dies mid-run
                timer.start()
                start = time.monotonic()
                table = client.accounts("SMA-500", SEC)
                security = client.security(SEC)
                elapsed = time.monotonic() - start
                timer.cancel()
        assert_tables_equal(table, mock.accounts("SMA-500", SEC), SEC)
        assert security == mock.security(SEC)
        faults = sum(1 for r in handler.records if r.fault in ("429", "503"))
        assert faults >= 0.1 * len(handler.records)
        assert client.stats.retries == faults
        assert handler.count(status=401) == 1
        assert handler.count("/token") == 2
        assert handler.problems == []
        assert handler.count("accountInfos:filter", status=200) == 10
        _within_rate(handler)
        assert elapsed < 30

    @pytest.mark.anyio
    async def test_async(self, mock: MockAladdin) -> None:
        """Concurrent async requests share the limiter and load the same data."""
        handler = AladdinMockHandler(
            mock, faults=FaultPlan(rate=0.2, seed=11, retry_after=0.01), page_size=50
        )
        with serve(handler) as server:
            config = handler.config(
                server.url, rate_limit=RATE, max_attempts=8, backoff_initial=0.01, **BATCHES
            )
            async with AsyncAladdinClient(config) as client:
                table = await client.accounts("SMA-500", SEC)
        assert_tables_equal(table, mock.accounts("SMA-500", SEC), SEC)
        assert handler.problems == []
        _within_rate(handler)

    def test_threads(self, mock: MockAladdin) -> None:
        """Four threads on one client never exceed the rate together."""
        handler = AladdinMockHandler(mock, faults=FaultPlan(rate=0.2, seed=3, retry_after=0.0))
        results: dict[str, object] = {}
        with serve(handler) as server:
            config = handler.config(
                server.url, rate_limit=RATE, max_attempts=8, backoff_initial=0.01, **BATCHES
            )
            with AladdinClient(config) as client:
                client.groups()

                def load(group: str) -> None:
                    results[group] = client.accounts(group, SEC)

                groups = ["BIG6", "OPNIC", "PUBLICPRE", "DP-LB-USD"]
                threads = [threading.Thread(target=load, args=(g,)) for g in groups]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
        for group in groups:
            assert_tables_equal(results[group], mock.accounts(group, SEC), SEC)
        assert handler.problems == []
        _within_rate(handler)


class TestTimeouts:
    """Slow answers beyond the client timeout are retried for reads, never for writes."""

    def test_read_timeout_retried(self, mock: MockAladdin) -> None:
        """A read whose answer is late is sent again and succeeds."""
        handler = AladdinMockHandler(mock)
        # Margins wide enough for a loaded machine: late is 3 s, the timeout 1 s, and a
        # normal answer (validated against the spec) well under that.
        handler.script("/members", 200, delay=3.0)
        with serve(handler) as server:
            config = handler.config(
                server.url, timeout=httpx.Timeout(1.0), rate_limit=RATE, backoff_initial=0.01
            )
            with AladdinClient(config) as client:
                assert client.groups() == mock.groups()
                assert client.stats.retries == 1

    def test_read_timeout_bounded(self, mock: MockAladdin) -> None:
        """A read that is always late ends in AladdinTransportError after max_attempts."""
        handler = AladdinMockHandler(mock)
        handler.script("/members", 200, delay=3.0, times=10)
        with serve(handler) as server:
            config = handler.config(
                server.url,
                timeout=httpx.Timeout(1.0),
                rate_limit=RATE,
                backoff_initial=0.01,
                max_attempts=2,
            )
            with AladdinClient(config) as client, pytest.raises(AladdinTransportError) as info:
                client.groups()
        assert info.value.request_id
        assert handler.count("/members") == 2

    def test_write_timeout_not_resent(self) -> None:
        """A post whose answer is late is not sent again; find_order sees it."""
        mock = MockAladdin()
        mock.all_groups()  # build every group now, so the post itself is quick
        handler = AladdinMockHandler(mock)
        handler.script("order:post", 200, delay=3.0)
        ticket = OrderTicket(
            security_id=SEC, side="BUY", lines=(OrderLine("BIG6-01", 10_000),), external_id="slow"
        )
        with serve(handler) as server:
            config = handler.config(server.url, timeout=httpx.Timeout(1.0), rate_limit=RATE)
            with AladdinClient(config) as client:
                with pytest.raises(AladdinOutcomeUnknownError):
                    client.post_order(ticket)
                found = client.find_order("slow")
        assert found is not None
        assert handler.count("order:post") == 1

    def test_write_503_not_resent(self) -> None:
        """A post answered 503 (applied or not) is not sent again."""
        handler = AladdinMockHandler(MockAladdin())
        handler.script("order:post", 503, retry_after=0)
        ticket = OrderTicket(
            security_id=SEC, side="BUY", lines=(OrderLine("BIG6-01", 10_000),), external_id="w503"
        )
        with (
            serve(handler) as server,
            AladdinClient(handler.config(server.url, rate_limit=RATE)) as client,
        ):
            with pytest.raises(AladdinOutcomeUnknownError) as info:
                client.post_order(ticket)
            assert client.find_order("w503") is None
        assert info.value.status == 503
        assert handler.count("order:post") == 1


class TestOrdersOverHTTP:
    """Order operations and long-running operations over the loopback server."""

    def test_batch(self) -> None:
        """orders:batchPost is split at 1,000 and each operation polled to done."""
        mock = MockAladdin()
        handler = AladdinMockHandler(mock, lro_polls=2)
        tickets = [
            OrderTicket(
                security_id=SEC,
                side="BUY",
                lines=(OrderLine("SMA-00001", 1_000),),
                external_id=f"batch-{i}",
            )
            for i in range(1_050)
        ]
        with serve(handler) as server:
            config = handler.config(server.url, rate_limit=RATE, lro_poll_interval=0.01)
            with AladdinClient(config) as client:
                posted = client.post_orders(tickets)
        assert len(posted) == 1_050
        assert handler.count("orders:batchPost") == 2
        assert handler.count("longrunningoperations") == 4
        assert handler.problems == []
