"""The fairness review of a year of trail over 10,000 accounts: how long it takes.

Reproduce with::

    python benchmarks/bench_fairness.py [--days 250] [--repeats 3] [--db PATH]

**The trail.** The mock's ``SMA-10K`` group (10,000 accounts; 9,986 take
part in a buy) trades one order a day for a year (250 business days), each
order allocated pro rata to every account, worked in partial fills and
booked. Driving the whole desk takes ~5 s an order at this size (most of it
canonicalising 4 MB payloads), so the desk drives a few template days
(``--templates``, default 5: real ``PREVIEWED`` ... ``BOOKED`` events, real
payloads) and the year is written by re-issuing those events, day by day,
through the same `AuditEvent` and `SQLiteAuditSink.append` with fresh ids,
order ids and dates. Every order of the year therefore carries a payload of
the desk's own shape and size (about 4.4 MB per order; the file is ~1 GB and
is kept at ``--db`` for the next run).

**What is timed.** `orderalloc.analyse_fairness` over the whole year, from
the SQLite file: read (fields extracted in SQL by ``select_payloads``), fill
statistics, the cumulative shortfall (250 x 10,000), each method's distance
from pro rata, and the permutation test with 999 reallocations; ``--repeats``
rounds, min / median / max. The baseline, interleaved in the same run, is
reading one month through `AuditSink.events` (whole events, as a sink
without SQL extraction does) against the same month through
``select_payloads``: the ratio is the speed-up of the SQL extraction.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from _timing import write_table
from orderalloc import analyse_fairness
from orderalloc.audit import AuditEvent, SQLiteAuditSink
from orderalloc.desk import Desk
from orderalloc.fairness import read_trail
from orderalloc.sources.mock import WELL_KNOWN, MockAladdin
from orderalloc.testing.recording import RecordingSink

GROUP = "SMA-10K"
SECURITIES = (WELL_KNOWN["IG"], WELL_KNOWN["AGENCY"], WELL_KNOWN["TSY"])


def business_days(start: dt.date, count: int) -> list[dt.date]:
    """*count* business days from *start*."""
    out: list[dt.date] = []
    d = start
    while len(out) < count:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def templates(count: int) -> list[tuple[dt.date, list[AuditEvent]]]:
    """*count* real desk days on the 10,000-account group: each day's events."""
    mock = MockAladdin()
    now = [dt.datetime(2023, 12, 4, 12, tzinfo=dt.timezone.utc)]
    desk = Desk(
        mock, RecordingSink(), actor="pm", clock=lambda: now[0],
        max_age=dt.timedelta(days=2),
    )  # fmt: skip
    out = []
    for k, day in enumerate(business_days(dt.date(2023, 12, 4), count)):
        start = len(desk.sink.events())
        now[0] = dt.datetime.combine(day, dt.time(12), dt.timezone.utc)
        security = SECURITIES[k % len(SECURITIES)]
        preview = desk.preview(GROUP, security, "BUY", float(200 + 50 * k) * 1e6)
        order = desk.commit(preview.allocation_id).order
        mock.simulate_fills(order.order_id, day=day, seed=k)
        now[0] = dt.datetime.combine(day, dt.time(21), dt.timezone.utc)
        desk.book(desk.allocate_fills(order.order_id).fill_allocation_id)
        out.append((day, desk.sink.events()[start:]))
    return out


def _clone(events: list[AuditEvent], day: dt.date, new_day: dt.date, n: int) -> list[AuditEvent]:
    """The template day's events as those of order *n* on *new_day*: new ids and dates."""
    ids: dict[str, str] = {}
    for e in events:
        ids.setdefault(
            e.allocation_id, str(uuid.uuid5(uuid.NAMESPACE_URL, f"{n}/{e.allocation_id}"))
        )
        if e.order_id is not None:
            ids.setdefault(e.order_id, f"8{n:07d}")
    old_date, new_date = day.isoformat(), new_day.isoformat()
    shift = new_day - day

    def swap(text: str) -> str:
        for old, new in ids.items():
            text = text.replace(old, new)
        return text.replace(old_date, new_date)

    def event_id(old: str) -> str:
        new = swap(old)  # "<allocation>/committed" and the like
        return new if new != old else str(uuid.uuid5(uuid.NAMESPACE_URL, f"{n}/{old}"))

    return [
        AuditEvent(
            allocation_id=ids[e.allocation_id],
            kind=e.kind,
            actor=e.actor,
            payload=json.loads(swap(e.payload_json())),
            at=e.at + shift,
            event_id=event_id(e.event_id),
            account_ids=e.account_ids,
            security_id=e.security_id,
            order_id=None if e.order_id is None else ids[e.order_id],
        )
        for e in events
    ]


def build(path: Path, days: int, count: int) -> dict[str, float]:
    """Write the year to *path* (if not there yet); return each order's next-day price."""
    year = business_days(dt.date(2024, 1, 2), days)
    rng = np.random.default_rng(2024)
    later = {f"8{n:07d}": float(np.round(95.0 + rng.normal(0, 1.0), 3)) for n in range(days)}
    if path.exists():
        return later
    t0 = time.perf_counter()
    tmp = path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    days_events = templates(count)
    with SQLiteAuditSink(tmp) as sink:
        for n, new_day in enumerate(year):
            day, events = days_events[n % count]
            sink.append(_clone(events, day, new_day, n))
            if n % 25 == 0:
                print(
                    f"  day {n}/{days} written ({time.perf_counter() - t0:.0f} s)", file=sys.stderr
                )
    tmp.rename(path)
    return later


def main() -> None:
    """Build (once) and time the review of the year."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--templates", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--db", type=Path, default=Path("/tmp/orderalloc-bench-fairness.sqlite3"))
    args = parser.parse_args()
    later = build(args.db, args.days, args.templates)
    size_mb = args.db.stat().st_size / 1e6
    sink = SQLiteAuditSink(args.db)
    since, until = dt.date(2024, 1, 1), dt.date(2025, 1, 1)
    month = (
        dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
        dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc),
    )

    class WholeEvents:
        """The same store read the way a sink without SQL extraction is: whole events."""

        def events(self, **kw: Any) -> list[AuditEvent]:
            return sink.events(**kw)

    full: list[float] = []
    reads: list[float] = []
    base: list[float] = []
    fast: list[float] = []
    report = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        read_trail(sink, GROUP, since=since, until=until)
        reads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        report = analyse_fairness(
            sink, GROUP, since=since, until=until, prices=later, permutations=args.permutations
        )
        full.append(time.perf_counter() - t0)
        # Interleaved: the month through whole events, then through select_payloads.
        t0 = time.perf_counter()
        slow_trail = read_trail(WholeEvents(), GROUP, since=month[0], until=month[1])
        base.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        quick_trail = read_trail(sink, GROUP, since=month[0], until=month[1])
        fast.append(time.perf_counter() - t0)
        assert slow_trail.n_orders == quick_trail.n_orders
        np.testing.assert_array_equal(slow_trail.quantity, quick_trail.quantity)
    assert report is not None
    t = report.trail

    def mmm(xs: list[float]) -> str:
        return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"

    rows = [
        ["analyse_fairness, the year", t.n_orders, t.n_accounts, len(t.row_order), mmm(full)],
        ["read_trail only, the year", t.n_orders, t.n_accounts, len(t.row_order), mmm(reads)],
        ["read a month: whole events (baseline)", slow_trail.n_orders, slow_trail.n_accounts,
         len(slow_trail.row_order), mmm(base)],
        ["read a month: select_payloads", quick_trail.n_orders, quick_trail.n_accounts,
         len(quick_trail.row_order), mmm(fast)],
    ]  # fmt: skip
    note = (
        f"A year of trail ({t.n_orders} orders, each over {GROUP}'s accounts; SQLite file "
        f"{size_mb:,.0f} MB) analysed by `analyse_fairness` with {args.permutations} "
        f"permutations, {args.repeats} rounds (`python benchmarks/bench_fairness.py`). "
        "Reading a month through whole events vs select_payloads, interleaved: ratio of "
        f"medians {statistics.median(base) / statistics.median(fast):.1f}x."
    )
    print(
        write_table(
            "fairness",
            ["what", "orders", "accounts", "(order, account) rows", "seconds min / median / max"],
            rows,
            note,
        )
    )


if __name__ == "__main__":
    main()
