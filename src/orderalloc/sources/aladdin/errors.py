"""Errors raised by the Aladdin client.

The tree, under `orderalloc.errors.DataSourceError`::

    DataSourceError
    ├── AladdinConfigError (also ValueError)       missing or invalid AladdinConfig settings
    ├── AladdinTransportError                      connection failures and timeouts (after retries)
    ├── AladdinResponseError                       a 2xx answer that is not the published shape
    ├── AladdinOperationTimeoutError               a long-running operation missed its deadline
    │                                              (also OutcomeUnknownError: it may complete)
    └── AladdinAPIError                            Aladdin answered with an error
        ├── AladdinAuthError                       401 / 403 (after one token refresh)
        ├── AladdinRateLimitError                  429 (after retries, or on a write)
        ├── AladdinServerError                     5xx (after retries)
        ├── AladdinOutcomeUnknownError             a write failed after it was sent
        │                                          (also orderalloc.errors.OutcomeUnknownError)
        └── AladdinNotFoundError (also NotFoundError, KeyError)   404

Every error carries the ``VND.com.blackrock.Request-ID`` of the request that
failed, so that BlackRock support can find it. No error message, ``repr`` or
log record ever holds a credential: the client never puts headers in them.
"""

from __future__ import annotations

from orderalloc.errors import DataSourceError, NotFoundError, OutcomeUnknownError, defined_in
from orderalloc.sources.errors import (
    RequestRejectedError,
    SourceUnavailableError,
)

__all__ = defined_in(__name__)  # listed in orderalloc.errors, which loads them lazily


class AladdinConfigError(DataSourceError, ValueError):
    """Raised by `AladdinConfig` and the client when a setting is missing or invalid.

    For example: no host, no API key, neither OAuth client credentials nor a
    user and password, or an order operation that needs ``account_code``.
    """


class AladdinTransportError(SourceUnavailableError):
    """Raised by the client when Aladdin could not be reached, after the retries.

    Connection errors and timeouts end here once the read retries are spent
    (writes are not retried once sent; see `AladdinOutcomeUnknownError`).

    Attributes:
        request_id: The ``VND.com.blackrock.Request-ID`` of the last attempt.
        attempts: How many times the request was sent.
        sent: ``False`` when the request certainly never left the client (no
            connection could be opened): a write was not applied. ``None``
            when that is not known.
    """

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None,
        attempts: int = 1,
        sent: bool | None = None,
    ) -> None:
        self.request_id = request_id
        self.attempts = attempts
        self.sent = sent
        super().__init__(f"{message} (request id {request_id}, {attempts} attempt(s))")


class AladdinResponseError(DataSourceError):
    """Raised when a successful answer is not JSON or not the published shape.

    Attributes:
        request_id: The ``VND.com.blackrock.Request-ID`` of the request (of
            each request, comma-separated, when one check spans several answers).
        path: The API path that answered.
        status: The HTTP status of the answer (a 2xx), when known.
        detail: What is wrong with it.
    """

    def __init__(
        self, message: str, *, request_id: str | None, path: str, status: int | None = None
    ) -> None:
        self.detail = message
        self.request_id = request_id
        self.path = path
        self.status = status
        super().__init__(self._text())

    def _text(self) -> str:
        status = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{self.path}: {status}{self.detail} (request id {self.request_id})"

    def __str__(self) -> str:  # the client fills in the request id after structuring
        return self._text()


class AladdinOperationTimeoutError(OutcomeUnknownError):
    """Raised when a long-running operation is not ``done`` before the deadline.

    The operation may still complete on Aladdin's side: look it up by
    *operation_id* (or find the orders by external id) before posting again.

    Attributes:
        operation_id: The long-running operation's id.
        waited: Seconds spent polling.
    """

    def __init__(self, operation_id: str, waited: float) -> None:
        self.operation_id = operation_id
        self.waited = waited
        super().__init__(
            f"long-running operation {operation_id!r} not done after {waited:.1f} s; "
            "it may still complete: poll it again or look the orders up by external id"
        )


class AladdinAPIError(DataSourceError):
    """Aladdin answered a request with an error status.

    Attributes:
        status: The HTTP status (``None`` for a per-order error inside a 200 answer).
        code: The error code: a ``google.rpc.Code`` number from an ``rpcStatus``
            or the short mnemonic string of the older error body.
        message: Aladdin's message.
        request_id: The ``VND.com.blackrock.Request-ID`` sent with the request.
        retry_after: Seconds the server asked to wait (``Retry-After``), if any.
        path: The API path.
    """

    def __init__(
        self,
        *,
        status: int | None,
        code: int | str | None,
        message: str,
        request_id: str | None,
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.path = path
        self.retry_after = retry_after
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.path}: " if self.path else ""
        status = f"HTTP {self.status}" if self.status is not None else "error"
        code = f" code={self.code!r}" if self.code is not None else ""
        return f"{where}{status}{code}: {self.message} (request id {self.request_id})"


class AladdinAuthError(AladdinAPIError, RequestRejectedError):
    """Raised on 401 / 403: bad API key or credentials, or a missing scope.

    A 401 on an OAuth 2.0 session first triggers one token refresh; this is
    raised when the fresh token is refused as well.
    """


class AladdinRateLimitError(AladdinAPIError, RequestRejectedError):
    """Raised on 429 once the read retries are spent, or at once for a write."""


class AladdinServerError(AladdinAPIError, OutcomeUnknownError):
    """Raised on a 5xx answer once the read retries are spent."""


class AladdinOutcomeUnknownError(AladdinAPIError, OutcomeUnknownError):
    """Raised when a write (post, modify, cancel) failed after it was sent.

    A 5xx answer or a timeout after the request left the client means the
    order may or may not exist. The client never re-sends a write blindly:
    look it up first (``find_order(external_id)``, ``get_order(order_id)``)
    and post again only if it is not there.
    """


class AladdinNotFoundError(AladdinAPIError, NotFoundError):
    """Raised on 404, or when an answer does not contain the asked-for item."""

    def __str__(self) -> str:
        return self._text()
