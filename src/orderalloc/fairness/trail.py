"""The audit trail of one group over a period, read into columns.

`read_trail` reads the events the desk writes (the pre-trade ``PREVIEWED`` /
``COMMITTED`` / ``OVERRIDDEN`` and the post-trade ``FILLS_ALLOCATED`` /
``BOOKED`` / ``TRADE_CANCELLED``) from any `~orderalloc.audit.AuditSink` and
turns them into numpy columns: one row per order, and one row per
(order, account) for every account with an intent or a fill.

Payloads are read as JSON dicts, never as the desk's own types, so the
trail of any version of the desk reads the same. A sink that offers
``select_payloads`` (SQLite, Snowflake) extracts only the fields needed in
SQL, so the large per-account arrays nobody reads here (metrics, tickets,
ledgers) never leave the database; any other sink (the outbox, the
in-memory recording sink) is read through `AuditSink.events`.

**Which fill allocation counts.** An order may be allocated several times
before one is booked, and a booking may be cancelled and the fills
allocated again. Each order is represented by its last *booked* fill
allocation that was not cancelled (it is cumulative over every fill), or, if
none is booked yet, its last fill allocation (``booked`` is then False).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from ..audit.events import EventKind, format_time, parse_time
from ..audit.payloads import PayloadRow
from ..audit.payloads import select_payloads as payload_rows
from ..errors import InvalidInputError
from ..typing import BoolArray, FloatArray, IntArray

__all__ = ["FairnessTrail", "read_trail"]

#: How far before *since* pre-trade events are read (an order is decided
#: before it is filled; its fills may fall in the period, its decision not).
LOOKBACK = dt.timedelta(days=31)

_FILL_PATHS = (
    "group",
    "order_allocation_id",
    "side",
    "method",
    "result.account_ids",
    "result.intent",
    "result.target",
    "result.quantity",
    "result.placed_by_fill",
    "result.fills",
    "result.order.security.min_piece",
    "result.order.security.increment",
)
_PRE_PATHS = (
    "group",
    "method",
    "modifies",
    "allocated",
    "result.account_ids",
    "result.quantity",
    "result.nav",
)
_OVERRIDE_PATHS = ("by", "comment", "violations")


def _check_time(name: str, value: dt.datetime | dt.date | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.utcoffset() is None:
            raise InvalidInputError(name, value, "must be timezone-aware (naive is ambiguous)")
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), dt.timezone.utc)
    raise InvalidInputError(name, value, "must be a date or a timezone-aware datetime")


@attrs.frozen(kw_only=True, eq=False)
class FairnessTrail:
    """One group's orders and fill allocations over a period, as columns.

    Per order (arrays of shape (n_orders,), sorted by first execution):

    Attributes:
        group: The portfolio group.
        since: Start of the period (UTC), or None.
        until: End of the period (exclusive, UTC), or None.
        account_ids: Every account that had an intent or a fill, sorted.
        order_ids: The orders.
        security_ids: Their securities.
        side: +1 for a buy, -1 for a sell.
        executed_at: First execution of each order (UTC).
        decided_at: When the order's current allocation was committed (UTC).
        method: The pre-trade engine of the order's allocation.
        fill_method: How its fills were allocated (``"pro_rata"``, ``"deviation"``).
        price: The average price of the face placed (per 100).
        placed: Face placed with the accounts.
        min_piece: The security's minimum piece.
        increment: The security's increment.
        booked: Whether the fill allocation read was booked.
        row_order: Per (order, account) row: the order's position.
        row_account: Per row: the account's position in *account_ids*.
        intent: Per row: the face recorded before execution.
        target: Per row: the intent as a legal amount (what fills are shared by).
        quantity: Per row: the face allocated from the fills.
        reference: Per row: the NAV pro-rata share of the pre-trade allocation
            (NaN where the trail holds no NAV).
        changes: Allocations decided, modified or re-booked after an execution.
        overrides: Commits despite blocking compliance violations: who and why.

    .. versionadded:: 26.1
    """

    group: str
    since: dt.datetime | None
    until: dt.datetime | None
    account_ids: tuple[str, ...]
    order_ids: tuple[str, ...]
    security_ids: tuple[str, ...]
    side: IntArray
    executed_at: tuple[dt.datetime, ...]
    decided_at: tuple[dt.datetime | None, ...]
    method: tuple[str, ...]
    fill_method: tuple[str, ...]
    price: FloatArray
    placed: FloatArray
    min_piece: FloatArray
    increment: FloatArray
    booked: BoolArray
    row_order: IntArray
    row_account: IntArray
    intent: FloatArray
    target: FloatArray
    quantity: FloatArray
    reference: FloatArray
    changes: tuple[Mapping[str, Any], ...] = ()
    overrides: tuple[Mapping[str, Any], ...] = ()

    def __repr__(self) -> str:
        return (
            f"FairnessTrail(group={self.group!r}, orders={len(self.order_ids)}, "
            f"accounts={len(self.account_ids)}, rows={len(self.row_order)}, "
            f"changes={len(self.changes)}, overrides={len(self.overrides)})"
        )

    @property
    def n_orders(self) -> int:
        """How many orders."""
        return len(self.order_ids)

    @property
    def n_accounts(self) -> int:
        """How many accounts."""
        return len(self.account_ids)

    def matrix(self, column: FloatArray) -> FloatArray:
        """A per-row *column* as a dense array of shape (n_orders, n_accounts), 0 elsewhere."""
        out = np.zeros((self.n_orders, self.n_accounts))
        np.add.at(out, (self.row_order, self.row_account), column)
        return out


def _by_time(row: PayloadRow) -> tuple[str, int]:
    return (row.at, row.seq)


def read_trail(
    sink: Any,
    group: str,
    *,
    since: dt.datetime | dt.date | None = None,
    until: dt.datetime | dt.date | None = None,
) -> FairnessTrail:
    """Read *group*'s orders whose fills were allocated in [*since*, *until*).

    Args:
        sink: Any `~orderalloc.audit.AuditSink`.
        group: The portfolio group.
        since: Start of the period: a date (midnight UTC) or an aware datetime.
        until: End of the period, exclusive.

    Returns:
        The columns (see `FairnessTrail`).

    Raises:
        InvalidInputError: A naive time, or an empty group.
        AuditSinkError: The sink could not be read.

    .. versionadded:: 26.1
    """
    if not isinstance(group, str) or not group:
        raise InvalidInputError("group", group, "must be a non-empty str")
    start, end = _check_time("since", since), _check_time("until", until)
    if start is not None and end is not None and end <= start:
        raise InvalidInputError("until", until, f"must be after since ({since})")

    fills = [
        r
        for r in payload_rows(
            sink, kinds={EventKind.FILLS_ALLOCATED}, since=start, until=end, paths=_FILL_PATHS
        )
        if r.values[0] == group
    ]
    after = payload_rows(
        sink,
        kinds={EventKind.BOOKED, EventKind.TRADE_CANCELLED},
        since=start,
        until=None,
        paths=("attempt", "reason"),
    )
    booked = {r.allocation_id for r in after if r.kind == EventKind.BOOKED.value}
    cancelled = {r.allocation_id for r in after if r.kind == EventKind.TRADE_CANCELLED.value}
    pre_start = None if start is None else start - LOOKBACK
    pre = payload_rows(
        sink,
        kinds={EventKind.PREVIEWED, EventKind.COMMITTED, EventKind.OVERRIDDEN},
        since=pre_start,
        until=end,
        paths=_PRE_PATHS + _OVERRIDE_PATHS,
    )
    previews = {
        r.allocation_id: r
        for r in pre
        if r.kind == EventKind.PREVIEWED.value and r.values[0] == group
    }
    commits: dict[str, PayloadRow] = {}
    commits_of_order: dict[str, list[PayloadRow]] = {}
    for r in pre:
        if r.kind == EventKind.COMMITTED.value and r.allocation_id in previews:
            commits[r.allocation_id] = r
            if r.order_id is not None:
                commits_of_order.setdefault(r.order_id, []).append(r)

    # One fill allocation per order: the last booked, not cancelled; else the last.
    per_order: dict[str, list[PayloadRow]] = {}
    for r in sorted(fills, key=_by_time):
        if r.order_id is not None:
            per_order.setdefault(r.order_id, []).append(r)
    chosen: list[tuple[dt.datetime, PayloadRow, bool, list[PayloadRow]]] = []
    for rows in per_order.values():
        active = [r for r in rows if r.allocation_id in booked and r.allocation_id not in cancelled]
        pick = active[-1] if active else rows[-1]
        times = [parse_time(f["time"]) for f in pick.values[9] or () if f.get("time")]
        first = min(times) if times else parse_time(pick.at)
        chosen.append((first, pick, bool(active), rows))
    chosen.sort(key=lambda c: (c[0], c[1].order_id or ""))

    accounts: dict[str, int] = {}
    cols: dict[str, list[Any]] = {k: [] for k in ("o", "a", "intent", "target", "q", "ref")}
    orders: dict[str, list[Any]] = {
        k: []
        for k in (
            "id", "sec", "side", "exec", "decided", "method", "fm",
            "price", "placed", "m", "d", "booked",
        )
    }  # fmt: skip
    changes: list[dict[str, Any]] = []
    for k, (first, row, is_booked, rows) in enumerate(chosen):
        v = row.values
        ids = v[4]  # JSON strings already
        intent = np.asarray(v[5], dtype=float)
        target = np.asarray(v[6], dtype=float)
        q = np.asarray(v[7], dtype=float)
        placed = np.asarray(v[8] or (), dtype=float)
        fill_prices = np.asarray([float(f["price"]) for f in v[9] or ()], dtype=float)
        total = float(placed.sum())
        price = float(placed @ fill_prices / total) if total > 0 else float("nan")
        pre_row = previews.get(str(v[1]))
        commit = commits.get(str(v[1]))
        ref = np.full(len(ids), np.nan)
        if pre_row is not None and pre_row.values[6] is not None:
            pre_ids = pre_row.values[4]
            nav = np.asarray(pre_row.values[6], dtype=float)
            allocated = float(np.sum(np.asarray(pre_row.values[5], dtype=float)))
            pro_rata = nav / nav.sum() * allocated
            if pre_ids == ids:  # the usual case: the same accounts in the same order
                ref = pro_rata
            else:
                share = dict(zip(pre_ids, pro_rata.tolist(), strict=True))
                ref = np.array([share.get(i, 0.0) for i in ids])
        keep = np.flatnonzero((intent > 0) | (q > 0))
        cols["o"].append(np.full(keep.size, k, dtype=np.int64))
        cols["a"].append(
            np.fromiter(
                (accounts.setdefault(ids[i], len(accounts)) for i in keep.tolist()),
                dtype=np.int64,
                count=keep.size,
            )
        )
        cols["intent"].append(intent[keep])
        cols["target"].append(target[keep])
        cols["q"].append(q[keep])
        cols["ref"].append(ref[keep])
        order_id = str(row.order_id)
        orders["id"].append(order_id)
        orders["sec"].append(str(row.security_id))
        orders["side"].append(-1 if str(v[2]).upper() == "SELL" else 1)
        orders["exec"].append(first)
        orders["decided"].append(None if commit is None else parse_time(commit.at))
        orders["method"].append(
            "unknown" if pre_row is None else str(pre_row.values[1] or "unknown")
        )
        orders["fm"].append(str(v[3] or "pro_rata"))
        orders["price"].append(price)
        orders["placed"].append(total)
        orders["m"].append(float(v[10] or 0.0))
        orders["d"].append(float(v[11] or 0.0))
        orders["booked"].append(is_booked)
        late = _changes(order_id, first, commits_of_order.get(order_id, []), previews)
        late += _rebookings(order_id, first, rows, booked, cancelled)
        if late:
            participants = [str(ids[i]) for i in np.flatnonzero(intent > 0).tolist()]
            for c in late:
                c["accounts"] = participants
            changes.extend(late)

    overrides = _overrides(pre, previews, commits, start)
    # Accounts sorted by id: the result must not depend on the order events name them.
    names = sorted(accounts)
    position = np.empty(len(names), dtype=np.int64)
    for new, name in enumerate(names):
        position[accounts[name]] = new
    raw_a = np.concatenate(cols["a"]) if cols["a"] else np.zeros(0, dtype=np.int64)

    def cat(key: str) -> FloatArray:
        parts = cols[key]
        return np.concatenate(parts) if parts else np.zeros(0)

    return FairnessTrail(
        group=group,
        since=start,
        until=end,
        account_ids=tuple(names),
        order_ids=tuple(orders["id"]),
        security_ids=tuple(orders["sec"]),
        side=np.asarray(orders["side"], dtype=np.int64),
        executed_at=tuple(orders["exec"]),
        decided_at=tuple(orders["decided"]),
        method=tuple(orders["method"]),
        fill_method=tuple(orders["fm"]),
        price=np.asarray(orders["price"], dtype=float),
        placed=np.asarray(orders["placed"], dtype=float),
        min_piece=np.asarray(orders["m"], dtype=float),
        increment=np.asarray(orders["d"], dtype=float),
        booked=np.asarray(orders["booked"], dtype=bool),
        row_order=np.concatenate(cols["o"]) if cols["o"] else np.zeros(0, dtype=np.int64),
        row_account=position[raw_a] if raw_a.size else raw_a,
        intent=cat("intent"),
        target=cat("target"),
        quantity=cat("q"),
        reference=cat("ref"),
        changes=tuple(changes),
        overrides=tuple(overrides),
    )


def _changes(
    order_id: str,
    first: dt.datetime,
    commits: Sequence[PayloadRow],
    previews: Mapping[str, PayloadRow],
) -> list[dict[str, Any]]:
    """Allocations of the order committed after its first execution."""
    out = []
    for c in commits:
        at = parse_time(c.at)
        if at <= first:
            continue
        preview = previews[c.allocation_id]
        modified = preview.values[2] is not None
        out.append(
            {
                "order_id": order_id,
                "kind": "modified_after_execution" if modified else "decided_after_execution",
                "at": c.at,
                "actor": c.actor,
                "first_execution": format_time(first),
                "allocation_id": c.allocation_id,
            }
        )
    return out


def _rebookings(
    order_id: str,
    first: dt.datetime,
    rows: Sequence[PayloadRow],
    booked: Collection[str],
    cancelled: Collection[str],
) -> list[dict[str, Any]]:
    """Fill allocations booked and then cancelled: the fills were re-allocated after the trade."""
    return [
        {
            "order_id": order_id,
            "kind": "booking_cancelled",
            "at": r.at,
            "actor": r.actor,
            "first_execution": format_time(first),
            "allocation_id": r.allocation_id,
        }
        for r in rows
        if r.allocation_id in booked and r.allocation_id in cancelled
    ]


def _overrides(
    pre: Sequence[PayloadRow],
    previews: Mapping[str, PayloadRow],
    commits: Mapping[str, PayloadRow],
    start: dt.datetime | None,
) -> list[dict[str, Any]]:
    """Every override of the group's allocations in the period: who, why, which accounts."""
    out = []
    n = len(_PRE_PATHS)
    for r in pre:
        if r.kind != EventKind.OVERRIDDEN.value or r.allocation_id not in previews:
            continue
        if start is not None and parse_time(r.at) < start:
            continue
        preview = previews[r.allocation_id]
        ids = [str(i) for i in preview.values[4] or ()]
        q = np.asarray(preview.values[5] or (), dtype=float)
        commit = commits.get(r.allocation_id)
        violations = r.values[n + 2] or []
        out.append(
            {
                "allocation_id": r.allocation_id,
                "order_id": None if commit is None else commit.order_id,
                "at": r.at,
                "actor": r.actor,
                "by": r.values[n],
                "comment": r.values[n + 1],
                "violations": [_violation_text(x) for x in violations],
                "accounts": [ids[i] for i in np.flatnonzero(q > 0).tolist()],
            }
        )
    return out


def _violation_text(value: Any) -> str:
    if isinstance(value, Mapping):
        parts = [str(value.get(k)) for k in ("account_id", "rule", "message") if value.get(k)]
        return ": ".join(parts) if parts else json.dumps(value, sort_keys=True)
    return str(value)
