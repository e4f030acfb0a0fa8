"""What the basket functions return, as type checkers see it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from typing_extensions import assert_type

import orderalloc as oa
from orderalloc.parallel import run_tasks

bond = oa.Security(id="B", price=100.0)
old = oa.Security(id="OLD", price=100.0)
accounts = [oa.Account(id="A", nav=1e6, holdings={"OLD": 5_000})]
order = oa.Order(security=bond, side="BUY", quantity=2_000)
switch = oa.Switch(sell=oa.Order(security=old, side="SELL", quantity=2_000), buy=bond)
basket = oa.allocate_basket([order], accounts, "pro_rata", switches=[switch])
assert_type(basket, oa.BasketResult)
assert_type(basket.results, tuple[oa.AllocationResult, ...])
assert_type(basket.result("B"), oa.AllocationResult)
assert_type(basket.unallocated, dict[str, float])
assert_type(oa.from_json(oa.to_json(basket), oa.BasketResult), oa.BasketResult)
with ThreadPoolExecutor() as pool:
    many = oa.allocate_basket_many({"G": accounts}, [order], executor=pool)
    assert_type(many, dict[str, oa.BasketResult])
    assert_type(run_tasks(str, [1, 2], executor=pool), list[str])
