"""The basket commands of ``orderalloc``: ``basket preview FILE`` and ``basket commit FILE|ID``.

A basket file lists the orders of one group, as CSV with a header row (``security``,
``side``, ``quantity``; quantities read like ``5mm``) or as JSON (a list of
objects with those keys, or ``{"orders": [...]}``); the group comes from
``--group``.

``basket commit FILE`` previews and commits in one run, printing the basket
id before anything is sent. It refuses a file whose basket (same orders,
same group) has an unfinished commit in the trail: resume that one with
``basket commit BASKET_ID``, which looks every order up before re-sending
any. Every line of output fits 80 columns.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click

from .. import _render
from ..audit import AuditEvent
from ..desk import BasketDesk, BasketPreview, BasketReceipt
from ..errors import DeskError, InvalidInputError
from ._common import (
    INPUT_FILE,
    State,
    bundle_options,
    comment_option,
    echo_either,
    echo_json,
    json_option,
    override_warnings_option,
    parse_quantity,
    pass_state,
)
from ._params import choose_engine, param_option

__all__ = ["COMMANDS", "echo_basket_story", "read_orders"]

F = TypeVar("F", bound=Callable[..., Any])

_COLUMNS = ("security", "side", "quantity")


def read_orders(path: Path) -> list[tuple[str, str, float]]:
    """The ``(security, side, quantity)`` rows of a basket file (CSV or JSON).

    Raises:
        InvalidInputError: The file cannot be read, or a row lacks a column or
            holds a bad value (named with its row).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInputError("FILE", str(path), f"cannot be read ({exc})") from None
    rows: list[Any]
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError("FILE", str(path), f"is not JSON ({exc})") from None
        found = data.get("orders") if isinstance(data, dict) else data
        if not isinstance(found, list):
            raise InvalidInputError("FILE", str(path), 'must hold a list of orders or {"orders"}')
        rows = found
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    out: list[tuple[str, str, float]] = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise InvalidInputError(f"order {i}", row, "must be an object")
        row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
        missing = [c for c in _COLUMNS if row.get(c) in (None, "")]
        if missing:
            raise InvalidInputError(f"order {i}.{missing[0]}", None, "is missing")
        side = str(row["side"]).strip().upper()
        if side not in ("BUY", "SELL"):
            raise InvalidInputError(f"order {i}.side", row["side"], "must be buy or sell")
        raw = row["quantity"]
        try:
            quantity = float(raw) if isinstance(raw, (int, float)) else parse_quantity(str(raw))
        except click.BadParameter as exc:
            raise InvalidInputError(f"order {i}.quantity", raw, str(exc.message)) from None
        out.append((str(row["security"]).strip(), side, quantity))
    if not out:
        raise InvalidInputError("FILE", str(path), "holds no orders")
    return out


def _label(group: str, orders: list[tuple[str, str, float]]) -> str:
    """A digest of the group and the orders: the same basket file gives the same label."""
    text = json.dumps([group, sorted(orders)], separators=(",", ":"))
    return "file-sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _preview_json(p: BasketPreview) -> dict[str, Any]:
    basket = p.basket
    return {
        "basket_id": p.basket_id,
        "group": p.group,
        "strategy": None if basket is None else basket.strategy,
        "warnings": [] if basket is None else list(basket.warnings),
        "orders": [
            {
                "allocation_id": v.allocation_id,
                "security_id": v.result.order.security.id,
                "side": v.result.order.side.value,
                "quantity": v.result.order.quantity,
                "allocated": v.result.allocated,
                "accounts": int((v.result.quantity > 0).sum()),
            }
            for v in p.previews
        ],
    }


def _echo_preview(p: BasketPreview) -> None:
    basket = p.basket
    n = len(p.previews[0].result.account_ids) if p.previews else 0
    how = "" if basket is None else f", {basket.method}, {basket.strategy}"
    click.echo(
        _render.wrap(
            f"basket {p.basket_id}: {len(p.previews)} orders over {p.group} ({n:,} accounts){how}"
        )
    )
    click.echo(
        f"  {'allocation id':<36} {'security':<12} {'side':<4} {'allocated':>13} {'accts':>5}"
    )
    for v in p.previews:
        r = v.result
        click.echo(
            f"  {v.allocation_id:<36} {r.order.security.id[:12]:<12} {r.order.side.value:<4} "
            f"{r.allocated:>13,.0f} {int((r.quantity > 0).sum()):>5}"
        )
    if basket is not None:
        for warning in basket.warnings:
            click.echo(_render.wrap(warning, "  warning: "))


def _receipt_json(r: BasketReceipt) -> dict[str, Any]:
    return {
        "basket_id": r.basket_id,
        "requests": r.requests,
        "recovered": r.recovered,
        "already_committed": r.already_committed,
        "empty": list(r.empty),
        "orders": [
            {
                "allocation_id": c.allocation_id,
                "order_id": c.order.order_id,
                "version": c.order.version,
                "status": c.order.status,
                "quantity": c.order.quantity,
                "lines": len(c.order.lines),
                "recovered": c.recovered,
                "already_committed": c.already_committed,
            }
            for c in r.receipts
        ],
    }


def _echo_receipt(r: BasketReceipt) -> None:
    note = " (already committed: nothing sent)" if r.already_committed else ""
    text = (
        f"committed basket {r.basket_id}: {len(r.receipts)} orders in {r.requests} "
        f"request(s), {r.recovered} recovered{note}"
    )
    click.echo(_render.wrap(text))
    for c in r.receipts:
        o = c.order
        click.echo(
            f"  {c.allocation_id:<36} order {o.order_id[:12]:<12} [{o.status[:6]:<6}] "
            f"{o.quantity:>13,.0f}"
        )
    for aid in r.empty:
        click.echo(f"  {aid:<36} nothing allocated: no order")


def echo_basket_story(state: State, events: Sequence[AuditEvent]) -> None:
    """``audit show BASKET_ID``: the basket's events, then where each of its orders stands."""
    baskets = BasketDesk(state.desk())
    head = events[0]
    statuses = baskets.status(head.allocation_id)
    done = sum(s == "COMMITTED" for s in statuses.values())
    click.echo(
        _render.wrap(
            f"basket {head.allocation_id} over {head.payload.get('group')}: "
            f"{len(statuses)} orders, {done} committed"
        )
    )
    click.echo("")
    click.echo(_render.events_table(events))
    click.echo("")
    for aid, status in statuses.items():
        click.echo(f"  {aid}  {status}")


@attrs.frozen
class _Recipe:
    """How a basket file is allocated: the options `_recipe_options` reads, in one value."""

    group: str | None
    method: str
    strategy: str
    metric: str | None
    extra_params: tuple[str, ...]
    seed: int | None

    def file_group(self) -> str:
        """The ``--group`` a basket FILE is allocated over (``basket commit`` may lack it)."""
        if self.group is None:
            raise click.UsageError("basket commit FILE needs --group")
        return self.group


# Each option's help in `basket preview` and in `basket commit`, where it
# applies only when TARGET is a FILE.
_HELP = {
    "group": ("The portfolio group, e.g. BIG6.", "With a FILE: the portfolio group."),
    "method": ("The engine.", "With a FILE: the engine."),
    "metric": ("Min dispersion: e.g. spread-duration.", "With a FILE, min dispersion: the metric."),
    "seed": ("Tie-break seed.", "With a FILE: tie-break seed."),
}


def _recipe_options(*, of_file: bool) -> Callable[[F], F]:
    """The options saying how a basket file is allocated, handed to the command as ``recipe``.

    *of_file*: with ``basket commit``'s help, where they apply to a FILE
    only, and ``--group`` is then checked by the command.
    """
    k = int(of_file)
    return bundle_options(
        "recipe",
        _Recipe,
        [
            click.option("--group", required=not of_file, help=_HELP["group"][k]),
            click.option(
                "--method", default="pro-rata", show_default=True, help=_HELP["method"][k]
            ),
            click.option(
                "--strategy",
                type=click.Choice(["joint", "sequential"]),
                default="joint",
                show_default=True,
            ),
            click.option("--metric", default=None, help=_HELP["metric"][k]),
            param_option(),
            click.option("--seed", type=int, default=None, help=_HELP["seed"][k]),
        ],
    )


def _preview(state: State, path: Path, recipe: _Recipe) -> tuple[BasketDesk, BasketPreview]:
    """Allocate the basket FILE at *path* as *recipe* says, and record the preview."""
    group = recipe.file_group()
    orders = read_orders(path)
    engine = choose_engine(recipe.method, {"metric": recipe.metric}, recipe.extra_params)
    baskets = BasketDesk(state.desk())
    preview = baskets.preview(
        group,
        orders,
        engine.name,
        strategy=recipe.strategy,
        seed=recipe.seed,
        label=_label(group, orders),
        **engine.params,
    )
    return baskets, preview


@click.group("basket")
def basket_group() -> None:
    """Baskets: the orders of one group allocated jointly, committed as one unit."""


@basket_group.command("preview")
@click.argument("file", type=INPUT_FILE)
@_recipe_options(of_file=False)
@json_option
@pass_state
def preview_command(state: State, file: Path, recipe: _Recipe, as_json: bool) -> None:
    """Allocate a basket file's orders over --group jointly and record it; nothing is sent."""
    _, preview = _preview(state, file, recipe)
    if as_json:
        echo_json(_preview_json(preview))
    else:
        _echo_preview(preview)
        click.echo(f"commit it with: orderalloc basket commit {preview.basket_id}")


@basket_group.command("commit")
@click.argument("target")
@_recipe_options(of_file=True)
@comment_option
@override_warnings_option
@json_option
@pass_state
def commit_command(
    state: State,
    target: str,
    recipe: _Recipe,
    comment: str | None,
    override_warnings: bool,
    as_json: bool,
) -> None:
    """Commit a basket: TARGET is a basket id, or a FILE to preview and commit at once.

    Exactly once per order: run it again with the basket id after any
    failure; orders already placed are found, never sent twice.
    """
    path = Path(target)
    if path.is_file():
        group = recipe.file_group()
        orders = read_orders(path)
        baskets = BasketDesk(state.desk())
        open_ = baskets.unfinished(group=group, label=_label(group, orders))
        if open_:
            raise DeskError(
                f"basket {open_[-1]} of these orders has an unfinished commit (orders may be "
                f"booked): resume it with `orderalloc basket commit {open_[-1]}`; previewing "
                "the file again would book it twice"
            )
        baskets, preview = _preview(state, path, recipe)
        if not as_json:
            _echo_preview(preview)
        click.echo(f"committing basket {preview.basket_id}", err=True)
        basket_id = preview.basket_id
    else:
        baskets = BasketDesk(state.desk())
        basket_id = target
    receipt = baskets.commit(basket_id, comment=comment, override_warnings=override_warnings)
    echo_either(receipt, as_json, _receipt_json, _echo_receipt)


#: The commands this module adds to the ``orderalloc`` group.
COMMANDS = (basket_group,)
