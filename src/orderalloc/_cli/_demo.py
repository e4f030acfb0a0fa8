"""``orderalloc demo``: the main job on the mock, from preview to the booked, audited fills.

It runs what the order and post-trade commands run, printing as they print:
preview, commit, two partial fills at two prices, their allocation, the
booking, and the audit chain verified after each half.
"""

from __future__ import annotations

import click

from .. import _render
from ..audit import VerifyReport
from ..desk import Desk
from ..sources import MockAladdin, describe_source
from ..sources.mock import WELL_KNOWN
from ._common import QUANTITY, State, after_booking, pass_state
from ._fills import echo_booking, echo_fill_preview
from ._orders import echo_receipt

__all__ = ["COMMANDS"]


@click.command()
@click.option("--group", default="BIG6", show_default=True)
@click.option("--security", "security_id", default=WELL_KNOWN["IG"], show_default=True)
@click.option("--quantity", type=QUANTITY, default="5mm", show_default=True)
@pass_state
def demo(state: State, group: str, security_id: str, quantity: float) -> None:
    """The main job on the mock: preview, commit, fill, allocate the fills, book, audit."""
    mock = state.source
    if not isinstance(mock, MockAladdin):
        raise click.UsageError("demo runs on the mock: pass --source mock")
    desk = state.desk()
    click.echo(_render.wrap(f"# {describe_source(mock)}; audit store {state.audit_db}"))
    click.echo("")
    made = _render.run(
        f"previewing a min-dispersion buy of {quantity:,.0f} across {group}",
        lambda: desk.preview(
            group, security_id, "BUY", quantity, method="min_dispersion", metric="spread_duration"
        ),
        interrupted="stopped; nothing was committed.",
    )
    receipt = _render.run(
        "committing",
        lambda: desk.commit(made.allocation_id, comment="orderalloc demo"),
        interrupted="abandoned while the commit was being sent: its outcome is unknown.",
        protected=True,
    )
    echo_receipt(receipt)  # first: the order id, whatever happens after

    def report() -> None:
        with _render.status("verifying the audit chain"):
            verified = state.sink.verify()
        click.echo("")
        click.echo(_render.result_table(made.result, limit=20))
        click.echo("\naudit record:")
        _echo_trail(desk, made.allocation_id, verified)

    after_booking("the audit check", report)
    _post_trade(state, mock, desk, receipt.order.order_id)


def _post_trade(state: State, mock: MockAladdin, desk: Desk, order_id: str) -> None:
    """The demo after the commit: two partial fills at two prices, allocated, booked, audited."""
    order = mock.get_order(order_id)
    price = mock.security(order.security_id).price
    step = mock.security(order.security_id).increment
    first = (order.quantity * 0.3) // step * step
    second = (order.quantity * 0.5) // step * step
    mock.execute(order_id, first, round(price - 0.10, 3))
    mock.execute(order_id, second, round(price + 0.05, 3))
    click.echo("\nfills:")
    for e in desk.fills(order_id):
        click.echo(f"  {e.execution_id}  {e.quantity:>14,.0f} @ {e.price:g}")
    fp = desk.allocate_fills(order_id)
    click.echo("")
    echo_fill_preview(fp, limit=10)
    receipt = desk.book(fp.fill_allocation_id, comment="orderalloc demo")
    echo_booking(receipt)

    def report() -> None:
        verified = state.sink.verify()
        click.echo("\npost-trade audit record:")
        _echo_trail(desk, fp.fill_allocation_id, verified)

    after_booking("the audit check", report)


def _echo_trail(desk: Desk, allocation_id: str, verified: VerifyReport) -> None:
    """An allocation's audit events, then the size and head of the chain just verified."""
    click.echo(_render.events_table(desk.history(allocation_id)))
    click.echo(f"\naudit chain verified: {verified.count:,} events, head #{verified.head_seq:,}")


#: The commands this module adds to the ``orderalloc`` group.
COMMANDS = (demo,)
