"""Per-account columns keyed by account id: the accessors every result shares.

A result keeps its per-account data as numpy columns, one entry per account in
the order of ``account_ids``, so 100,000 accounts cost a few arrays. Users read
them as mappings by account id, built on demand. `AccountColumns` is that
idea, once: the row of an id and a column (or its selected rows) keyed by id.
`AccountLines` adds what an allocation of face per account shares (the
`AllocationResult` of an order, the `FillAllocation` of its fills): the
number of lines, the face placed, the face per account and a reason per
account.

The bases declare no attrs fields (each subclass keeps its own fields, in its
own order, so its JSON is unchanged); the attributes they read are declared
for the type checker only.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs
import numpy as np

from ._reasons import CodedReason
from .errors import UnknownAccountError

if TYPE_CHECKING:
    from .typing import BoolArray, FloatArray, IntArray

__all__ = ["AccountColumns", "AccountLines"]

ReasonT = TypeVar("ReasonT", bound=CodedReason)


@attrs.frozen(kw_only=True, eq=False)
class AccountColumns:
    """Base of a value whose per-account columns follow ``account_ids``."""

    if TYPE_CHECKING:
        account_ids: tuple[str, ...]

    @cached_property
    def _rows(self) -> dict[str, int]:
        """The row of every account id."""
        return {ident: i for i, ident in enumerate(self.account_ids)}

    def _row(self, account_id: str) -> int:
        """The row of *account_id*, or `UnknownAccountError` naming it."""
        try:
            return self._rows[account_id]
        except (KeyError, TypeError):  # TypeError: an unhashable id
            raise UnknownAccountError(account_id, len(self.account_ids)) from None

    def _by_id(self, column: FloatArray) -> dict[str, float]:
        """*column* keyed by account id, every account present."""
        return dict(zip(self.account_ids, column.tolist(), strict=True))

    def _by_id_where(self, column: FloatArray, rows: BoolArray) -> dict[str, float]:
        """*column* keyed by account id, for the accounts where *rows* is true."""
        ids = self.account_ids
        return {ids[i]: float(column[i]) for i in np.flatnonzero(rows).tolist()}


@attrs.frozen(kw_only=True, eq=False)
class AccountLines(AccountColumns, Generic[ReasonT]):
    """Base of an allocation of face: one line per account, each with a reason code.

    A subclass sets ``_reason_type`` to its `CodedReason` enum.
    """

    if TYPE_CHECKING:
        quantity: FloatArray
        reason_codes: IntArray
        _reason_type: type[ReasonT]

    def __len__(self) -> int:
        return len(self.account_ids)

    @property
    def allocated(self) -> float:
        """Face placed across the accounts."""
        return float(self.quantity.sum())

    @cached_property
    def quantities(self) -> dict[str, float]:
        """Face per account id, every account present (0 where nothing was allocated)."""
        return self._by_id(self.quantity)

    @property
    def reasons(self) -> dict[str, ReasonT]:
        """The reason of every account's line, by account id."""
        from_code = self._reason_type.from_code
        return {
            i: from_code(c)
            for i, c in zip(self.account_ids, self.reason_codes.tolist(), strict=True)
        }
