"""The post-trade commands of ``orderalloc``: ``fills``, ``allocate-fills``, ``book``.

An order's fills are listed and recorded, allocated to its committed
allocation (a recorded preview), and that fill allocation is booked as one
block trade with its per-account trades, exactly once. The demo's post-trade
part (`orderalloc._cli._demo`) prints with `echo_fill_preview` and
`echo_booking`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from .. import _render
from ..desk import BookingReceipt, FillPreview
from ..sources.trades import Execution
from ._common import (
    INPUT_FILE,
    State,
    comment_option,
    echo_either,
    echo_json,
    json_option,
    parse_quantity,
    pass_state,
)

__all__ = ["COMMANDS", "echo_booking", "echo_fill_preview"]


def _fill_json(e: Execution) -> dict[str, Any]:
    return {
        "execution_id": e.execution_id,
        "quantity": e.quantity,
        "price": e.price,
        "time": None if e.time is None else e.time.isoformat(),
    }


def _parse_fill(text: str) -> tuple[float, float]:
    """``2mm@99.10`` -> (2,000,000, 99.10)."""
    quantity, sep, price = text.partition("@")
    if not sep:
        raise click.BadParameter(f"{text!r}: write QUANTITY@PRICE, e.g. 2mm@99.10")
    try:
        return parse_quantity(quantity), float(price)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: {exc}") from None


def _file_fills(path: Path) -> list[dict[str, Any]]:
    """Fills from a JSON file: a list of {quantity, price, execution_id?, time?}."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise click.BadParameter(f"{path}: expected a JSON list of objects")
    return rows


@click.command("fills")
@click.argument("order_id")
@click.option("--add", "adds", multiple=True, help="Record a fill: QUANTITY@PRICE (repeatable).")
@click.option(
    "--file",
    "fill_file",
    type=INPUT_FILE,
    default=None,
    help="Record fills from JSON: [{quantity, price, execution_id, time}].",
)
@json_option
@pass_state
def fills_command(
    state: State, order_id: str, adds: tuple[str, ...], fill_file: Path | None, as_json: bool
) -> None:
    """List an order's fills (the source's and those recorded); record more with --add/--file."""
    desk = state.desk()
    for text in adds:
        quantity, price = _parse_fill(text)
        desk.record_fill(order_id, quantity, price, via="user")
    if fill_file is not None:
        for row in _file_fills(fill_file):
            time = row.get("time")
            desk.record_fill(
                order_id,
                float(row.get("quantity", 0)),
                float(row.get("price", 0)),
                execution_id=row.get("execution_id"),
                time=dt.datetime.fromisoformat(time) if time else None,
                via="file",
            )
    found = desk.fills(order_id)
    if as_json:
        echo_json([_fill_json(e) for e in found])
        return
    if not found:
        click.echo(f"order {order_id}: no fills yet", err=True)
        return
    for e in found:
        when = "" if e.time is None else f"{e.time:%Y-%m-%d %H:%M:%S}Z"
        click.echo(f"{e.execution_id:<24}{e.quantity:>16,.0f} @ {e.price:<10g}{when}")
    total = sum(e.quantity for e in found)
    average = sum(e.quantity * e.price for e in found) / total
    click.echo(f"{len(found)} fill(s), {total:,.0f} face at {average:.6f} on average")


def _preview_json(fp: FillPreview) -> dict[str, Any]:
    fa = fp.allocation
    return {
        "fill_allocation_id": fp.fill_allocation_id,
        "order_id": fp.order_id,
        "previous": fp.previous,
        "new_fill_ids": list(fp.new_fill_ids),
        "filled": fa.filled,
        "allocated": fa.allocated,
        "unallocated": fa.unallocated,
        "vwap": fa.vwap,
        "warnings": list(fa.warnings),
        "quantities": {k: v for k, v in fa.quantities.items() if v},
        "ticket": {
            "external_id": fp.ticket.external_id,
            "price": fp.ticket.price,
            "trade_date": None if fp.ticket.trade_date is None else str(fp.ticket.trade_date),
            "lines": [
                {"account_id": ln.account_id, "quantity": ln.quantity, "principal": ln.principal}
                for ln in fp.ticket.lines
            ],
        },
    }


def echo_fill_preview(fp: FillPreview, limit: int) -> None:
    fa = fp.allocation
    ticket = fp.ticket
    click.echo(
        _render.wrap(
            f"order {fp.order_id}: {len(fa.fills)} fill(s), {fa.filled:,.0f} filled, "
            f"{fa.allocated:,.0f} allocated at {fa.vwap:.6f} (VWAP)"
            + (f", {fa.unallocated:,.0f} not placed" if fa.unallocated else "")
        )
    )
    click.echo(
        _render.wrap(
            f"block to book: {len(ticket.lines)} line(s), {ticket.quantity:,.0f} face "
            f"at {ticket.price:.6f}, fills {', '.join(fp.new_fill_ids)}"
        )
    )
    click.echo(f"{'account':<16}{'intent':>14}{'filled':>14}{'to book':>14}{'principal':>18}")
    rows = {ln.account_id: ln for ln in ticket.lines}
    shown = 0
    for i, account in enumerate(fa.account_ids):
        if not fa.intent[i] and not fa.quantity[i]:
            continue
        line = rows.get(account)
        click.echo(
            f"{account:<16}{fa.intent[i]:>14,.0f}{fa.quantity[i]:>14,.0f}"
            f"{(line.quantity if line else 0):>14,.0f}"
            f"{(line.principal or 0) if line else 0:>18,.2f}"
        )
        shown += 1
        if shown >= limit:
            click.echo("...")
            break
    for warning in fa.warnings:
        click.echo(_render.wrap(warning, prefix="warning: "))
    click.echo(f"\nfill allocation id: {fp.fill_allocation_id}")


@click.command("allocate-fills")
@click.argument("order_id")
@click.option(
    "--method",
    type=click.Choice(["pro-rata", "deviation"]),
    default="pro-rata",
    show_default=True,
    help="Pro rata to the intent (with the rotation), or the disclosed deviation.",
)
@click.option("--limit", type=int, default=30, show_default=True, help="Accounts in the table.")
@json_option
@pass_state
def allocate_fills_command(
    state: State, order_id: str, method: str, limit: int, as_json: bool
) -> None:
    """Allocate an order's fills to its committed allocation (recorded; nothing booked).

    Prints the fill allocation id that `book` takes. Run it again as fills
    arrive: each run is a new preview, until one is booked.
    """
    fp = state.desk().allocate_fills(order_id, method=method.replace("-", "_"))
    if as_json:
        echo_json(_preview_json(fp))
        return
    echo_fill_preview(fp, limit)
    click.echo(f"book it with: orderalloc book {fp.fill_allocation_id}")


def _booking_json(receipt: BookingReceipt) -> dict[str, Any]:
    trade = receipt.trade
    return {
        "fill_allocation_id": receipt.fill_allocation_id,
        "trade_id": trade.trade_id,
        "external_id": trade.external_id,
        "status": trade.status,
        "price": trade.price,
        "quantity": trade.quantity,
        "lines": len(trade.lines),
        "already_booked": receipt.already_booked,
        "recovered": receipt.recovered,
    }


def echo_booking(receipt: BookingReceipt) -> None:
    trade = receipt.trade
    note = " (already booked: nothing sent)" if receipt.already_booked else ""
    note += " (found after an interrupted attempt)" if receipt.recovered else ""
    click.echo(
        _render.wrap(
            f"booked fill allocation {receipt.fill_allocation_id} as trade {trade.trade_id} "
            f"[{trade.status}], {len(trade.lines)} lines, {trade.quantity:,.0f} face "
            f"at {trade.price:.6f}{note}"
        )
    )


@click.command("book")
@click.argument("fill_allocation_id")
@comment_option
@json_option
@pass_state
def book_command(state: State, fill_allocation_id: str, comment: str | None, as_json: bool) -> None:
    """Book a fill allocation's block trade with its per-account trades, exactly once.

    Safe to run again after any failure: a booking whose outcome is unknown is
    looked up first and never sent twice.
    """
    receipt = state.desk().book(fill_allocation_id, comment=comment)
    echo_either(receipt, as_json, _booking_json, echo_booking)


#: The commands this module adds to the ``orderalloc`` group.
COMMANDS = (fills_command, allocate_fills_command, book_command)
