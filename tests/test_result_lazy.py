"""Reasons, metrics after and summaries are computed on first access; nothing else changes."""

from __future__ import annotations

import copy
import json
import pickle

import attrs
import numpy as np
import pytest

import orderalloc as oa
from orderalloc._result import DEFERRED_FIELDS

BOND = oa.Security(
    id="B", price=99.0, min_piece=2_000, increment=1_000, analytics={"spread_duration": 5.0}
)
ACCOUNTS = {
    "ids": ["A", "B", "C", "D"],
    "nav": [1e8, 3e8, 5e7, 2e8],
    "cash": [5e6, 1e6, 2e6, 8e6],
    "metrics": {"spread_duration": [4.0, 6.0, 5.0, 3.5]},
}


def _allocate(method: str = "min_dispersion") -> oa.AllocationResult:
    order = oa.Order(security=BOND, side="BUY", quantity=9_000_000.0)
    return oa.allocate(order, ACCOUNTS, method=method)


def _pending(result: oa.AllocationResult) -> bool:
    return object.__getattribute__(result, "_compute") is not None


class TestDeferredResult:
    """An engine's result computes reasons and summaries once, on first read."""

    @pytest.mark.parametrize("method", ["min_dispersion", "pro_rata"])
    def test_nothing_computed_until_read(self, method: str) -> None:
        """A fresh result has not computed its reasons; amounts and warnings are there."""
        result = _allocate(method)
        assert _pending(result)
        assert result.allocated == 9_000_000.0
        assert repr(result).startswith("AllocationResult(")
        assert _pending(result)

    @pytest.mark.parametrize("field", DEFERRED_FIELDS)
    def test_first_read_computes_all(self, field: str) -> None:
        """Reading any deferred field fills them all, with the values an eager build gives."""
        lazy, eager = _allocate(), _allocate()
        getattr(lazy, field)
        assert not _pending(lazy)
        np.testing.assert_array_equal(lazy.reason_codes, eager.reason_codes)
        assert lazy.dispersion == eager.dispersion
        assert lazy.post_metrics.keys() == eager.post_metrics.keys() == {"spread_duration"}
        np.testing.assert_array_equal(
            lazy.post_metrics["spread_duration"], eager.post_metrics["spread_duration"]
        )

    def test_json_is_the_same_value(self) -> None:
        """`to_json` of an untouched result carries the reasons and summaries, and round-trips."""
        untouched, read = _allocate(), _allocate()
        read.reason_codes  # noqa: B018 (the read is the point)
        text = oa.to_json(untouched)
        assert text == oa.to_json(untouched)
        data = json.loads(text)
        assert data["reason_codes"] == read.reason_codes.tolist()
        assert set(data["dispersion"]) == set(read.dispersion)
        back = oa.from_json(text, oa.AllocationResult)
        np.testing.assert_array_equal(back.reason_codes, read.reason_codes)
        assert back.dispersion == read.dispersion

    def test_copies_evolve_and_pickle(self) -> None:
        """Copies, `attrs.evolve` and pickling of an untouched result carry the reasons."""
        expected = _allocate().reason_codes
        for make in (
            copy.copy,
            copy.deepcopy,
            lambda r: attrs.evolve(r, warnings=()),
            lambda r: pickle.loads(pickle.dumps(r)),
        ):
            np.testing.assert_array_equal(make(_allocate()).reason_codes, expected)

    def test_lines_and_table_read_the_reasons(self) -> None:
        """Per-account lines and the text table explain every line of an untouched result."""
        result = _allocate()
        assert all(line.message for line in result.allocations)
        assert "std before" in _allocate().table()  # the dispersion table

    def test_unknown_attribute_is_still_an_error(self) -> None:
        """An attribute the result does not have raises AttributeError."""
        with pytest.raises(AttributeError, match="no_such"):
            _allocate().no_such  # type: ignore[attr-defined] # noqa: B018

    def test_amounts_by_account_need_no_reasons(self) -> None:
        """Face by account id, the line count and the row lookup compute no deferred field."""
        result = _allocate()
        assert len(result) == 4
        quantities = result.quantities
        assert quantities is result.quantities  # built once
        assert list(quantities) == ["A", "B", "C", "D"]
        np.testing.assert_allclose(sum(quantities.values()), 9_000_000.0)
        assert _pending(result)
        assert result.line("C").quantity == quantities["C"]
        assert not _pending(result)  # a line explains itself: it reads the reasons

    def test_line_of_an_unknown_account_names_it(self) -> None:
        """``line()`` of an id the result does not hold names the id; it is still a KeyError."""
        result = _allocate()
        for missing in ("E", "a", ""):
            with pytest.raises(oa.UnknownAccountError, match=rf"account_id='{missing}'") as caught:
                result.line(missing)
            assert isinstance(caught.value, KeyError)
            assert caught.value.value == missing
            assert "4 accounts" in str(caught.value)
