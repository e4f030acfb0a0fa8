"""orderalloc: fair, tradable and audited allocation of fixed income orders.

The layout, in the order data flows::

    _model.py         Security, Account, Order: validated inputs
    _table.py         AccountTable, as_table: the accounts as columns
    limits.py         each account's legal amounts for one order (cash, holdings, limits)
    engines/          ProRata, CustomWeights, MinDispersion: the ideal split; a registry
    solvers/          the continuous problems: quadratic knapsack, min-dispersion backends
    lots/             denominations: legal amounts with the exact total, one step a module
    _basket.py        allocate_basket: many orders of one group, cash shared across them
                      (_basket_cash, _basket_state, _basket_strategies, _basket_result)
    _switches.py      Switch: sell A, buy B paired per account (a basket option)
    parallel.py       executor= scale-out: the same basket over many groups
    _result.py        AllocationResult: columns, reasons, dispersion summary
    _reasons.py       why each account got what it got
    _serialization.py JSON for every public type
    sources/          the DataSource protocol, the Aladdin client, the mock
    audit/            the AuditSink protocol, SQLite (default), Snowflake, outbox
    desk/             preview -> what-if -> commit -> modify / cancel, fills booked,
                      baskets committed as one unit; audited
    fills/            post-trade: fills allocated to the intent, rotation ledger, prices
    fairness/         analytics over the audit trail: fill rates, shortfalls, permutation test
    _cli/             the ``orderalloc`` command (``python -m orderalloc``): the root
                      group, then a private module per family of commands
    testing/          strategies, invariant checks and fakes for users' tests
    plot.py, typing.py, errors.py: matplotlib figures, type aliases, the error tree

Everything public is importable from here. A module whose name starts with an
underscore is an implementation detail: import its names from ``orderalloc``. The
public modules are the subpackages above and ``errors``, ``limits``, ``lots``,
``parallel``, ``plot`` and ``typing``, each documented in the API reference.
"""

import typing as _typing

# Only the errors load with the package: they are plain classes (no numpy), and
# callers name them in ``except`` clauses. Everything else, engines included,
# loads on first use through `__getattr__` (see `_lazy_map`).
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
    UnknownAccountError,
    UnknownMethodError,
)

if _typing.TYPE_CHECKING:
    # Everything below is imported on first use (see `_lazy_map`); type checkers
    # see it here as if it were imported eagerly.
    from . import desk, engines, limits, lots
    from ._allocation import allocate
    from ._basket import BasketResult, allocate_basket
    from ._model import Account, AccountLimits, AccountTable, Order, Security, Side, as_table
    from ._reasons import CodedReason, Reason
    from ._result import Allocation, AllocationResult, DispersionSummary, SolverInfo
    from ._serialization import from_json, to_json
    from ._switches import Switch
    from .audit import AuditEvent, AuditSink, EventKind, OutboxSink, SQLiteAuditSink, VerifyReport
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
    from .parallel import allocate_basket_many
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

    __version__: str

# Everything but the errors loads on first use (issue 15). The adapters (the
# HTTP client, the desk, SQLite and the audit trail, the data sources, cattrs,
# the executor scale-out) cost most of a second and an engine needs none of
# them; the engines themselves need numpy and attrs, which a script that only
# names an error, or the CLI's ``--help``, should not pay for either.
#
# Which module holds which name is written once, in the ``TYPE_CHECKING`` block
# above (type checkers read it as eager imports); `_lazy_map` reads the same
# block at the first lookup, the way SPEC 1's ``lazy_loader.attach_stub`` reads
# a stub.
_LAZY: dict[str, str] = {}


def _lazy_map() -> dict[str, str]:
    """Name -> submodule (relative), from this file's ``TYPE_CHECKING`` imports.

    A name that is itself a submodule (``desk``, ``engines``) maps to its own name.
    """
    if not _LAZY:
        import ast
        from pathlib import Path

        source = Path(__file__).read_text(encoding="utf-8")
        block = next(
            node
            for node in ast.parse(source).body
            if isinstance(node, ast.If) and ast.unparse(node.test) == "_typing.TYPE_CHECKING"
        )
        for node in block.body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for alias in node.names:
                    _LAZY[alias.name] = node.module or alias.name
    return _LAZY


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
    module = _lazy_map().get(name)
    if module is not None:
        import importlib
        import sys

        loaded_module = importlib.import_module(f".{module}", __name__)
        if module == name:  # a submodule offered by name (engines, limits, lots)
            globals()[name] = loaded_module
        # Every public name whose module is now loaded (the desk loads the
        # sources and the audit events, say) presents itself as orderalloc.X
        # at once, so signatures that mention it read that way too.
        for other, where in _lazy_map().items():
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
    "CodedReason",
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
    "UnknownAccountError",
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
    if _name in globals():  # loaded with the package: the errors
        _present(globals()[_name])
del _name
