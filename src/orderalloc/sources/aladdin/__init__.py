"""The Aladdin adapter: `AladdinClient`, `AsyncAladdinClient`, `AladdinConfig`, and their errors.

Layout, from the wire up:

* ``wire`` (public): API paths, headers, limits, the JSON shapes (attrs) and
  their cattrs converter; the test server (`orderalloc.testing.aladdin`)
  speaks through it too;
* ``transport``: one exchange's policy: rate limit, read cache, OAuth token,
  retries, HTTP status to typed error;
* ``mapping``: wire objects to domain objects (`AccountTable`, `Security`,
  orders, trades) and back;
* ``plans``: each operation written once, as a generator of requests;
* ``client``: the sync and async drivers that run the plans;
* ``config`` (settings, ``from_env``) and ``errors`` (the error tree).

``specs/`` holds BlackRock's published API descriptions (Apache-2.0), used by
the tests to validate every request.
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
