"""The read-only commands of ``orderalloc``: ``groups``, ``security`` and ``search``.

They ask the data source and record nothing.
"""

from __future__ import annotations

from typing import Any

import click

from .. import errors
from ..sources import describe_source
from ._common import State, echo_json, fail, json_option, pass_state

__all__ = ["COMMANDS"]


@click.command()
@json_option
@pass_state
def groups(state: State, as_json: bool) -> None:
    """List the portfolio groups of the data source."""
    names = state.source.groups()
    if as_json:
        echo_json({"source": describe_source(state.source), "groups": list(names)})
        return
    click.echo(f"# {describe_source(state.source)}")
    for name in names:
        click.echo(name)


def _security_row(sec: Any) -> dict[str, Any]:
    return {
        "id": sec.id,
        "name": sec.name,
        "ticker": sec.ticker,
        "asset_class": sec.asset_class,
        "price": sec.price,
        "accrued": sec.accrued,
        "factor": sec.factor,
        "min_piece": sec.min_piece,
        "increment": sec.increment,
        "analytics": dict(sec.analytics),
    }


@click.command()
@click.argument("security_id")
@json_option
@pass_state
def security(state: State, security_id: str, as_json: bool) -> None:
    """Show one security: price, denominations and analytics (the id in any case)."""
    try:
        found = state.source.security(security_id)
    except errors.NotFoundError:
        if security_id == security_id.upper():
            raise
        found = state.source.security(security_id.upper())
    row = _security_row(found)
    if as_json:
        echo_json(row)
        return
    for key in ("id", "name", "ticker", "asset_class", "price", "accrued", "factor"):
        click.echo(f"{key:<12}{row[key]}")
    click.echo(f"{'min piece':<12}{row['min_piece']:,.0f}")
    click.echo(f"{'increment':<12}{row['increment']:,.0f}")
    for name, value in sorted(row["analytics"].items()):
        click.echo(f"{name:<22}{value:.4f}")


@click.command()
@click.argument("query")
@click.option("--limit", type=int, default=20, show_default=True)
@json_option
@pass_state
def search(state: State, query: str, limit: int, as_json: bool) -> None:
    """Find securities by CUSIP prefix or ticker."""
    found = state.source.search_securities(query, limit=limit)
    if as_json:
        echo_json([_security_row(s) for s in found])
    if not found:
        fail(f"no security matches {query!r} (a CUSIP prefix or a ticker)", 4)
    if as_json:
        return
    for sec in found:
        click.echo(
            f"{sec.id:<12}{(sec.ticker or ''):<8}{(sec.asset_class or ''):<8}"
            f"{sec.price:>9.3f}  min {sec.min_piece:,.0f}+{sec.increment:,.0f}  {sec.name or ''}"
        )


#: The commands this module adds to the ``orderalloc`` group.
COMMANDS = (groups, security, search)
