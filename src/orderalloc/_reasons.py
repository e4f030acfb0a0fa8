"""Why each account received what it did: reason codes and their messages.

Every account line of a result carries one `Reason`. The codes are stable (they
are stored in audit records); the messages are built from the numbers of the
line when asked for.
"""

from __future__ import annotations

import enum
from typing import Any

from typing_extensions import Self

__all__ = ["CodedReason", "Reason"]


class CodedReason(str, enum.Enum):
    """The base of reason enums stored as small integer codes with a description.

    A subclass lists its members (their order is the stored code: append new
    members at the end, never reorder) and then calls `describe` once with a
    sentence for each member.
    """

    @property
    def code(self) -> int:
        """The small integer stored in a result's ``reason_codes`` column."""
        return _TABLES[type(self)][1][self]

    @classmethod
    def from_code(cls, code: int) -> Self:
        """The member whose `code` is *code*."""
        return _TABLES[cls][0][code]  # type: ignore[return-value]

    @property
    def description(self) -> str:
        """One sentence saying what the reason means, for tables and docs."""
        return _TABLES[type(self)][2][self]

    def __str__(self) -> str:
        value: str = self.value
        return value


_Table = tuple[tuple[CodedReason, ...], dict[CodedReason, int], dict[CodedReason, str]]
_TABLES: dict[type[CodedReason], _Table] = {}


def describe(cls: type[CodedReason], descriptions: dict[Any, str]) -> None:
    """Register *cls*' codes (member order) and its description of every member."""
    members = tuple(cls)
    _TABLES[cls] = (members, {m: i for i, m in enumerate(members)}, dict(descriptions))


class Reason(CodedReason):
    """The reason an account's amount is what it is.

    The order of the members is the code stored in a result's ``reason_codes``
    column: append new members at the end, never reorder.
    """

    #: The account received its full share of the ideal split (already legal).
    FULL_SHARE = "FULL_SHARE"
    #: The share was rounded up to the next legal denomination.
    ROUNDED_UP = "ROUNDED_UP"
    #: The share was rounded down to the previous legal denomination (maybe 0).
    ROUNDED_DOWN = "ROUNDED_DOWN"
    #: The account received more than its plain share: others could not take theirs.
    REDISTRIBUTED = "REDISTRIBUTED"
    #: Buys: available cash bounds the amount.
    CAPPED_BY_CASH = "CAPPED_BY_CASH"
    #: Sells: the position bounds the amount (or the account holds none).
    CAPPED_BY_HOLDINGS = "CAPPED_BY_HOLDINGS"
    #: Sells: any legal sale would leave a position below the min piece.
    STUB_AVOIDED = "STUB_AVOIDED"
    #: A per-account limit (max face, max % of NAV) bounds the amount.
    LIMIT_HIT = "LIMIT_HIT"
    #: The account's share is below the minimum piece, so it received nothing.
    BELOW_MIN_PIECE = "BELOW_MIN_PIECE"
    #: The share is below the account's minimum worthwhile allocation.
    BELOW_MIN_ALLOCATION = "BELOW_MIN_ALLOCATION"
    #: The security is restricted for this account.
    RESTRICTED = "RESTRICTED"
    #: The engine gave the account no share (zero weight or basis).
    ZERO_WEIGHT = "ZERO_WEIGHT"
    #: Min dispersion: the amount moves the account's metric toward the others'.
    DISPERSION_TARGET = "DISPERSION_TARGET"
    #: Min dispersion: any amount would move the account's metric away from the group.
    NOT_NEEDED = "NOT_NEEDED"


describe(
    Reason,
    {
        Reason.FULL_SHARE: "received its full share",
        Reason.ROUNDED_UP: "share rounded up to a legal denomination",
        Reason.ROUNDED_DOWN: "share rounded down to a legal denomination",
        Reason.REDISTRIBUTED: "received part of what other accounts could not take",
        Reason.CAPPED_BY_CASH: "capped by available cash",
        Reason.CAPPED_BY_HOLDINGS: "capped by the position held",
        Reason.STUB_AVOIDED: "capped so that no position below the min piece is left",
        Reason.LIMIT_HIT: "capped by an account limit",
        Reason.BELOW_MIN_PIECE: "share below the minimum piece",
        Reason.BELOW_MIN_ALLOCATION: "share below the account's minimum allocation",
        Reason.RESTRICTED: "security restricted for this account",
        Reason.ZERO_WEIGHT: "no share under this method (zero weight)",
        Reason.DISPERSION_TARGET: "amount chosen to bring the metric toward the group",
        Reason.NOT_NEEDED: "nothing: any amount would move the metric away from the group",
    },
)
