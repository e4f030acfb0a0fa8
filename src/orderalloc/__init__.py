"""orderalloc: fair, tradable and audited allocation of fixed income orders.

The layout, in the order data flows::

    model.py          Security, Account, AccountTable, Order: validated inputs
    limits.py         each account's legal amounts for one order (cash, holdings, limits)
    engines/          ProRata, CustomWeights, MinDispersion: the ideal split; a registry
    solvers/          the continuous problems: quadratic knapsack, min-dispersion backends
    lots.py           denominations: legal amounts with the exact total
    result.py         AllocationResult: columns, reasons, dispersion summary
    reasons.py        why each account got what it got
    serialization.py  JSON for every public type
    sources/          the DataSource protocol, the Aladdin client, the mock
    audit/            the AuditSink protocol, SQLite (default), Snowflake, outbox
    desk.py           preview -> what-if -> commit -> modify / cancel, audited
    cli.py            the ``orderalloc`` command
    testing/          strategies, invariant checks and fakes for users' tests

Everything public is importable from here; subpackages hold the adapters.
"""

from __future__ import annotations

import importlib.metadata as _metadata

import attrs as _attrs

from . import engines, limits, lots
from .allocation import allocate
from .engines import CustomWeights, Engine, ProRata
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
    SolverError,
    UnknownMethodError,
)
from .model import Account, AccountLimits, AccountTable, Order, Security, Side, as_table
from .reasons import Reason
from .result import Allocation, AllocationResult, DispersionSummary, SolverInfo
from .serialization import from_json, to_json

try:
    __version__ = _metadata.version("orderalloc")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Account",
    "AccountLimits",
    "AccountTable",
    "Allocation",
    "AllocationError",
    "AllocationResult",
    "AuditIntegrityError",
    "AuditSinkError",
    "CustomWeights",
    "DataSourceError",
    "DeskError",
    "DispersionSummary",
    "Engine",
    "InvalidAccountError",
    "InvalidInputError",
    "InvalidOrderError",
    "InvalidParameterError",
    "InvalidSecurityError",
    "NotFoundError",
    "Order",
    "OrderAllocError",
    "ProRata",
    "Reason",
    "Security",
    "Side",
    "SolverError",
    "SolverInfo",
    "UnknownMethodError",
    "__version__",
    "allocate",
    "as_table",
    "engines",
    "from_json",
    "limits",
    "lots",
    "to_json",
]

# Reprs and docs say orderalloc.X, not orderalloc.model.X. Annotations are
# resolved first, in their own module, so cattrs and typing still find them.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("orderalloc."):
        if _attrs.has(_obj):
            _attrs.resolve_types(_obj)
        _obj.__module__ = "orderalloc"
del _name, _obj
