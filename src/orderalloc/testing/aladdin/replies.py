"""What the mock server answers and records: `Reply`, `RequestRecord`, and refusals."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from orderalloc.sources.errors import RequestRejectedError

__all__ = ["Reply", "RequestRecord", "RequestRefusedError", "error", "reply"]

JSON_HEADERS = {"Content-Type": "application/json"}


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


def reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON answer."""
    return Reply(status, {**JSON_HEADERS, **(headers or {})}, json.dumps(payload).encode())


def error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    """The error body the swagger files publish for 4xx answers: ``{"code", "message"}``."""
    return reply(status, {"code": code, "message": message}, headers)


class RequestRefusedError(RequestRejectedError):
    """Raised inside `AladdinMockHandler` for a request Aladdin would refuse.

    The handler answers it with its *status* and never lets it out; a refusal
    of a request the client got wrong (*problem*) is also listed in
    `AladdinMockHandler.problems`, one of the credentials (a 401) is not.

    Attributes:
        status: The HTTP status to answer (400, 401).
        code: The error code of the body (``"INVALID_ARGUMENT"``).
        message: What is wrong, naming the field and the value.
        problem: Whether the client is at fault (listed in ``problems``).
    """

    def __init__(self, status: int, code: str, message: str, *, problem: bool = True) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.problem = problem
        super().__init__(message)

    @property
    def reply(self) -> Reply:
        """The answer."""
        return error(self.status, self.code, self.message)


def unauthenticated(message: str) -> RequestRefusedError:
    """A 401 (bad or missing credentials): not a problem of the client's requests."""
    return RequestRefusedError(401, "UNAUTHENTICATED", message, problem=False)


def invalid(message: str, code: str = "INVALID_ARGUMENT") -> RequestRefusedError:
    """A 400 the client caused (listed in ``problems``)."""
    return RequestRefusedError(400, code, message)
