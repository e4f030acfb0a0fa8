"""What a failed send means: the one place the desk decides "booked or not?".

The desk knows only the data-source port's errors
(`orderalloc.sources.errors`), never an adapter's: an adapter's errors
subclass them. `classify` turns the exception a send raised into the outcome
recorded on ``COMMIT_FAILED`` / ``BOOK_FAILED``:

==================== ============================================== =====================
outcome              raised                                         what the desk does
==================== ============================================== =====================
``not_booked``       `SourceUnavailableError` with ``sent=False``   settled; retry at once
                     (the request never left the client)
``unknown``          `OutcomeUnknownError`, `SourceUnavailableError` look it up; if unseen,
                     (sent or not known), `TimeoutError`,           hold the attempt open
                     `ConnectionError`, and anything that is not a  for the commit lease
                     `DataSourceError` (a bug, a raw socket error)
``rejected``         any other `DataSourceError` (a refusal:        settled; not retryable
                     `RequestRejectedError`, a 4xx)
==================== ============================================== =====================

Guessing "not booked" wrongly books twice; guessing "unknown" wrongly costs a
look-up. So only a certain answer settles an attempt. A new rule (a source
error that proves a write was not applied, say) is a new row here and a test
in ``tests/desk``.
"""

from __future__ import annotations

from ..errors import DataSourceError, OutcomeUnknownError
from ..sources.errors import SourceUnavailableError

__all__ = [
    "OUTCOME_NOT_BOOKED",
    "OUTCOME_REFUSED",
    "OUTCOME_REJECTED",
    "OUTCOME_UNKNOWN",
    "SETTLED",
    "classify",
]

#: ``COMMIT_FAILED`` / ``BOOK_FAILED`` outcomes. ``unknown`` keeps the attempt
#: open (the next commit looks the order up first); ``not_booked`` and
#: ``rejected`` settle it; ``refused`` is the desk's own checks (no attempt made).
OUTCOME_NOT_BOOKED = "not_booked"
OUTCOME_REJECTED = "rejected"
OUTCOME_UNKNOWN = "unknown"
OUTCOME_REFUSED = "refused"
SETTLED = frozenset({OUTCOME_NOT_BOOKED, OUTCOME_REJECTED})

# Errors after which a write may or may not have been applied (besides every
# error that is not a DataSourceError).
_AMBIGUOUS: tuple[type[BaseException], ...] = (
    OutcomeUnknownError,
    SourceUnavailableError,
    TimeoutError,
    ConnectionError,
)


def classify(exc: Exception) -> str:
    """The outcome of a send that raised *exc*: not booked, unknown, or rejected."""
    if isinstance(exc, SourceUnavailableError) and exc.sent is False:
        return OUTCOME_NOT_BOOKED
    if isinstance(exc, _AMBIGUOUS) or not isinstance(exc, DataSourceError):
        return OUTCOME_UNKNOWN
    return OUTCOME_REJECTED
