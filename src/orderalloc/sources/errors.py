"""The data-source port's own errors: what a failed request says about its effect.

A caller that must never apply a write twice (the desk) decides what to do from
these classes alone, whatever the adapter. Adapters raise them, or subclasses
of them (the Aladdin client's errors are), so no caller imports an adapter to
tell a refusal from a lost answer::

    DataSourceError
    ├── NotFoundError (also KeyError)   no such group, security or order
    ├── OutcomeUnknownError             sent; whether it applied is unknown (a timeout,
    │                                   a 5xx, a dropped answer): look before re-sending
    ├── SourceUnavailableError          not reached, or no answer; ``sent=False``: it
    │                                   certainly never left the client (not applied)
    └── RequestRejectedError            the source refused it (a 4xx): not applied

Any other `~orderalloc.errors.DataSourceError` from a write is read as a
refusal; anything that is not a `~orderalloc.errors.DataSourceError` (a bug, a
raw socket error) as an unknown outcome.
"""

from __future__ import annotations

from orderalloc.errors import (
    DataSourceError,
    NotFoundError,
    OutcomeUnknownError,
    defined_in,
)

# The port's own errors are listed in orderalloc.errors, which loads them lazily.
__all__ = ["DataSourceError", "NotFoundError", "OutcomeUnknownError", *defined_in(__name__)]


class SourceUnavailableError(DataSourceError):
    """Raised by a data source it could not reach, or that did not answer in time.

    A connection that could not be opened (the request never left: pass
    ``sent=False``), a connection dropped or a read that timed out after the
    retries (``sent`` unknown: the default). A write with ``sent=False`` was
    certainly not applied; otherwise it may have been, as for
    `~orderalloc.errors.OutcomeUnknownError`.

    Args:
        message: What failed.
        sent: ``False`` when the request certainly never left the client.

    Attributes:
        sent: ``False``: never sent; ``None``: not known (it may have been applied).

    .. versionadded:: 0.2
    """

    # Unknown unless a subclass or the caller says otherwise.
    sent: bool | None = None

    def __init__(self, message: str, *, sent: bool | None = None) -> None:
        super().__init__(message)
        if sent is not None:  # a subclass may have set it before calling here
            self.sent = sent


class RequestRejectedError(DataSourceError):
    """Raised by a data source that refused a request (invalid, not allowed, over a limit).

    The source answered, and said no: a refused write was not applied. Sending
    the same request again fails the same way unless something changes.

    .. versionadded:: 0.2
    """
