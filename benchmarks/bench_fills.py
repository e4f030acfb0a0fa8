"""Fill allocation at SMA scale: one fill, as a ratio to the pre-trade allocate.

Reproduce with::

    python benchmarks/bench_fills.py [--sizes 10000,100000] [--repeats 15]

For each size, a realistic group given as columns (`random_table`: NAVs
from $5MM to $2BN, cash, positions, 2% restricted) buys a 1bn order; its
pre-trade pro-rata allocation is the intent. The baseline is that
pre-trade ``orderalloc.allocate`` call itself; the candidate is
``orderalloc.allocate_fills`` of one fill (10% of the order, or the whole
order) against that intent: rotation, cash at the fill's price, cents
split by largest remainder, reasons and the ledger. The two are timed in
turns (interleaved) and every round is kept: the table gives min / median /
max of each, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import orderalloc as oa
from _timing import write_table
from orderalloc.testing.strategies import random_table

BOND = oa.Security(
    id="BENCH",
    price=99.0,
    min_piece=2_000,
    increment=1_000,
    asset_class="IG",
    analytics={"spread_duration": 4.0},
)


def _rounds(funcs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall times of each function, in interleaved rounds (every round kept)."""
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            t0 = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - t0)
    return times


def _ms(values: list[float]) -> str:
    return (
        f"{min(values) * 1e3:.1f} / {statistics.median(values) * 1e3:.1f} / {max(values) * 1e3:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        table = random_table(n, security=BOND, seed=n)
        order = oa.Order(security=BOND, side="BUY", quantity=1e9)
        intent = oa.allocate(order, table)
        for share in (0.1, 1.0):
            fill = oa.Fill(quantity=round(order.quantity * share), price=99.25)

            def baseline(order: oa.Order = order, table: oa.AccountTable = table) -> object:
                return oa.allocate(order, table)

            def candidate(
                order: oa.Order = order,
                table: oa.AccountTable = table,
                intent: oa.AllocationResult = intent,
                fill: oa.Fill = fill,
            ) -> object:
                return oa.allocate_fills(order, table, intent=intent, fills=[fill])

            times = _rounds({"allocate": baseline, "allocate_fills": candidate}, args.repeats)
            fa = candidate()
            assert isinstance(fa, oa.FillAllocation)
            ratio = statistics.median(times["allocate_fills"]) / statistics.median(
                times["allocate"]
            )
            best = min(times["allocate_fills"]) / min(times["allocate"])
            rows.append(
                [
                    n,
                    f"{fill.quantity:,.0f}",
                    _ms(times["allocate"]),
                    _ms(times["allocate_fills"]),
                    f"{ratio:.2f}x",
                    f"{best:.2f}x",
                    f"{fa.unallocated:,.0f}",
                ]
            )
            print(rows[-1], flush=True)
    text = write_table(
        "fills",
        [
            "accounts",
            "fill",
            "allocate ms (min / median / max)",
            "allocate_fills ms (min / median / max)",
            "ratio of medians",
            "ratio of minima",
            "unallocated",
        ],
        rows,
        "One fill of a 1bn pro-rata order over a group, against the pre-trade "
        f"`allocate` of the same group, interleaved, {args.repeats} rounds "
        "(`python benchmarks/bench_fills.py`).",
    )
    print(text)


if __name__ == "__main__":
    main()
