"""The Aladdin adapter: `AladdinClient`, `AsyncAladdinClient`, `AladdinConfig`, and their errors.

Layout: ``config`` (settings, ``from_env``), ``errors`` (the error tree),
``converter`` (wire shapes and the cattrs converter), ``_base`` (requests,
retries, rate limit, cache and parsing shared by both clients), ``client``
(the two I/O drivers). ``specs/`` holds BlackRock's published API
descriptions (Apache-2.0), used by the tests to validate every request.
"""

from .client import AladdinClient, AsyncAladdinClient
from .config import AladdinConfig, Secret
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

__all__ = [
    "AladdinAPIError",
    "AladdinAuthError",
    "AladdinClient",
    "AladdinConfig",
    "AladdinConfigError",
    "AladdinNotFoundError",
    "AladdinOperationTimeoutError",
    "AladdinOutcomeUnknownError",
    "AladdinRateLimitError",
    "AladdinResponseError",
    "AladdinServerError",
    "AladdinTransportError",
    "AsyncAladdinClient",
    "Secret",
]
