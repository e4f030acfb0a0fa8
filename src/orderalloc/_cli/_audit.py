"""The ``orderalloc audit`` commands: list, show, verify and head of the audit trail.

They read the ``--audit-db`` trail and never write to it; ``audit show`` of a
basket prints the basket's story (`orderalloc._cli._basket.echo_basket_story`).
"""

from __future__ import annotations

from typing import Any

import click

from .. import _render
from .._serialization import converter
from ..audit import AuditEvent, EventKind
from ..desk import UnknownAllocationError
from ._basket import echo_basket_story
from ._common import State, echo_json, json_option, parse_when, pass_state

__all__ = ["COMMANDS"]


@click.group()
def audit() -> None:
    """Read and verify the audit trail."""


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "allocation_id": event.allocation_id,
        "kind": event.kind.value,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "security_id": event.security_id,
        "order_id": event.order_id,
        "accounts": len(event.account_ids),
        "payload": dict(event.payload),
    }


@audit.command("list")
@click.option("--allocation", default=None, help="One allocation id.")
@click.option("--order", "order_id", default=None, help="One order's whole story.")
@click.option("--account", default=None, help="The whole story of allocations naming it.")
@click.option("--security", "security_id", default=None)
@click.option("--since", default=None, help="ISO date or time (UTC).")
@click.option("--until", default=None, help="ISO date or time (UTC).")
@click.option("--kind", type=click.Choice([k.value for k in EventKind]), multiple=True)
@click.option("--limit", type=int, default=50, show_default=True, help="The latest N.")
@json_option
@pass_state
def audit_list(
    state: State,
    allocation: str | None,
    order_id: str | None,
    account: str | None,
    security_id: str | None,
    since: str | None,
    until: str | None,
    kind: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """List audit events, oldest first (filters combine)."""
    events = state.sink.events(
        allocation_id=allocation,
        security_id=security_id,
        since=parse_when(since),
        until=parse_when(until),
        kinds=[EventKind(k) for k in kind] or None,
    )
    if account is not None:
        # The trail indexes accounts on the events that list them (previews);
        # the commits, modifications and cancels that followed belong too.
        named = {e.allocation_id for e in state.sink.events(account_id=account)}
        story: set[str] = set()
        for ident in named:
            story |= {e.event_id for e in _render.order_story(state.sink.events(), ident)}
        events = [e for e in events if e.event_id in story]
    if order_id is not None:
        story = {e.event_id for e in _render.order_story(state.sink.events(), order_id)}
        events = [e for e in events if e.event_id in story]
    events = events[-limit:]
    if as_json:
        echo_json([_event_json(e) for e in events])
        return
    if not events:
        click.echo("no events", err=True)
        return
    click.echo(_render.events_table(events))


@audit.command("show")
@click.argument("ident", metavar="ID")
@json_option
@pass_state
def audit_show(state: State, ident: str, as_json: bool) -> None:
    """An order's whole story from any of its ids: allocation (or its first 8 characters) or order.

    Every allocation of the order (the preview, each modification) with its
    events and status, then the latest allocation's lines.
    """
    events = _render.order_story(state.sink.events(), ident)
    if not events:
        raise UnknownAllocationError(ident)
    if as_json:
        echo_json([_event_json(e) for e in events])
        return
    if events[0].kind is EventKind.BASKET_PREVIEWED:  # a basket: its orders' statuses
        echo_basket_story(state, events)
        return
    desk = state.desk()
    allocations = list(dict.fromkeys(e.allocation_id for e in events))
    orders = list(dict.fromkeys(e.order_id for e in events if e.order_id))
    lifecycle = [e for e in events if e.kind not in (EventKind.COMPLIANCE_CHECKED,)]
    now = lifecycle[-1].kind.value if lifecycle else "?"
    what = f"order {', '.join(orders)}" if orders else "not committed"
    click.echo(f"{what}: now {now}; {len(allocations)} allocation(s)")
    # Pre-trade allocations (the preview, each modification) have a preview;
    # fill allocations do not.
    previewed = list(
        dict.fromkeys(e.allocation_id for e in events if e.kind is EventKind.PREVIEWED)
    )
    for alloc in allocations:
        text = desk.status(alloc)
        if alloc not in previewed:
            text += " (fill allocation)"
        elif (k := previewed.index(alloc)) + 1 < len(previewed):
            text += f", then modified by {previewed[k + 1][:8]}"
        click.echo(f"  {alloc}  {text}")
    click.echo("")
    click.echo(_render.events_table(events))
    if previewed:
        click.echo("")
        click.echo(_render.result_table(desk.get_preview(previewed[-1]).result, limit=20))


@audit.command("verify")
@click.option(
    "--expected-head",
    default=None,
    metavar="SEQ:HASH",
    help="A head printed earlier by 'audit head': the chain must still pass through it.",
)
@json_option
@pass_state
def audit_verify(state: State, expected_head: str | None, as_json: bool) -> None:
    """Recompute the hash chain: any edited, inserted or deleted row fails (exit 6)."""
    report = state.sink.verify(expected_head=expected_head)
    if as_json:
        echo_json(converter.unstructure(report))
    else:
        click.echo(f"ok: {report.count:,} events, chain head #{report.head_seq:,}")
        click.echo(f"head hash {report.head_hash}")


@audit.command("head")
@json_option
@pass_state
def audit_head(state: State, as_json: bool) -> None:
    """Print the verified chain head (SEQ:HASH) to keep as an anchor.

    Record it where the trail's writers cannot reach. Give it back later as
    'audit verify --expected-head SEQ:HASH': a trail that was truncated, or
    rewritten with every later hash recomputed, no longer passes through it
    (exit 6).
    """
    report = state.sink.verify()
    if as_json:
        echo_json({**converter.unstructure(report), "anchor": report.anchor})
    else:
        click.echo(report.anchor)


#: The commands this module adds to the ``orderalloc`` group.
COMMANDS = (audit,)
