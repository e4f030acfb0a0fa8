"""What the front door returns, as type checkers see it."""

from __future__ import annotations

from typing_extensions import assert_type

import orderalloc as oa

bond = oa.Security(id="B", price=100.0)
order = oa.Order(security=bond, side="BUY", quantity=2_000)
result = oa.allocate(order, [oa.Account(id="A", nav=1e6)])
assert_type(result, oa.AllocationResult)
assert_type(result.quantities, dict[str, float])
assert_type(result.unallocated, float)
assert_type(result.line("A"), oa.Allocation)
assert_type(oa.engines.get("pro_rata"), type[oa.Engine])
assert_type(oa.from_json(oa.to_json(order), oa.Order), oa.Order)
