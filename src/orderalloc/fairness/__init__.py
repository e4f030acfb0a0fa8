"""Fairness you can prove: analytics over the audit trail.

The layout, in the order data flows::

    trail.py        read_trail: one group's events over a period, as columns
    stats.py        fill rates, zero fills, shortfall against pro rata, distance of methods
    permutation.py  P&L of allocations, the permutation test ("gets the winners")
    report.py       analyse_fairness -> FairnessReport: summary(), records(), text()
    html.py         the text and the self-contained HTML report

Everything reads the payloads as JSON, through the sink's reading API only.
"""

from __future__ import annotations

from .permutation import PermutationResult, later_prices, order_returns, permutation_test
from .report import FairnessReport, analyse_fairness
from .stats import account_stats, cumulative_shortfall, method_deviation
from .trail import FairnessTrail, read_trail

__all__ = [
    "FairnessReport",
    "FairnessTrail",
    "PermutationResult",
    "account_stats",
    "analyse_fairness",
    "cumulative_shortfall",
    "later_prices",
    "method_deviation",
    "order_returns",
    "permutation_test",
    "read_trail",
]
