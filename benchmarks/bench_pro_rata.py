"""Pro-rata at SMA scale: the whole allocate call against a plain numpy split.

Reproduce with::

    python benchmarks/bench_pro_rata.py [--sizes 1000,10000,100000]

For each size, a realistic group given as columns (lognormal-ish NAVs from
$5MM to $2BN, cash, positions, 2% restricted) buys orders of three sizes. The
baseline is the plain proportional split ``Q * nav / nav.sum()`` with no caps
and no rounding; the candidate is ``orderalloc.allocate`` with caps, exact
denominations, reasons, metrics and the dispersion summary. The issue's target
is a ratio within 50x at 100,000 accounts.
"""

from __future__ import annotations

import argparse

import numpy as np

import orderalloc as oa
from _timing import best_of, write_table
from orderalloc.testing import check_allocation
from orderalloc.testing.strategies import random_table

BOND = oa.Security(
    id="BENCH", price=99.0, min_piece=2_000, increment=1_000, analytics={"spread_duration": 4.0}
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        table = random_table(n, security=BOND, seed=n)
        for quantity in (5e6, 100e6, 1e9):
            order = oa.Order(security=BOND, side="BUY", quantity=quantity)
            nav = table.nav

            def baseline(nav: np.ndarray = nav, quantity: float = quantity) -> object:
                return quantity * (nav / nav.sum())

            def candidate(order: oa.Order = order, table: oa.AccountTable = table) -> object:
                return oa.allocate(order, table)

            times = best_of({"numpy": baseline, "allocate": candidate}, repeats=args.repeats)
            result = oa.allocate(order, table)
            check_allocation(result, table)
            rows.append(
                [
                    n,
                    f"{quantity:,.0f}",
                    f"{times['numpy'] * 1e3:.3f}",
                    f"{times['allocate'] * 1e3:.2f}",
                    f"{times['allocate'] / times['numpy']:.0f}x",
                    f"{result.unallocated:,.0f}",
                ]
            )
            print(rows[-1], flush=True)
    text = write_table(
        "pro_rata",
        ["accounts", "order", "numpy split ms", "allocate ms", "ratio", "unallocated"],
        rows,
        "Pro-rata by NAV, accounts as columns, rounding and result included "
        "(best of k, interleaved; `python benchmarks/bench_pro_rata.py`).",
    )
    print(text)


if __name__ == "__main__":
    main()
