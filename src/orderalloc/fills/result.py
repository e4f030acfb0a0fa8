"""What `orderalloc.allocate_fills` returns: a `FillAllocation`.

Per-account data are numpy columns in the order of ``account_ids`` (one
entry per account), so an allocation over 100,000 accounts costs a few
arrays; the mappings users read (``quantities``, ``by_fill``,
``average_price``) are built on demand. Every field is plain data, so the
whole value round-trips through `orderalloc.to_json` and can be stored in an
audit record and passed back as ``previous=`` for the next fill.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from .._account_columns import AccountLines
from .._model import Order
from ..errors import require
from ..typing import FloatArray, IntArray
from .fill import Fill, FillReason
from .ledger import FillLedger

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FillAllocation"]


@attrs.frozen(kw_only=True, eq=False)
class FillAllocation(AccountLines[FillReason]):
    """Fills of one order allocated to the accounts' recorded intent.

    Attributes:
        order: The order the fills execute.
        account_ids: Every account, in the order of the columns.
        intent: The intent as given (face per account).
        target: The intent as a legal amount within each account's bounds
            (what the allocator fills toward; never exceeded).
        fills: Every fill allocated so far, earliest first (those of
            ``previous=`` included).
        tickets: One column per fill: face per account of that fill's ticket.
        quantity: Cumulative face per account (the sum of its tickets).
        principal: Principal per account in the currency, exact to the cent
            (see `orderalloc.fills.pricing`).
        credit: Face each account is owed (+) or ahead (-) against its exact
            pro-rata entitlement, carried credit included.
        reason_codes: `FillReason` codes per account.
        price_mode: ``"vwap"`` or ``"per_fill"``.
        method: ``"pro_rata"`` (the rotation) or ``"deviation"``.
        params: The deviation engine's parameters (empty for pro rata).
        book: The ledger book (`orderalloc.fills.book_key`).
        ledger_in: The ledger before this order's first fill.
        ledger: The ledger after these fills: store it, pass it to the next order.
        seed: The tie-break seed.
        placed_by_fill: Face placed from each fill.
        out_of_turn: Per fill, face given by moves due later than a move that
            did not fit (the ``X`` of the rotation bound; usually 0).
        block_cents: Per fill, its principal in cents (rounded half up).
        warnings: Everything a reviewer should read, one sentence each.
        unallocated_reason: Why face of the fills was not placed (or None).
        created_at: When the allocation was computed (UTC).

    .. versionadded:: 26.1
    """

    order: Order
    account_ids: tuple[str, ...]
    intent: FloatArray
    target: FloatArray
    fills: tuple[Fill, ...]
    tickets: tuple[FloatArray, ...]
    quantity: FloatArray
    principal: FloatArray
    credit: FloatArray
    reason_codes: IntArray
    price_mode: str
    method: str
    params: Mapping[str, Any]
    book: str
    ledger_in: FillLedger
    ledger: FillLedger
    seed: int
    placed_by_fill: tuple[float, ...]
    out_of_turn: tuple[float, ...]
    block_cents: tuple[int, ...]
    warnings: tuple[str, ...] = ()
    unallocated_reason: str | None = None
    created_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.timezone.utc))

    _reason_type = FillReason

    def __repr__(self) -> str:
        return (
            f"FillAllocation(security={self.order.security.id!r}, side={self.order.side.value}, "
            f"fills={len(self.fills)}, filled={self.filled:,.0f}, allocated={self.allocated:,.0f}, "
            f"unallocated={self.unallocated:,.0f}, n_accounts={len(self)}, "
            f"price_mode={self.price_mode!r}, method={self.method!r}, "
            f"warnings={len(self.warnings)})"
        )

    @property
    def filled(self) -> float:
        """Face executed across the fills."""
        return math.fsum(f.quantity for f in self.fills)

    @property
    def unallocated(self) -> float:
        """Face of the fills not placed (see *unallocated_reason* and *warnings*)."""
        return self.filled - self.allocated

    @cached_property
    def by_fill(self) -> tuple[dict[str, float], ...]:
        """One mapping per fill: account id -> face of its ticket (accounts with a ticket)."""
        return tuple(self._by_id_where(column, column != 0) for column in self.tickets)

    @property
    def vwap(self) -> float:
        """The block's volume-weighted average price over the face placed (NaN if none)."""
        placed = self.placed_by_fill
        total = math.fsum(placed)
        if total <= 0:
            return math.nan
        prices = [f.price for f in self.fills]
        return math.fsum(p * x for p, x in zip(prices, placed, strict=True)) / total

    @cached_property
    def average_prices(self) -> FloatArray:
        """Average clean price per account, array of shape (n_accounts,) (NaN: nothing filled)."""
        q = self.quantity
        if self.price_mode == "vwap":
            out: FloatArray = np.where(q > 0, self.vwap, np.nan)
            return out
        notional = np.zeros_like(q)
        for fill, column in zip(self.fills, self.tickets, strict=True):
            notional += column * fill.price
        with np.errstate(invalid="ignore", divide="ignore"):
            avg: FloatArray = np.where(q > 0, notional / q, np.nan)
        return avg

    @cached_property
    def average_price(self) -> dict[str, float]:
        """Average clean price per account id, for accounts that received face."""
        return self._by_id_where(self.average_prices, self.quantity > 0)

    @property
    def price_spread(self) -> float:
        """Highest minus lowest average price across accounts with face (0 in VWAP mode)."""
        prices = self.average_prices[self.quantity > 0]
        return float(prices.max() - prices.min()) if prices.size else 0.0

    def message(self, i: int) -> str:
        """The explanation of row *i*, with its numbers."""
        reason = FillReason.from_code(int(self.reason_codes[i]))
        q, a, credit = float(self.quantity[i]), float(self.target[i]), float(self.credit[i])
        text = f"{reason.description}: {q:,.0f} of intent {a:,.0f}"
        if a > 0 and reason is not FillReason.INTENT_FILLED:
            text += f" (exact share {q + credit:,.2f}, credit {credit:+,.2f})"
        return text

    @property
    def messages(self) -> dict[str, str]:
        """The explanation of every line, by account id."""
        return {ident: self.message(i) for i, ident in enumerate(self.account_ids)}

    def line(self, account_id: str) -> dict[str, Any]:
        """One account's line: face, tickets, price, principal, credit, reason, message.

        Raises:
            UnknownAccountError: The account is not part of this allocation (also a
                `KeyError`).
        """
        i = self._row(account_id)
        return {
            "account_id": account_id,
            "quantity": float(self.quantity[i]),
            "intent": float(self.intent[i]),
            "target": float(self.target[i]),
            "tickets": [float(t[i]) for t in self.tickets],
            "average_price": float(self.average_prices[i]),
            "principal": float(self.principal[i]),
            "credit": float(self.credit[i]),
            "reason": FillReason.from_code(int(self.reason_codes[i])),
            "message": self.message(i),
        }

    def to_frame(self) -> pd.DataFrame:
        """The account lines as a pandas DataFrame, one row per account.

        Columns: ``account_id``, ``intent``, ``target``, ``quantity``,
        ``average_price``, ``principal``, ``credit``, ``reason``, and
        ``fill:K`` (the ticket of fill *K*) per fill.

        Raises:
            MissingExtraError: pandas is not installed (``pip install orderalloc[pandas]``).
        """
        require("FillAllocation.to_frame", "pandas", "pandas")
        import pandas as pd

        cols: dict[str, Any] = {
            "account_id": list(self.account_ids),
            "intent": self.intent,
            "target": self.target,
            "quantity": self.quantity,
            "average_price": self.average_prices,
            "principal": self.principal,
            "credit": self.credit,
            "reason": [FillReason.from_code(int(c)).value for c in self.reason_codes.tolist()],
        }
        for k, column in enumerate(self.tickets):
            cols[f"fill:{k}"] = column
        frame: pd.DataFrame = pd.DataFrame(cols)
        return frame
