"""Results on the benchmark cases stay bit for bit what they were (issue 15).

The speed work (no BLAS in the hot path, lazy result parts, the fast dict
path) must not move a single bit of any result; `reference_cases` holds the
cases and the fixture records their digests.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import orderalloc as oa
from reference_cases import FIXTURE, cases, digest

_EXPECTED: dict[str, dict[str, str]] = json.loads(FIXTURE.read_text())
_CASES = list(cases())


@pytest.mark.parametrize(("name", "run"), _CASES, ids=[name for name, _ in _CASES])
class TestReferenceResults:
    """Every part of every benchmark case's result, from a table and from a dict of columns."""

    def test_from_table(self, name: str, run: Callable[[bool], oa.AllocationResult]) -> None:
        """Allocating from an `AccountTable` gives the recorded result, bit for bit."""
        assert digest(run(False)) == _EXPECTED[name]

    def test_from_dict(self, name: str, run: Callable[[bool], oa.AllocationResult]) -> None:
        """Allocating from a dict of columns gives the recorded result, bit for bit."""
        assert digest(run(True)) == _EXPECTED[name]
