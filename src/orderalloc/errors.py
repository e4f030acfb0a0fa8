"""Every exception orderalloc raises, under one root.

The tree (every error class of the package; a test keeps it complete)::

    OrderAllocError
    ├── InvalidInputError (also ValueError)         bad input, names the field and value
    │   ├── InvalidSecurityError
    │   ├── InvalidAccountError
    │   ├── InvalidOrderError
    │   ├── InvalidParameterError                   engine parameters, weights, options
    │   ├── UnknownAccountError (also KeyError)     an account id a result does not hold
    │   └── InvalidFillError                        a fill that cannot be allocated
    ├── AllocationError                             an allocation could not be made
    │   ├── UnknownMethodError (also ValueError)    no engine by that name
    │   └── SolverError                             a min-dispersion backend failed
    ├── DataSourceError                             a data source could not answer
    │   ├── NotFoundError (also KeyError)           no such group, security or order
    │   ├── OutcomeUnknownError                     sent; whether it applied is unknown
    │   │   └── AladdinOperationTimeoutError        a long-running operation missed its deadline
    │   ├── SourceUnavailableError                  not reached (sent=False: never left)
    │   │   └── AladdinTransportError               connection failures, timeouts
    │   ├── RequestRejectedError                    the source refused the request
    │   │   ├── OrderRejectedError                  the mock's order system refused it
    │   │   └── RequestRefusedError                 the Aladdin test server refuses it (inside)
    │   ├── AladdinConfigError (also ValueError)    missing or invalid AladdinConfig settings
    │   ├── AladdinResponseError                    a 2xx answer that is not the published shape
    │   └── AladdinAPIError                         Aladdin answered with an error
    │       ├── AladdinAuthError (also RequestRejectedError)        401 / 403
    │       ├── AladdinRateLimitError (also RequestRejectedError)   429
    │       ├── AladdinServerError (also OutcomeUnknownError)       5xx
    │       ├── AladdinOutcomeUnknownError (also OutcomeUnknownError)  a write lost after sending
    │       └── AladdinNotFoundError (also NotFoundError, KeyError)    404
    ├── MissingExtraError (also ImportError)        an optional dependency is not installed
    ├── InvariantError (also AssertionError)        check_allocation: a hard invariant broken
    ├── AuditSinkError                              the audit trail could not be written or read
    │   └── AuditIntegrityError                     the hash chain does not verify
    └── DeskError                                   preview / commit / book refused or failed
        ├── UnknownAllocationError (also LookupError)  no such preview in the trail
        ├── UnknownOrderError (also LookupError)       no committed allocation made the order
        ├── NothingToCommitError                       the allocation places nothing
        ├── NothingToBookError                         no fill left to book
        ├── StalePreviewError                          older than the desk's max_age
        ├── InputsChangedError                         cash or holdings no longer cover a line
        ├── FillsChangedError                          the order's bookings moved since
        ├── ComplianceRefusedError                     blocking what-if violations, not overridden
        ├── CommitInProgressError                      another process is committing it now
        └── CommitFailedError                          the order system refused or failed
            ├── CommitOutcomeUnknownError              sent, outcome unknown: commit again
            └── BasketIncompleteError                  some orders of a basket not booked yet

Every class in the tree is an attribute of this module. Those defined next to
the code that raises them (the desk's in `orderalloc.desk.errors`, the data
source port's in `orderalloc.sources.errors`, the Aladdin client's in
`orderalloc.sources.aladdin.errors`, `InvalidFillError` in `orderalloc.fills`,
`OrderRejectedError` in `orderalloc.sources.mock`, the testing tools' in
`orderalloc.testing`) are loaded from there on first
use, so ``import orderalloc`` stays cheap. ``except oa.OrderAllocError``
catches every one of them.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AllocationError",
    "AuditIntegrityError",
    "AuditSinkError",
    "DataSourceError",
    "DeskError",
    "InvalidAccountError",
    "InvalidInputError",
    "InvalidOrderError",
    "InvalidParameterError",
    "InvalidSecurityError",
    "MissingExtraError",
    "NotFoundError",
    "OrderAllocError",
    "OutcomeUnknownError",
    "SolverError",
    "UnknownAccountError",
    "UnknownMethodError",
]


class OrderAllocError(Exception):
    """The root of every error orderalloc raises.

    Every error pickles with its fields (``field``, ``sent``, a request id, ...),
    so one raised in another process (an executor's worker, a Dask cluster)
    reaches the caller whole. `BaseException` pickles by calling ``cls(*args)``
    again, which a constructor that takes its fields and words its message from
    them refuses; these are rebuilt from their ``args`` and attributes instead,
    without calling ``__init__``.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args), self.__dict__)


def _restore(cls: type[OrderAllocError], args: tuple[Any, ...]) -> OrderAllocError:
    """An error of *cls* with *args*, its constructor not called (see `OrderAllocError`)."""
    return cls.__new__(cls, *args)


class InvalidInputError(OrderAllocError, ValueError):
    """An input value is not acceptable.

    Raised at construction of a model object, or by an engine when it reads its
    parameters, so that bad input never reaches numpy or a solver. The message
    names the *field* and the *value* and says what would be acceptable.

    Attributes:
        field: The dotted name of the offending field (``"accounts[3].nav"``).
        value: The value that was refused.
        reason: What is wrong with it, in words.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={_short_repr(value)}: {reason}")


class UnknownAccountError(InvalidInputError, KeyError):
    """Raised by a result's ``line(account_id)`` for an account it does not hold.

    Also a `KeyError`, as a mapping lookup's miss is.

    Attributes:
        field: ``"account_id"``.
        value: The id asked for.
    """

    def __init__(self, account_id: str, accounts: int) -> None:
        super().__init__("account_id", account_id, f"not one of the {accounts:,} accounts here")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class InvalidSecurityError(InvalidInputError):
    """Raised by `Security` when a field is invalid (price <= 0, min_piece <= 0, ...)."""


class InvalidAccountError(InvalidInputError):
    """Raised by `Account` and `AccountTable` when a field is invalid (NAV <= 0, ...)."""


class InvalidOrderError(InvalidInputError):
    """Raised by `Order` when a field is invalid (negative or NaN quantity, bad side, ...)."""


class InvalidParameterError(InvalidInputError):
    """Raised by an engine or `allocate` when a parameter is invalid (weights, metric, ...)."""


class AllocationError(OrderAllocError):
    """An allocation could not be made."""


class UnknownMethodError(AllocationError, ValueError):
    """Raised by `orderalloc.engines.get` and `allocate` for a method with no engine."""

    def __init__(self, name: str, available: tuple[str, ...]) -> None:
        self.name = name
        self.available = available
        super().__init__(
            f"method={name!r}: no engine by that name; available: {', '.join(available)}"
        )


class SolverError(AllocationError):
    """Raised by a min-dispersion backend that failed and had no fallback left.

    Attributes:
        backend: The backend's name (``"exact"``, ``"slsqp"``, ``"convex"``).
        status: The solver's own status word.
    """

    def __init__(self, backend: str, status: str, message: str) -> None:
        self.backend = backend
        self.status = status
        super().__init__(f"backend={backend!r} status={status!r}: {message}")


class DataSourceError(OrderAllocError):
    """A data source (Aladdin, the mock, a file) could not answer."""


class NotFoundError(DataSourceError, KeyError):
    """Raised by a data source asked for a group, security or order it does not have."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class OutcomeUnknownError(DataSourceError):
    """Raised by a data source when a write was sent but its outcome is unknown.

    A timeout or a 5xx answer after the request left the client: the order may
    or may not be booked. The desk looks it up by its external id before it
    sends anything again. Sources of one's own raise it (or a subclass) for
    such failures; the Aladdin client's ``AladdinOutcomeUnknownError`` is one.
    """


class MissingExtraError(OrderAllocError, ImportError):
    """Raised when a feature needs an optional dependency that is not installed.

    The message says which extra to install (``pip install 'orderalloc[pandas]'``).

    Attributes:
        feature: What was asked for (``"AllocationResult.to_frame"``).
        package: The missing package's import name.
        extra: The orderalloc extra that installs it.
    """

    def __init__(self, feature: str, package: str, extra: str) -> None:
        self.feature = feature
        self.package = package
        self.extra = extra
        super().__init__(f"{feature} needs {package}: pip install 'orderalloc[{extra}]'")
        self.name = package


def require(feature: str, package: str, extra: str) -> None:
    """Import *package* now, or raise `MissingExtraError` naming *feature* and the extra."""
    import importlib

    try:
        importlib.import_module(package)
    except ImportError as exc:
        raise MissingExtraError(feature, package, extra) from exc


class AuditSinkError(OrderAllocError):
    """The audit trail could not be written or read."""


class AuditIntegrityError(AuditSinkError):
    """Raised by ``verify()`` of an audit sink when a row was edited or deleted."""


class DeskError(OrderAllocError):
    """Raised by the desk when a preview, commit, modify or cancel is refused."""


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# The error classes defined next to the code that raises them, by module: the one
# list of their names. Loaded on first use (the desk, the sources and the Aladdin
# client are costly imports); the modules whose ``__all__`` is their errors take
# it from here (`defined_in`).
_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "orderalloc.fills.fill": ("InvalidFillError",),
    "orderalloc.sources.mock": ("OrderRejectedError",),
    "orderalloc.testing.checks": ("InvariantError",),
    "orderalloc.testing.aladdin.replies": ("RequestRefusedError",),
    "orderalloc.sources.errors": ("RequestRejectedError", "SourceUnavailableError"),
    "orderalloc.sources.aladdin.errors": (
        "AladdinAPIError",
        "AladdinAuthError",
        "AladdinConfigError",
        "AladdinNotFoundError",
        "AladdinOperationTimeoutError",
        "AladdinOutcomeUnknownError",
        "AladdinRateLimitError",
        "AladdinResponseError",
        "AladdinServerError",
        "AladdinTransportError",
    ),
    "orderalloc.desk.errors": (
        "BasketIncompleteError",
        "CommitFailedError",
        "CommitInProgressError",
        "CommitOutcomeUnknownError",
        "ComplianceRefusedError",
        "FillsChangedError",
        "InputsChangedError",
        "NothingToBookError",
        "NothingToCommitError",
        "StalePreviewError",
        "UnknownAllocationError",
        "UnknownOrderError",
    ),
}
_HOME = {name: module for module, names in _ELSEWHERE.items() for name in names}


def defined_in(module: str) -> list[str]:
    """The error classes *module* defines (listed once, here), for its ``__all__``."""
    return list(_ELSEWHERE[module])


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
