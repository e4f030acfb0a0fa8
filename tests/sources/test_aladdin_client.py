"""AladdinClient over httpx.MockTransport: mapping, headers, auth, retries, caching, errors."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid

import httpx
import pytest
from sources_helpers import assert_tables_equal

from orderalloc.errors import DataSourceError, NotFoundError
from orderalloc.sources import AsyncDataSource, DataSource
from orderalloc.sources.aladdin import (
    AladdinAPIError,
    AladdinAuthError,
    AladdinClient,
    AladdinConfig,
    AladdinConfigError,
    AladdinNotFoundError,
    AladdinOutcomeUnknownError,
    AladdinResponseError,
    AladdinServerError,
    AsyncAladdinClient,
    Secret,
)
from orderalloc.sources.aladdin.transport import RateLimiter
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.sources.orders import OrderLine, OrderTicket
from orderalloc.testing.aladdin import AladdinMockHandler

SEC = WELL_KNOWN["IG"]


def _ticket(external_id: str = "t-1", *lines: tuple[str, float]) -> OrderTicket:
    return OrderTicket(
        security_id=SEC,
        side="BUY",
        lines=tuple(OrderLine(a, q) for a, q in (lines or (("BIG6-01", 10_000.0),))),
        external_id=external_id,
    )


def _make(handler: AladdinMockHandler, **overrides: object) -> AladdinClient:
    fields: dict[str, object] = {"rate_limit": 1e6, "backoff_initial": 0.001}
    fields.update(overrides)
    return AladdinClient(
        handler.config("http://aladdin.test", **fields), transport=httpx.MockTransport(handler)
    )


class TestMapping:
    """Every Protocol read returns what the mock behind the handler holds."""

    def test_protocol(self, client: AladdinClient) -> None:
        """The client is a DataSource; the async twin an AsyncDataSource."""
        assert isinstance(client, DataSource)
        assert isinstance(AsyncAladdinClient(client.config), AsyncDataSource)

    def test_groups(self, client: AladdinClient, mock: MockAladdin) -> None:
        """groups() lists the root group's sub-groups."""
        assert client.groups() == mock.groups()

    @pytest.mark.parametrize("group", ["BIG6", "OPNIC", "PUBLICPRE"])
    def test_accounts(self, client: AladdinClient, mock: MockAladdin, group: str) -> None:
        """Accounts (nested groups expanded, EUR ladders ignored) equal the mock's."""
        assert_tables_equal(client.accounts(group, SEC), mock.accounts(group, SEC), SEC)

    def test_paging(self, client: AladdinClient, handler: AladdinMockHandler) -> None:
        """Names and restrictions of 500 accounts come over several pages."""
        table = client.accounts("SMA-500", SEC)
        assert len(table) == 500
        assert handler.count("accountInfos:filter") == 10
        assert handler.count("restrictedAssets:filter") > 1
        assert handler.problems == []

    @pytest.mark.parametrize("cls", list(WELL_KNOWN))
    def test_security(self, client: AladdinClient, mock: MockAladdin, cls: str) -> None:
        """A security priced from the pricing group equals the mock's."""
        assert client.security(WELL_KNOWN[cls]) == mock.security(WELL_KNOWN[cls])

    def test_search(self, client: AladdinClient, mock: MockAladdin) -> None:
        """Search by ticker and by CUSIP prefix equals the mock's."""
        assert client.search_securities("AAPL") == mock.search_securities("AAPL")
        assert client.search_securities("3", limit=5) == mock.search_securities("3", limit=5)
        assert client.search_securities("NOTHING") == ()

    def test_unknown(self, client: AladdinClient) -> None:
        """Unknown groups and securities raise NotFoundError."""
        with pytest.raises(NotFoundError):
            client.accounts("NOPE", SEC)
        with pytest.raises(NotFoundError):
            client.security("000000000")

    def test_answers_validate(self, mock: MockAladdin) -> None:
        """The handler's own answers match the published response schemas."""
        handler = AladdinMockHandler(mock, validate_answers=True, page_size=5)
        with _make(handler) as client:
            client.accounts("BIG6", SEC)
            posted = client.post_order(_ticket("answers-1"))
            client.find_order("answers-1")
            client.cancel_order(posted.order_id, "r")
            client.post_orders([_ticket("answers-2")])
        assert handler.problems == []


class TestRequests:
    """Every request carries the platform headers and a schema-valid body."""

    def test_headers(self, mock: MockAladdin) -> None:
        """Request-ID is a fresh UUID4; Origin-Timestamp is UTC to the second."""
        seen: list[httpx.Request] = []
        handler = AladdinMockHandler(mock)

        def spy(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return handler(request)

        config = handler.config("http://aladdin.test", rate_limit=1e6)
        with AladdinClient(config, transport=httpx.MockTransport(spy)) as client:
            client.accounts("BIG6", SEC)
        ids = [r.headers["VND.com.blackrock.Request-ID"] for r in seen]
        assert len(set(ids)) == len(ids)
        assert all(uuid.UUID(i).version == 4 for i in ids)
        for r in seen:
            stamp = dt.datetime.fromisoformat(r.headers["VND.com.blackrock.Origin-Timestamp"])
            assert stamp.utcoffset() == dt.timedelta(0)
            assert stamp.microsecond == 0
            assert r.headers["VND.com.blackrock.API-Key"] == handler.api_key
        assert handler.problems == []

    def test_basic_auth(self, mock: MockAladdin) -> None:
        """HTTP Basic works without a token request."""
        handler = AladdinMockHandler(mock)
        config = handler.config("http://aladdin.test", oauth=False, rate_limit=1e6)
        with AladdinClient(config, transport=httpx.MockTransport(handler)) as client:
            client.accounts("BIG6", SEC)
        assert handler.count("/token") == 0
        assert handler.problems == []

    def test_bad_body_is_caught(self, mock: MockAladdin) -> None:
        """The handler refuses a body with a field the schema does not publish."""
        handler = AladdinMockHandler(mock)
        with _make(handler) as client:
            client.groups()
            bad = client._client.post(
                "http://aladdin.test/api/trading/order-management/order/v1/orders:filter",
                json={"query": {"orderIdCriterion": {"ids": ["1"]}}, "madeUp": 1},
                headers=client._headers(str(uuid.uuid4())),
            )
        assert bad.status_code == 400
        assert "madeUp" in handler.problems[0]


class TestAuth:
    """OAuth tokens are cached and refreshed once on a 401."""

    def test_token_cached(self, client: AladdinClient, handler: AladdinMockHandler) -> None:
        """One token serves many requests."""
        client.accounts("BIG6", SEC)
        client.accounts("PUBLICPRE", SEC)
        assert handler.count("/token") == 1

    def test_refresh_on_401(self, client: AladdinClient, handler: AladdinMockHandler) -> None:
        """An expired token is refreshed once and the request succeeds."""
        client.groups()
        handler.expire_tokens()
        client.accounts("BIG6", SEC)
        assert handler.count("/token") == 2
        assert handler.count(status=401) == 1

    def test_refresh_before_expiry(self, mock: MockAladdin) -> None:
        """A token close to expiry is replaced before it is used."""
        handler = AladdinMockHandler(mock, token_ttl=0.5)
        with _make(handler) as client:
            client.groups(fresh=True)
            time.sleep(0.6)
            client.groups(fresh=True)
        assert handler.count("/token") == 2
        assert handler.count(status=401) == 0

    def test_bad_credentials(self, mock: MockAladdin) -> None:
        """Wrong credentials raise AladdinAuthError with the request id, no secret."""
        handler = AladdinMockHandler(mock)
        config = handler.config(
            "http://aladdin.test", client_secret="WRONG-SECRET-VALUE", rate_limit=1e6
        )
        with (
            AladdinClient(config, transport=httpx.MockTransport(handler)) as client,
            pytest.raises(AladdinAuthError) as info,
        ):
            client.groups()
        assert info.value.status == 401
        assert info.value.request_id
        assert "WRONG-SECRET-VALUE" not in str(info.value) + repr(info.value)


class TestRetries:
    """Reads retry within bounds; writes are never re-sent once sent."""

    def test_read_recovers(self, client: AladdinClient, handler: AladdinMockHandler) -> None:
        """Two 503s then success: the read succeeds after two retries."""
        handler.script("/members", 503, times=2)
        assert client.groups()
        assert client.stats.retries == 2

    def test_bounded(self, mock: MockAladdin) -> None:
        """A read that always fails stops after max_attempts with a typed error."""
        handler = AladdinMockHandler(mock)
        handler.script("/members", 502, times=100)
        with _make(handler, max_attempts=3) as client, pytest.raises(AladdinServerError) as info:
            client.groups()
        assert info.value.status == 502
        assert handler.count("/members") == 3

    def test_total_time_bound(self, mock: MockAladdin) -> None:
        """Retry-After longer than the time budget ends the retries early."""
        handler = AladdinMockHandler(mock)
        handler.script("/members", 429, times=100, retry_after=5)
        start = time.monotonic()
        with _make(handler, max_retry_time=1.0) as client, pytest.raises(AladdinAPIError):
            client.groups()
        # Waiting out the Retry-After would take 5 s: the budget of 1 s stops it first.
        assert time.monotonic() - start < 4.0
        assert handler.count("/members") == 1

    def test_malformed_json(self, client: AladdinClient, handler: AladdinMockHandler) -> None:
        """A broken JSON answer to a read is retried; persistent ones raise."""
        handler.script("/members", 200, malformed=True)
        assert client.groups()
        handler.script("/members", 200, malformed=True, times=100)
        with pytest.raises(AladdinResponseError):
            client.groups(fresh=True)

    def test_write_not_resent(self, client: AladdinClient, handler: AladdinMockHandler) -> None:
        """A 503 after a post was applied raises OutcomeUnknown; find_order shows the order."""
        client.groups()
        handler.script("order:post", 503, after=True)
        with pytest.raises(AladdinOutcomeUnknownError) as info:
            client.post_order(_ticket("w-1"))
        assert info.value.status == 503
        assert handler.count("order:post") == 1
        found = client.find_order("w-1")
        assert found is not None
        assert found.status == "OPEN"

    def test_write_retried_if_never_sent(self, mock: MockAladdin) -> None:
        """A connection error before sending is retried even for a write."""
        handler = AladdinMockHandler(mock)
        failures = {"n": 0}

        def flaky(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("order:post") and failures["n"] == 0:
                failures["n"] += 1
                raise httpx.ConnectError("refused", request=request)
            return handler(request)

        config = handler.config("http://aladdin.test", rate_limit=1e6, backoff_initial=0.001)
        with AladdinClient(config, transport=httpx.MockTransport(flaky)) as client:
            posted = client.post_order(_ticket("w-2"))
        assert posted.external_id == "w-2"
        assert handler.count("order:post") == 1

    def test_what_if_retried(self, client: AladdinClient, handler: AladdinMockHandler) -> None:
        """What-if books nothing, so it is retried like a read."""
        handler.script("order:post", 503)
        assert client.what_if(_ticket("wi")).passed


class TestCache:
    """Reads are cached for the TTL; fresh=True and writes bypass it."""

    def test_cached(self, client: AladdinClient, handler: AladdinMockHandler) -> None:
        """A second load is served from the cache; fresh=True goes to the server."""
        client.accounts("BIG6", SEC)
        sent = len(handler.records)
        client.accounts("BIG6", SEC)
        assert len(handler.records) == sent
        client.accounts("BIG6", SEC, fresh=True)
        assert len(handler.records) > sent

    def test_disabled(self, mock: MockAladdin) -> None:
        """cache_ttl=0 turns the cache off."""
        handler = AladdinMockHandler(mock)
        with _make(handler, cache_ttl=0) as client:
            client.groups()
            client.groups()
        assert handler.count("/members") == 2


class TestOrders:
    """Order operations map onto OrderAPI and back."""

    def test_life_cycle(self, mock: MockAladdin) -> None:
        """Post, find, get, modify, cancel and batch-post work end to end."""
        handler = AladdinMockHandler(MockAladdin(), lro_polls=3)
        with _make(handler, lro_poll_interval=0.01) as client:
            client.accounts("BIG6", SEC)
            report = client.what_if(_ticket("o-1", ("BIG6-01", 10_000), ("BIG6-02", 5_000)))
            assert report.passed
            posted = client.post_order(_ticket("o-1", ("BIG6-01", 10_000), ("BIG6-02", 5_000)))
            assert posted.quantity == 15_000
            assert client.find_order("o-1") == posted
            assert client.find_order("missing") is None
            assert client.get_order(posted.order_id) == posted
            modified = client.modify_order(posted.order_id, _ticket("o-1", ("BIG6-03", 7_000)))
            assert (modified.version, modified.quantity) == (2, 7_000)
            cancelled = client.cancel_order(posted.order_id, "client changed its mind")
            assert cancelled.status == "CANCELLED"
            with pytest.raises(AladdinAPIError) as info:
                client.cancel_order(posted.order_id, "again")
            assert info.value.code == 9
            with pytest.raises(AladdinNotFoundError):
                client.get_order("1")
            batch = client.post_orders([_ticket(f"b-{i}") for i in range(3)])
            assert [b.external_id for b in batch] == ["b-0", "b-1", "b-2"]
            assert handler.count("longrunningoperations") == 3
        assert handler.problems == []

    def test_violations(self) -> None:
        """What-if violations come back per account (codes mapped to tickers)."""
        handler = AladdinMockHandler(MockAladdin("compliance_violation"))
        with _make(handler) as client:
            client.accounts("BIG6", SEC)
            report = client.what_if(_ticket("v", ("BIG6-01", 5_000), ("BIG6-02", 5_000)))
        assert not report.passed
        assert report.violations[0].account_id == "BIG6-01"
        assert report.violations[0].severity == "RESTRICTION"

    def test_find_needs_account_code(self, mock: MockAladdin) -> None:
        """find_order without account_code is a configuration error."""
        handler = AladdinMockHandler(mock)
        with _make(handler, account_code=None) as client, pytest.raises(AladdinConfigError):
            client.find_order("x")


class TestRateLimiter:
    """The token bucket paces requests across threads."""

    def test_threads(self) -> None:
        """40 reservations from 4 threads at 1,200/min take about 2 s of slots."""
        limiter = RateLimiter(per_minute=1200, burst=1)
        stamps: list[float] = []
        lock = threading.Lock()

        def work() -> None:
            for _ in range(10):
                limiter.acquire()
                with lock:
                    stamps.append(time.monotonic())

        threads = [threading.Thread(target=work) for _ in range(4)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # The 40th slot is 39 intervals after the first (immediate) one. A busy
        # machine can only delay a thread after its slot, never bring a slot
        # forward, so this holds under any load (gaps between the stamps do not:
        # a thread may be descheduled between its slot and its stamp).
        assert max(stamps) - start >= 39 * 0.05 - 0.01
        assert len(stamps) == 40


class TestSecrets:
    """No secret shows in reprs, messages or log records."""

    def test_config_repr(self) -> None:
        """The config's repr hides the API key and secrets."""
        config = AladdinConfig(
            host="acme.blackrock.com", api_key="KEY-abc123", username="u", password="PW-xyz789"
        )
        text = repr(config) + str(config)
        assert "KEY-abc123" not in text
        assert "PW-xyz789" not in text
        assert config.api_key == Secret("KEY-abc123")

    def test_logs(self, mock: MockAladdin, caplog: pytest.LogCaptureFixture) -> None:
        """A run with retries, a refresh and errors logs no credential or token."""
        handler = AladdinMockHandler(mock, api_key="API-KEY-s3cr3t", client_secret="CS-s3cr3t")
        handler.script("/members", 503)
        with caplog.at_level(logging.DEBUG), _make(handler) as client:
            client.groups()
            handler.expire_tokens()
            client.accounts("BIG6", SEC)
            with pytest.raises(DataSourceError) as info:
                client.accounts("NOPE", SEC)
            tokens = list(handler._tokens)
        text = caplog.text + str(info.value) + repr(client) + repr(client.config)
        for secret in ["API-KEY-s3cr3t", "CS-s3cr3t", *tokens]:
            assert secret not in text
        assert "retrying GET" in caplog.text


class TestErrors:
    """Error answers become typed exceptions with status, code and request id."""

    def test_rpc_body(self) -> None:
        """An rpcStatus-shaped 400 gives code and message."""

        def answer(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/token"):
                return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
            body = {"code": 3, "message": "bad query", "details": []}
            return httpx.Response(400, json=body)

        config = AladdinConfig(
            host="http://x", api_key="k", client_id="c", client_secret="s", groups=("G",)
        )
        with (
            AladdinClient(config, transport=httpx.MockTransport(answer)) as client,
            pytest.raises(AladdinAPIError) as info,
        ):
            client.accounts("G", SEC)
        err = info.value
        assert (err.status, err.code, err.message) == (400, 3, "bad query")
        assert err.request_id is not None
        assert err.request_id in str(err)

    def test_shape_error(self) -> None:
        """An answer of the wrong shape names the bad path."""

        def answer(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/token"):
                return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
            return httpx.Response(200, content=json.dumps({"nodes": [{"portfolioId": []}]}))

        config = AladdinConfig(host="http://x", api_key="k", client_id="c", client_secret="s")
        with (
            AladdinClient(config, transport=httpx.MockTransport(answer)) as client,
            pytest.raises(AladdinResponseError, match="nodes"),
        ):
            client.accounts("G", SEC)


class TestConfig:
    """AladdinConfig reads the ALADDIN_* variables and checks them."""

    def test_from_env(self) -> None:
        """Every documented variable is read."""
        config = AladdinConfig.from_env(
            {
                "ALADDIN_HOST": "acme.blackrock.com",
                "ALADDIN_API_KEY": "k",
                "ALADDIN_CLIENT_ID": "c",
                "ALADDIN_CLIENT_SECRET": "s",
                "ALADDIN_SCOPES": "a b,c",
                "ALADDIN_TIMEOUT": "12",
                "ALADDIN_RATE_LIMIT": "50",
                "ALADDIN_CACHE_TTL": "0",
                "ALADDIN_MAX_ATTEMPTS": "2",
                "ALADDIN_GROUPS": "BIG6, OPNIC",
                "ALADDIN_BENCHMARKS": "BIG6=BM-AGG",
                "ALADDIN_ACCOUNT_CODE": "42",
                "ALADDIN_PRICING_GROUP": "UNIV",
            }
        )
        assert config.base_url == "https://acme.blackrock.com"
        assert config.resolved_token_url == "https://acme.blackrock.com/api/oauth2/default/v1/token"
        assert config.scopes == ("a", "b", "c")
        assert config.timeout.read == 12
        assert (config.rate_limit, config.cache_ttl, config.max_attempts) == (50, 0, 2)
        assert config.groups == ("BIG6", "OPNIC")
        assert config.benchmarks == {"BIG6": "BM-AGG"}

    @pytest.mark.parametrize(
        "env",
        [
            {},
            {"ALADDIN_HOST": "h"},
            {"ALADDIN_HOST": "h", "ALADDIN_API_KEY": "k"},
            {"ALADDIN_HOST": "h", "ALADDIN_API_KEY": "k", "ALADDIN_CLIENT_ID": "c"},
            {
                "ALADDIN_HOST": "h",
                "ALADDIN_API_KEY": "k",
                "ALADDIN_USERNAME": "u",
                "ALADDIN_PASSWORD": "p",
                "ALADDIN_RATE_LIMIT": "fast",
            },
        ],
    )
    def test_refuses(self, env: dict[str, str]) -> None:
        """Missing host, key or credentials, and bad numbers, are refused."""
        with pytest.raises(AladdinConfigError):
            AladdinConfig.from_env(env)


class TestAsync:
    """The async client gives the same answers as the sync one."""

    @pytest.mark.anyio
    async def test_round_trip(self) -> None:
        """Accounts, a security and an order over the async client."""
        mock = MockAladdin()
        handler = AladdinMockHandler(mock, page_size=7)
        config = handler.config("http://aladdin.test", rate_limit=1e6, backoff_initial=0.001)
        handler.script("ladders:filter", 503)
        async with AsyncAladdinClient(config, transport=httpx.MockTransport(handler)) as client:
            table = await client.accounts("OPNIC", SEC)
            assert (await client.groups()) == mock.groups()
            assert (await client.security(SEC)) == mock.security(SEC)
            posted = await client.post_order(_ticket("a-1"))
            assert (await client.find_order("a-1")) == posted
            handler.expire_tokens()
            cancelled = await client.cancel_order(posted.order_id, "r")
            assert cancelled.status == "CANCELLED"
            assert client.stats.retries == 1
        assert_tables_equal(table, mock.accounts("OPNIC", SEC), SEC)
        assert handler.problems == []
