"""The ``orderalloc fairness report`` command: the fairness review of a group over a period.

Reads the ``--audit-db`` trail; later prices come from a CSV or JSON file
(``--prices``) or from the data source (``--source-prices``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ._common import INPUT_FILE, State, echo_json, parse_when, pass_state

__all__ = ["COMMANDS", "read_prices"]


def read_prices(path: Path) -> dict[str, float] | Callable[[str, str, dt.datetime], float | None]:
    """Later prices from a file.

    JSON: an object of order id (or security id) to price. CSV with a header:
    ``order_id,price`` (one price per order), or ``security_id,date,price``
    (each order takes its security's first price dated after its execution).
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--prices") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise click.BadParameter(f"{path}: {exc}", param_hint="--prices") from None
        if not isinstance(data, dict):
            raise click.BadParameter(
                f"{path}: expected an object of id -> price", param_hint="--prices"
            )
        try:
            return {str(k): float(v) for k, v in data.items()}
        except (TypeError, ValueError) as exc:
            raise click.BadParameter(f"{path}: {exc}", param_hint="--prices") from None
    try:
        return _csv_prices(path, text)
    except (KeyError, TypeError, ValueError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--prices") from None


def _csv_prices(
    path: Path, text: str
) -> dict[str, float] | Callable[[str, str, dt.datetime], float | None]:
    rows = list(csv.DictReader(text.splitlines()))
    fields = {f.strip().lower() for f in (rows[0].keys() if rows else ())}
    if {"order_id", "price"} <= fields:
        return {r["order_id"]: float(r["price"]) for r in rows}
    if not {"security_id", "date", "price"} <= fields:
        raise click.BadParameter(
            f"{path}: needs columns order_id,price or security_id,date,price",
            param_hint="--prices",
        )
    series: dict[str, list[tuple[dt.date, float]]] = {}
    for r in rows:
        day = dt.date.fromisoformat(r["date"][:10])
        series.setdefault(r["security_id"], []).append((day, float(r["price"])))
    for values in series.values():
        values.sort()

    def later(order_id: str, security_id: str, executed: dt.datetime) -> float | None:
        for day, price in series.get(security_id, ()):
            if day > executed.date():
                return price
        return None

    return later


@click.group("fairness")
def fairness() -> None:
    """Fairness analytics over the audit trail (fill rates, shortfalls, who got the winners)."""


@fairness.command("report")
@click.option("--group", "group", required=True, help="The portfolio group.")
@click.option("--since", required=True, help="Start of the period: ISO date or time (UTC).")
@click.option("--until", default=None, help="End of the period, exclusive (default: now).")
@click.option(
    "--prices",
    "prices_file",
    type=INPUT_FILE,
    default=None,
    help="Later prices: CSV (order_id,price or security_id,date,price) or JSON.",
)
@click.option(
    "--source-prices", is_flag=True, help="Use the data source's current prices as later prices."
)
@click.option(
    "--permutations",
    type=click.IntRange(1),
    default=9_999,
    show_default=True,
    help="Random reallocations per p-value.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the reallocations.")
@click.option("--alpha", type=float, default=0.01, show_default=True, help="Flag below this.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the self-contained HTML report here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Accounts listed in the terminal summary.",
)
@pass_state
def report_command(
    state: State,
    group: str,
    since: str,
    until: str | None,
    prices_file: Path | None,
    source_prices: bool,
    permutations: int,
    seed: int,
    alpha: float,
    html_file: Path | None,
    as_json: bool,
    limit: int,
) -> None:
    """The fairness review of GROUP over a period: text, --json, and --html for the file."""
    from ..fairness import analyse_fairness  # loaded when a report runs: --help stays quick

    if prices_file is not None and source_prices:
        raise click.UsageError("give --prices or --source-prices, not both")
    prices: Any = None
    if prices_file is not None:
        prices = read_prices(prices_file)
    elif source_prices:
        prices = state.source
    report = analyse_fairness(
        state.sink,
        group,
        since=parse_when(since),
        until=parse_when(until),
        prices=prices,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
    )
    if html_file is not None:
        html_file.write_text(report.html(), encoding="utf-8")
    if as_json:
        echo_json(report.records())
    else:
        click.echo(report.text(limit=limit))
    if html_file is not None:
        click.echo(f"HTML report written to {html_file}", err=True)


#: The commands this module adds to the ``orderalloc`` group.
COMMANDS = (fairness,)
