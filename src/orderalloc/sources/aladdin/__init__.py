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

Where a change goes: a new Aladdin field is declared on its class in ``wire``
and read in ``mapping``; a retry rule is ``transport`` (``RETRY_STATUSES``,
``is_retryable``, ``retry_kwargs``); a new operation is one plan in ``plans``
plus one method on each client in ``client``.

``specs/`` holds BlackRock's published API descriptions (Apache-2.0), used by
the tests to validate every request.
"""

from . import errors
from .client import AladdinClient, AsyncAladdinClient
from .config import AladdinConfig, Secret

# The error classes, re-exported under their own names (errors.__all__ lists them).
from .errors import AladdinAPIError as AladdinAPIError
from .errors import AladdinAuthError as AladdinAuthError
from .errors import AladdinConfigError as AladdinConfigError
from .errors import AladdinNotFoundError as AladdinNotFoundError
from .errors import AladdinOperationTimeoutError as AladdinOperationTimeoutError
from .errors import AladdinOutcomeUnknownError as AladdinOutcomeUnknownError
from .errors import AladdinRateLimitError as AladdinRateLimitError
from .errors import AladdinResponseError as AladdinResponseError
from .errors import AladdinServerError as AladdinServerError
from .errors import AladdinTransportError as AladdinTransportError

__all__ = ["AladdinClient", "AladdinConfig", "AsyncAladdinClient", "Secret"]
__all__ += errors.__all__
