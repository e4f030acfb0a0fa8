"""`AladdinMockHandler`: checks a request the way Aladdin would, injects faults, routes it.

One request goes: headers checked (a UUID4 request id, an ISO-8601 UTC
timestamp, the API key, the credentials or bearer token), the body parsed
and validated against its operation's published schema (`.schema`), a
fault decided (`.faults`), the route run (`.routes`), the answer validated,
and the request recorded (`RequestRecord`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import httpx

from orderalloc.sources.aladdin import wire
from orderalloc.sources.aladdin.config import AladdinConfig
from orderalloc.sources.mock import MockAladdin

from .faults import FaultPlan, Faults, Scripted
from .render import Json, Renderer
from .replies import (
    Reply,
    RequestRecord,
    RequestRefusedError,
    error,
    invalid,
    reply,
    unauthenticated,
)
from .routes import _Routes
from .schema import SCHEMAS

__all__ = ["AladdinMockHandler"]

_WRITES = ("/order:cancel", "/orders:batchPost", "/trades:batchPost", "/trades:cancel")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def is_write(path: str, data: Any) -> bool:
    """Whether a request changes state (a what-if ``order:post`` does not)."""
    if path.endswith(_WRITES):
        return True
    if path.endswith("/order:post"):
        config = (data or {}).get("postOrderConfig") or {}
        return not config.get("whatIf", False)
    return False


def check_stamps(headers: Mapping[str, str]) -> None:
    """Refuse a request id that is not a UUID4, or a timestamp that is not UTC to the second."""
    rid = headers.get(wire.REQUEST_ID.lower(), "")
    try:
        version = uuid.UUID(rid).version
    except ValueError:
        version = None
    if version != 4:
        raise invalid(f"Request-ID {rid!r} is not a UUID4", "INVALID_REQUEST_ID")
    stamp = headers.get(wire.ORIGIN_TIMESTAMP.lower(), "")
    try:
        parsed = dt.datetime.fromisoformat(stamp)
    except ValueError:
        raise invalid(f"Origin-Timestamp {stamp!r} is not ISO 8601", "INVALID_TIMESTAMP") from None
    if parsed.utcoffset() != dt.timedelta(0) or parsed.microsecond:
        raise invalid(f"Origin-Timestamp {stamp!r}: UTC, seconds", "INVALID_TIMESTAMP")


class AladdinMockHandler(_Routes):
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
        self.render = Renderer(mock, account_code)
        self._tokens: dict[str, float] = {}
        self._faults = Faults(self.faults)
        self._operations: dict[str, tuple[int, Json]] = {}
        self._lock = threading.RLock()
        if validate:  # read the spec files now, not while a client's request waits
            SCHEMAS.operation("GET", wire.TOKEN_PATH)

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
        self._faults.add(
            Scripted(path_contains, status, times, retry_after, delay, malformed, after, hold)
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
        answer = self.handle(
            request.method,
            request.url.path,
            list(urllib.parse.parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            {k.lower(): v for k, v in request.headers.items()},
            request.content,
        )
        if answer.delay:
            time.sleep(answer.delay)
        return httpx.Response(answer.status, headers=dict(answer.headers), content=answer.body)

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
        request_id = headers.get(wire.REQUEST_ID.lower())
        fault: str | None = None
        try:
            answer, fault = self._handle(method, path, query, (headers, body))
        except RequestRefusedError as exc:
            answer = exc.reply
            if exc.problem:
                self._problem(exc.message)
        except Exception as exc:  # a bug in the mock must show, not hang the client
            answer = error(500, "INTERNAL", f"{type(exc).__name__}: {exc}")
            self._problem(f"{method} {path}: handler crashed: {exc!r}")
        headers_out = dict(answer.headers)
        if request_id:
            headers_out[wire.REQUEST_ID] = request_id
        headers_out[wire.RESPONSE_ID] = str(uuid.uuid4())
        answer = attrs.evolve(answer, headers=headers_out)
        with self._lock:
            self.records.append(
                RequestRecord(arrived, method, path, answer.status, fault, request_id)
            )
        return answer

    # --- one request ----------------------------------------------------------------------

    def _problem(self, message: str) -> None:
        with self._lock:
            self.problems.append(message)

    def _check_credentials(self, headers: Mapping[str, str], *, token_endpoint: bool) -> None:
        if headers.get(wire.API_KEY.lower()) != self.api_key:
            raise unauthenticated("missing or wrong API key")
        auth = headers.get("authorization", "")
        if token_endpoint:
            if auth != _basic(self.client_id, self.client_secret):
                raise unauthenticated("bad client credentials")
        elif auth.startswith("Bearer "):
            with self._lock:
                expires = self._tokens.get(auth[len("Bearer ") :])
            if expires is None or expires < time.monotonic():
                raise unauthenticated("token expired or unknown")
        elif auth != _basic(self.username, self.password):
            raise unauthenticated("bad credentials")

    def _handle(
        self, method: str, path: str, query: Sequence[tuple[str, str]], sent: tuple[Any, bytes]
    ) -> tuple[Reply, str | None]:
        """The answer to one request and the fault injected, if any (*sent*: headers, body)."""
        headers, body = sent
        token_endpoint = path.endswith(wire.TOKEN_PATH)
        check_stamps(headers)
        self._check_credentials(headers, token_endpoint=token_endpoint)
        if token_endpoint:
            return self._token(body), None
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise invalid(f"{path}: body is not JSON", "INVALID_JSON") from None
        operation = SCHEMAS.operation(method, path) if self.validate else None
        if operation is not None and operation.request is not None:
            errors = SCHEMAS.errors(operation.file, operation.request, data, request=True)
            if errors:
                raise invalid("; ".join(errors[:3]))
        decision = self._faults.decide(path, is_write(path, data))
        if decision.kind is not None and not decision.after:
            return decision.reply(), decision.kind
        if decision.hold:
            time.sleep(decision.hold)  # processing: nothing is booked yet
        answer = self.dispatch(method, path, query, data)
        if decision.kind is not None:  # carried out, but the answer is lost
            return decision.reply(), f"{decision.kind}-after"
        if operation is not None and operation.answer is not None and answer.status == 200:
            found = json.loads(answer.body)
            errors = SCHEMAS.errors(operation.file, operation.answer, found, request=False)
            if errors:
                self._problem("answer: " + "; ".join(errors[:3]))
        fault = "slow" if decision.delay else None
        return attrs.evolve(answer, delay=decision.delay), fault

    def _token(self, body: bytes) -> Reply:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        if form.get("grant_type") != "client_credentials":
            raise invalid("grant_type must be client_credentials", "unsupported_grant_type")
        token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
        return reply(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        )
