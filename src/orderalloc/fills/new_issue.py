"""New issues: indications of interest become the intent an allotment is split by.

Before a new issue prices, each account's indication of interest (IOI) is
recorded. Syndicate desks allot far less than is asked (often 5-20%), so the
allotment is split pro rata to the IOIs, on the lot grid, with the same
rotation as any fill (`orderalloc.allocate_fills`). An optional cap (a share
of NAV by market value) keeps an inflated IOI, placed to get a bigger
allotment, from taking more than the account could hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import attrs
import numpy as np

from .._account_columns import AccountColumns
from .._model import Order, as_table
from ..errors import InvalidParameterError
from ..typing import BoolArray, FloatArray
from .allocate import intent_column

__all__ = ["NewIssueIntent", "new_issue_intent"]


@attrs.frozen(kw_only=True, eq=False)
class NewIssueIntent(AccountColumns):
    """The IOIs of a new issue, capped, as the intent to allocate an allotment by.

    Attributes:
        account_ids: Every account, in the order of the columns.
        ioi: Face indicated per account.
        intent: Face per account after the cap (pass `intents` as ``intent=``).
        capped: True where the cap cut the IOI.
        max_pct_nav: The cap as a fraction of NAV by market value (None: none).
        warnings: What a reviewer should read.

    .. versionadded:: 26.1
    """

    account_ids: tuple[str, ...]
    ioi: FloatArray
    intent: FloatArray
    capped: BoolArray
    max_pct_nav: float | None
    warnings: tuple[str, ...] = ()

    @cached_property
    def intents(self) -> dict[str, float]:
        """Intent per account id (accounts with an IOI)."""
        return self._by_id_where(self.intent, self.intent > 0)

    @property
    def total(self) -> float:
        """The face asked for in all, after caps: the order's size."""
        return float(self.intent.sum())


def new_issue_intent(
    order: Order,
    accounts: Any,
    iois: Mapping[str, float],
    *,
    max_pct_nav: float | None = None,
) -> NewIssueIntent:
    """Turn indications of interest into an intent, optionally capped at a share of NAV.

    Args:
        order: The order for the new issue (its security prices the cap).
        accounts: The accounts (any shape `orderalloc.as_table` accepts).
        iois: Face indicated per account id.
        max_pct_nav: Cap each IOI at this fraction of the account's NAV, by
            market value at the security's price (``0.02`` is 2%).

    Raises:
        InvalidParameterError: An IOI for an unknown account, negative, or a
            cap outside (0, 1].

    .. versionadded:: 26.1
    """
    table = as_table(accounts)
    ioi = intent_column(dict(iois), table)
    if max_pct_nav is not None:
        if not (isinstance(max_pct_nav, (int, float)) and 0 < max_pct_nav <= 1):
            raise InvalidParameterError("max_pct_nav", max_pct_nav, "must be a fraction in (0, 1]")
        cap = np.floor(max_pct_nav * table.nav / order.security.cash_per_face)
        intent = np.minimum(ioi, cap)
    else:
        intent = ioi.copy()
    capped = intent < ioi
    warnings = []
    if capped.any():
        assert max_pct_nav is not None
        cut = float((ioi - intent)[capped].sum())
        warnings.append(
            f"IOIs of {int(capped.sum())} account(s) capped at {max_pct_nav:.2%} of NAV "
            f"({cut:,.0f} face of {math.fsum(ioi.tolist()):,.0f} indicated)"
        )
    return NewIssueIntent(
        account_ids=table.ids,
        ioi=ioi,
        intent=intent,
        capped=capped,
        max_pct_nav=None if max_pct_nav is None else float(max_pct_nav),
        warnings=tuple(warnings),
    )
