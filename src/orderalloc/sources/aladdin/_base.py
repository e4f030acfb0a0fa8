"""What `AladdinClient` and `AsyncAladdinClient` share: everything but the I/O.

Each public operation is written once here as a *plan*: a generator that
yields what it needs (a `Call`, a list of independent `Call` s, or a `Sleep`)
and receives the parsed JSON answers. The sync client drives a plan with
``httpx.Client`` and ``time.sleep``; the async client with
``httpx.AsyncClient``, ``asyncio.gather`` and ``asyncio.sleep``. Request
building, retry policy, rate limiting, caching and response parsing live here
so the two clients cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Generator, Mapping, Sequence
from typing import Any, TypeVar

import attrs
import httpx
import numpy as np
import tenacity

from orderalloc.model import AccountTable, Security, Side
from orderalloc.sources.orders import (
    ComplianceViolation,
    OrderLine,
    OrderStatus,
    OrderTicket,
    PostedOrder,
    WhatIfReport,
)
from orderalloc.sources.trades import BookedTrade, Execution, TradeLine, TradeStatus, TradeTicket

from . import converter as wire
from .config import AladdinConfig
from .errors import (
    AladdinAPIError,
    AladdinAuthError,
    AladdinConfigError,
    AladdinNotFoundError,
    AladdinOperationTimeoutError,
    AladdinOutcomeUnknownError,
    AladdinRateLimitError,
    AladdinResponseError,
    AladdinServerError,
    AladdinTransportError,
)

logger = logging.getLogger("orderalloc.sources.aladdin")

T = TypeVar("T")

# --- API paths --------------------------------------------------------------------------------

PORTFOLIO_GROUP = "/api/portfolio/configuration/portfolio-group/v1"
CASH_LADDER = "/api/portfolio-management/cash/cash-ladder/v2"
RESTRICTED_ASSET = "/api/portfolio/configuration/restricted-asset/v1"
ACCOUNT_INFO = "/api/investment-operations/reference-data/account-info/v1"
ORDER = "/api/trading/order-management/order/v1"
TRADE = "/api/trading/trade-processing/trade/v2"
POSITIONS = "/api/portfolio-mgmt/positions/v1/position"
SECURITY_ANALYTICS = "/api/portfolio-mgmt/security-analytics/v2/assets"
SECURITY_MASTER = "/api/reference-data/securities/v1/security-master"
TOKEN_PATH = "/api/oauth2/default/v1/token"

REQUEST_ID = "VND.com.blackrock.Request-ID"
ORIGIN_TIMESTAMP = "VND.com.blackrock.Origin-Timestamp"
API_KEY = "VND.com.blackrock.API-Key"

#: HTTP statuses a read is retried on (BlackRock's SDK retries the same ones).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: ``orders:batchPost`` takes at most this many orders per request.
BATCH_POST_MAX = 1000

_SEVERITY_PREFIX = "COMPLIANCE_SEVERITY_"


# --- plan instructions ------------------------------------------------------------------------


@attrs.frozen
class Call:
    """One HTTP exchange a plan needs.

    Args:
        method: ``GET`` or ``POST``.
        path: The path below the base URL.
        params: Query parameters, in order (keys may repeat).
        body: The JSON body.
        write: True for requests that change state: never retried once sent.
        cache: Whether the answer may be served from and stored in the cache.
        fresh: Skip the cache lookup (the answer is still stored).
    """

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: Any = None
    write: bool = False
    cache: bool = True
    fresh: bool = False

    def cache_key(self) -> str:
        """A key that identifies the request's meaning (not its headers)."""
        return json.dumps([self.method, self.path, self.params, self.body], sort_keys=True)


@attrs.frozen
class Answered:
    """What an exchange gives the driver: the decoded JSON and where it came from.

    The plan sees only *data*; when structuring it fails, the driver names the
    request (`fill_context`).
    """

    data: Any
    path: str
    request_id: str | None
    status: int | None


def fill_context(exc: AladdinResponseError, answers: Sequence[Answered]) -> None:
    """Name the request(s) and status behind a shape error raised while structuring.

    Plans structure answers without their headers; the driver knows which
    answers the plan had just received: the ones for the error's path.
    """
    if exc.request_id is not None:
        return
    mine = [a for a in answers if a.path == exc.path] or list(answers)
    ids = [a.request_id for a in mine if a.request_id is not None]
    if ids:
        exc.request_id = ", ".join(dict.fromkeys(ids))
    statuses = {a.status for a in mine if a.status is not None}
    if exc.status is None and len(statuses) == 1:
        exc.status = statuses.pop()


@attrs.frozen
class Sleep:
    """A plan asks its driver to wait (between polls of a long-running operation)."""

    seconds: float


Step = Call | list[Call] | Sleep
Plan = Generator[Step, Any, T]


# --- rate limiter, cache, statistics -----------------------------------------------------------


class RateLimiter:
    """A token bucket shared by every thread (and task) of one client.

    Implemented as GCRA (the generic cell rate algorithm): a request takes a
    slot only at the moment it is allowed to go (never a slot reserved for
    later, which late senders could bunch up), so that across all threads and
    tasks at most ``burst + rate * t`` requests start in any ``t`` seconds.

    Args:
        per_minute: Sustained requests per minute.
        burst: Requests that may go back to back.
    """

    def __init__(self, per_minute: float, burst: int = 1) -> None:
        self.interval = 60.0 / per_minute
        self.tolerance = (burst - 1) * self.interval
        self._tat = 0.0  # theoretical arrival time of the next request
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        """Take a slot now and return 0, or return the seconds to wait before trying again."""
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat, now)
            wait = tat - self.tolerance - now
            if wait > 0:
                return wait
            self._tat = tat + self.interval
            return 0.0

    def acquire(self) -> None:
        """Block the calling thread until it holds a slot."""
        while (wait := self.try_acquire()) > 0:
            time.sleep(wait)


class TTLCache:
    """Parsed answers of reads, each kept *ttl* seconds; thread-safe."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` for a live entry, else ``(False, None)``."""
        if self.ttl <= 0:
            return False, None
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return False, None
            if item[0] < time.monotonic():
                del self._items[key]
                return False, None
            return True, item[1]

    def put(self, key: str, value: Any) -> None:
        """Store *value* for *ttl* seconds."""
        if self.ttl <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()


@attrs.define
class ClientStats:
    """Counters of one client (thread-safe increments through `add`).

    Attributes:
        requests: HTTP requests sent (token requests included).
        retries: Attempts beyond the first.
        cache_hits: Reads answered from the cache.
        token_refreshes: OAuth tokens fetched.
        statuses: Answers by HTTP status.
    """

    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    token_refreshes: int = 0
    statuses: dict[int, int] = attrs.Factory(dict)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False, eq=False)

    def add(self, name: str, n: int = 1) -> None:
        """Increase counter *name* by *n*."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def status(self, code: int) -> None:
        """Count one answer with HTTP status *code*."""
        with self._lock:
            self.statuses[code] = self.statuses.get(code, 0) + 1


# --- the OAuth token --------------------------------------------------------------------------


@attrs.define
class Token:
    """A bearer token and when to stop using it (refreshed a little early)."""

    value: str = attrs.field(repr=False)
    refresh_at: float

    @classmethod
    def from_answer(cls, answer: wire.OAuthToken) -> Token:
        """Refresh 10% (at most 60 s) before the token expires."""
        lifetime = max(0.0, float(answer.expires_in))
        return cls(answer.access_token, time.monotonic() + lifetime - min(60.0, 0.1 * lifetime))

    @property
    def fresh(self) -> bool:
        """Whether the token is still good to use."""
        return time.monotonic() < self.refresh_at


# --- errors from answers ------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = dt.datetime.strptime(raw, "%a, %d %b %Y %H:%M:%S GMT").replace(
            tzinfo=dt.timezone.utc
        )
    except ValueError:
        return None
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def error_from_response(
    response: httpx.Response, *, request_id: str, path: str, write: bool
) -> AladdinAPIError:
    """The typed error for a non-2xx *response*.

    Reads the body as the older ``{"code": "...", "message": "..."}`` shape
    or as an ``rpcStatus`` (``code`` a ``google.rpc.Code`` number). A write
    that meets a 5xx gets `AladdinOutcomeUnknownError`: it may have been applied.
    """
    status = response.status_code
    code: int | str | None = None
    message = response.reason_phrase or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        nested = body.get("error")
        inner: Mapping[str, Any] = nested if isinstance(nested, Mapping) else body
        raw_code = inner.get("code")
        if isinstance(raw_code, (int, str)) and not isinstance(raw_code, bool):
            code = raw_code
        if isinstance(inner.get("message"), str):
            message = inner["message"]
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "message": message,
        "request_id": request_id,
        "path": path,
        "retry_after": _retry_after(response),
    }
    if status in (401, 403):
        return AladdinAuthError(**kwargs)
    if status == 404:
        return AladdinNotFoundError(**kwargs)
    if status == 429:
        return AladdinRateLimitError(**kwargs)
    if status >= 500:
        if write:
            kwargs["message"] = (
                f"{message}; the write may have been applied: look the order up before retrying"
            )
            return AladdinOutcomeUnknownError(**kwargs)
        return AladdinServerError(**kwargs)
    return AladdinAPIError(**kwargs)


class NotSentError(Exception):
    """Internal: the request never left the client (safe to retry even a write)."""

    def __init__(self, error: AladdinTransportError) -> None:
        self.error = error
        super().__init__(str(error))


def is_retryable(exc: BaseException, call: Call) -> bool:
    """Whether *call* may be sent again after *exc*.

    Reads: 429, 500, 502, 503, 504, connection errors, timeouts and answers
    that are not JSON. Writes: only when the request was never sent.
    """
    if isinstance(exc, NotSentError):
        return True
    if call.write:
        return False
    if isinstance(exc, (AladdinRateLimitError, AladdinServerError)):
        return exc.status in RETRY_STATUSES
    return isinstance(exc, (AladdinTransportError, AladdinResponseError))


class _Wait(tenacity.wait.wait_base):
    """Exponential backoff with full jitter, or the server's ``Retry-After``."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._jitter = tenacity.wait_random_exponential(multiplier=initial, max=maximum)
        self._max = maximum

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, (int, float)):
            return float(min(retry_after, self._max))
        return float(self._jitter(retry_state))


def retry_kwargs(config: AladdinConfig, call: Call, stats: ClientStats) -> dict[str, Any]:
    """The tenacity arguments for *call* (shared by `Retrying` and `AsyncRetrying`)."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        stats.add("retries")
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.info(
            "retrying %s %s after %s (attempt %d, waiting %.2f s)",
            call.method,
            call.path,
            type(exc).__name__,
            state.attempt_number,
            state.upcoming_sleep,
        )

    return {
        "retry": tenacity.retry_if_exception(lambda exc: is_retryable(exc, call)),
        "stop": tenacity.stop_after_attempt(config.max_attempts)
        | tenacity.stop_before_delay(config.max_retry_time),
        "wait": _Wait(config.backoff_initial, config.backoff_max),
        "before_sleep": before_sleep,
        "reraise": True,
    }


# --- the shared base ----------------------------------------------------------------------------


def _iso_now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _severity(raw: str | None) -> str:
    if not raw:
        return "UNSPECIFIED"
    return raw[len(_SEVERITY_PREFIX) :] if raw.startswith(_SEVERITY_PREFIX) else raw


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@attrs.frozen
class _Leaf:
    ticker: str
    code: str


class AladdinBase:
    """Request building, plans and parsing shared by the sync and async clients."""

    config: AladdinConfig

    def _init_base(self, config: AladdinConfig) -> None:
        self.config = config
        self.stats = ClientStats()
        self._limiter = RateLimiter(config.rate_limit, config.rate_burst)
        self._cache = TTLCache(config.cache_ttl)
        self._token: Token | None = None
        # Aladdin's portfolio codes <-> tickers, learnt from group members.
        self._ticker_by_code: dict[str, str] = {}
        # Positions seen for securities (price, factor, trade sizes), by asset id.
        self._quotes: dict[str, wire.Position] = {}

    def __repr__(self) -> str:
        auth = "oauth2" if self.config.oauth else "basic"
        return f"{type(self).__name__}(base_url={self.config.base_url!r}, auth={auth!r})"

    @property
    def description(self) -> str:
        """A one-line, secret-free description of where the data comes from."""
        return f"Aladdin at {self.config.base_url}"

    @property
    def positions_include_open_orders(self) -> bool:
        """Whether holdings count open orders (``posType`` ``SOD+Trades+Orders``, the default).

        The desk reads it when it re-allocates a live order (`Desk.modify`): the
        order's own lines are then taken out of the holdings first, so they are
        not counted twice.
        """
        return "Orders" in self.config.pos_type

    def clear_cache(self) -> None:
        """Forget every cached read."""
        self._cache.clear()

    # --- requests ------------------------------------------------------------------------

    def _headers(self, request_id: str) -> dict[str, str]:
        headers = {
            REQUEST_ID: request_id,
            ORIGIN_TIMESTAMP: _iso_now(),
            API_KEY: self.config.api_key.get_secret_value(),
            "Accept": "application/json",
        }
        if not self.config.oauth:
            assert self.config.username is not None
            assert self.config.password is not None
            basic = httpx.BasicAuth(self.config.username, self.config.password.get_secret_value())
            headers["Authorization"] = basic._auth_header
        elif self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.value}"
        return headers

    def _token_request(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        assert self.config.client_id is not None
        assert self.config.client_secret is not None
        data = {"grant_type": "client_credentials"}
        if self.config.scopes:
            data["scope"] = " ".join(self.config.scopes)
        request_id = str(uuid.uuid4())
        headers = {
            REQUEST_ID: request_id,
            ORIGIN_TIMESTAMP: _iso_now(),
            API_KEY: self.config.api_key.get_secret_value(),
            "Accept": "application/json",
            "Authorization": httpx.BasicAuth(
                self.config.client_id, self.config.client_secret.get_secret_value()
            )._auth_header,
        }
        return client.build_request(
            "POST", self.config.resolved_token_url, data=data, headers=headers
        )

    def _parse_token(self, response: httpx.Response, request_id: str) -> Token:
        if response.status_code != 200:
            raise error_from_response(response, request_id=request_id, path=TOKEN_PATH, write=False)
        data = self._json(response, request_id=request_id, path=TOKEN_PATH)
        try:
            answer = wire.structure(data, wire.OAuthToken)
        except wire.ShapeError as exc:
            raise AladdinResponseError(str(exc), request_id=request_id, path=TOKEN_PATH) from None
        self.stats.add("token_refreshes")
        return Token.from_answer(answer)

    def _build(
        self, client: httpx.Client | httpx.AsyncClient, call: Call, request_id: str
    ) -> httpx.Request:
        return client.build_request(
            call.method,
            self.config.base_url + call.path,
            params=list(call.params) or None,
            json=call.body,
            headers=self._headers(request_id),
        )

    @staticmethod
    def _json(response: httpx.Response, *, request_id: str, path: str) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            raise AladdinResponseError(
                f"answer is not JSON ({len(response.content)} bytes)",
                request_id=request_id,
                path=path,
                status=response.status_code,
            ) from None

    def _transport_error(self, exc: httpx.HTTPError, call: Call, request_id: str) -> Exception:
        """What a transport failure becomes: retryable, or an unknown outcome for a write."""
        never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        error = AladdinTransportError(
            f"{call.method} {call.path}: {type(exc).__name__}",
            request_id=request_id,
            sent=False if never_sent else None,
        )
        if never_sent:
            return NotSentError(error)
        if call.write:
            return AladdinOutcomeUnknownError(
                status=None,
                code=None,
                message=f"{type(exc).__name__} after the request was sent; "
                "the write may have been applied: look the order up before retrying",
                request_id=request_id,
                path=call.path,
            )
        return error

    def _log(self, call: Call, status: int, elapsed: float, request_id: str) -> None:
        self.stats.status(status)
        logger.debug(
            "%s %s -> %d in %.3f s (request id %s)",
            call.method,
            call.path,
            status,
            elapsed,
            request_id,
        )

    # --- structure answers --------------------------------------------------------------

    @staticmethod
    def _structure(data: Any, cls: type[T], path: str) -> T:
        try:
            return wire.structure(data, cls)
        except wire.ShapeError as exc:
            raise AladdinResponseError(str(exc), request_id=None, path=path) from None

    @staticmethod
    def _structure_list(data: Any, cls: type[T], path: str) -> list[T]:
        if not isinstance(data, list):
            raise AladdinResponseError("expected a JSON array", request_id=None, path=path)
        try:
            return [wire.structure(item, cls) for item in data]
        except wire.ShapeError as exc:
            raise AladdinResponseError(str(exc), request_id=None, path=path) from None

    # --- plans ---------------------------------------------------------------------------

    def _members(self, group: str, fresh: bool) -> Plan[list[wire.PortfolioGroupNode]]:
        path = f"{PORTFOLIO_GROUP}/portfolioGroups/{group}/members"
        data = yield Call("GET", path, fresh=fresh)
        return self._structure(data, wire.PortfolioGroupMembers, path).nodes

    def _plan_groups(self, fresh: bool = False) -> Plan[tuple[str, ...]]:
        root = self.config.root_group
        if root is None:
            if not self.config.groups:
                raise AladdinConfigError(
                    "AladdinConfig: set root_group (ALADDIN_ROOT_GROUP) or groups (ALADDIN_GROUPS) "
                    "so that groups() knows what to list"
                )
            return tuple(sorted(self.config.groups))
        nodes = yield from self._members(root, fresh)
        return tuple(
            sorted(
                {
                    n.portfolio_ticker
                    for n in nodes
                    if n.child_portfolio_ids and n.portfolio_ticker != root
                }
            )
        )

    def _plan_leaves(self, group: str, fresh: bool) -> Plan[list[_Leaf]]:
        """The portfolios of *group*, nested groups expanded (breadth first, no repeats)."""
        leaves: dict[str, _Leaf] = {}
        seen = {group}
        queue = [group]
        while queue:
            current = queue.pop(0)
            nodes = yield from self._members(current, fresh)
            for node in nodes:
                ticker = node.portfolio_ticker
                if ticker == current:
                    continue
                if node.child_portfolio_ids:
                    if ticker not in seen:
                        seen.add(ticker)
                        queue.append(ticker)
                    continue
                code = str(node.portfolio_id) if node.portfolio_id is not None else ticker
                self._ticker_by_code[code] = ticker
                leaves.setdefault(ticker, _Leaf(ticker, code))
        if not leaves:
            raise AladdinNotFoundError(
                status=None,
                code=None,
                message=f"group {group!r} has no portfolios",
                request_id=None,
                path=f"{PORTFOLIO_GROUP}/portfolioGroups/{group}/members",
            )
        return list(leaves.values())

    def _positions_call(self, port_group: str, fresh: bool) -> Call:
        return Call(
            "GET",
            POSITIONS,
            params=(("portGroup", port_group), ("posType", self.config.pos_type)),
            fresh=fresh,
        )

    def _positions(self, data: Any) -> list[wire.Position]:
        if not isinstance(data, list):
            raise AladdinResponseError(
                "expected a JSON array of positions", request_id=None, path=POSITIONS
            )
        out: list[wire.Position] = []
        for i, item in enumerate(data):
            try:
                out.append(wire.structure(item, wire.Position))
            except wire.ShapeError as exc:
                who = item if isinstance(item, Mapping) else {}
                text = str(exc)
                for a in attrs.fields(wire.Position):  # say the JSON names
                    text = text.replace(f"$.{a.name}", f"$.{wire.wire_name(a.name)}")
                raise AladdinResponseError(
                    f"position {i} (portfolio {who.get('portfolioName')!r}, asset "
                    f"{who.get('assetId')!r}): {text}",
                    request_id=None,
                    path=POSITIONS,
                ) from None
        return out

    def _paged(
        self,
        path: str,
        body: dict[str, Any],
        cls: type[Any],
        attr: str,
        fresh: bool,
        *,
        cache: bool = True,
    ) -> Plan[list[Any]]:
        """Every item of a paged ``:filter`` list, following ``nextPageToken``."""
        items: list[Any] = []
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            page = dict(body)
            page["pageSize"] = self.config.page_size
            if token:
                page["pageToken"] = token
            data = yield Call("POST", path, body=page, fresh=fresh, cache=cache)
            answer = self._structure(data, cls, path)
            items.extend(getattr(answer, attr))
            token = answer.next_page_token
            if not token:
                return items
            if token in seen_tokens:
                raise AladdinResponseError(
                    "nextPageToken repeats: paging would not end", request_id=None, path=path
                )
            seen_tokens.add(token)

    def _plan_accounts(
        self, group: str, security_id: str, fresh: bool = False
    ) -> Plan[AccountTable]:
        leaves = yield from self._plan_leaves(group, fresh)
        tickers = [leaf.ticker for leaf in leaves]
        today = dt.date.today()
        calls: list[Call] = []
        for chunk in _chunks(tickers, self.config.cash_batch):
            body = {
                "cashLadderQuery": {"portfolioGroupTickers": chunk, "cashDate": today.isoformat()}
            }
            calls.append(Call("POST", f"{CASH_LADDER}/ladders:filter", body=body, fresh=fresh))
        n_cash = len(calls)
        for chunk in _chunks(tickers, self.config.positions_batch):
            calls.append(self._positions_call(",".join(chunk), fresh))
        benchmark = self.config.benchmarks.get(group)
        if benchmark is not None:
            calls.append(self._positions_call(benchmark, fresh))
        answers = yield calls
        ladders = [
            ladder
            for data in answers[:n_cash]
            for ladder in self._structure(
                data, wire.CashLadder, f"{CASH_LADDER}/ladders:filter"
            ).portfolio_currency_ladders
        ]
        n_pos = len(answers) - n_cash - (benchmark is not None)
        positions = [p for data in answers[n_cash : n_cash + n_pos] for p in self._positions(data)]
        bench_positions = self._positions(answers[-1]) if benchmark is not None else None

        infos: list[wire.AccountInfo] = yield from self._paged(
            f"{ACCOUNT_INFO}/accountInfos:filter",
            {"query": {"ids": [leaf.code for leaf in leaves]}},
            wire.FilterAccountInfosResponse,
            "account_infos",
            fresh,
        )
        restricted: list[wire.RestrictedAsset] = yield from self._paged(
            f"{RESTRICTED_ASSET}/restrictedAssets:filter",
            {"query": {"cusip": security_id}},
            wire.FilterRestrictedAssetsResponse,
            "restricted_assets",
            fresh,
        )
        return self._table(
            group,
            security_id,
            leaves,
            ladders,
            positions,
            bench_positions,
            infos,
            restricted,
            today,
        )

    def _table(
        self,
        group: str,
        security_id: str,
        leaves: list[_Leaf],
        ladders: list[wire.PortfolioCurrencyLadder],
        positions: list[wire.Position],
        bench_positions: list[wire.Position] | None,
        infos: list[wire.AccountInfo],
        restricted: list[wire.RestrictedAsset],
        today: dt.date,
    ) -> AccountTable:
        n = len(leaves)
        row = {leaf.ticker: i for i, leaf in enumerate(leaves)}
        row_by_code = {leaf.code: i for i, leaf in enumerate(leaves)}
        nav = np.full(n, np.nan)
        cash = np.full(n, np.nan)
        for ladder in ladders:
            i = row.get(ladder.portfolio_ticker or "")
            if i is None:
                continue
            base = ladder.portfolio_base_currency_code
            if base and ladder.cash_balance_security_currency_code not in (None, base):
                continue  # a foreign-currency ladder: base cash only
            value = _finite(ladder.intraday_nav) or _finite(ladder.sod_nav)
            if value is not None:
                nav[i] = value
            balances = [
                b.cash_balance
                for b in ladder.settle_date_balances
                if _finite(b.cash_balance) is not None
            ]
            if balances:
                # The ladder projects cash by settle date: the lowest projection is what a
                # buy can spend without overdrawing the account on any date.
                cash[i] = min(balances)  # type: ignore[type-var]
        holding = np.zeros(n)
        mv_sd = np.zeros(n)
        mv_oad = np.zeros(n)
        mv_oas = np.zeros(n)
        nav_from_positions = np.full(n, np.nan)
        for p in positions:
            i = row.get(p.portfolio_name)
            if i is None:
                continue
            if p.asset_id == security_id:
                holding[i] += p.pos_quantity
                self._quotes[p.asset_id] = p
            mv = p.mkt_value or 0.0
            mv_sd[i] += mv * (p.spread_dur or 0.0)
            mv_oad[i] += mv * (p.oad or 0.0)
            mv_oas[i] += mv * (p.oas or 0.0)
            pnav = _finite(p.portfolio_n_a_v_computed) or _finite(p.portfolio_n_a_v)
            if pnav is not None:
                nav_from_positions[i] = pnav
        missing = np.isnan(nav)
        nav[missing] = nav_from_positions[missing]
        if np.isnan(nav).any():
            bad = leaves[int(np.flatnonzero(np.isnan(nav))[0])].ticker
            raise AladdinResponseError(
                f"no NAV for portfolio {bad!r} in the cash ladder or the positions",
                request_id=None,
                path=f"{CASH_LADDER}/ladders:filter",
            )
        metrics = {
            "spread_duration": mv_sd / nav,
            "duration": mv_oad / nav,
            "oas": mv_oas / nav,
        }
        if bench_positions is not None:
            metrics["active_spread_duration"] = metrics["spread_duration"] - self._benchmark_sd(
                bench_positions
            )
        blocked = np.zeros(n, dtype=bool)
        for asset in restricted:
            if asset.cusip != security_id or asset.id is None:
                continue
            if asset.state == "RESTRICTED_ASSET_STATE_NO":
                continue
            if asset.end_date and asset.end_date < today.isoformat():
                continue
            i = row_by_code.get(asset.id.portfolio_id, row.get(asset.id.portfolio_id))
            if i is not None:
                blocked[i] = True
        names: list[str | None] = [None] * n
        for info in infos:
            i = row_by_code.get(info.id or "")
            if i is not None:
                names[i] = info.full_name or info.short_name
        ids: tuple[str, ...] = tuple(leaf.ticker for leaf in leaves)
        return AccountTable(
            ids=ids,
            nav=nav,
            cash=cash,
            holdings={security_id: holding},
            metrics=metrics,
            restricted={security_id: blocked},
            names=tuple(names),
        )

    @staticmethod
    def _benchmark_sd(positions: list[wire.Position]) -> float:
        total = math.fsum((p.mkt_value or 0.0) for p in positions)
        navs = [_finite(p.portfolio_n_a_v) for p in positions]
        bench_nav = next((v for v in navs if v), None) or total
        if not bench_nav:
            return 0.0
        return (
            math.fsum((p.mkt_value or 0.0) * (p.spread_dur or 0.0) for p in positions) / bench_nav
        )

    # --- securities ----------------------------------------------------------------------

    def _plan_quotes(self, fresh: bool) -> Plan[dict[str, wire.Position]]:
        """Positions that price securities: the pricing group's, else those seen so far."""
        if self.config.pricing_group is None:
            return dict(self._quotes)
        data = yield self._positions_call(self.config.pricing_group, fresh)
        quotes: dict[str, wire.Position] = {}
        for p in self._positions(data):
            # A malformed price is kept too: the security then names it (not "not found").
            if p.price is not None or p.price_as_pct is not None or "price" in p.malformed:
                quotes.setdefault(p.asset_id, p)
        return quotes

    def _reference_calls(self, asset_ids: Sequence[str], fresh: bool) -> list[Call]:
        params = tuple(("assetId", a) for a in asset_ids)
        return [
            Call("GET", SECURITY_ANALYTICS, params=params, fresh=fresh),
            Call("GET", SECURITY_MASTER, params=params, fresh=fresh),
        ]

    def _plan_security(self, security_id: str, fresh: bool = False) -> Plan[Security]:
        quotes = yield from self._plan_quotes(fresh)
        quote = quotes.get(security_id) or self._quotes.get(security_id)
        if quote is None:
            raise AladdinNotFoundError(
                status=None,
                code=None,
                message=f"no price for security {security_id!r}: it is in no loaded group's "
                "positions; set AladdinConfig.pricing_group",
                request_id=None,
                path=POSITIONS,
            )
        analytics, master = yield self._reference_calls([security_id], fresh)
        securities = self._securities([quote], analytics, master)
        return securities[0]

    def _plan_search(
        self, query: str, limit: int, fresh: bool = False
    ) -> Plan[tuple[Security, ...]]:
        needle = query.strip().upper()
        if not needle or limit <= 0:
            return ()
        quotes = yield from self._plan_quotes(fresh)
        merged = {**self._quotes, **quotes}
        matches = sorted(
            (
                q
                for q in merged.values()
                if q.asset_id.upper().startswith(needle)
                or (q.issuer_ticker or "").upper() == needle
            ),
            key=lambda q: q.asset_id,
        )[:limit]
        if not matches:
            return ()
        analytics, master = yield self._reference_calls([q.asset_id for q in matches], fresh)
        return tuple(self._securities(matches, analytics, master))

    def _securities(
        self, quotes: list[wire.Position], analytics: Any, master: Any
    ) -> list[Security]:
        risk = self._structure(analytics, wire.SecurityAnalyticsResponse, SECURITY_ANALYTICS)
        records = master if isinstance(master, list) else [master]
        static = {
            r.asset_id: r
            for r in self._structure_list(records, wire.SecurityMasterRecord, SECURITY_MASTER)
        }
        out = []
        for q in quotes:
            entry = risk.risk_by_asset_id.get(q.asset_id)
            if entry is None:
                why = risk.errors.get(q.asset_id, "missing from riskByAssetId")
                raise AladdinNotFoundError(
                    status=None,
                    code=None,
                    message=f"no analytics for {q.asset_id!r}: {why}",
                    request_id=None,
                    path=SECURITY_ANALYTICS,
                )
            ra = entry.risk_by_currency.get("ALL") or next(
                iter(entry.risk_by_currency.values()), wire.RiskAnalytics()
            )
            out.append(self._security(q, ra, static.get(q.asset_id)))
        return out

    @staticmethod
    def _security(
        q: wire.Position, ra: wire.RiskAnalytics, master: wire.SecurityMasterRecord | None
    ) -> Security:
        needed = ["price" if q.price is None else "", "factor", "curPar"]
        needed += ["priceAsPct" if q.price is None else "", "minTradeSize", "minTradeIncrement"]
        bad = [name for name in needed if name and name in q.malformed]
        if bad:
            raise AladdinResponseError(
                f"security {q.asset_id!r} (position of portfolio {q.portfolio_name!r}): "
                f"malformed {', '.join(bad)}",
                request_id=None,
                path=POSITIONS,
            )
        price = q.price if q.price is not None else q.price_as_pct
        assert price is not None
        factor = q.factor
        if factor is None and q.cur_par is not None and q.pos_quantity:
            factor = q.cur_par / q.pos_quantity
        factor = factor or 1.0
        accrued = 0.0
        if q.mkt_value is not None and q.cur_par:
            # mktValue = price/100 x current face + accrued: accrued in points per 100
            # of current face.
            accrued = max(0.0, round(q.mkt_value / q.cur_par * 100.0 - price, 8))
        analytics = {
            "spread_duration": ra.spread_duration
            if ra.spread_duration is not None
            else q.spread_dur,
            "duration": ra.oad if ra.oad is not None else q.oad,
            "modified_duration": ra.modified_duration
            if ra.modified_duration is not None
            else q.mod_dur,
            "oas": ra.oas if ra.oas is not None else q.oas,
            "convexity": ra.convexity,
            "ytw": ra.yield_to_worst,
            "z_spread": ra.z_spread,
        }
        return Security(
            id=q.asset_id,
            price=price,
            min_piece=q.min_trade_size or 1_000.0,
            increment=q.min_trade_increment or 1_000.0,
            accrued=accrued,
            factor=factor,
            analytics={k: v for k, v in analytics.items() if v is not None and math.isfinite(v)},
            name=master.description if master is not None else None,
            ticker=q.issuer_ticker,
            asset_class=q.sec_group,
        )

    # --- orders --------------------------------------------------------------------------

    def _order_body(self, ticket: OrderTicket, order_id: str | None = None) -> dict[str, Any]:
        reference: dict[str, Any] = {"externalId1": ticket.external_id}
        if self.config.account_code is not None:
            reference["accountCode"] = self.config.account_code
        order: dict[str, Any] = {
            "assetId": ticket.security_id,
            "transactionType": ticket.side.value,
            "face": ticket.quantity,
            "externalOrderReference": reference,
            "orderDetails": [
                {
                    "portfolioReference": {"portfolioTicker": line.account_id},
                    "quantity": line.quantity,
                }
                for line in ticket.lines
            ],
        }
        if order_id is not None:
            order["id"] = order_id  # "Request treated as an update when order number is specified"
        if ticket.settle_date is not None:
            order["settleDate"] = ticket.settle_date.isoformat()
        if ticket.comment:
            order["orderComments"] = [
                {"orderCommentKey": "General", "orderCommentValue": ticket.comment}
            ]
        return order

    def _posted(self, order: wire.Order | None, path: str) -> PostedOrder:
        if order is None or not order.id:
            raise AladdinResponseError("the answer holds no order", request_id=None, path=path)
        lines = []
        for detail in order.order_details:
            ref = detail.portfolio_reference
            account = None
            if ref is not None:
                account = ref.portfolio_ticker or self._ticker_by_code.get(
                    ref.portfolio_id or "", ref.portfolio_id
                )
            if account and detail.quantity > 0:
                lines.append(OrderLine(account, detail.quantity))
        quantity = (
            order.face if order.face is not None else math.fsum(line.quantity for line in lines)
        )
        external = (
            order.external_order_reference.external_id1 if order.external_order_reference else None
        )
        return PostedOrder(
            order_id=order.id,
            external_id=external,
            security_id=order.asset_id or "",
            side=Side(order.transaction_type.upper()) if order.transaction_type else Side.BUY,
            quantity=quantity,
            lines=tuple(lines),
            status=OrderStatus.normalise(order.order_status),
            version=order.version if order.version is not None else 1,
        )

    @staticmethod
    def _rpc_error(error: wire.RpcStatus, path: str) -> AladdinAPIError:
        kwargs: dict[str, Any] = {
            "status": None,
            "code": error.code,
            "message": error.message or "order refused",
            "request_id": None,
            "path": path,
        }
        if error.code == 5:  # google.rpc.Code.NOT_FOUND
            return AladdinNotFoundError(**kwargs)
        return AladdinAPIError(**kwargs)

    def _first_result(self, data: Any, path: str) -> wire.PostOrderResponse:
        answer = self._structure(data, wire.SinglePostOrderResponse, path)
        if not answer.results:
            raise AladdinResponseError("no results in the answer", request_id=None, path=path)
        result = answer.results[0]
        if result.error is not None and result.output is None:
            raise self._rpc_error(result.error, path)
        if result.output is None:
            raise AladdinResponseError(
                "a result with neither output nor error", request_id=None, path=path
            )
        return result.output

    def _plan_what_if(self, ticket: OrderTicket) -> Plan[WhatIfReport]:
        path = f"{ORDER}/order:post"
        body = {
            "postOrderConfig": {"whatIf": True, "runCompliance": True},
            "order": self._order_body(ticket),
        }
        # What-if books nothing, so it is as safe to retry as a read; it is never cached.
        data = yield Call("POST", path, body=body, write=False, cache=False)
        output = self._first_result(data, path)
        return WhatIfReport(tuple(self._violation(v) for v in output.compliance_violations))

    def _violation(self, v: wire.Violation) -> ComplianceViolation:
        account = None
        if v.portfolio_id is not None:
            account = self._ticker_by_code.get(v.portfolio_id, v.portfolio_id)
        return ComplianceViolation(
            account_id=account,
            rule=v.rule_id or v.rule_assignment_name or "UNKNOWN",
            message=v.violation_description or v.violation_detail or "",
            severity=_severity(v.compliance_severity),
        )

    def _plan_post(self, ticket: OrderTicket, order_id: str | None = None) -> Plan[PostedOrder]:
        path = f"{ORDER}/order:post"
        body = {
            "postOrderConfig": {"whatIf": False, "runCompliance": True},
            "order": self._order_body(ticket, order_id),
        }
        data = yield Call("POST", path, body=body, write=True, cache=False)
        return self._posted(self._first_result(data, path).order, path)

    def _plan_find(self, external_id: str) -> Plan[PostedOrder | None]:
        if self.config.account_code is None:
            raise AladdinConfigError(
                "find_order needs AladdinConfig.account_code (ALADDIN_ACCOUNT_CODE): "
                "Aladdin filters external ids per account code"
            )
        query = {
            "externalIdCriterion": {
                "externalId1": external_id,
                "accountCode": self.config.account_code,
            }
        }
        orders: list[wire.Order] = yield from self._paged(
            f"{ORDER}/orders:filter",
            {"query": query},
            wire.FilterOrdersResponse,
            "orders",
            True,
            cache=False,
        )
        found = [self._posted(o, f"{ORDER}/orders:filter") for o in orders]
        found = [o for o in found if o.external_id in (None, external_id)]
        if not found:
            return None
        return max(found, key=lambda o: (o.is_live, _order_number(o.order_id), o.version))

    def _plan_get(self, order_id: str) -> Plan[PostedOrder]:
        path = f"{ORDER}/orders:filter"
        query = {"orderIdCriterion": {"ids": [order_id]}}
        orders: list[wire.Order] = yield from self._paged(
            path, {"query": query}, wire.FilterOrdersResponse, "orders", True, cache=False
        )
        for order in orders:
            if order.id == order_id:
                return self._posted(order, path)
        raise AladdinNotFoundError(
            status=None, code=None, message=f"no order {order_id!r}", request_id=None, path=path
        )

    def _plan_cancel(self, order_id: str, reason: str) -> Plan[PostedOrder]:
        path = f"{ORDER}/order:cancel"
        body = {
            "orderId": order_id,
            "orderComments": [{"orderCommentKey": "General", "orderCommentValue": reason}],
        }
        data = yield Call("POST", path, body=body, write=True, cache=False)
        answer = self._structure(data, wire.CancelOrderResponse, path)
        if not answer.results:
            raise AladdinResponseError("no results in the answer", request_id=None, path=path)
        result = answer.results[0]
        if result.error is not None and result.output is None:
            raise self._rpc_error(result.error, path)
        return self._posted(result.output, path)

    def _plan_post_many(self, tickets: Sequence[OrderTicket]) -> Plan[tuple[PostedOrder, ...]]:
        """``orders:batchPost`` in chunks of at most 1,000, each a long-running operation."""
        posted: list[PostedOrder] = []
        path = f"{ORDER}/orders:batchPost"
        for chunk in _chunks(list(tickets), BATCH_POST_MAX):
            body = {
                "postOrderConfig": {"whatIf": False, "runCompliance": True},
                "orders": [self._order_body(t) for t in chunk],
            }
            data = yield Call("POST", path, body=body, write=True, cache=False)
            operation = self._structure(data, wire.LongrunningOperation, path)
            operation = yield from self._plan_wait(operation)
            if operation.error is not None:
                raise self._rpc_error(
                    operation.error, f"{ORDER}/longrunningoperations/{operation.id}"
                )
            response = dict(operation.response or {})
            response.pop("@type", None)
            batch = self._structure(response, wire.BatchPostOrdersResponse, path)
            for result in batch.results:
                if result.error is not None and result.output is None:
                    raise self._rpc_error(result.error, path)
                assert result.output is not None
                posted.append(self._posted(result.output.order, path))
        return tuple(posted)

    def _plan_wait(
        self, operation: wire.LongrunningOperation, api: str = ORDER
    ) -> Plan[wire.LongrunningOperation]:
        """Poll *api*'s ``longrunningoperations/{id}`` until done (backing off to 5 s)."""
        start = time.monotonic()
        interval = self.config.lro_poll_interval
        while not operation.done:
            if not operation.id:
                raise AladdinResponseError(
                    "a long-running operation without an id", request_id=None, path=ORDER
                )
            waited = time.monotonic() - start
            if waited + interval > self.config.lro_timeout:
                raise AladdinOperationTimeoutError(operation.id, waited)
            yield Sleep(interval)
            interval = min(interval * 1.5, 5.0)
            path = f"{api}/longrunningoperations/{operation.id}"
            data = yield Call("GET", path, cache=False)
            operation = self._structure(data, wire.LongrunningOperation, path)
        return operation

    # --- trades (TradeAPI) ---------------------------------------------------------------

    def _plan_trades(self, security_id: str, trade_date: str) -> Plan[list[wire.BlockTrade]]:
        """Every block trade in *security_id* on *trade_date*, external references loaded."""
        query = {
            "criteria": {
                "asset": {"assetIds": [security_id]},
                "dateTime": {"tradeDate": trade_date},
            },
            "options": ["FILTER_QUERY_OPTION_LOAD_EXTERNAL_TRADE_REFERENCE"],
        }
        blocks: list[wire.BlockTrade] = yield from self._paged(
            f"{TRADE}/trades:filter",
            {"query": query},
            wire.FilterTradesResponse,
            "block_trades",
            True,
            cache=False,
        )
        return blocks

    def _plan_fills(self, order_id: str) -> Plan[tuple[Execution, ...]]:
        """The order's executions: its blocks in ``trades:filter``, checked against ``fillAmount``.

        An execution is a block trade of the order (its trades carry the
        ``orderId``) that carries no external reference (those are allocations
        booked by a desk) and is not cancelled. When they account for less than
        the order's ``fillAmount`` (trades not visible yet), the rest is one
        more execution at the price that makes the volume-weighted average the
        order's ``averagePrice``.
        """
        path = f"{ORDER}/orders:filter"
        orders: list[wire.Order] = yield from self._paged(
            path,
            {"query": {"orderIdCriterion": {"ids": [order_id]}}},
            wire.FilterOrdersResponse,
            "orders",
            True,
            cache=False,
        )
        order = next((o for o in orders if o.id == order_id), None)
        if order is None:
            raise AladdinNotFoundError(
                status=None, code=None, message=f"no order {order_id!r}", request_id=None, path=path
            )
        filled = order.fill_amount or 0.0
        if filled <= 0 or not order.asset_id:
            return ()
        trade_date = order.trade_date or dt.date.today().isoformat()
        blocks = yield from self._plan_trades(order.asset_id, trade_date)
        out: list[Execution] = []
        for block in blocks:
            mine = [t for t in block.trades if t.order_id == order_id]
            booked = any(
                r.external_invnum1 for t in block.trades for r in t.external_trade_references
            )
            cancelled = TradeStatus.from_wire(block.status) == TradeStatus.CANCELLED
            if not mine or booked or cancelled or block.price is None:
                continue
            quantity = math.fsum(t.quantity for t in mine)
            if quantity <= 0:
                continue
            out.append(
                Execution(
                    order_id=order_id,
                    execution_id=str(mine[0].invnum),
                    quantity=quantity,
                    price=block.price,
                    time=_parse_time(block.execution_time),
                )
            )
        out.sort(key=lambda e: (e.time is None, e.time or _EPOCH, e.execution_id))
        seen = math.fsum(e.quantity for e in out)
        rest = filled - seen
        if rest > 0.5:
            average = order.average_price
            if average is None or not math.isfinite(average):
                raise AladdinResponseError(
                    f"order {order_id}: fillAmount {filled:,.0f} but its trades hold "
                    f"{seen:,.0f} and it has no averagePrice",
                    request_id=None,
                    path=path,
                )
            price = (filled * average - math.fsum(e.quantity * e.price for e in out)) / rest
            if not math.isfinite(price) or price <= 0:
                raise AladdinResponseError(
                    f"order {order_id}: its trades do not reconcile with fillAmount "
                    f"{filled:,.0f} at averagePrice {average}",
                    request_id=None,
                    path=path,
                )
            out.append(
                Execution(
                    order_id=order_id,
                    execution_id=f"{order_id}-unreported",
                    quantity=rest,
                    price=round(price, 8),
                )
            )
        elif rest < -0.5:
            logger.warning(
                "order %s: its trades hold %s face, more than its fillAmount %s",
                order_id,
                seen,
                filled,
            )
        return tuple(out)

    def _trade_reference(self, external_id: str) -> dict[str, Any]:
        reference: dict[str, Any] = {"externalInvnum1": external_id}
        if self.config.account_code is not None:
            reference["accountCode"] = self.config.account_code
        return reference

    def _block_body(self, ticket: TradeTicket) -> dict[str, Any]:
        reference = self._trade_reference(ticket.external_id)
        trades = []
        for line in ticket.lines:
            trade: dict[str, Any] = {
                "portfolioReference": {"portfolioTicker": line.account_id},
                "quantity": line.quantity,
                "externalTradeReferences": [reference],
            }
            if ticket.order_id is not None:
                trade["orderId"] = ticket.order_id
            if line.principal is not None:
                trade["principal"] = line.principal
            trades.append(trade)
        block: dict[str, Any] = {
            "assetReference": {"assetId": ticket.security_id},
            "transactionType": ticket.side.value,
            "price": ticket.price,
            "priceType": "PRICE_TYPE_CLEAN",
            "tradeDate": (ticket.trade_date or dt.date.today()).isoformat(),
            "trades": trades,
        }
        if ticket.settle_date is not None:
            block["settlementDate"] = ticket.settle_date.isoformat()
        return block

    def _account_of(self, ref: wire.PortfolioReference | None) -> str | None:
        if ref is None:
            return None
        return ref.portfolio_ticker or self._ticker_by_code.get(
            ref.portfolio_id or "", ref.portfolio_id
        )

    def _plan_book(self, ticket: TradeTicket) -> Plan[BookedTrade]:
        """``trades:batchPost`` of one block (a long-running operation), then wait for it."""
        path = f"{TRADE}/trades:batchPost"
        body = {"blockTrades": [self._block_body(ticket)], "config": {"mode": "POSTING_MODE_NEW"}}
        data = yield Call("POST", path, body=body, write=True, cache=False)
        operation = self._structure(data, wire.LongrunningOperation, path)
        operation = yield from self._plan_wait(operation, TRADE)
        if operation.error is not None:
            raise self._rpc_error(operation.error, f"{TRADE}/longrunningoperations/{operation.id}")
        response = dict(operation.response or {})
        response.pop("@type", None)
        batch = self._structure(response, wire.BatchPostTradesResponse, path)
        if not batch.results:
            raise AladdinResponseError("no results in the answer", request_id=None, path=path)
        result = batch.results[0]
        if result.error is not None and result.output is None:
            raise self._rpc_error(result.error, path)
        snippet = result.output
        if snippet is None or not snippet.trades or snippet.trades[0].invnum is None:
            raise AladdinResponseError("the answer holds no trade", request_id=None, path=path)
        principals = {line.account_id: line.principal for line in ticket.lines}
        lines = []
        for t in snippet.trades:
            account = self._account_of(t.portfolio_reference)
            if account and t.quantity > 0:
                lines.append(TradeLine(account, t.quantity, principals.get(account)))
        return BookedTrade(
            trade_id=str(snippet.trades[0].invnum),
            external_id=ticket.external_id,
            security_id=snippet.asset_id or ticket.security_id,
            side=ticket.side,
            price=ticket.price,
            lines=tuple(lines),
            order_id=ticket.order_id,
            trade_date=ticket.trade_date,
        )

    def _booked(self, block: wire.BlockTrade) -> BookedTrade | None:
        trades = [t for t in block.trades if t.invnum is not None]
        if not trades:
            return None
        refs = [r.external_invnum1 for t in trades for r in t.external_trade_references]
        lines = []
        for t in trades:
            account = self._account_of(t.portfolio_reference)
            if account and t.quantity > 0:
                lines.append(TradeLine(account, t.quantity, t.principal))
        asset = block.asset_reference
        return BookedTrade(
            trade_id=str(trades[0].invnum),
            external_id=next((r for r in refs if r), None),
            security_id=(asset.asset_id or asset.cusip or "") if asset is not None else "",
            side=Side(block.transaction_type.upper()) if block.transaction_type else Side.BUY,
            price=block.price if block.price is not None else math.nan,
            lines=tuple(lines),
            status=TradeStatus.from_wire(block.status),
            order_id=trades[0].order_id,
            trade_date=dt.date.fromisoformat(block.trade_date) if block.trade_date else None,
        )

    def _plan_find_trade(self, ticket: TradeTicket) -> Plan[BookedTrade | None]:
        """``trades:filter`` by asset and trade date; the blocks carrying the external id."""
        trade_date = (ticket.trade_date or dt.date.today()).isoformat()
        blocks = yield from self._plan_trades(ticket.security_id, trade_date)
        code = self.config.account_code
        found = []
        for block in blocks:
            refs = [r for t in block.trades for r in t.external_trade_references]
            if any(
                r.external_invnum1 == ticket.external_id
                and (code is None or r.account_code in (None, code))
                for r in refs
            ):
                booked = self._booked(block)
                if booked is not None:
                    found.append(booked)
        if not found:
            return None
        return max(found, key=lambda b: (b.is_active, _order_number(b.trade_id)))

    def _plan_cancel_trade(self, trade: BookedTrade) -> Plan[BookedTrade]:
        """``trades:cancel`` of the whole block (``cancelEntireBlock``)."""
        path = f"{TRADE}/trades:cancel"
        if not trade.trade_id.isdigit():
            raise AladdinNotFoundError(
                status=None,
                code=None,
                message=f"trade id {trade.trade_id!r} is not an Aladdin invnum",
                request_id=None,
                path=path,
            )
        key: dict[str, Any] = {"invnum": int(trade.trade_id)}
        if trade.lines:
            key["portfolioReference"] = {"portfolioTicker": trade.lines[0].account_id}
        body = {"tradeKey": key, "config": {"cancelEntireBlock": True}}
        data = yield Call("POST", path, body=body, write=True, cache=False)
        answer = self._structure(data, wire.CancelTradeResponse, path)
        result = answer.result
        if result is None:
            raise AladdinResponseError("no result in the answer", request_id=None, path=path)
        if result.error is not None and result.output is None:
            raise self._rpc_error(result.error, path)
        return attrs.evolve(trade, status=TradeStatus.CANCELLED)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _parse_time(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def _order_number(order_id: str) -> tuple[int, str]:
    return (int(order_id), order_id) if order_id.isdigit() else (0, order_id)
