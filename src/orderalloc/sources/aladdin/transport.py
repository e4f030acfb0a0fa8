"""The transport policy both drivers share: rate limit, cache, token, retries, status to error.

Everything here is about *one* HTTP exchange, never about what it means:
`Call` (what a plan asks for), `RateLimiter` (one budget for every thread
and task of a client), `TTLCache` (parsed answers of reads), `Token` (the
OAuth bearer token and when to refresh it), the retry rule (`is_retryable`,
`retry_kwargs`: which failures are sent again, how long to wait) and
`error_from_response` (an HTTP status and body as a typed error).
`Transport` builds and reads requests for the drivers in `.client`, which
only add the I/O (``httpx.Client`` or ``httpx.AsyncClient``).

To change a retry rule, edit `RETRY_STATUSES` and `is_retryable` (what is
retried) or `retry_kwargs` (how often and how long); both drivers use them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
import httpx
import tenacity

from . import wire
from .config import AladdinConfig
from .errors import (
    AladdinAPIError,
    AladdinAuthError,
    AladdinNotFoundError,
    AladdinOutcomeUnknownError,
    AladdinRateLimitError,
    AladdinResponseError,
    AladdinServerError,
    AladdinTransportError,
)

logger = logging.getLogger("orderalloc.sources.aladdin")

#: HTTP statuses a read is retried on (BlackRock's SDK retries the same ones).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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


# --- the transport both drivers share ----------------------------------------------------------


def _iso_now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


#: The token request, as a `Call` (for its error: never a write, never cached).
TOKEN_CALL = Call("POST", wire.TOKEN_PATH, cache=False)


class Transport:
    """Builds, authorises and reads the requests of one client; the drivers send them.

    Holds what every thread and task of the client shares: the settings, the
    counters (`ClientStats`), the rate limiter, the read cache and the token.
    """

    def __init__(self, config: AladdinConfig) -> None:
        self.config = config
        self.stats = ClientStats()
        self._limiter = RateLimiter(config.rate_limit, config.rate_burst)
        self._cache = TTLCache(config.cache_ttl)
        self._token: Token | None = None

    def clear_cache(self) -> None:
        """Forget every cached read."""
        self._cache.clear()

    # --- the cache ------------------------------------------------------------------------

    def _cached(self, call: Call) -> Answered | None:
        """The cached answer to *call*, unless it may not be or must not be served from cache."""
        if call.cache and not call.fresh:
            hit, value = self._cache.get(call.cache_key())
            if hit:
                self.stats.add("cache_hits")
                return value  # type: ignore[no-any-return]
        return None

    def _keep(self, call: Call, answered: Answered) -> Answered:
        """Store *answered* for later reads of *call* (if it is cacheable); return it."""
        if call.cache:
            self._cache.put(call.cache_key(), answered)
        return answered

    # --- requests ------------------------------------------------------------------------

    def _headers(self, request_id: str) -> dict[str, str]:
        headers = {
            wire.REQUEST_ID: request_id,
            wire.ORIGIN_TIMESTAMP: _iso_now(),
            wire.API_KEY: self.config.api_key.get_secret_value(),
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

    def _request(
        self, client: httpx.Client | httpx.AsyncClient, call: Call
    ) -> tuple[httpx.Request, str]:
        """The request for *call*, stamped and authorised now, and its request id (counted)."""
        request_id = str(uuid.uuid4())
        request = self._build(client, call, request_id)
        self.stats.add("requests")
        return request, request_id

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

    def _answer(
        self, call: Call, response: httpx.Response, request_id: str, start: float, refreshed: bool
    ) -> Answered | None:
        """*response* as an `Answered`, or None when a 401 asks for a new token (once).

        Raises:
            AladdinAPIError: A non-2xx status (the subclass says which).
            AladdinResponseError: A 2xx answer that is not JSON.
        """
        status = response.status_code
        self.stats.status(status)
        logger.debug(
            "%s %s -> %d in %.3f s (request id %s)",
            call.method,
            call.path,
            status,
            time.monotonic() - start,
            request_id,
        )
        if status == 401 and self.config.oauth and not refreshed:
            return None  # the token expired early or was revoked: fetch a new one, once
        if response.is_success:
            data = self._json(response, request_id=request_id, path=call.path)
            return Answered(data, call.path, request_id, status)
        raise error_from_response(response, request_id=request_id, path=call.path, write=call.write)

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

    # --- the token -----------------------------------------------------------------------

    def _token_stale(self, stale: Token | None) -> bool:
        """Whether a new token is needed (none yet, expiring, or *stale*, refused by a 401)."""
        token = self._token
        return token is None or not token.fresh or token is stale

    def _token_request(self, client: httpx.Client | httpx.AsyncClient) -> tuple[httpx.Request, str]:
        """The client-credentials token request and its request id (counted)."""
        assert self.config.client_id is not None
        assert self.config.client_secret is not None
        data = {"grant_type": "client_credentials"}
        if self.config.scopes:
            data["scope"] = " ".join(self.config.scopes)
        request_id = str(uuid.uuid4())
        headers = {
            wire.REQUEST_ID: request_id,
            wire.ORIGIN_TIMESTAMP: _iso_now(),
            wire.API_KEY: self.config.api_key.get_secret_value(),
            "Accept": "application/json",
            "Authorization": httpx.BasicAuth(
                self.config.client_id, self.config.client_secret.get_secret_value()
            )._auth_header,
        }
        self.stats.add("requests")
        request = client.build_request(
            "POST", self.config.resolved_token_url, data=data, headers=headers
        )
        return request, request_id

    def _parse_token(self, response: httpx.Response, request_id: str) -> Token:
        path = wire.TOKEN_PATH
        if response.status_code != 200:
            raise error_from_response(response, request_id=request_id, path=path, write=False)
        data = self._json(response, request_id=request_id, path=path)
        try:
            answer = wire.structure(data, wire.OAuthToken, path)
        except AladdinResponseError as exc:
            exc.request_id = request_id
            raise
        self.stats.add("token_refreshes")
        return Token.from_answer(answer)
