"""Tools for testing code that uses orderalloc, and for benchmark campaigns.

* `check_allocation`: asserts every hard invariant of a result.
* `orderalloc.testing.strategies`: Hypothesis strategies for securities,
  accounts, groups and orders (needs ``hypothesis``).
* `orderalloc.testing.recording`: an in-memory audit sink for tests.
* `orderalloc.testing.faults`: `FaultySource`, a data source that fails on
  a schedule (before sending, after booking, refused), for resilience tests.
* `orderalloc.testing.aladdin`: a handler that serves the Aladdin Graph API
  shapes from mock data (for ``httpx.MockTransport`` or a loopback server).
"""

from __future__ import annotations

from .aladdin import AladdinMockHandler, FaultPlan, LoopbackServer, serve
from .checks import InvariantError, check_allocation
from .faults import Fault, FaultMode, FaultySource, InjectedFault
from .recording import RecordingSink

__all__ = [
    "AladdinMockHandler",
    "Fault",
    "FaultMode",
    "FaultPlan",
    "FaultySource",
    "InjectedFault",
    "InvariantError",
    "LoopbackServer",
    "RecordingSink",
    "check_allocation",
    "serve",
]
