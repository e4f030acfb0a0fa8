"""orderalloc: fair, tradable and audited allocation of fixed income orders."""
from .errors import *  # noqa: F403
from .model import Account, AccountLimits, AccountTable, Order, Security, Side, as_table
from .allocation import allocate
from . import limits, engines
from .serialization import from_json, to_json
from .result import AllocationResult, Allocation, DispersionSummary, SolverInfo
from .reasons import Reason
