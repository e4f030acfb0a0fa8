"""Reason codes: stored as small integers, so they must never move, and each says what it means."""

from __future__ import annotations

import pytest

from orderalloc import CodedReason, FillReason, Reason

#: The codes already written to audit trails: appending is allowed, moving is not.
STORED = {
    Reason: ["FULL_SHARE", "ROUNDED_UP", "ROUNDED_DOWN", "REDISTRIBUTED", "CAPPED_BY_CASH",
             "CAPPED_BY_HOLDINGS", "STUB_AVOIDED", "LIMIT_HIT", "BELOW_MIN_PIECE",
             "BELOW_MIN_ALLOCATION", "RESTRICTED", "ZERO_WEIGHT", "DISPERSION_TARGET",
             "NOT_NEEDED"],
    FillReason: ["PRO_RATA", "INTENT_FILLED", "WAITING_ROTATION", "AHEAD_ROTATION", "NO_INTENT",
                 "RESTRICTED", "CAPPED_BY_CASH", "DEVIATION"],
}  # fmt: skip


@pytest.mark.parametrize("cls", [Reason, FillReason])
def test_codes_are_stable_and_round_trip(cls: type[CodedReason]) -> None:
    """Each stored code still names the same member, and code/from_code are inverses."""
    for code, value in enumerate(STORED[cls]):
        assert cls.from_code(code).value == value
    for member in cls:
        assert cls.from_code(member.code) is member
        assert str(member) == member.value


@pytest.mark.parametrize("cls", [Reason, FillReason])
def test_every_member_is_described(cls: type[CodedReason]) -> None:
    """A reviewer reading a table sees a sentence for every reason, never a bare code."""
    for member in cls:
        assert member.description.strip()
        assert member.description != member.value
