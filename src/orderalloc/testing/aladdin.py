"""An Aladdin look-alike for tests: serves a `MockAladdin`'s data in the published shapes.

`AladdinMockHandler` answers the requests `AladdinClient` sends (PortfolioGroupAPI,
CashLadderAPI, Positions v1, Security Analytics v2, Security Master v1,
AccountInfoAPI, RestrictedAssetAPI, OrderAPI, TradeAPI, the OAuth 2.0 token
endpoint)
from a `~orderalloc.sources.mock.MockAladdin`. Use it two ways:

* in-process: ``httpx.Client(transport=httpx.MockTransport(handler))``;
* over real HTTP on 127.0.0.1: ``with serve(handler) as server: ... server.url``.

It checks every request the way Aladdin would: the ``VND.com.blackrock.*``
headers (a UUID4 request id, an ISO-8601 UTC timestamp, the API key), the
credentials, and, with ``validate=True``, every JSON body against the swagger
schema of its operation (``$ref`` resolved within the file; unknown and
read-only fields refused). Problems are answered with 400 / 401 and listed in
`AladdinMockHandler.problems`. Faults are injected from a seeded `FaultPlan`
(429 with ``Retry-After``, 503, slow answers, malformed JSON) or scripted one
by one (`AladdinMockHandler.script`); tokens can be expired at will.

``jsonschema`` is imported only when validation is on.

Example::

    mock = MockAladdin(extra_groups={"SMA-500": 500})
    handler = AladdinMockHandler(mock, faults=FaultPlan(rate=0.2, seed=1))
    with serve(handler) as server:
        config = handler.config(server.url, rate_limit=6000)
        with AladdinClient(config) as client:
            table = client.accounts("SMA-500", WELL_KNOWN["IG"])
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import math
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import attrs
import httpx
import numpy as np

from orderalloc.model import Side
from orderalloc.sources.aladdin import wire as api
from orderalloc.sources.aladdin.config import AladdinConfig
from orderalloc.sources.mock import GroupData, MockAladdin, OrderRejectedError
from orderalloc.sources.orders import OrderLine, OrderStatus, OrderTicket, PostedOrder
from orderalloc.sources.trades import BookedTrade, TradeLine, TradeTicket

__all__ = [
    "AladdinMockHandler",
    "FaultPlan",
    "LoopbackServer",
    "Reply",
    "RequestRecord",
    "serve",
]

_JSON = {"Content-Type": "application/json"}
# Operation -> (swagger file, request body definition, 200 answer definition).
_OPERATIONS: dict[tuple[str, str], tuple[str, str | None, str | None]] = {
    ("POST", f"{api.CASH_LADDER}/ladders:filter"): (
        "CashLadderAPI",
        "v2FilterCashLadderRequest",
        "v2CashLadder",
    ),
    ("POST", f"{api.ACCOUNT_INFO}/accountInfos:filter"): (
        "AccountInfoAPI",
        "v1FilterAccountInfosRequest",
        "v1FilterAccountInfosResponse",
    ),
    ("POST", f"{api.RESTRICTED_ASSET}/restrictedAssets:filter"): (
        "RestrictedAssetAPI",
        "v1FilterRestrictedAssetsRequest",
        "v1FilterRestrictedAssetsResponse",
    ),
    ("POST", f"{api.ORDER}/order:post"): (
        "OrderAPI",
        "v1PostOrderRequest",
        "v1SinglePostOrderResponse",
    ),
    ("POST", f"{api.ORDER}/order:cancel"): (
        "OrderAPI",
        "v1CancelOrderRequest",
        "v1CancelOrderResponse",
    ),
    ("POST", f"{api.ORDER}/orders:filter"): (
        "OrderAPI",
        "v1FilterOrdersRequest",
        "v1FilterOrdersResponse",
    ),
    ("POST", f"{api.ORDER}/orders:batchPost"): (
        "OrderAPI",
        "v1BatchPostOrdersRequest",
        "v1LongrunningOperation",
    ),
    ("POST", f"{api.TRADE}/trades:filter"): (
        "TradeAPI",
        "v2FilterTradesRequest",
        "v2FilterTradesResponse",
    ),
    ("POST", f"{api.TRADE}/trades:batchPost"): (
        "TradeAPI",
        "v2BatchPostTradesRequest",
        "v1LongrunningOperation",
    ),
    ("POST", f"{api.TRADE}/trades:cancel"): (
        "TradeAPI",
        "v2CancelTradeRequest",
        "v2CancelTradeResponse",
    ),
    ("GET", "members"): ("PortfolioGroupAPI", None, "v1PortfolioGroupMembers"),
    ("GET", "longrunningoperations"): ("OrderAPI", None, "v1LongrunningOperation"),
}
_TRADE_WRITES = ("/trades:batchPost", "/trades:cancel")
#: The portfolio the street's executions of an order sit in before they are allocated.
STREET_PORTFOLIO = "OA-STREET"
_POS_TYPES = frozenset({"EOD", "SOD", "SOD+Trades", "SOD+Trades+Orders"})
_STATUS_WORDS = {
    OrderStatus.OPEN: "Open",
    OrderStatus.CANCELLED: "Canceled",
    OrderStatus.COMPL_PENDING: "Compl Pending",
}


# --- schemas ------------------------------------------------------------------------------------


class _Schemas:
    """Strict validators built from the swagger files, one per definition and direction."""

    def __init__(self) -> None:
        self._files: dict[str, dict[str, Any]] = {}
        self._validators: dict[tuple[str, str, bool], Any] = {}
        self._lock = threading.Lock()

    def _definitions(self, name: str, request: bool) -> dict[str, Any]:
        if name not in self._files:
            folder = resources.files("orderalloc.sources.aladdin") / "specs"
            self._files[name] = json.loads((folder / f"{name}.swagger.json").read_text("utf-8"))
        definitions: dict[str, Any] = copy.deepcopy(self._files[name]["definitions"])
        for key, schema in definitions.items():
            props = schema.get("properties")
            if key == "Any" or not isinstance(props, dict):
                continue  # Any carries arbitrary fields next to "@type"
            if request:
                # A client must not send what only the server fills in.
                for prop in [p for p, s in props.items() if s.get("readOnly")]:
                    del props[prop]
            schema.setdefault("additionalProperties", False)
        return definitions

    def errors(self, file: str, definition: str, instance: Any, *, request: bool) -> list[str]:
        """Every schema violation of *instance* (an empty list when it is valid)."""
        try:
            import jsonschema  # an optional, test-time dependency
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "validating requests against the Aladdin schemas needs jsonschema: "
                "pip install 'orderalloc[testing]'"
            ) from exc

        key = (file, definition, request)
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                schema = {
                    "definitions": self._definitions(file, request),
                    "$ref": f"#/definitions/{definition}",
                }
                cls = jsonschema.Draft4Validator
                validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
                self._validators[key] = validator
        return [
            f"{file}.{definition} at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)
        ]


_SCHEMAS = _Schemas()


# --- faults and records -------------------------------------------------------------------------


@attrs.define
class FaultPlan:
    """Random faults, drawn from a seeded generator, on reads (and the token endpoint never).

    Args:
        rate: Probability that a read is answered with one of *statuses*.
        statuses: The error statuses to draw from (429 and 503 by default).
        retry_after: The ``Retry-After`` seconds sent with 429 and 503 (None: no header).
        slow_rate: Probability that an answer is delayed by *slow_seconds*.
        slow_seconds: The delay of a slow answer.
        malformed_rate: Probability that a read is answered 200 with broken JSON.
        seed: The seed.
    """

    rate: float = 0.0
    statuses: tuple[int, ...] = (429, 503)
    retry_after: float | None = 0.01
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    malformed_rate: float = 0.0
    seed: int = 0


@attrs.define
class _Scripted:
    path_contains: str
    status: int
    times: int
    retry_after: float | None
    delay: float
    malformed: bool
    after: bool  # apply the request, then fail the answer
    hold: float = 0.0  # seconds before the request is carried out (a slow server)


@attrs.frozen
class RequestRecord:
    """One request the handler saw.

    Attributes:
        t: ``time.monotonic()`` on arrival.
        method: The HTTP method.
        path: The URL path.
        status: The status answered.
        fault: ``None``, or what was injected (``"429"``, ``"slow"``, ``"malformed"``, ...).
        request_id: The ``VND.com.blackrock.Request-ID`` header.
    """

    t: float
    method: str
    path: str
    status: int
    fault: str | None
    request_id: str | None


@attrs.frozen
class Reply:
    """An answer: status, headers, body bytes, and a delay before sending it."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    delay: float = 0.0


def _reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, {**_JSON, **(headers or {})}, json.dumps(payload).encode())


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    # The error body the swagger files publish for 4xx answers: {"code", "message"}.
    return _reply(status, {"code": code, "message": message}, headers)


class _BadRequestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.reply = _error(status, code, message)
        super().__init__(message)


# --- the handler --------------------------------------------------------------------------------


class AladdinMockHandler:
    """Serve a `MockAladdin` as Aladdin's APIs; check requests; inject faults.

    Args:
        mock: The data to serve (and the order book to post into).
        faults: Random faults (default: none).
        validate: Validate every JSON request body against the swagger schema.
        validate_answers: Also validate the handler's own JSON answers (slower).
        page_size: The largest page answered, whatever ``pageSize`` asks.
        api_key: The API key to expect.
        client_id: OAuth client id to accept (the token endpoint).
        client_secret: OAuth client secret to accept.
        username: HTTP Basic user to accept.
        password: HTTP Basic password to accept.
        token_ttl: ``expires_in`` of issued tokens, seconds.
        account_code: The organisation account code orders carry.
        lro_polls: Polls before a long-running operation is done.
    """

    def __init__(
        self,
        mock: MockAladdin,
        *,
        faults: FaultPlan | None = None,
        validate: bool = True,
        validate_answers: bool = False,
        page_size: int = 1000,
        api_key: str = "test-api-key",
        client_id: str = "test-client",
        client_secret: str = "test-client-secret",
        username: str = "test-user",
        password: str = "test-password",
        token_ttl: float = 3600.0,
        account_code: str = "4242",
        lro_polls: int = 2,
    ) -> None:
        self.mock = mock
        self.faults = faults or FaultPlan()
        self.validate = validate
        self.validate_answers = validate_answers
        self.page_size = page_size
        self.api_key = api_key
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.token_ttl = token_ttl
        self.account_code = account_code
        self.lro_polls = lro_polls
        self.records: list[RequestRecord] = []
        self.problems: list[str] = []
        self._tokens: dict[str, float] = {}
        self._scripts: list[_Scripted] = []
        self._operations: dict[str, tuple[int, dict[str, Any]]] = {}
        self._rng = np.random.default_rng(self.faults.seed)
        self._lock = threading.RLock()
        self._ticker_by_code: dict[str, str] | None = None
        self._row_index: dict[str, tuple[GroupData, int]] | None = None

    # --- set-up helpers -----------------------------------------------------------------

    def config(self, base_url: str, *, oauth: bool = True, **overrides: Any) -> AladdinConfig:
        """An `AladdinConfig` for this handler at *base_url* (credentials, groups, benchmarks)."""
        creds: dict[str, Any] = (
            {"client_id": self.client_id, "client_secret": self.client_secret}
            if oauth
            else {"username": self.username, "password": self.password}
        )
        fields: dict[str, Any] = {
            "host": base_url,
            "api_key": self.api_key,
            "root_group": self.mock.root_group,
            "pricing_group": self.mock.pricing_portfolio,
            "benchmarks": self.mock.benchmarks,
            "account_code": self.account_code,
            **creds,
        }
        fields.update(overrides)
        return AladdinConfig(**fields)

    def script(
        self,
        path_contains: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        delay: float = 0.0,
        malformed: bool = False,
        after: bool = False,
        hold: float = 0.0,
    ) -> None:
        """Answer the next *times* requests whose path contains *path_contains* with *status*.

        With *after*, the request is carried out first and only the answer
        fails (a write that was applied but whose answer was lost). With
        *malformed*, the answer is 200 with broken JSON; with *delay*, it is late.

        With *hold*, the server is slow: it carries the request out only after
        *hold* seconds, then answers (a *status* below 300 answers normally).
        A client whose timeout is shorter gives up first, and a look-up it makes
        at once finds nothing: the order is booked a moment later. Behind
        `serve` only (``httpx.MockTransport`` calls the handler in the
        client's own thread). A held script matches writes only (an
        ``order:post``, not the what-if on the same path).
        """
        with self._lock:
            self._scripts.append(
                _Scripted(path_contains, status, times, retry_after, delay, malformed, after, hold)
            )

    def expire_tokens(self) -> None:
        """Make every issued token invalid (the next request gets a 401)."""
        with self._lock:
            self._tokens.clear()

    def count(self, path_contains: str = "", *, status: int | None = None) -> int:
        """Requests seen whose path contains *path_contains* (and answered *status*)."""
        with self._lock:
            return sum(
                1
                for r in self.records
                if path_contains in r.path and (status is None or r.status == status)
            )

    def max_in_window(self, seconds: float, *, include_token: bool = True) -> int:
        """The most requests that arrived within any *seconds*-long window."""
        with self._lock:
            times = sorted(
                r.t for r in self.records if include_token or not r.path.endswith("/token")
            )
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] > seconds:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    # --- entry points -------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer an ``httpx`` request (for ``httpx.MockTransport``)."""
        reply = self.handle(
            request.method,
            request.url.path,
            list(urllib.parse.parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            {k.lower(): v for k, v in request.headers.items()},
            request.content,
        )
        if reply.delay:
            time.sleep(reply.delay)
        return httpx.Response(reply.status, headers=dict(reply.headers), content=reply.body)

    def handle(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        """Answer one request (headers keyed in lower case)."""
        arrived = time.monotonic()
        request_id = headers.get(api.REQUEST_ID.lower())
        fault: str | None = None
        try:
            reply, fault = self._handle(method, path, query, headers, body)
        except _BadRequestError as exc:
            reply = exc.reply
        except Exception as exc:  # a bug in the mock must show, not hang the client
            reply = _error(500, "INTERNAL", f"{type(exc).__name__}: {exc}")
            with self._lock:
                self.problems.append(f"{method} {path}: handler crashed: {exc!r}")
        headers_out = dict(reply.headers)
        if request_id:
            headers_out[api.REQUEST_ID] = request_id
        headers_out["VND.com.blackrock.Response-ID"] = str(uuid.uuid4())
        reply = attrs.evolve(reply, headers=headers_out)
        with self._lock:
            self.records.append(
                RequestRecord(arrived, method, path, reply.status, fault, request_id)
            )
        return reply

    # --- checks and faults --------------------------------------------------------------

    def _problem(self, status: int, code: str, message: str) -> _BadRequestError:
        with self._lock:
            self.problems.append(message)
        return _BadRequestError(status, code, message)

    def _check_headers(self, headers: Mapping[str, str], *, token_endpoint: bool) -> None:
        rid = headers.get(api.REQUEST_ID.lower(), "")
        try:
            if uuid.UUID(rid).version != 4:
                raise ValueError(rid)
        except ValueError:
            raise self._problem(
                400, "INVALID_REQUEST_ID", f"Request-ID {rid!r} is not a UUID4"
            ) from None
        stamp = headers.get(api.ORIGIN_TIMESTAMP.lower(), "")
        try:
            parsed = dt.datetime.fromisoformat(stamp)
        except ValueError:
            raise self._problem(
                400, "INVALID_TIMESTAMP", f"Origin-Timestamp {stamp!r} is not ISO 8601"
            ) from None
        if parsed.utcoffset() != dt.timedelta(0) or parsed.microsecond:
            raise self._problem(
                400, "INVALID_TIMESTAMP", f"Origin-Timestamp {stamp!r}: UTC, seconds"
            )
        if headers.get(api.API_KEY.lower()) != self.api_key:
            raise _BadRequestError(401, "UNAUTHENTICATED", "missing or wrong API key")
        auth = headers.get("authorization", "")
        if token_endpoint:
            if auth != _basic(self.client_id, self.client_secret):
                raise _BadRequestError(401, "UNAUTHENTICATED", "bad client credentials")
            return
        if auth.startswith("Bearer "):
            with self._lock:
                expires = self._tokens.get(auth[len("Bearer ") :])
            if expires is None or expires < time.monotonic():
                raise _BadRequestError(401, "UNAUTHENTICATED", "token expired or unknown")
        elif auth != _basic(self.username, self.password):
            raise _BadRequestError(401, "UNAUTHENTICATED", "bad credentials")

    def _scripted(self, path: str, write: bool) -> _Scripted | None:
        with self._lock:
            for s in self._scripts:
                if s.hold and not write:
                    continue  # a slow write: the what-if on the same path is not held
                if s.path_contains in path and s.times > 0:
                    s.times -= 1
                    return s
        return None

    def _random_fault(self) -> tuple[str | None, float]:
        f = self.faults
        with self._lock:
            draws = self._rng.random(3)
            status = str(self._rng.choice(f.statuses)) if f.statuses else None
        delay = f.slow_seconds if draws[1] < f.slow_rate else 0.0
        if draws[0] < f.rate:
            return status, delay
        if draws[2] < f.malformed_rate:
            return "malformed", delay
        return None, delay

    def _fault_reply(self, kind: str, retry_after: float | None) -> Reply:
        if kind == "malformed":
            return Reply(200, _JSON, b'{"truncated": [1, 2, ')
        status = int(kind)
        extra = (
            {"Retry-After": f"{retry_after:g}"}
            if retry_after is not None and status in (429, 503)
            else {}
        )
        code = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 500: "INTERNAL"}.get(status, "ERROR")
        return _error(status, code, f"injected {status}", extra)

    def _handle(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[Reply, str | None]:
        token_endpoint = path.endswith(api.TOKEN_PATH)
        self._check_headers(headers, token_endpoint=token_endpoint)
        if token_endpoint:
            return self._token(body), None
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise self._problem(400, "INVALID_JSON", f"{path}: body is not JSON") from None
        operation = self._operation(method, path)
        if self.validate and operation is not None and operation[1] is not None:
            errors = _SCHEMAS.errors(operation[0], operation[1], data, request=True)
            if errors:
                raise self._problem(400, "INVALID_ARGUMENT", "; ".join(errors[:3]))
        write = self._is_write(path, data)
        scripted = self._scripted(path, write)
        kind: str | None = None
        delay = 0.0
        if scripted is not None:
            kind = (
                "malformed"
                if scripted.malformed
                else (str(scripted.status) if scripted.status >= 300 else None)
            )
            delay = scripted.delay
            if not scripted.after and kind is not None:
                return attrs.evolve(
                    self._fault_reply(kind, scripted.retry_after), delay=delay
                ), kind
        elif not write:
            kind, delay = self._random_fault()
            if kind is not None:
                return attrs.evolve(
                    self._fault_reply(kind, self.faults.retry_after), delay=delay
                ), kind
        if scripted is not None and scripted.hold:
            time.sleep(scripted.hold)  # processing: nothing is booked yet
        reply = self._route(method, path, query, data)
        if scripted is not None and scripted.after and kind is not None:
            return attrs.evolve(
                self._fault_reply(kind, scripted.retry_after), delay=delay
            ), f"{kind}-after"
        if (
            self.validate
            and operation is not None
            and operation[2] is not None
            and reply.status == 200
        ):
            errors = _SCHEMAS.errors(
                operation[0], operation[2], json.loads(reply.body), request=False
            )
            if errors:
                with self._lock:
                    self.problems.append("answer: " + "; ".join(errors[:3]))
        fault = "slow" if delay else None
        return attrs.evolve(reply, delay=delay), fault

    @staticmethod
    def _operation(method: str, path: str) -> tuple[str, str | None, str | None] | None:
        if path.endswith("/members"):
            return _OPERATIONS[("GET", "members")]
        if "/longrunningoperations/" in path:
            return _OPERATIONS[("GET", "longrunningoperations")]
        return _OPERATIONS.get((method, path))

    @staticmethod
    def _is_write(path: str, data: Any) -> bool:
        if path.endswith(("/order:cancel", "/orders:batchPost")):
            return True
        if path.endswith(_TRADE_WRITES):
            return True
        if path.endswith("/order:post"):
            config = (data or {}).get("postOrderConfig") or {}
            return not config.get("whatIf", False)
        return False

    def _token(self, body: bytes) -> Reply:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        if form.get("grant_type") != "client_credentials":
            raise self._problem(
                400, "unsupported_grant_type", "grant_type must be client_credentials"
            )
        token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
        return _reply(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        )

    # --- routes -------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: Sequence[tuple[str, str]], data: Any) -> Reply:
        if (
            method == "GET"
            and path.startswith(f"{api.PORTFOLIO_GROUP}/portfolioGroups/")
            and path.endswith("/members")
        ):
            group = urllib.parse.unquote(
                path[len(f"{api.PORTFOLIO_GROUP}/portfolioGroups/") : -len("/members")]
            )
            return self._members(group)
        routes: dict[tuple[str, str], Callable[[Sequence[tuple[str, str]], Any], Reply]] = {
            ("POST", f"{api.CASH_LADDER}/ladders:filter"): self._ladders,
            ("GET", api.POSITIONS): self._positions,
            ("GET", api.SECURITY_ANALYTICS): self._analytics,
            ("GET", api.SECURITY_MASTER): self._master,
            ("POST", f"{api.ACCOUNT_INFO}/accountInfos:filter"): self._account_infos,
            ("POST", f"{api.RESTRICTED_ASSET}/restrictedAssets:filter"): self._restricted,
            ("POST", f"{api.ORDER}/order:post"): self._order_post,
            ("POST", f"{api.ORDER}/order:cancel"): self._order_cancel,
            ("POST", f"{api.ORDER}/orders:filter"): self._orders_filter,
            ("POST", f"{api.ORDER}/orders:batchPost"): self._batch_post,
            ("POST", f"{api.TRADE}/trades:filter"): self._trades_filter,
            ("POST", f"{api.TRADE}/trades:batchPost"): self._trades_batch_post,
            ("POST", f"{api.TRADE}/trades:cancel"): self._trade_cancel,
        }
        route = routes.get((method, path))
        if route is not None:
            return route(query, data)
        if method == "GET" and path.startswith(f"{api.ORDER}/longrunningoperations/"):
            return self._operation_status(path.rsplit("/", 1)[-1])
        if method == "GET" and path.startswith(f"{api.TRADE}/longrunningoperations/"):
            return self._operation_status(path.rsplit("/", 1)[-1])
        return _error(404, "NOT_FOUND", f"no such endpoint: {method} {path}")

    # groups and accounts

    def _leaf_node(self, data: GroupData, i: int, parent: int) -> dict[str, Any]:
        return {
            "portfolioId": data.codes[i],
            "portfolioTicker": data.ids[i],
            "parentPortfolioIds": [str(parent)],
            "childPortfolioIds": [],
        }

    def _members(self, group: str) -> Reply:
        mock = self.mock
        if group == mock.root_group:
            nodes = []
            for data in mock.all_groups():
                children = [str(c) for c, _ in data.subgroups.values()] or [
                    str(c) for c in data.codes
                ]
                nodes.append(
                    {
                        "portfolioId": data.code,
                        "portfolioTicker": data.name,
                        "parentPortfolioIds": [],
                        "childPortfolioIds": children,
                    }
                )
            return _reply(200, {"nodes": nodes})
        if group in mock.groups():
            data = mock.group_data(group)
            if data.subgroups:
                nodes = [
                    {
                        "portfolioId": code,
                        "portfolioTicker": sub,
                        "parentPortfolioIds": [str(data.code)],
                        "childPortfolioIds": [str(data.codes[i]) for i in rows],
                    }
                    for sub, (code, rows) in data.subgroups.items()
                ]
            else:
                nodes = [self._leaf_node(data, i, data.code) for i in range(len(data.ids))]
            return _reply(200, {"nodes": nodes})
        for data in mock.all_groups():
            if group in data.subgroups:
                code, rows = data.subgroups[group]
                return _reply(200, {"nodes": [self._leaf_node(data, int(i), code) for i in rows]})
        return _error(404, "NOT_FOUND", f"portfolio group {group!r} not found")

    def _accounts_named(self, names: Sequence[str]) -> list[tuple[GroupData, int]]:
        """Rows for a mix of account, group and sub-group tickers."""
        rows: list[tuple[GroupData, int]] = []
        index = self._rows()
        for name in names:
            if name in index:
                rows.append(index[name])
                continue
            try:
                data, idx = self.mock.top_group(name)
            except KeyError:
                continue
            rows.extend((data, int(i)) for i in idx)
        return rows

    def _built(self) -> list[GroupData]:
        return self.mock.all_groups()

    def _rows(self) -> dict[str, tuple[GroupData, int]]:
        with self._lock:
            if self._row_index is None:
                self._row_index = {
                    ident: (data, i) for data in self._built() for i, ident in enumerate(data.ids)
                }
            return self._row_index

    def _ladders(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        query = data["cashLadderQuery"]
        dates = self.mock.settle_dates(dt.date.fromisoformat(query["cashDate"]))
        out = []
        for group, i in self._accounts_named(query["portfolioGroupTickers"]):
            out.append(
                {
                    "portfolioTicker": group.ids[i],
                    "portfolioName": group.names[i],
                    "cashBalanceSecurityCurrencyCode": "USD",
                    "portfolioBaseCurrencyCode": "USD",
                    "sodNav": float(group.sod_nav[i]),
                    "intradayNav": float(group.nav[i]),
                    "settleDateBalances": [
                        {"settlementDate": d, "cashBalance": float(group.ladder[i, k])}
                        for k, d in enumerate(dates)
                    ],
                }
            )
            if i == 0:  # a foreign-currency ladder the client must leave out of USD cash
                out.append(
                    {
                        "portfolioTicker": group.ids[i],
                        "cashBalanceSecurityCurrencyCode": "EUR",
                        "portfolioBaseCurrencyCode": "USD",
                        "sodNav": float(group.sod_nav[i]),
                        "intradayNav": float(group.nav[i]),
                        "settleDateBalances": [
                            {"settlementDate": dates[0], "cashBalance": 12345.0}
                        ],
                    }
                )
        return _reply(200, {"portfolioCurrencyLadders": out})

    def _position(
        self, name: str, j: int, face: float, nav: float, sod_nav: float
    ) -> dict[str, Any]:
        bond = self.mock.bonds[j]
        s = bond.security
        cur_par = face * s.factor
        mkt = cur_par * (s.price + s.accrued) / 100.0
        a = s.analytics
        return {
            "portfolioName": name,
            "assetId": s.id,
            "posQuantity": face,
            "curPar": cur_par,
            "factor": s.factor,
            "price": s.price,
            "priceAsPct": s.price,
            "mktValue": mkt,
            "portfolioNAV": sod_nav,
            "portfolioNAVComputed": nav,
            "minTradeSize": s.min_piece,
            "minTradeIncrement": s.increment,
            "oad": a["duration"],
            "modDur": a["modified_duration"],
            "spreadDur": a["spread_duration"],
            "oas": a["oas"],
            "dts": a["spread_duration"] * a["oas"] / 100.0,
            "issuerTicker": s.ticker,
            "secGroup": s.asset_class,
        }

    def _positions(self, query: Sequence[tuple[str, str]], _: Any) -> Reply:
        params = dict(query)
        if params.get("posType") not in _POS_TYPES:
            raise self._problem(
                400,
                "INVALID_ARGUMENT",
                f"posType {params.get('posType')!r} is not one of {sorted(_POS_TYPES)}",
            )
        names = [n.strip() for n in params.get("portGroup", "").split(",") if n.strip()]
        include = [n for n in names if not n.startswith("-")]
        exclude = {n[1:] for n in names if n.startswith("-")}
        out: list[dict[str, Any]] = []
        mock = self.mock
        for name in include:
            if name == mock.pricing_portfolio:
                out.extend(
                    self._position(name, j, 1_000_000.0, 0.0, 0.0) for j in range(len(mock.bonds))
                )
                continue
            if name in mock.benchmarks.values():
                face = mock.benchmark_holdings(name)
                nav = mock.benchmark_nav(name)
                out.extend(
                    self._position(name, int(j), float(face[j]), nav, nav)
                    for j in np.flatnonzero(face)
                )
                continue
        rows = [
            (g, i)
            for g, i in self._accounts_named(
                [
                    n
                    for n in include
                    if n != mock.pricing_portfolio and n not in mock.benchmarks.values()
                ]
            )
            if g.ids[i] not in exclude
        ]
        for g, i in rows:
            for j in np.flatnonzero(g.holdings[i]):
                out.append(
                    self._position(
                        g.ids[i],
                        int(j),
                        float(g.holdings[i, j]),
                        float(g.nav[i]),
                        float(g.sod_nav[i]),
                    )
                )
        return _reply(200, out)

    def _analytics(self, query: Sequence[tuple[str, str]], _: Any) -> Reply:
        risk: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for key, asset in query:
            if key != "assetId":
                continue
            try:
                a = self.mock.bond(asset).security.analytics
            except KeyError:
                errors[asset] = "ASSET_NOT_FOUND"
                continue
            risk[asset] = {
                "assetId": asset,
                "riskByCurrency": {
                    "ALL": {
                        "oad": a["duration"],
                        "modifiedDuration": a["modified_duration"],
                        "spreadDuration": a["spread_duration"],
                        "oas": a["oas"],
                        "convexity": a["convexity"],
                        "yieldToWorst": a["ytw"],
                        "zSpread": a["z_spread"],
                        "riskDate": dt.date.today().isoformat(),
                    }
                },
            }
        return _reply(200, {"riskByAssetId": risk, "errors": errors})

    def _master(self, query: Sequence[tuple[str, str]], _: Any) -> Reply:
        out = []
        for key, asset in query:
            if key != "assetId":
                continue
            try:
                bond = self.mock.bond(asset)
            except KeyError:
                continue
            out.append(
                {
                    "assetId": bond.id,
                    "description": bond.security.name,
                    "coupon": bond.coupon,
                    "maturity": bond.maturity,
                    "issuer": bond.issuer,
                }
            )
        if not out:
            return _error(404, "NOT_FOUND", "no such security")
        return _reply(200, out)

    def _page(self, items: list[Any], data: Any) -> tuple[list[Any], str | None]:
        size = int(data.get("pageSize") or self.page_size)
        size = max(1, min(size, self.page_size))
        token = data.get("pageToken")
        start = 0
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode())
            except ValueError:
                raise self._problem(400, "INVALID_ARGUMENT", f"bad pageToken {token!r}") from None
        end = start + size
        next_token = (
            base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
        )
        return items[start:end], next_token

    def _account_infos(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        wanted = list((data.get("query") or {}).get("ids") or [])
        by_code = {str(g.codes[i]): (g, i) for g in self._built() for i in range(len(g.ids))}
        infos = []
        for code in wanted:
            if code in by_code:
                g, i = by_code[code]
                infos.append({"id": code, "shortName": g.ids[i], "fullName": g.names[i]})
        page, token = self._page(infos, data)
        answer: dict[str, Any] = {"accountInfos": page}
        if token:
            answer["nextPageToken"] = token
        return _reply(200, answer)

    def _restricted(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        query = data.get("query") or {}
        cusip = query.get("cusip")
        if not cusip:
            raise self._problem(
                400, "INVALID_ARGUMENT", "this mock filters restricted assets by cusip"
            )
        try:
            j = self.mock.column(cusip)
        except KeyError:
            return _reply(200, {"restrictedAssets": []})
        items = []
        for g in self._built():
            for i in np.flatnonzero(g.restricted[:, j]):
                items.append(
                    {
                        "id": {"portfolioId": str(g.codes[i]), "startDate": "2024-01-02"},
                        "cusip": cusip,
                        "restrictedAmount": 0.0,
                        "purpose": "Client restriction",
                        "state": "RESTRICTED_ASSET_STATE_YES",
                    }
                )
            if not g.restricted[0, j]:  # an expired restriction the client must ignore
                items.append(
                    {
                        "id": {"portfolioId": str(g.codes[0]), "startDate": "2019-01-02"},
                        "cusip": cusip,
                        "endDate": "2020-01-02",
                        "restrictedAmount": 0.0,
                        "purpose": "Expired",
                        "state": "RESTRICTED_ASSET_STATE_YES",
                    }
                )
        page, token = self._page(items, data)
        answer: dict[str, Any] = {"restrictedAssets": page}
        if token:
            answer["nextPageToken"] = token
        return _reply(200, answer)

    # orders

    def _code_of(self, account: str) -> str | None:
        found = self._rows().get(account)
        return None if found is None else str(found[0].codes[found[1]])

    def _ticker_of(self, code: str) -> str:
        with self._lock:
            if self._ticker_by_code is None:
                self._ticker_by_code = {
                    str(c): t for g in self._built() for c, t in zip(g.codes, g.ids, strict=True)
                }
            return self._ticker_by_code.get(code, code)

    def _ticket(self, order: Mapping[str, Any]) -> OrderTicket:
        lines = []
        for detail in order.get("orderDetails") or []:
            ref = detail.get("portfolioReference") or {}
            account = ref.get("portfolioTicker") or self._ticker_of(str(ref.get("portfolioId")))
            lines.append(OrderLine(account, float(detail.get("quantity") or 0)))
        comment = None
        for c in order.get("orderComments") or []:
            if c.get("orderCommentKey") == "General":
                comment = c.get("orderCommentValue")
        settle = order.get("settleDate")
        return OrderTicket(
            security_id=order.get("assetId", ""),
            side=Side(str(order.get("transactionType", "")).upper()),
            lines=tuple(lines),
            external_id=(order.get("externalOrderReference") or {}).get("externalId1", ""),
            comment=comment,
            settle_date=dt.date.fromisoformat(settle) if settle else None,
        )

    def _order_wire(self, posted: PostedOrder) -> dict[str, Any]:
        reference: dict[str, Any] = {"accountCode": self.account_code}
        if posted.external_id:
            reference["externalId1"] = posted.external_id
        return {
            "id": posted.order_id,
            "orderStatus": _STATUS_WORDS.get(posted.status, posted.status.title()),
            "assetId": posted.security_id,
            "transactionType": posted.side.value,
            "face": posted.quantity,
            "version": posted.version,
            **self._fill_wire(posted.order_id),
            "externalOrderReference": reference,
            "orderDetails": [
                {
                    "portfolioReference": {
                        "portfolioId": self._code_of(line.account_id) or "",
                        "portfolioTicker": line.account_id,
                    },
                    "quantity": line.quantity,
                }
                for line in posted.lines
            ],
        }

    def _violation_wire(self, v: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "actionStatus": "Action Required",
            "ruleId": v.rule,
            "complianceSeverity": f"COMPLIANCE_SEVERITY_{v.severity}",
            "violationDescription": v.message,
        }
        if v.account_id is not None:
            out["portfolioId"] = self._code_of(v.account_id) or v.account_id
        return out

    def _post_result(self, order: Mapping[str, Any], what_if: bool) -> dict[str, Any]:
        try:
            ticket = self._ticket(order)
            if what_if:
                report = self.mock.what_if(ticket)
                return {
                    "output": {
                        "complianceViolations": [self._violation_wire(v) for v in report.violations]
                    }
                }
            if order.get("id"):
                posted = self.mock.modify_order(str(order["id"]), ticket)
            else:
                posted = self.mock.post_order(ticket)
            report = self.mock.what_if(ticket)
            return {
                "output": {
                    "complianceViolations": [self._violation_wire(v) for v in report.violations],
                    "order": self._order_wire(posted),
                }
            }
        except OrderRejectedError as exc:
            return {"error": {"code": exc.code, "message": str(exc)}}
        except KeyError as exc:
            return {"error": {"code": 5, "message": str(exc)}}
        except ValueError as exc:
            return {"error": {"code": 3, "message": str(exc)}}

    def _order_post(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        what_if = bool((data.get("postOrderConfig") or {}).get("whatIf"))
        return _reply(200, {"results": [self._post_result(data.get("order") or {}, what_if)]})

    def _order_cancel(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        reason = next((c.get("orderCommentValue", "") for c in data.get("orderComments") or []), "")
        try:
            posted = self.mock.cancel_order(str(data.get("orderId")), reason)
            result: dict[str, Any] = {"output": self._order_wire(posted)}
        except OrderRejectedError as exc:
            result = {"error": {"code": exc.code, "message": str(exc)}}
        except KeyError as exc:
            result = {"error": {"code": 5, "message": str(exc)}}
        return _reply(200, {"results": [result]})

    def _orders_filter(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        query = data.get("query") or {}
        orders = self.mock.orders()
        if "orderIdCriterion" in query:
            ids = set(query["orderIdCriterion"]["ids"])
            found = [o for o in orders if o.order_id in ids]
        elif "externalIdCriterion" in query:
            crit = query["externalIdCriterion"]
            if crit["accountCode"] != self.account_code:
                found = []
            else:
                found = [o for o in orders if o.external_id == crit["externalId1"]]
        else:
            raise self._problem(
                400, "INVALID_ARGUMENT", "this mock filters orders by ids or external id"
            )
        page, token = self._page([self._order_wire(o) for o in found], data)
        answer: dict[str, Any] = {"orders": page}
        if token:
            answer["nextPageToken"] = token
        return _reply(200, answer)

    def _batch_post(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        orders = data["orders"]
        if len(orders) > api.BATCH_POST_MAX:
            raise self._problem(400, "INVALID_ARGUMENT", f"{len(orders)} orders; at most 1000")
        results = [self._post_result(o, False) for o in orders]
        response = {
            "@type": "type.googleapis.com/blackrock.trading.order.v1.BatchPostOrdersResponse",
            "results": results,
        }
        with self._lock:
            op_id = f"op-{len(self._operations) + 1}"
            self._operations[op_id] = (self.lro_polls, response)
        return _reply(200, {"id": op_id, "done": False})

    def _operation_status(self, op_id: str) -> Reply:
        with self._lock:
            if op_id not in self._operations:
                return _error(404, "NOT_FOUND", f"no operation {op_id!r}")
            polls, response = self._operations[op_id]
            self._operations[op_id] = (polls - 1, response)
        if polls > 1:
            return _reply(200, {"id": op_id, "done": False})
        return _reply(200, {"id": op_id, "done": True, "response": response})

    # trades (TradeAPI)

    def _fill_wire(self, order_id: str) -> dict[str, Any]:
        """The order's ``fillAmount``, ``averagePrice`` and ``tradeDate`` from its executions."""
        executions = self.mock.fills(order_id)
        if not executions:
            return {"fillAmount": 0.0}
        amount = math.fsum(e.quantity for e in executions)
        average = math.fsum(e.quantity * e.price for e in executions) / amount
        first = executions[0].time
        out: dict[str, Any] = {"fillAmount": amount, "averagePrice": average}
        if first is not None:
            out["tradeDate"] = first.date().isoformat()
        return out

    def _execution_blocks(self, security_ids: set[str], trade_date: str) -> list[dict[str, Any]]:
        blocks = []
        for order in self.mock.orders():
            if order.security_id not in security_ids:
                continue
            for e in self.mock.fills(order.order_id):
                if e.time is None or e.time.date().isoformat() != trade_date:
                    continue
                blocks.append(
                    {
                        "assetReference": {"assetId": order.security_id},
                        "transactionType": order.side.value,
                        "price": e.price,
                        "tradeDate": trade_date,
                        "executionTime": e.time.isoformat(),
                        "status": " ",
                        "trades": [
                            {
                                "invnum": int(e.execution_id),
                                "tradeNumber": 1,
                                "portfolioReference": {"portfolioTicker": STREET_PORTFOLIO},
                                "quantity": e.quantity,
                                "orderId": order.order_id,
                            }
                        ],
                    }
                )
        return blocks

    def _trade_snippets(
        self, trade: BookedTrade, *, references: bool, full: bool
    ) -> list[dict[str, Any]]:
        """Per-portfolio trades: ``v2Trade`` (*full*) or ``v2TradeSnippet``."""
        out = []
        for k, line in enumerate(trade.lines):
            item: dict[str, Any] = {
                "invnum": int(trade.trade_id),
                "tradeNumber": k + 1,
                "portfolioReference": {
                    "portfolioId": self._code_of(line.account_id) or "",
                    "portfolioTicker": line.account_id,
                },
                "quantity": line.quantity,
            }
            if trade.order_id is not None:
                item["orderId"] = trade.order_id
            if full and line.principal is not None:
                item["principal"] = line.principal
            if references and trade.external_id:
                item["externalTradeReferences"] = [
                    {"externalInvnum1": trade.external_id, "accountCode": self.account_code}
                ]
            out.append(item)
        return out

    def _trades_filter(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        query = data.get("query") or {}
        criteria = query.get("criteria") or {}
        trade_date = (criteria.get("dateTime") or {}).get("tradeDate")
        assets = set((criteria.get("asset") or {}).get("assetIds") or [])
        if not trade_date:
            raise self._problem(
                400, "INVALID_ARGUMENT", "at least one field of the date time criterion is required"
            )
        if not assets:
            raise self._problem(400, "INVALID_ARGUMENT", "this mock filters trades by asset ids")
        references = "FILTER_QUERY_OPTION_LOAD_EXTERNAL_TRADE_REFERENCE" in (
            query.get("options") or []
        )
        blocks = self._execution_blocks(assets, trade_date)
        for trade in self.mock.trades():
            if trade.security_id not in assets or trade.trade_date is None:
                continue
            if trade.trade_date.isoformat() != trade_date:
                continue
            blocks.append(
                {
                    "assetReference": {"assetId": trade.security_id},
                    "transactionType": trade.side.value,
                    "price": trade.price,
                    "tradeDate": trade_date,
                    "status": "C" if not trade.is_active else " ",
                    "trades": self._trade_snippets(trade, references=references, full=True),
                }
            )
        page, token = self._page(blocks, data)
        answer: dict[str, Any] = {"blockTrades": page}
        if token:
            answer["nextPageToken"] = token
        return _reply(200, answer)

    def _trade_ticket(self, block: Mapping[str, Any]) -> TradeTicket:
        trades = block.get("trades") or []
        lines = []
        for t in trades:
            ref = t.get("portfolioReference") or {}
            account = ref.get("portfolioTicker") or self._ticker_of(str(ref.get("portfolioId")))
            principal = t.get("principal")
            lines.append(
                TradeLine(
                    account,
                    float(t.get("quantity") or 0),
                    None if principal is None else float(principal),
                )
            )
        refs = [r for t in trades for r in t.get("externalTradeReferences") or []]
        trade_date = block.get("tradeDate")
        settle = block.get("settlementDate")
        return TradeTicket(
            security_id=(block.get("assetReference") or {}).get("assetId", ""),
            side=Side(str(block.get("transactionType", "")).upper()),
            price=float(block.get("price") or 0),
            lines=tuple(lines),
            external_id=next((r.get("externalInvnum1") for r in refs), None) or "",
            order_id=next((t.get("orderId") for t in trades if t.get("orderId")), None),
            trade_date=dt.date.fromisoformat(trade_date) if trade_date else None,
            settle_date=dt.date.fromisoformat(settle) if settle else None,
        )

    def _trade_result(self, trade: BookedTrade) -> dict[str, Any]:
        snippets = self._trade_snippets(trade, references=False, full=False)
        return {"output": {"assetId": trade.security_id, "trades": snippets}}

    def _trades_batch_post(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        mode = (data.get("config") or {}).get("mode", "POSTING_MODE_NEW")
        if mode != "POSTING_MODE_NEW":
            raise self._problem(
                400, "INVALID_ARGUMENT", f"this mock only books new trades ({mode})"
            )
        results = []
        for block in data["blockTrades"]:
            try:
                results.append(self._trade_result(self.mock.book_trade(self._trade_ticket(block))))
            except OrderRejectedError as exc:
                results.append({"error": {"code": exc.code, "message": str(exc)}})
            except KeyError as exc:
                results.append({"error": {"code": 5, "message": str(exc)}})
            except ValueError as exc:
                results.append({"error": {"code": 3, "message": str(exc)}})
        response = {
            "@type": "type.googleapis.com/blackrock.trading.trade.v2.BatchPostTradesResponse",
            "results": results,
        }
        with self._lock:
            op_id = f"op-{len(self._operations) + 1}"
            self._operations[op_id] = (self.lro_polls, response)
        return _reply(200, {"id": op_id, "done": False})

    def _trade_cancel(self, _: Sequence[tuple[str, str]], data: Any) -> Reply:
        invnum = str((data.get("tradeKey") or {}).get("invnum"))
        stored = next((t for t in self.mock.trades() if t.trade_id == invnum), None)
        if stored is None:
            return _reply(200, {"result": {"error": {"code": 5, "message": f"no trade {invnum}"}}})
        try:
            result = self._trade_result(self.mock.cancel_trade(stored))
        except OrderRejectedError as exc:
            result = {"error": {"code": exc.code, "message": str(exc)}}
        return _reply(200, {"result": result})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- the loopback server ------------------------------------------------------------------------


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.app.handle(
            self.command, urllib.parse.unquote(url.path), query, headers, body
        )
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    do_GET = _serve  # noqa: N815  # http.server dispatches on these names
    do_POST = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # the base signature
        """Stay quiet: the handler keeps its own records."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: AladdinMockHandler


@attrs.define
class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 (an ephemeral port) in front of a handler.

    Attributes:
        handler: The `AladdinMockHandler` answering.
        url: ``http://127.0.0.1:PORT``.
    """

    handler: AladdinMockHandler
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give `AladdinConfig.host`."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LoopbackServer:
        """Bind and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _RequestHandler)
        server.app = self.handler
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


@contextmanager
def serve(handler: AladdinMockHandler) -> Iterator[LoopbackServer]:
    """Serve *handler* on 127.0.0.1 for the duration of the ``with`` block."""
    server = LoopbackServer(handler).start()
    try:
        yield server
    finally:
        server.stop()
