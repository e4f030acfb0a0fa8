"""The fairness report as text (80 columns) and as one self-contained HTML page.

The HTML page needs nothing from the network: its style is inline, and its
pictures (the ``plot`` extra, matplotlib) are inline SVG, which also prints
sharply. Without matplotlib the page holds the tables only and says so.
The pictures:

1. **Fill rate by account**: the face each account received as a share of
   its intent, one bar per account (a histogram over many accounts), with
   the group's overall rate as a line.
2. **Cumulative shortfall over time**: pro-rata entitlement minus face
   received, summed order by order, for the accounts furthest from zero at
   the end (the band: every account's range).
3. **Excess P&L against random reallocation**: for each account worth a
   look, the permutation distribution of its excess P&L (box: 25%-75%,
   whiskers: 5%-95%) and where it actually stands (a dot; red if flagged).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._render import wrap

if TYPE_CHECKING:
    from .report import FairnessReport

__all__ = ["html_report", "text_report"]


def _order(report: FairnessReport) -> list[int]:
    """Accounts most worth a look first: flagged, smallest p-value, largest |shortfall|."""
    cols = report.columns()
    p = np.nan_to_num(np.asarray(cols["p_value"], dtype=float), nan=2.0)
    short = -np.abs(np.nan_to_num(np.asarray(cols["shortfall_pct"], dtype=float)))
    flagged = ~np.asarray(cols["flagged"], dtype=bool)
    rows: list[int] = np.lexsort((short, p, flagged)).tolist()
    return rows


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{100 * x:.1f}"


def _p(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.4f}"


def _money(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:,.1f}{unit}"
    return f"{x:,.0f}"


def _period(report: FairnessReport) -> str:
    t = report.trail
    start = "start" if t.since is None else t.since.date().isoformat()
    end = "now" if t.until is None else t.until.date().isoformat()
    return f"{start} to {end} (exclusive)"


def _headline(report: FairnessReport) -> list[str]:
    t = report.trail
    cols = report.columns()
    intent = float(np.sum(cols["intent"]))
    filled = float(np.sum(cols["filled"]))
    lines = [
        f"Fairness review: group {t.group}, {_period(report)}",
        f"{t.n_orders} orders ({int(np.sum(report._partial()))} filled in part), "
        f"{t.n_accounts} accounts, fill rate {_pct(filled / intent if intent else math.nan)}%",
    ]
    perm = report.permutation
    if perm is None:
        lines.append("No later prices given: no P&L and no permutation test.")
    else:
        flagged = report.flagged()
        lines.append(
            f"Permutation test: {perm.permutations:,} reallocations over {perm.orders} orders "
            f"in {perm.strata} strata, seed {perm.seed}; flagged at Holm-adjusted "
            f"p < {report.alpha}: {', '.join(flagged) if flagged else 'none'}"
        )
    lines.append(
        f"Late or changed allocations: {len(report.changes)}; overrides: {len(report.overrides)}"
    )
    return lines


def text_report(report: FairnessReport, *, limit: int = 20, width: int = 80) -> str:
    """The terminal summary (see `FairnessReport.text`)."""
    cols = report.columns()
    out = [wrap(line, width=width) for line in _headline(report)]
    out.append("")
    head = (
        f"{'account':<12} {'orders':>6} {'fill%':>6} {'zero':>5} {'short%':>7} "
        f"{'dev%':>6} {'P&L':>9} {'p':>7} {'p_holm':>7} {'':>1}"
    )
    out.append(head[:width])
    out.append("-" * min(width, len(head)))
    rows = _order(report)
    for i in rows[:limit]:
        line = (
            f"{str(cols['account_id'][i])[:12]:<12} {int(cols['orders'][i]):>6} "
            f"{_pct(float(cols['fill_rate'][i])):>6} {int(cols['zero_fills'][i]):>5} "
            f"{_pct(float(cols['shortfall_pct'][i])):>7} "
            f"{_pct(float(cols['deviation_pct'][i])):>6} {_money(float(cols['pnl'][i])):>9} "
            f"{_p(float(cols['p_value'][i])):>7} {_p(float(cols['p_holm'][i])):>7} "
            f"{'!' if cols['flagged'][i] else ' '}"
        )
        out.append(line[:width])
    if len(rows) > limit:
        out.append(f"... {len(rows) - limit} more accounts (--json for all)")
    if report.methods:
        out.append("")
        out.append("Distance from NAV pro rata, by pre-trade method:")
        for name, m in report.methods.items():
            out.append(
                wrap(
                    f"  {name}: {int(m['orders'])} orders, {_pct(m['moved_pct'])}% of the face "
                    "moved away from NAV pro rata",
                    width=width,
                )
            )
    for item in report.overrides[:limit]:
        out.append(
            wrap(
                f"Override {item['at'][:16]} by {item['by'] or item['actor']}: "
                f"{item['comment'] or '(no comment)'}",
                width=width,
            )
        )
    return "\n".join(out)


# --- HTML ------------------------------------------------------------------------------------

_CSS = """
body { font-family: Georgia, 'Times New Roman', serif; margin: 2em auto; max-width: 60em;
       color: #111; line-height: 1.35; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.85em; font-family: Helvetica, Arial, sans-serif; }
th, td { padding: 0.2em 0.5em; border-bottom: 1px solid #ccc; text-align: right; }
th { background: #eee; } td.id, th.id { text-align: left; }
tr.flagged td { color: #b00; font-weight: bold; }
figure { margin: 1em 0; break-inside: avoid; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #333; }
.note { font-size: 0.9em; color: #444; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { page-break-after: avoid; }
  table { page-break-inside: auto; } tr { page-break-inside: avoid; }
  .section { page-break-before: auto; }
}
"""


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _figures(report: FairnessReport, accounts: int) -> list[tuple[str, str]]:
    """(caption, inline SVG) of each picture; empty without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return []
    out: list[tuple[str, str]] = []
    cols = report.columns()
    ids = list(cols["account_id"])
    rate = np.asarray(cols["fill_rate"], dtype=float)
    intent = float(np.sum(cols["intent"]))
    overall = float(np.sum(cols["filled"])) / intent if intent else math.nan
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    ok = np.flatnonzero(np.isfinite(rate))
    if 0 < ok.size <= 60:
        rows = ok[np.argsort(rate[ok], kind="stable")]
        ax.bar(range(rows.size), 100 * rate[rows], color="#4c72b0")
        ax.set_xticks(range(rows.size), [ids[i] for i in rows.tolist()], rotation=90, fontsize=6)
        ax.set_ylabel("fill rate (%)")
        # Zoomed to the spread (the caption says so): at 0-100% every bar looks the same.
        lo, hi = 100 * float(rate[ok].min()), 100 * float(rate[ok].max())
        pad = max(1.0, 0.25 * (hi - lo))
        ax.set_ylim(max(0.0, lo - pad), min(100.0, hi + pad))
    elif ok.size:
        ax.hist(100 * rate[ok], bins=40, color="#4c72b0")
        ax.set_xlabel("fill rate (%)")
        ax.set_ylabel("accounts")
    if math.isfinite(overall):
        draw = ax.axhline if 0 < ok.size <= 60 else ax.axvline
        draw(100 * overall, color="#c44e52", lw=1, label=f"group {100 * overall:.1f}%")
        ax.legend(fontsize=8)
    ax.set_title("Fill rate by account: face received / face intended", fontsize=10)
    out.append(
        (
            "Fill rate by account. Each bar is the face an account received over the "
            "period as a share of the face recorded for it before execution; the line "
            "is the group's overall rate (the axis is zoomed to the spread between "
            "accounts). Under pro-rata fills every account is near the line; small "
            "accounts sit lower when scarce fills round them out.",
            _svg(fig),
        )
    )
    series = report.shortfall_series(10)
    if series["time"]:
        fig = Figure(figsize=(8, 3.6))
        ax = fig.add_subplot()
        times = np.asarray([np.datetime64(t[:26]) for t in series["time"]])
        path = report.shortfall_path
        ax.fill_between(
            times, path.min(axis=1), path.max(axis=1), color="#ddd", step="post", label="all"
        )
        for name, values in series["accounts"].items():
            ax.step(times, values, where="post", lw=1, label=name)
        ax.axhline(0, color="#333", lw=0.6)
        ax.set_ylabel("face owed (+) / ahead (-)")
        ax.set_title("Cumulative shortfall against the pro-rata entitlement", fontsize=10)
        ax.legend(fontsize=6, ncol=2)
        fig.autofmt_xdate()
        out.append(
            (
                "Cumulative shortfall over time. Face each account was entitled to (its "
                "pro-rata share of what was filled) minus what it received, summed order "
                "by order; the ten accounts furthest from zero at the end, and the band of "
                "every account. Rounding leaves small, bounded shortfalls that the "
                "rotation repays; a line that drifts away is a pattern.",
                _svg(fig),
            )
        )
    perm = report.permutation
    if perm is not None and perm.orders:
        worth = _order(report)[:accounts]
        fig = Figure(figsize=(8, max(2.5, 0.22 * len(worth) + 1.2)))
        ax = fig.add_subplot()
        # In null standard deviations, so accounts of every size share one axis.
        std = np.where(perm.null_std[worth] > 0, perm.null_std[worth], np.nan)
        qs = (perm.quantiles[worth] - perm.null_mean[worth][:, None]) / std[:, None]
        y = np.arange(len(worth))[::-1]
        ax.hlines(y, qs[:, 1], qs[:, 5], color="#888", lw=1)
        ax.barh(y, qs[:, 4] - qs[:, 2], left=qs[:, 2], height=0.5, color="#ccd", edgecolor="#888")
        flagged = np.asarray(cols["flagged"], dtype=bool)[worth]
        ax.scatter(perm.z[worth], y, color=np.where(flagged, "#c00", "#111"), zorder=3, s=14)
        ax.set_yticks(y, [ids[i] for i in worth], fontsize=6)
        ax.axvline(0, color="#333", lw=0.6)
        ax.set_xlabel("excess P&L, in standard deviations of its random-reallocation distribution")
        ax.set_title("Excess P&L against random reallocation of the same fills", fontsize=10)
        out.append(
            (
                "Each account's excess P&L (dot) against its distribution when the same "
                "fills are reallocated at random among orders of the same side and lot grid "
                "(box 25%-75%, whiskers 5%-95%), in standard deviations of that "
                "distribution so that accounts of every size compare. A dot far right of "
                "its box, in red, is an account that received more of the winners than "
                f"chance explains (Holm-adjusted p < {report.alpha}); dots left of their "
                "box received fewer (often the accounts a favoured one took them from).",
                _svg(fig),
            )
        )
    return out


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(
        f"<th class='id'>{html.escape(h)}</th>" if j == 0 else f"<th>{html.escape(h)}</th>"
        for j, h in enumerate(header)
    )
    body = []
    for k, row in enumerate(rows):
        cls = f" class='{classes[k]}'" if classes and classes[k] else ""
        cells = "".join(
            f"<td class='id'>{html.escape(c)}</td>" if j == 0 else f"<td>{html.escape(c)}</td>"
            for j, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _events(
    heading: str,
    events: Sequence[Mapping[str, Any]],
    header: list[str],
    cells: Callable[[Mapping[str, Any]], list[str]],
    *,
    none: str,
) -> list[str]:
    """A section of recorded events: *heading*, then a table of the first 500 or *none*."""
    if not events:
        return [f"<h2>{heading}</h2>", f"<p>{none}</p>"]
    return [f"<h2>{heading}</h2>", _table(header, [cells(e) for e in events[:500]])]


def html_report(report: FairnessReport, *, title: str | None = None, accounts: int = 30) -> str:
    """The self-contained HTML page (see `FairnessReport.html`)."""
    t = report.trail
    title = title or f"Fairness review: {t.group}"
    cols = report.columns()
    rows = _order(report)
    shown = rows[: max(accounts, len(report.flagged()))]
    table = _table(
        ["account", "orders", "fill %", "zero fills", "shortfall", "short %", "dev. %",
         "late/changed", "overrides", "P&L", "excess P&L", "p", "p (Holm)"],
        [
            [
                str(cols["account_id"][i]),
                str(int(cols["orders"][i])),
                _pct(float(cols["fill_rate"][i])),
                str(int(cols["zero_fills"][i])),
                f"{float(cols['shortfall'][i]):,.0f}",
                _pct(float(cols["shortfall_pct"][i])),
                _pct(float(cols["deviation_pct"][i])),
                str(int(cols["late_or_changed"][i])),
                str(int(cols["overrides"][i])),
                _money(float(cols["pnl"][i])),
                _money(float(cols["excess_pnl"][i])),
                _p(float(cols["p_value"][i])),
                _p(float(cols["p_holm"][i])),
            ]
            for i in shown
        ],
        ["flagged" if cols["flagged"][i] else "" for i in shown],
    )  # fmt: skip
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *(f"<p>{html.escape(line)}</p>" for line in _headline(report)[1:]),
    ]
    figures = _figures(report, accounts)
    if not figures:
        parts.append(
            "<p class='note'>Pictures need matplotlib: pip install 'orderalloc[plot]'.</p>"
        )
    for caption, svg in figures:
        parts.append(f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("<h2 class='section'>Accounts</h2>")
    more = len(rows) - len(shown)
    parts.append(
        "<p class='note'>Flagged accounts first (red), then by p-value, then by shortfall."
        + (f" {more} more accounts are in the JSON report.</p>" if more > 0 else "</p>")
    )
    parts.append(table)
    if report.methods:
        parts.append("<h2>Distance from NAV pro rata, by pre-trade method</h2>")
        parts.append(
            _table(
                ["method", "orders", "face intended", "face moved", "moved %"],
                [
                    [
                        name,
                        str(int(m["orders"])),
                        f"{m['intent']:,.0f}",
                        f"{m['moved']:,.0f}",
                        _pct(m["moved_pct"]),
                    ]
                    for name, m in report.methods.items()
                ],
            )
        )
    parts += _events(
        "Allocations decided or changed after an execution",
        report.changes,
        ["order", "what", "when", "first execution", "who", "accounts"],
        lambda c: [
            str(c["order_id"]),
            str(c["kind"]).replace("_", " "),
            str(c["at"])[:19],
            str(c["first_execution"])[:19],
            str(c["actor"]),
            str(len(c.get("accounts", ()))),
        ],
        none="None: every allocation was recorded before the order's first execution.",
    )
    parts += _events(
        "Overrides of compliance checks",
        report.overrides,
        ["order", "when", "who", "why", "violations", "accounts"],
        lambda o: [
            str(o["order_id"]),
            str(o["at"])[:19],
            str(o["by"] or o["actor"]),
            str(o["comment"] or "(no comment)"),
            "; ".join(o["violations"])[:200],
            str(len(o["accounts"])),
        ],
        none="None.",
    )
    parts.append(
        "<p class='note'>What each statistic can and cannot show: see the orderalloc "
        "documentation, 'Fairness statistics'. P-values are Monte-Carlo estimates for the "
        "stated seed; Holm's adjustment accounts for testing every account.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)
