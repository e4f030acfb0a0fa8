"""The order commands of ``orderalloc``: ``preview``, ``commit``, ``modify`` and ``cancel``.

A preview is recorded and nothing is sent; a commit checks compliance and
posts the order exactly once. Everything that can fail before an order is
posted (the plot's extra, folder and file type) is checked before anything is
sent, and once it is booked the receipt is printed first: an optional step
failing after it exits 8 (`after_booking`), never 1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from .. import _render
from .._serialization import converter, to_json
from ..audit import EventKind
from ._common import (
    QUANTITY,
    State,
    after_booking,
    comment_option,
    echo_either,
    echo_json,
    json_option,
    override_warnings_option,
    pass_state,
)
from ._params import EngineChoice, engine_options

__all__ = ["COMMANDS", "SLOW_SLSQP_ACCOUNTS", "echo_receipt"]

#: Accounts above which SLSQP takes long enough to warn about (it scales like n^3:
#: about a minute for 1,000 accounts on the benchmark machine).
SLOW_SLSQP_ACCOUNTS = 300


def _check_plot_path(path: str) -> None:
    """Refuse a ``--plot`` that would fail: before anything is recorded or sent.

    Raises:
        click.UsageError: matplotlib missing, no such folder, or a file type
            matplotlib cannot write.
    """
    try:
        from .. import plot as _plot  # noqa: F401  # its import error names the extra
    except ImportError as exc:
        raise click.UsageError(f"--plot {path}: {exc}") from None
    from matplotlib.backend_bases import FigureCanvasBase  # present: plot imported it

    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise click.UsageError(f"--plot {path}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise click.UsageError(f"--plot {path}: folder {str(folder)!r} is not writable")
    kinds = sorted(FigureCanvasBase.get_supported_filetypes())
    suffix = target.suffix.lower().lstrip(".")
    if suffix not in kinds:
        raise click.UsageError(
            f"--plot {path}: {('.' + suffix) if suffix else 'no suffix'} is not a picture "
            f"type matplotlib writes; use one of {', '.join('.' + k for k in kinds)}"
        )


def _warn_if_slow(state: State, group: str, security_id: str) -> None:
    n = len(state.source.accounts(group, security_id))
    if n > SLOW_SLSQP_ACCOUNTS:
        text = (
            f"--backend slsqp on {n:,} accounts may take minutes (its time grows like n^3); "
            "the default exact backend solves the same problem in milliseconds. "
            "Ctrl-C stops it."
        )
        click.echo(_render.wrap(text, "warning: "), err=True)


def _receipt_json(receipt: Any) -> dict[str, Any]:
    return {
        **_render.receipt_record(receipt),
        "overridden": [converter.unstructure(v) for v in receipt.overridden],
    }


def echo_receipt(receipt: Any) -> None:
    """A commit's receipt for people: the order id first, then any overridden violation."""
    order = receipt.order
    note = " (already committed: nothing sent)" if receipt.already_committed else ""
    text = (
        f"committed allocation {receipt.allocation_id} as order {order.order_id} "
        f"v{order.version} [{order.status}], {len(order.lines):,} lines, "
        f"{order.quantity:,.0f} face{note}"
    )
    click.echo(_render.wrap(text))
    for violation in receipt.overridden:
        click.echo(_render.wrap(f"{violation.rule}: {violation.message}", "  overridden: "))


@click.command()
@click.option("--group", required=True, help="The portfolio group, e.g. BIG6.")
@click.option("--security", "security_id", required=True, help="The security id (CUSIP).")
@click.option("--side", type=click.Choice(["buy", "sell"], case_sensitive=False), required=True)
@click.option("--quantity", type=QUANTITY, required=True, help="Face: 5mm, 250k, 2,000,000.")
@engine_options
@click.option("--seed", type=int, default=None, help="Tie-break seed (default: from the order).")
@click.option("--limit", type=int, default=30, show_default=True, help="Accounts in the table.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Save a picture of the metric before and after (needs the plot extra).",
)
@click.option("--commit", "and_commit", is_flag=True, help="Commit straight after the preview.")
@click.option("--comment", default=None, help="With --commit: a comment for the audit trail.")
@json_option
@pass_state
def preview(
    state: State,
    group: str,
    security_id: str,
    side: str,
    quantity: float,
    engine: EngineChoice,
    seed: int | None,
    limit: int,
    plot_path: str | None,
    and_commit: bool,
    comment: str | None,
    as_json: bool,
) -> None:
    """Allocate an order across a group and record it (nothing is sent).

    Prints the allocation id that `commit` takes.
    """
    if plot_path:
        _check_plot_path(plot_path)  # before anything is recorded or sent
    desk = state.desk()
    if engine.params.get("backend") == "slsqp":
        _warn_if_slow(state, group, security_id)
    made = _render.run(
        f"allocating {quantity:,.0f} {security_id} across {group} ({engine.name})",
        lambda: desk.preview(
            group,
            security_id,
            side.upper(),
            quantity,
            method=engine.name,
            seed=seed,
            **engine.params,
        ),
        interrupted="stopped; nothing was committed (a preview is recorded whole or not at all).",
    )
    receipt = None
    if and_commit:
        receipt = _render.run(
            f"commit {made.allocation_id[:8]}: compliance and send",
            lambda: desk.commit(made.allocation_id, comment=comment),
            interrupted=(
                "abandoned while the commit was being sent: its outcome is unknown; "
                f"`orderalloc commit {made.allocation_id}` finds out and never books twice."
            ),
            protected=True,
        )
    # The receipt first: whatever happens after, the user has the order id.
    if receipt is not None:
        if as_json:
            echo_json({"allocation_id": made.allocation_id, "commit": _receipt_json(receipt)})
        else:
            echo_receipt(receipt)

    def report() -> None:
        if plot_path:
            made.result.plot(path=plot_path)
        if as_json:
            if receipt is None:
                echo_json(
                    {
                        "allocation_id": made.allocation_id,
                        "group": group,
                        "fingerprint": made.fingerprint,
                        **_render.result_records(made.result),
                        "result": json.loads(to_json(made.result)),
                    }
                )
            return
        click.echo(_render.result_table(made.result, limit=limit))
        click.echo(f"\nallocation id: {made.allocation_id}")
        click.echo(f"recorded in {state.audit_db}")
        if receipt is None:
            click.echo(f"commit it with: orderalloc commit {made.allocation_id}")
        if plot_path:
            click.echo(f"plot saved to {plot_path}")

    if receipt is None:
        report()
    else:
        after_booking("the report after it" if not plot_path else "the plot", report)


@click.command()
@click.argument("allocation_id")
@comment_option
@override_warnings_option
@json_option
@pass_state
def commit(
    state: State, allocation_id: str, comment: str | None, override_warnings: bool, as_json: bool
) -> None:
    """Check compliance and post a previewed allocation as one order, exactly once."""
    receipt = state.desk().commit(
        allocation_id, comment=comment, override_warnings=override_warnings
    )
    echo_either(receipt, as_json, _receipt_json, echo_receipt)


@click.command()
@click.argument("order_id")
@click.option("--quantity", type=QUANTITY, required=True, help="The new face.")
@click.option("--comment", default=None)
@json_option
@pass_state
def modify(
    state: State, order_id: str, quantity: float, comment: str | None, as_json: bool
) -> None:
    """Re-allocate a live order to a new quantity with its original method."""
    receipt = state.desk().modify(order_id, quantity=quantity, comment=comment)
    echo_either(receipt, as_json, _receipt_json, echo_receipt)


@click.command()
@click.argument("order_id")
@click.option("--reason", required=True, help="Why (recorded).")
@json_option
@pass_state
def cancel(state: State, order_id: str, reason: str, as_json: bool) -> None:
    """Cancel an order the desk committed (a second cancel changes nothing, and says so)."""
    earlier = [e for e in state.sink.events(kinds=[EventKind.CANCELLED]) if e.order_id == order_id]
    posted = state.desk().cancel(order_id, reason)
    if as_json:
        echo_json({**_render.receipt_record(posted), "already_cancelled": bool(earlier)})
    elif earlier:
        text = (
            f"order {posted.order_id} was already cancelled at {earlier[0].at:%Y-%m-%d %H:%M:%S}Z"
            f" by {earlier[0].actor}: nothing sent [{posted.status}]"
        )
        click.echo(_render.wrap(text))
    else:
        click.echo(f"cancelled order {posted.order_id} v{posted.version} [{posted.status}]")


#: The commands this module adds to the ``orderalloc`` group.
COMMANDS = (preview, commit, modify, cancel)
