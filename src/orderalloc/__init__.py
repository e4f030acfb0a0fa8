"""orderalloc: fair, tradable and audited allocation of fixed income orders.

The layout, in the order data flows::

    model.py          Security, Account, Order: validated inputs
    _table.py         AccountTable, as_table: the accounts as columns
    limits.py         each account's legal amounts for one order (cash, holdings, limits)
    engines/          ProRata, CustomWeights, MinDispersion: the ideal split; a registry
    solvers/          the continuous problems: quadratic knapsack, min-dispersion backends
    lots.py           denominations: legal amounts with the exact total
    basket.py         allocate_basket: many orders of one group, cash shared across them
    switches.py       Switch: sell A, buy B paired per account (a basket option)
    parallel.py       executor= scale-out: the same basket over many groups
    result.py         AllocationResult: columns, reasons, dispersion summary
    reasons.py        why each account got what it got
    serialization.py  JSON for every public type
    sources/          the DataSource protocol, the Aladdin client, the mock
    audit/            the AuditSink protocol, SQLite (default), Snowflake, outbox
    desk/             preview -> what-if -> commit -> modify / cancel, fills booked,
                      baskets committed as one unit; audited
    fills/            post-trade: fills allocated to the intent, rotation ledger, prices
    fairness/         analytics over the audit trail: fill rates, shortfalls, permutation test
    cli.py            the ``orderalloc`` command
    testing/          strategies, invariant checks and fakes for users' tests

Everything public is importable from here; subpackages hold the adapters.
"""

from __future__ import annotations

import typing as _typing

# Only the errors load with the package: they are plain classes (no numpy), and
# callers name them in ``except`` clauses. Everything else, engines included,
# loads on first use through `__getattr__` (see _LAZY).
from .errors import (
    AllocationError,
    AuditIntegrityError,
    AuditSinkError,
    DataSourceError,
    DeskError,
    InvalidAccountError,
    InvalidInputError,
    InvalidOrderError,
    InvalidParameterError,
    InvalidSecurityError,
    MissingExtraError,
    NotFoundError,
    OrderAllocError,
    OutcomeUnknownError,
    SolverError,
    UnknownMethodError,
)

if _typing.TYPE_CHECKING:
    # Everything below is imported on first use (see _LAZY); type checkers
    # see it here as if it were imported eagerly.
    from . import desk, engines, limits, lots
    from .allocation import allocate
    from .audit import AuditEvent, AuditSink, EventKind, OutboxSink, SQLiteAuditSink, VerifyReport
    from .basket import BasketResult, allocate_basket
    from .desk import (
        BasketDesk,
        BasketIncompleteError,
        BasketPreview,
        BasketReceipt,
        CommitFailedError,
        CommitInProgressError,
        CommitOutcomeUnknownError,
        CommitReceipt,
        ComplianceRefusedError,
        Desk,
        InputsChangedError,
        NothingToCommitError,
        Preview,
        StalePreviewError,
        UnknownAllocationError,
        UnknownOrderError,
    )
    from .engines import CustomWeights, Engine, MinDispersion, ProRata
    from .fairness import FairnessReport, FairnessTrail, PermutationResult, analyse_fairness
    from .fills import (
        Fill,
        FillAllocation,
        FillLedger,
        FillReason,
        InvalidFillError,
        NewIssueIntent,
        allocate_fills,
        new_issue_intent,
    )
    from .model import Account, AccountLimits, AccountTable, Order, Security, Side, as_table
    from .parallel import allocate_basket_many
    from .reasons import Reason
    from .result import Allocation, AllocationResult, DispersionSummary, SolverInfo
    from .serialization import from_json, to_json
    from .sources import (
        AsyncDataSource,
        AsyncMockAladdin,
        ComplianceViolation,
        DataSource,
        MockAladdin,
        OrderLine,
        OrderStatus,
        OrderTicket,
        PostedOrder,
        WhatIfReport,
        default_source,
        describe_source,
    )
    from .sources.aladdin import (
        AladdinAPIError,
        AladdinClient,
        AladdinConfig,
        AladdinOutcomeUnknownError,
        AsyncAladdinClient,
    )
    from .switches import Switch

    __version__: str

# Everything but the errors loads on first use (issue 15). The adapters (the
# HTTP client, the desk, SQLite and the audit trail, the data sources, cattrs,
# the executor scale-out) cost most of a second and an engine needs none of
# them; the engines themselves need numpy and attrs, which a script that only
# names an error, or the CLI's ``--help``, should not pay for either.
# Name -> module (a name that is itself a submodule maps to its own name).
_LAZY: dict[str, str] = {
    **{name: name for name in ("desk", "engines", "limits", "lots")},
    "allocate": "allocation",
    **dict.fromkeys(("BasketResult", "allocate_basket"), "basket"),
    **dict.fromkeys(("CustomWeights", "Engine", "MinDispersion", "ProRata"), "engines"),
    **dict.fromkeys(
        (
            "Fill",
            "FillAllocation",
            "FillLedger",
            "FillReason",
            "InvalidFillError",
            "NewIssueIntent",
            "allocate_fills",
            "new_issue_intent",
        ),
        "fills",
    ),
    **dict.fromkeys(
        ("Account", "AccountLimits", "AccountTable", "Order", "Security", "Side", "as_table"),
        "model",
    ),
    "Reason": "reasons",
    **dict.fromkeys(
        ("Allocation", "AllocationResult", "DispersionSummary", "SolverInfo"), "result"
    ),
    "Switch": "switches",
    **dict.fromkeys(
        ("AuditEvent", "AuditSink", "EventKind", "OutboxSink", "SQLiteAuditSink", "VerifyReport"),
        "audit",
    ),
    **dict.fromkeys(
        (
            "BasketDesk",
            "BasketIncompleteError",
            "BasketPreview",
            "BasketReceipt",
            "CommitFailedError",
            "CommitInProgressError",
            "CommitOutcomeUnknownError",
            "CommitReceipt",
            "ComplianceRefusedError",
            "Desk",
            "InputsChangedError",
            "NothingToCommitError",
            "Preview",
            "StalePreviewError",
            "UnknownAllocationError",
            "UnknownOrderError",
        ),
        "desk",
    ),
    "allocate_basket_many": "parallel",
    **dict.fromkeys(
        ("FairnessReport", "FairnessTrail", "PermutationResult", "analyse_fairness"), "fairness"
    ),
    **dict.fromkeys(("from_json", "to_json"), "serialization"),
    **dict.fromkeys(
        (
            "AsyncDataSource",
            "AsyncMockAladdin",
            "ComplianceViolation",
            "DataSource",
            "MockAladdin",
            "OrderLine",
            "OrderStatus",
            "OrderTicket",
            "PostedOrder",
            "WhatIfReport",
            "default_source",
            "describe_source",
        ),
        "sources",
    ),
    **dict.fromkeys(
        (
            "AladdinAPIError",
            "AladdinClient",
            "AladdinConfig",
            "AladdinOutcomeUnknownError",
            "AsyncAladdinClient",
        ),
        "sources.aladdin",
    ),
}


def _present(obj: _typing.Any) -> _typing.Any:
    """Make a public class present itself as ``orderalloc.X`` (reprs and docs).

    Annotations are resolved first, in the class's own module, so cattrs and
    typing still find them.
    """
    if isinstance(obj, type) and obj.__module__.startswith("orderalloc."):
        # An attrs class carries __attrs_attrs__: the errors, which load with
        # the package, are not, so `import orderalloc` does not import attrs.
        if hasattr(obj, "__attrs_attrs__"):
            import attrs

            try:
                attrs.resolve_types(obj)
            except NameError:  # annotations that only exist for type checkers
                return obj
        obj.__module__ = "orderalloc"
    return obj


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is not None:
        import importlib
        import sys

        loaded_module = importlib.import_module(f".{module}", __name__)
        if module == name:  # a submodule offered by name (engines, limits, lots)
            globals()[name] = loaded_module
        # Every public name whose module is now loaded (the desk loads the
        # sources and the audit events, say) presents itself as orderalloc.X
        # at once, so signatures that mention it read that way too.
        for other, where in _LAZY.items():
            loaded = sys.modules.get(f"{__name__}.{where}")
            if loaded is not None and other not in globals() and hasattr(loaded, other):
                globals()[other] = _present(getattr(loaded, other))
        value = globals()[name]
    elif name == "__version__":
        import importlib.metadata

        try:
            value = importlib.metadata.version("orderalloc")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source tree
            value = "0.0.0"
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Account",
    "AccountLimits",
    "AccountTable",
    "AladdinAPIError",
    "AladdinClient",
    "AladdinConfig",
    "AladdinOutcomeUnknownError",
    "Allocation",
    "AllocationError",
    "AllocationResult",
    "AsyncAladdinClient",
    "AsyncDataSource",
    "AsyncMockAladdin",
    "AuditEvent",
    "AuditIntegrityError",
    "AuditSink",
    "AuditSinkError",
    "BasketDesk",
    "BasketIncompleteError",
    "BasketPreview",
    "BasketReceipt",
    "BasketResult",
    "CommitFailedError",
    "CommitInProgressError",
    "CommitOutcomeUnknownError",
    "CommitReceipt",
    "ComplianceRefusedError",
    "ComplianceViolation",
    "CustomWeights",
    "DataSource",
    "DataSourceError",
    "Desk",
    "DeskError",
    "DispersionSummary",
    "Engine",
    "EventKind",
    "FairnessReport",
    "FairnessTrail",
    "Fill",
    "FillAllocation",
    "FillLedger",
    "FillReason",
    "InputsChangedError",
    "InvalidAccountError",
    "InvalidFillError",
    "InvalidInputError",
    "InvalidOrderError",
    "InvalidParameterError",
    "InvalidSecurityError",
    "MinDispersion",
    "MissingExtraError",
    "MockAladdin",
    "NewIssueIntent",
    "NotFoundError",
    "NothingToCommitError",
    "Order",
    "OrderAllocError",
    "OrderLine",
    "OrderStatus",
    "OrderTicket",
    "OutboxSink",
    "OutcomeUnknownError",
    "PermutationResult",
    "PostedOrder",
    "Preview",
    "ProRata",
    "Reason",
    "SQLiteAuditSink",
    "Security",
    "Side",
    "SolverError",
    "SolverInfo",
    "StalePreviewError",
    "Switch",
    "UnknownAllocationError",
    "UnknownMethodError",
    "UnknownOrderError",
    "VerifyReport",
    "WhatIfReport",
    "__version__",
    "allocate",
    "allocate_basket",
    "allocate_basket_many",
    "allocate_fills",
    "analyse_fairness",
    "as_table",
    "default_source",
    "describe_source",
    "desk",
    "engines",
    "errors",
    "from_json",
    "limits",
    "lots",
    "new_issue_intent",
    "to_json",
]

for _name in __all__:
    if _name not in _LAZY and _name != "__version__":
        _present(globals()[_name])
del _name
