"""How results, receipts and audit events look: terminal tables, HTML and JSON records.

Private: the ``orderalloc`` command and ``AllocationResult._repr_html_`` use
these. Terminal tables fit *width* columns (80 by default) whatever the group's
size: a large group shows its largest allocations and then counts by reason,
so what the other accounts got is still said. Numbers carry thousands
separators; accounts without a metric show ``-``, not ``nan``.
"""

from __future__ import annotations

import html
import math
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._reasons import Reason

if TYPE_CHECKING:
    from ._result import AllocationResult, DispersionSummary
    from .audit import AuditEvent

__all__ = [
    "events_table",
    "order_story",
    "receipt_record",
    "result_html",
    "result_records",
    "result_table",
    "run",
    "status",
    "weighting_label",
    "wrap",
]

WIDTH = 80
T = TypeVar("T")


def _face(x: float) -> str:
    return f"{x:,.0f}"


def _num(x: float, digits: int = 3) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:,.{digits}f}"


def _cut(text: str, width: int) -> str:
    """*text* in at most *width* characters, an ellipsis marking a cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "\u2026"


def _wrap(text: str, width: int, prefix: str = "") -> list[str]:
    return textwrap.wrap(
        text, width=width, initial_indent=prefix, subsequent_indent=" " * len(prefix)
    ) or [prefix]


def wrap(text: str, prefix: str = "", width: int = WIDTH) -> str:
    """*text* wrapped to *width* columns, continuation lines indented under *prefix*."""
    return "\n".join(_wrap(text, width, prefix))


def _metric(result: AllocationResult) -> str | None:
    """The metric the engine worked on, else the first the trade moves."""
    chosen = result.params.get("metric") if isinstance(result.params, Mapping) else None
    if isinstance(chosen, str) and chosen in result.post_metrics:
        return chosen
    return next(iter(result.post_metrics), None)


def _pct_nav(result: AllocationResult) -> Any:
    if result.nav is None:
        return None
    return 100.0 * result.quantity * result.order.security.cash_per_face / np.asarray(result.nav)


def _verb(result: AllocationResult) -> str:
    return "sold" if result.order.side.value == "SELL" else "bought"


def reason_counts(result: AllocationResult) -> list[tuple[Reason, int, float]]:
    """Each reason present: how many accounts carry it and the face they received."""
    codes = np.asarray(result.reason_codes)
    out = []
    for reason in Reason:
        mask = codes == reason.code
        n = int(np.count_nonzero(mask))
        if n:
            out.append((reason, n, float(result.quantity[mask].sum())))
    return out


def dispersion_line(summary: DispersionSummary) -> str:
    """One metric's dispersion, before -> after, the change signed as it happened."""
    weighting = weighting_label(summary.weighting)
    return (
        f"{summary.metric} ({weighting}): std {_num(summary.std_before, 4)}"
        f" -> {_num(summary.std_after, 4)} ({_change(summary)}), max deviation "
        f"{_num(summary.max_deviation_before, 4)} -> {_num(summary.max_deviation_after, 4)}"
    )


def weighting_label(name: str) -> str:
    """``"NAV-weighted"``, ``"equally-weighted"``, ``"custom-weighted"``."""
    return {"nav": "NAV", "equal": "equally", "custom": "custom"}.get(name, name) + "-weighted"


def _change(summary: DispersionSummary) -> str:
    change = -summary.improvement_pct
    return "-" if math.isnan(change) else f"{0.0 if abs(change) < 0.05 else change:+.1f}%"


def dispersion_table(summaries: Iterable[DispersionSummary]) -> list[str]:
    """The dispersion summaries as a table (80 columns), the weighting in its header."""
    rows = list(summaries)
    weighting = ", ".join(dict.fromkeys(weighting_label(s.weighting) for s in rows))
    lines = [
        f"{'dispersion, ' + weighting:<25}{'std before':>11}{'after':>10}"
        f"{'change':>9}{'max dev before':>15}{'after':>10}"
    ]
    for s in rows:
        lines.append(
            f"{_cut(s.metric, 24):<25}{_num(s.std_before, 4):>11}{_num(s.std_after, 4):>10}"
            f"{_change(s):>9}{_num(s.max_deviation_before, 4):>15}"
            f"{_num(s.max_deviation_after, 4):>10}"
        )
    return lines


def result_table(result: AllocationResult, *, limit: int | None = 30, width: int = WIDTH) -> str:
    """The result as a terminal table no wider than *width* columns.

    Shows the largest *limit* allocations (None: all), then, when accounts
    are left out, the count and face of every reason over the whole group.
    """
    order = result.order
    n_filled = int(np.count_nonzero(result.quantity))
    lines = _wrap(
        f"{order.side.value} {_face(order.quantity)} {order.security.id} @ "
        f"{order.security.price:g} by {result.method}: {_verb(result)} "
        f"{_face(result.allocated)}, unallocated {_face(result.unallocated)}; "
        f"{n_filled:,} of {len(result):,} accounts filled",
        width,
    )
    metric = _metric(result)
    pct = _pct_nav(result)
    rows = np.argsort(-result.quantity, kind="stable")
    if limit is not None:
        rows = rows[:limit]
    # Columns: account, quantity, % NAV, reason, metric before, metric after.
    fixed = [("quantity", 14), ("% NAV", 7), ("reason", 20)]
    if pct is None:
        fixed = [f for f in fixed if f[0] != "% NAV"]
    if metric:
        fixed += [("before", 9), ("after", 9)]
    rest = width - sum(w + 1 for _, w in fixed)
    id_width = max(8, min(rest, max((len(result.account_ids[i]) for i in rows), default=8)))
    id_width = min(id_width, rest)
    header = f"{'account':<{id_width}}" + "".join(
        f" {name:>{w}}" if name != "reason" else f" {name:<{w}}" for name, w in fixed
    )
    lines.append("")
    if metric:
        lines.append(f"{'':<{width - 19}}{_cut(metric, 19):>19}")
    lines.append(header.rstrip())
    lines.append("-" * min(len(header), width))
    for i in rows.tolist():
        reason = Reason.from_code(int(result.reason_codes[i])).value
        text = f"{_cut(result.account_ids[i], id_width):<{id_width}}"
        text += f" {_face(float(result.quantity[i])):>14}"
        if pct is not None:
            text += f" {float(pct[i]):>6.2f}%"
        text += f" {_cut(reason, 20):<20}"
        if metric:
            text += f" {_num(float(result.pre_metrics[metric][i])):>9}"
            text += f" {_num(float(result.post_metrics[metric][i])):>9}"
        lines.append(text.rstrip())
    if limit is not None and len(result) > len(rows):
        lines.append(f"... {len(result) - len(rows):,} more accounts; every account by reason:")
        lines.append("")
        lines.append(f"{'reason':<22}{'accounts':>12}{'face ' + _verb(result):>18}")
        for reason, n, face in reason_counts(result):
            lines.append(f"{reason.value:<22}{n:>12,}{_face(face):>18}")
    if result.dispersion:
        lines.append("")
        lines.extend(dispersion_table(result.dispersion.values()))
    for warning in result.warnings:
        lines.extend(_wrap(warning, width, "warning: "))
    return "\n".join(lines)


def result_records(result: AllocationResult) -> dict[str, Any]:
    """One record per account (reason by name, with its message) and the totals.

    The ``--json`` output's ``accounts`` and ``totals``; the full result, in
    `orderalloc.to_json`'s schema, sits beside them under ``result``.
    """
    pct = _pct_nav(result)
    accounts = []
    for i, ident in enumerate(result.account_ids):
        record: dict[str, Any] = {
            "account_id": ident,
            "quantity": float(result.quantity[i]),
            "ideal": float(result.ideal[i]),
            "cap": float(result.cap[i]),
            "reason": Reason.from_code(int(result.reason_codes[i])).value,
            "message": result.message(i),
            "market_value": float(result.quantity[i] * result.order.security.cash_per_face),
        }
        if pct is not None:
            record["pct_nav"] = float(pct[i])
        for kind, metrics in (("pre", result.pre_metrics), ("post", result.post_metrics)):
            record[kind] = {
                k: (None if math.isnan(float(v[i])) else float(v[i])) for k, v in metrics.items()
            }
        accounts.append(record)
    totals = {
        "requested": result.requested,
        "allocated": result.allocated,
        "unallocated": result.unallocated,
        "unallocated_reason": result.unallocated_reason,
        "accounts": len(result),
        "filled": int(np.count_nonzero(result.quantity)),
        "by_reason": {r.value: {"accounts": n, "quantity": q} for r, n, q in reason_counts(result)},
    }
    return {"accounts": accounts, "totals": totals}


def receipt_record(receipt: Any) -> dict[str, Any]:
    """A commit, modify or cancel as JSON: the order, its quantity and every line."""
    order = getattr(receipt, "order", receipt)
    record: dict[str, Any] = {
        "order_id": order.order_id,
        "status": order.status,
        "version": order.version,
        "security_id": order.security_id,
        "side": order.side.value,
        "quantity": order.quantity,
        "lines": [{"account_id": ln.account_id, "quantity": ln.quantity} for ln in order.lines],
    }
    if receipt is not order:
        record.update(
            allocation_id=receipt.allocation_id,
            already_committed=receipt.already_committed,
            recovered=receipt.recovered,
        )
    return record


def result_html(result: AllocationResult, *, limit: int = 20) -> str:
    """The result as HTML for Jupyter: totals, dispersion, reasons and the largest lines."""
    esc = html.escape
    order = result.order
    metric = _metric(result)
    pct = _pct_nav(result)
    parts = [
        "<div class='orderalloc-result'>",
        f"<p><b>{esc(order.side.value)} {_face(order.quantity)} {esc(order.security.id)}</b>"
        f" by <code>{esc(result.method)}</code>: {_verb(result)} {_face(result.allocated)},"
        f" unallocated {_face(result.unallocated)}; "
        f"{int(np.count_nonzero(result.quantity)):,} of {len(result):,} accounts filled</p>",
    ]
    if result.dispersion:
        parts.append("<ul>")
        parts.extend(f"<li>{esc(dispersion_line(s))}</li>" for s in result.dispersion.values())
        parts.append("</ul>")
    head = ["account", "quantity", *(["% NAV"] if pct is not None else []), "reason", "message"]
    if metric:
        head += [f"{metric} before", "after"]
    parts.append("<table><thead><tr>")
    parts.extend(f"<th>{esc(h)}</th>" for h in head)
    parts.append("</tr></thead><tbody>")
    rows = np.argsort(-result.quantity, kind="stable")[:limit]
    for i in rows.tolist():
        cells = [esc(result.account_ids[i]), _face(float(result.quantity[i]))]
        if pct is not None:
            cells.append(f"{float(pct[i]):.2f}%")
        cells += [Reason.from_code(int(result.reason_codes[i])).value, esc(result.message(i))]
        if metric:
            cells += [
                _num(float(result.pre_metrics[metric][i])),
                _num(float(result.post_metrics[metric][i])),
            ]
        parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    parts.append("</tbody></table>")
    if len(result) > len(rows):
        counts = ", ".join(f"{r.value} {n:,}" for r, n, _ in reason_counts(result))
        parts.append(f"<p>{len(result) - len(rows):,} more accounts. By reason: {counts}.</p>")
    parts.extend(f"<p>warning: {esc(w)}</p>" for w in result.warnings)
    parts.append("</div>")
    return "\n".join(parts)


# --- audit events -------------------------------------------------------------------------------


def events_table(events: Sequence[AuditEvent], *, width: int = WIDTH) -> str:
    """Audit events under a header, one line each, no wider than *width*.

    Allocation ids show their first 8 characters (``audit show`` accepts
    them); ``--json`` gives them whole.
    """
    cols = [("when (UTC)", 16), ("event", 18), ("alloc", 8), ("order", 10), ("security", 10)]
    actor_width = max(5, width - sum(w + 2 for _, w in cols))
    lines = ["  ".join(f"{n:<{w}}" for n, w in cols) + "  actor"]
    lines.append("-" * min(width, len(lines[0]) + actor_width - 5))
    for e in events:
        cells = [
            f"{e.at:%Y-%m-%d %H:%M}",
            e.kind.value,
            e.allocation_id[:8],
            _cut(e.order_id or "", 10),
            _cut(e.security_id or "", 10),
        ]
        text = "  ".join(f"{c:<{w}}" for c, (_, w) in zip(cells, cols, strict=True))
        lines.append((text + "  " + _cut(e.actor, actor_width)).rstrip())
    return "\n".join(lines)


def order_story(events: Iterable[AuditEvent], ident: str) -> list[AuditEvent]:
    """Every event of the order(s) and allocations *ident* leads to, in append order.

    *ident* is an allocation id (whole or a unique prefix of at least 8
    characters) or an order id. The story follows the order through every
    modification (each a new allocation) to its cancel.
    """
    every = list(events)
    allocs = {e.allocation_id for e in every if e.allocation_id == ident}
    if not allocs and len(ident) >= 8:
        allocs = {e.allocation_id for e in every if e.allocation_id.startswith(ident)}
    orders = {e.order_id for e in every if e.order_id == ident}
    # Close over both links: allocation -> its orders -> their allocations, ...
    while True:
        new_orders = {e.order_id for e in every if e.allocation_id in allocs and e.order_id}
        new_orders |= orders
        new_allocs = {e.allocation_id for e in every if e.order_id in new_orders} | allocs
        if new_orders == orders and new_allocs == allocs:
            break
        orders, allocs = new_orders, new_allocs
    return [e for e in every if e.allocation_id in allocs or (e.order_id in orders)]


# --- progress -----------------------------------------------------------------------------------


@contextmanager
def status(label: str, *, stream: IO[str] | None = None) -> Iterator[Any]:
    """A one-line status with the elapsed time, redrawn while the work runs.

    Drawn only on a terminal and erased when the block ends (so no half-drawn
    bar sits above an error). The yielded object's ``label`` may be changed.
    """
    out = stream if stream is not None else sys.stderr

    class _State:
        def __init__(self) -> None:
            self.label = label
            self.started = time.monotonic()

        @property
        def elapsed(self) -> float:
            return time.monotonic() - self.started

    state = _State()
    if not out.isatty():
        yield state
        return
    done = threading.Event()
    frames = "|/-\\"

    def draw() -> None:
        tick = 0
        while not done.wait(0.1):
            text = f"{frames[tick % 4]} {state.label} ({state.elapsed:.1f} s)"
            out.write("\r" + _cut(text, WIDTH - 1) + "\x1b[K")
            out.flush()
            tick += 1

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        done.set()
        thread.join()
        out.write("\r\x1b[K")
        out.flush()


def run(
    label: str,
    work: Callable[[], T],
    *,
    interrupted: str,
    protected: bool = False,
    stream: IO[str] | None = None,
) -> T:
    """Run *work* under a status line, stoppable at once with Ctrl-C.

    A solver deep in compiled code (SLSQP on thousands of accounts) holds
    Python's interpreter lock for minutes: no Python code, not even a signal
    handler, runs until it returns. So unless *protected*, Ctrl-C is given its
    default meaning for the duration of *work*: the operating system ends the
    process at once. Nothing is left half-recorded: an audit record is one
    SQLite transaction, written whole or not at all.

    With *protected* (a commit being sent), the work runs in a thread; the
    first Ctrl-C only says that the send is finishing so that its outcome is
    recorded, a second prints *interrupted* and exits with code 130.
    """
    out = stream if stream is not None else sys.stderr
    in_main = threading.current_thread() is threading.main_thread()
    if not protected:
        with status(f"{label} (Ctrl-C stops)", stream=out):
            previous = signal.getsignal(signal.SIGINT) if in_main else None
            if in_main and previous is not signal.SIG_IGN:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                return work()
            finally:
                if in_main and previous is not signal.SIG_IGN:
                    signal.signal(signal.SIGINT, previous)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="orderalloc-work", daemon=True)
    warned = False
    with status(label, stream=out) as shown:
        thread.start()
        while thread.is_alive():
            try:
                thread.join(0.05)
            except KeyboardInterrupt:
                if not warned:
                    warned = True
                    shown.label = f"{label}: finishing the send (Ctrl-C again to abandon)"
                    continue
                out.write("\r\x1b[K" if out.isatty() else "")
                out.write(f"interrupted after {shown.elapsed:.1f} s: {interrupted}\n")
                out.flush()
                sys.stdout.flush()
                os._exit(130)
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value
