"""Load a 500-account group through the loopback Aladdin server while requests fail.

Starts `orderalloc.testing.aladdin.serve` on 127.0.0.1 in front of a
`MockAladdin`, injects seeded 429 / 503 faults into a share of the reads, and
loads ``accounts(group, security)`` plus ``security(security)`` with
`AladdinClient`. Prints requests, retries, faults, time and the highest rate
the server observed, and checks the data equal the mock's.

Run::

    .venv/bin/python benchmarks/bench_aladdin_load.py
    .venv/bin/python benchmarks/bench_aladdin_load.py --accounts 2000 --fault-rate 0.3 --rate 3000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from orderalloc.sources.aladdin import AladdinClient, AsyncAladdinClient
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.testing.aladdin import AladdinMockHandler, FaultPlan, serve


def _run(args: argparse.Namespace, *, use_async: bool) -> dict[str, float]:
    group = f"SMA-{args.accounts}"
    mock = MockAladdin(extra_groups={group: args.accounts})
    security = WELL_KNOWN[args.asset_class]
    mock.all_groups()  # build the data before the clock starts
    handler = AladdinMockHandler(
        mock,
        faults=FaultPlan(rate=args.fault_rate, seed=args.seed, retry_after=0.01),
        page_size=args.page_size,
    )
    with serve(handler) as server:
        config = handler.config(
            server.url,
            rate_limit=args.rate,
            max_attempts=10,
            backoff_initial=0.01,
            positions_batch=args.batch,
            cash_batch=min(args.batch, 100),
            page_size=args.page_size,
        )
        start = time.perf_counter()
        if use_async:
            import asyncio

            async def load() -> tuple[object, object, AsyncAladdinClient]:
                async with AsyncAladdinClient(config) as client:
                    return (
                        await client.accounts(group, security),
                        await client.security(security),
                        client,
                    )

            table, sec, aclient = asyncio.run(load())
            stats = aclient.stats
        else:
            with AladdinClient(config) as client:
                table = client.accounts(group, security)
                sec = client.security(security)
            stats = client.stats
        elapsed = time.perf_counter() - start
    want = mock.accounts(group, security)
    got = table
    assert got.ids == want.ids  # type: ignore[attr-defined]
    np.testing.assert_array_equal(got.nav, want.nav)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(got.holding(security), want.holding(security))  # type: ignore[attr-defined]
    assert sec == mock.security(security)
    assert not handler.problems, handler.problems[:3]
    faults = sum(1 for r in handler.records if r.fault in ("429", "503"))
    return {
        "accounts": len(want),
        "requests (server)": len(handler.records),
        "requests (client)": stats.requests,
        "retries": stats.retries,
        "faults 429/503": faults,
        "time, s": elapsed,
        "max in any 1 s": handler.max_in_window(1.0),
        "max in any 60 s": handler.max_in_window(60.0),
        "limit per min": args.rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=6000.0, help="requests per minute")
    parser.add_argument("--batch", type=int, default=25, help="portfolios per positions request")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--asset-class", default="IG", choices=sorted(WELL_KNOWN))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rows = {"sync": _run(args, use_async=False), "async": _run(args, use_async=True)}
    names = list(rows["sync"])
    width = max(map(len, names))
    print(f"{'':<{width}}  {'sync':>10}  {'async':>10}")
    for name in names:
        cells = "  ".join(
            f"{rows[k][name]:>10.2f}"
            if isinstance(rows[k][name], float) and name.startswith("time")
            else f"{rows[k][name]:>10.0f}"
            for k in ("sync", "async")
        )
        print(f"{name:<{width}}  {cells}")
    print("data equal to the mock's: yes; every request body valid against the swagger: yes")


if __name__ == "__main__":
    main()
