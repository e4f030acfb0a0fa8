"""An `AccountTable` from a dict of columns: the fast id check and the absent columns (issue 15)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import orderalloc as oa

_IDS = st.lists(
    st.one_of(
        st.sampled_from(["A", "B", "C", "", " ", "\u2003", "\t\n", "A "]),
        st.text(max_size=3),
        st.integers(0, 3),
        st.none(),
    ),
    min_size=1,
    max_size=8,
)


def _reference_error(ids: list[Any]) -> str | None:
    """What the row-by-row check says about *ids*: the first problem, or None."""
    for i, ident in enumerate(ids):
        if not isinstance(ident, str) or not ident.strip():
            return f"accounts.ids[{i}]"
    for ident in ids:
        if ids.count(ident) > 1:
            return f"accounts.ids={ident!r}"
    return None


class TestIdCheck:
    """The ids are checked in C passes, with the same verdict and message as row by row."""

    @given(ids=_IDS)
    def test_same_verdict_as_row_by_row(self, ids: list[Any]) -> None:
        """A table is accepted exactly when every id is a non-blank string, once; errors name it."""
        expected = _reference_error(ids)
        columns = {"ids": ids, "nav": np.ones(len(ids))}
        if expected is None:
            table = oa.as_table(columns)
            assert [table.index(i) for i in ids] == list(range(len(ids)))
        else:
            with pytest.raises(oa.InvalidAccountError) as info:
                oa.as_table(columns)
            assert str(info.value).startswith(expected)

    def test_first_repeated_id_named(self) -> None:
        """Of several repeated ids, the one that appears first is named."""
        with pytest.raises(oa.InvalidAccountError, match=r"accounts\.ids='A'"):
            oa.as_table({"ids": ["A", "B", "B", "A"], "nav": [1.0, 2.0, 3.0, 4.0]})

    def test_index_of_unknown_id(self) -> None:
        """Looking up an id the table does not have is a KeyError."""
        table = oa.as_table({"ids": ["A", "B"], "nav": [1.0, 2.0]})
        with pytest.raises(KeyError):
            table.index("C")


class TestAbsentColumns:
    """A column left out is NaN for every account, costs no memory and cannot be written."""

    def test_absent_limits_are_nan_and_read_only(self) -> None:
        """Absent cash and limits read as NaN, and writing to them fails loudly."""
        table = oa.as_table({"ids": ["A", "B", "C"], "nav": [1.0, 2.0, 3.0]})
        for column in (table.cash, table.max_face, table.max_pct_nav, table.min_allocation):
            assert column is not None
            assert column.shape == (3,)
            assert np.isnan(column).all()
            with pytest.raises(ValueError, match="read-only"):
                column[0] = 1.0

    def test_rows_and_objects_from_absent_columns(self) -> None:
        """`take` and `account` work on absent columns and give ordinary values."""
        table = oa.as_table({"ids": ["A", "B", "C"], "nav": [1.0, 2.0, 3.0]})
        part = table.take([2, 0])
        assert part.ids == ("C", "A")
        assert part.max_face is not None
        assert np.isnan(part.max_face).all()
        account = table.account(1)
        assert account.cash is None
        assert account.limits is None
        assert not math.isnan(account.nav)
