"""Post-trade: fills allocated to the recorded intent, at one average price, fair over time.

The layout, in the order data flows::

    fill.py       Fill (an execution) and FillReason (why each line is what it is)
    ledger.py     FillLedger: shortfalls carried from fill to fill, order to order
    rotation.py   who gets the pieces of a fill: the accounts whose share falls due first
    pricing.py    average prices, and principal split to the cent
    allocate.py   allocate_fills: the rules, the deviation mode
    result.py     FillAllocation: columns, reasons, JSON, to_frame
    new_issue.py  indications of interest as the intent of a new issue

Everything here is pure: values in, values out, nothing sent or stored. A
desk records the result (and its ledger) in its audit trail.
"""

from __future__ import annotations

from .allocate import allocate_fills, legal_intent
from .fill import Fill, FillReason, InvalidFillError
from .ledger import FillLedger, book_key
from .new_issue import NewIssueIntent, new_issue_intent
from .result import FillAllocation

__all__ = [
    "Fill",
    "FillAllocation",
    "FillLedger",
    "FillReason",
    "InvalidFillError",
    "NewIssueIntent",
    "allocate_fills",
    "book_key",
    "legal_intent",
    "new_issue_intent",
]
