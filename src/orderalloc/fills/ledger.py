"""The rotation ledger: each account's shortfall against exact pro rata, carried forward.

Pieces are indivisible, so after any fill some accounts hold a little more
than their exact pro-rata share of what was filled and some a little less.
The ledger records the difference, per account, as a *credit* in face:
positive when the account is behind (it is owed face), negative when it is
ahead. The rotation (`orderalloc.fills.rotation`) serves the accounts
furthest behind first, and the ledger carries the credits from one fill and
one order to the next, so small accounts are not starved of scarce pieces
order after order.

Credits are kept per *book*: a portfolio group and a security class (e.g.
``"BIG6"`` and ``"HY"``), because fairness is judged among the accounts that
trade together in the same kind of paper. A `FillLedger` is an immutable
value that round-trips through `orderalloc.to_json`, so a desk can store it in
its audit trail after every allocation and read it back for the next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from ..errors import InvalidInputError
from ..typing import FloatArray

__all__ = ["FillLedger", "book_key"]


def book_key(group: str | None, security_class: str | None) -> str:
    """The ledger key of a group and a security class (``"*"`` for either unknown).

    >>> book_key("BIG6", "HY")
    'BIG6/HY'
    """
    return f"{group or '*'}/{security_class or '*'}"


def _books(value: Mapping[str, Mapping[str, float]] | None) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, credits in (value or {}).items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError("ledger.books key", key, "must be a non-empty string")
        accounts = [str(a) for a in credits]
        try:
            values = np.asarray(list(credits.values()), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"ledger.books[{key!r}]", credits, "must be numbers") from exc
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"ledger.books[{key!r}][{accounts[i]!r}]", values[i].item(), "must be finite"
            )
        keep = (values != 0).tolist()
        out[key] = {a: v for a, v, k in zip(accounts, values.tolist(), keep, strict=True) if k}
    return out


@attrs.frozen
class FillLedger:
    """Credits (face owed, + behind / - ahead of exact pro rata) per book and account.

    Args:
        books: Book key (`book_key`) -> account id -> credit in face. Accounts
            at exactly 0 are left out.

    .. versionadded:: 26.1
    """

    books: Mapping[str, Mapping[str, float]] = attrs.field(factory=dict, converter=_books)

    def credits(self, key: str) -> Mapping[str, float]:
        """The credits of one book (empty when the book is new)."""
        return self.books.get(key, {})

    def with_book(self, key: str, credits: Mapping[str, float]) -> FillLedger:
        """A new ledger with book *key* replaced by *credits* (the others unchanged)."""
        books = {k: dict(v) for k, v in self.books.items()}
        books[key] = dict(credits)
        return FillLedger(books)

    def _with_columns(
        self, key: str, kept: Mapping[str, float], ids: Sequence[str], values: FloatArray
    ) -> FillLedger:
        """`with_book` from columns the allocator computed (finite by construction).

        *kept* are the book's credits of accounts outside the order; *ids* and
        *values* are the order's accounts. Skips the per-entry validation,
        which at 100,000 accounts would cost more than the allocation.
        """
        nonzero = np.flatnonzero(values != 0).tolist()
        book = {k: v for k, v in kept.items() if v != 0}
        book.update(zip([ids[i] for i in nonzero], values[nonzero].tolist(), strict=True))
        books = dict(self.books)
        books[key] = book
        ledger = object.__new__(FillLedger)
        object.__setattr__(ledger, "books", books)
        return ledger
