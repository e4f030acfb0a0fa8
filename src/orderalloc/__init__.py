"""orderalloc: fair, tradable and audited allocation of fixed income orders.

The layout, in the order data flows::

    model.py          Security, Account, AccountTable, Order: validated inputs
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
    desk.py           preview -> what-if -> commit -> modify / cancel, audited
    fills/            post-trade: fills allocated to the intent, rotation ledger, prices
    cli.py            the ``orderalloc`` command
    testing/          strategies, invariant checks and fakes for users' tests

Everything public is importable from here; subpackages hold the adapters.
"""

from __future__ import annotations

import importlib.metadata as _metadata

import attrs as _attrs

from . import engines, limits, lots
from .allocation import allocate
from .audit import AuditEvent, AuditSink, EventKind, OutboxSink, SQLiteAuditSink, VerifyReport
from .basket import BasketResult, allocate_basket
from .desk import (
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
    NotFoundError,
    OrderAllocError,
    OutcomeUnknownError,
    SolverError,
    UnknownMethodError,
)
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

try:
    __version__ = _metadata.version("orderalloc")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
    "as_table",
    "default_source",
    "describe_source",
    "engines",
    "from_json",
    "limits",
    "lots",
    "new_issue_intent",
    "to_json",
]

# Reprs and docs say orderalloc.X, not orderalloc.model.X. Annotations are
# resolved first, in their own module, so cattrs and typing still find them.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("orderalloc."):
        if _attrs.has(_obj):
            try:
                _attrs.resolve_types(_obj)
            except NameError:  # annotations that only exist for type checkers
                continue
        _obj.__module__ = "orderalloc"
del _name, _obj
