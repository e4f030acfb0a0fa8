"""What the fill allocator returns, as type checkers see it."""

from __future__ import annotations

from typing_extensions import assert_type

import orderalloc as oa

bond = oa.Security(id="B", price=100.0)
accounts = [oa.Account(id="A", nav=1e6)]
order = oa.Order(security=bond, side="BUY", quantity=2_000)
fills = [oa.Fill(quantity=1_000, price=99.5)]
fa = oa.allocate_fills(order, accounts, intent=oa.allocate(order, accounts), fills=fills)
assert_type(fa, oa.FillAllocation)
assert_type(fa.quantities, dict[str, float])
assert_type(fa.by_fill, tuple[dict[str, float], ...])
assert_type(fa.average_price, dict[str, float])
assert_type(fa.unallocated, float)
assert_type(fa.reasons, dict[str, oa.FillReason])
assert_type(fa.ledger, oa.FillLedger)
later = oa.allocate_fills(order, accounts, fills=fills, previous=fa)
assert_type(later, oa.FillAllocation)
nii = oa.new_issue_intent(order, accounts, {"A": 1_000}, max_pct_nav=0.02)
assert_type(nii.intents, dict[str, float])
assert_type(oa.from_json(oa.to_json(fa), oa.FillAllocation), oa.FillAllocation)
