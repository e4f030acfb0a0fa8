"""`aladdin_fault_error`: `FaultySource` faults as the Aladdin client raises them.

`~orderalloc.testing.faults.FaultySource` raises the data-source port's
errors, which is all the desk (or any code written against the port) may rely
on. To test code that looks at the Aladdin client's own classes (an HTTP status, a request id), pass
``errors=aladdin_fault_error``::

    source = FaultySource(MockAladdin(), [Fault("post_order")], errors=aladdin_fault_error)

============ ==============================================================
mode         raised
============ ==============================================================
``BEFORE``   `AladdinTransportError` (``sent=False``)
``AFTER``    `AladdinOutcomeUnknownError` (writes) or `AladdinServerError`
             (reads), status 503
``REJECT``   `AladdinAPIError`, status 400
``SLOW``     `AladdinOutcomeUnknownError` (writes) or `AladdinTransportError`
             (reads)
============ ==============================================================

Each is a subclass of the port error `~orderalloc.testing.faults.port_error`
raises in the same mode.
"""

from __future__ import annotations

from orderalloc.sources.aladdin.errors import (
    AladdinAPIError,
    AladdinOutcomeUnknownError,
    AladdinServerError,
    AladdinTransportError,
)
from orderalloc.testing.faults import WRITES, FaultMode

__all__ = ["aladdin_fault_error"]


def aladdin_fault_error(method: str, n: int, mode: FaultMode) -> Exception:
    """The error the *n*-th call of *method* raises in *mode*, as the Aladdin client's."""
    where = f"{method} call {n}"

    def answered(
        kind: type[AladdinAPIError], status: int | None, code: str | None, what: str
    ) -> AladdinAPIError:
        """Aladdin's error answer to this call, as injected (no request id)."""
        return kind(
            status=status,
            code=code,
            message=f"injected: {where} {what}",
            request_id=None,
            path=method,
        )

    if mode is FaultMode.BEFORE:
        return AladdinTransportError(
            f"injected: {where} could not connect (never sent)", request_id=None, sent=False
        )
    if mode is FaultMode.REJECT:
        return answered(AladdinAPIError, 400, "INVALID_ARGUMENT", "refused")
    if mode is FaultMode.SLOW:
        if method not in WRITES:
            return AladdinTransportError(f"injected: {where} timed out", request_id=None)
        return answered(
            AladdinOutcomeUnknownError,
            None,
            None,
            "timed out after the request was sent; "
            "the write may have been applied: look the order up before retrying",
        )
    kind = AladdinOutcomeUnknownError if method in WRITES else AladdinServerError
    return answered(kind, 503, "UNAVAILABLE", "was carried out, then the answer was lost")
