"""The ``orderalloc`` command: allocate, commit and audit orders from a terminal.

Every command works on the mock with no setup: without Aladdin credentials in
the environment the data come from `MockAladdin`, whose order book is kept in a
file beside the audit store so that ``preview`` in one run and ``commit`` in the
next see the same orders. Errors go to stderr without a traceback
(``ORDERALLOC_DEBUG=1`` shows it) and the exit code says what failed:

==== =========================================================
0    success
1    an unexpected error
2    the command line is wrong (usage)
3    an input or parameter is invalid
4    the data source failed (Aladdin, the mock) or found nothing
5    the desk refused (stale preview, changed inputs, compliance)
6    the audit trail failed or does not verify
7    the allocation could not be made (every solver failed)
8    the order WAS booked (the receipt is printed), but an optional
     step after it failed (a plot, the audit check): do not commit again
==== =========================================================

Everything that can fail before an order is posted (the plot's extra, folder
and file type) is checked before anything is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import _render, errors
from ._serialization import converter, dumps, to_json
from .audit import EventKind, SQLiteAuditSink
from .audit.sqlite import default_audit_path
from .desk import Desk
from .engines.min_dispersion import WEIGHTINGS
from .solvers.backends import BACKENDS
from .sources import SOURCE_KINDS, DataSource, MockAladdin, default_source, describe_source
from .sources.mock import SCENARIOS, WELL_KNOWN

__all__ = ["main", "parse_quantity"]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (errors.InvalidInputError, 3),
    (errors.UnknownMethodError, 3),  # a wrong --method is bad input, not a failed allocation
    (errors.DataSourceError, 4),
    (errors.DeskError, 5),
    (errors.AuditSinkError, 6),
    (errors.AllocationError, 7),
)

# Digits grouped by single commas in threes (2,000,000) or single underscores
# (2_000_000), never doubled or trailing: "5,,000" and "5__0" are typos, not numbers.
_QUANTITY = re.compile(
    r"^\s*((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+(?:_[0-9]+)*)(?:\.[0-9]+)?(?:e\+?[0-9]+)?)"
    r"\s*([a-z]*)\s*$",
    re.I,
)
_UNITS = {"": 1.0, "k": 1e3, "mm": 1e6, "mln": 1e6, "bn": 1e9, "b": 1e9}


def parse_quantity(text: str) -> float:
    """A face amount from human text: ``5mm``, ``250k``, ``1.5bn``, ``2,000,000``, ``5e6``.

    ``m`` alone is refused: desks read it as a thousand (Roman M) as often as a
    million, and a factor of 1,000 is not a guess to make with real money.

    Raises:
        click.BadParameter: The text is not a quantity.
    """
    match = _QUANTITY.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        hint = " ('m' is ambiguous: write 5mm for five million, 5k for five thousand)"
        raise click.BadParameter(
            f"{text!r} is not a quantity like 5mm, 250k, 1.5bn or 2,000,000"
            + (hint if unit == "m" else "")
        )
    value = float(match.group(1).replace(",", "").replace("_", "")) * _UNITS[unit]
    if not math.isfinite(value) or value > 1e15:
        raise click.BadParameter(f"{text!r} is out of range (at most 1e15 face)")
    return value


if TYPE_CHECKING:  # click >= 8.2 types ParamType as a generic; older ones are not subscriptable
    _ParamType = click.ParamType[float]
else:
    _ParamType = click.ParamType


class _Quantity(_ParamType):
    name = "quantity"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_quantity(str(value))
        except click.BadParameter as exc:
            self.fail(str(exc.message), param, ctx)


QUANTITY = _Quantity()


#: Exit code: the order was booked, then an optional step failed.
EXIT_BOOKED_BUT = 8


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Turns orderalloc's errors into a message on stderr and a meaningful exit code.

    No traceback reaches a user (``ORDERALLOC_DEBUG=1`` shows it): an error
    that is not orderalloc's is reported in one line, exit 1.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except errors.OrderAllocError as exc:
            if os.environ.get("ORDERALLOC_DEBUG"):
                raise
            code = next((c for t, c in EXIT_CODES if isinstance(exc, t)), 1)
            _fail(f"{type(exc).__name__}: {exc}", code)
        except ImportError as exc:  # an optional extra is missing: its message says what to install
            if os.environ.get("ORDERALLOC_DEBUG"):
                raise
            _fail(str(exc), 1)
        except Exception as exc:
            if os.environ.get("ORDERALLOC_DEBUG"):
                raise
            _fail(f"{type(exc).__name__}: {exc} (ORDERALLOC_DEBUG=1 shows the traceback)", 1)


def _after_booking(step: str, action: Callable[[], None]) -> None:
    """Run an optional *step* after an order was booked; a failure exits 8, never 1.

    The receipt is printed before this is called: the user must learn the
    order id whatever happens here, and must not commit again.
    """
    try:
        action()
    except Exception as exc:
        if os.environ.get("ORDERALLOC_DEBUG"):
            raise
        _fail(
            f"booked, but {step} failed ({type(exc).__name__}: {exc}); the order stands "
            "(see the receipt above): do not commit again",
            EXIT_BOOKED_BUT,
        )


def _check_plot_path(path: str) -> None:
    """Refuse a ``--plot`` that would fail: before anything is recorded or sent.

    Raises:
        click.UsageError: matplotlib missing, no such folder, or a file type
            matplotlib cannot write.
    """
    try:
        from . import plot as _plot  # noqa: F401  # its import error names the extra
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


class _State:
    """What the group's options set up, opened on first use."""

    def __init__(self, audit_db: Path, source: str, scenario: str, actor: str | None) -> None:
        self.audit_db = audit_db
        self.source_kind = source
        self.scenario = scenario
        self.actor = actor
        self._source: DataSource | None = None
        self._sink: SQLiteAuditSink | None = None

    @property
    def source(self) -> DataSource:
        if self._source is None:
            # Built once: --source aladdin never falls back to the mock (a
            # missing variable is an error naming it); auto says what it chose.
            # A mock's orders live beside the audit store, so runs share them.
            orders = self.audit_db.with_name(self.audit_db.stem + "-mock-orders.json")
            self._source = default_source(
                self.source_kind, scenario=self.scenario, orders_path=orders
            )
        return self._source

    @property
    def sink(self) -> SQLiteAuditSink:
        if self._sink is None:
            self._sink = SQLiteAuditSink(self.audit_db)
        return self._sink

    def desk(self) -> Desk:
        return Desk(self.source, self.sink, actor=self.actor)

    def close(self) -> None:
        try:
            if self._sink is not None:
                self._sink.close()
        finally:
            close = getattr(self._source, "close", None)
            if callable(close):
                close()  # the Aladdin client's connections


pass_state = click.make_pass_decorator(_State)


def _json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(func)


def _echo_json(value: Any) -> None:
    """*value* as strict JSON (NaN as null: scripts parse it with any parser)."""
    click.echo(dumps(value, indent=2, default=str))


_EPILOG = """\b
Exit codes: 0 ok; 1 unexpected error; 2 usage; 3 invalid input or parameter;
4 data source failed or found nothing; 5 the desk refused (stale preview,
changed inputs, compliance); 6 audit trail failed or does not verify;
7 no allocation could be made; 8 the order WAS booked but a later optional
step failed (do not commit again). ORDERALLOC_DEBUG=1 shows tracebacks."""


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EPILOG)
@click.option(
    "--audit-db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ORDERALLOC_AUDIT_DB",
    default=default_audit_path,
    show_default="the user data directory",
    help="The SQLite audit store (env ORDERALLOC_AUDIT_DB).",
)
@click.option(
    "--source",
    type=click.Choice(SOURCE_KINDS),
    default="auto",
    show_default=True,
    help="auto: Aladdin when ALADDIN_* credentials are set, else the mock.",
)
@click.option(
    "--scenario",
    type=click.Choice(sorted(SCENARIOS)),
    default="default",
    show_default=True,
    help="The mock's scenario.",
)
@click.option("--actor", default=None, help="Who is acting (recorded); default: login name.")
@click.version_option(package_name="orderalloc")
@click.pass_context
def cli(ctx: click.Context, audit_db: Path, source: str, scenario: str, actor: str | None) -> None:
    """Allocate fixed income orders across a portfolio group: fair, tradable, audited.

    Works on the built-in mock with no setup. Quantities read like a desk
    writes them: 5mm, 250k, 1.5bn.
    """
    state = _State(Path(audit_db), source, scenario, actor)
    ctx.obj = state
    ctx.call_on_close(state.close)


@cli.command()
@_json_option
@pass_state
def groups(state: _State, as_json: bool) -> None:
    """List the portfolio groups of the data source."""
    names = state.source.groups()
    if as_json:
        _echo_json({"source": describe_source(state.source), "groups": list(names)})
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


@cli.command()
@click.argument("security_id")
@_json_option
@pass_state
def security(state: _State, security_id: str, as_json: bool) -> None:
    """Show one security: price, denominations and analytics (the id in any case)."""
    try:
        found = state.source.security(security_id)
    except errors.NotFoundError:
        if security_id == security_id.upper():
            raise
        found = state.source.security(security_id.upper())
    row = _security_row(found)
    if as_json:
        _echo_json(row)
        return
    for key in ("id", "name", "ticker", "asset_class", "price", "accrued", "factor"):
        click.echo(f"{key:<12}{row[key]}")
    click.echo(f"{'min piece':<12}{row['min_piece']:,.0f}")
    click.echo(f"{'increment':<12}{row['increment']:,.0f}")
    for name, value in sorted(row["analytics"].items()):
        click.echo(f"{name:<22}{value:.4f}")


@cli.command()
@click.argument("query")
@click.option("--limit", type=int, default=20, show_default=True)
@_json_option
@pass_state
def search(state: _State, query: str, limit: int, as_json: bool) -> None:
    """Find securities by CUSIP prefix or ticker."""
    found = state.source.search_securities(query, limit=limit)
    if as_json:
        _echo_json([_security_row(s) for s in found])
    if not found:
        _fail(f"no security matches {query!r} (a CUSIP prefix or a ticker)", 4)
    if as_json:
        return
    for sec in found:
        click.echo(
            f"{sec.id:<12}{(sec.ticker or ''):<8}{(sec.asset_class or ''):<8}"
            f"{sec.price:>9.3f}  min {sec.min_piece:,.0f}+{sec.increment:,.0f}  {sec.name or ''}"
        )


def _weights(text: str) -> dict[str, float]:
    """Weights from ``ID=W,ID=W`` or ``@file.json`` (a JSON object of id -> weight)."""
    if text.startswith("@"):
        try:
            data = json.loads(Path(text[1:]).read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise click.BadParameter(f"cannot read weights from {text[1:]!r}: {exc}") from exc
        if not isinstance(data, dict):
            raise click.BadParameter("the weights file must hold a JSON object: id -> weight")
        for key, value in data.items():
            # JSON true/false are not weights, and neither are strings or null.
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (isinstance(value, int) and abs(value) > 10**15)
            ):
                raise click.BadParameter(
                    f"the weight of {key!r} in {text[1:]!r} is {json.dumps(value)[:40]}: "
                    "weights must be numbers in [0, 1]"
                )
        return {str(k): float(v) for k, v in data.items()}
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"{part!r} is not ID=WEIGHT")
    return out


def _engine_params(
    method: str,
    metric: str | None,
    backend: str | None,
    weighting: str | None,
    target: float | None,
    basis: str | None,
    weights: str | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    name = method.replace("-", "_")
    if name == "custom_weights":
        if not weights:
            raise click.UsageError("method custom-weights needs --weights ID=W,ID=W or @file.json")
        params["weights"] = _weights(weights)
    elif weights:
        raise click.UsageError(f"--weights does not apply to method {method!r}")
    if name == "min_dispersion":
        if metric:
            names = [m.strip().replace("-", "_") for m in metric.split(",")]
            params["metric"] = names[0] if len(names) == 1 else tuple(names)
        if backend:
            params["backend"] = backend
        if weighting:
            params["weighting"] = weighting
        if target is not None:
            params["target"] = target
    elif name == "pro_rata" and basis:
        params["basis"] = basis.replace("-", "_")
    for flag, value in (
        ("--metric", metric if name != "min_dispersion" else None),
        ("--backend", backend if name != "min_dispersion" else None),
        ("--basis", basis if name != "pro_rata" else None),
    ):
        if value:
            raise click.UsageError(f"{flag} does not apply to method {method!r}")
    return params


def _param_value(text: str) -> Any:
    """A ``--param`` value: JSON when it parses as JSON (a number, a list, ...), else the text."""
    try:
        return json.loads(text, parse_constant=lambda name: name)
    except ValueError:
        return text


def _with_params(params: dict[str, Any], pairs: tuple[str, ...]) -> dict[str, Any]:
    """*params* plus each ``--param KEY=VALUE`` (``-`` in KEY read as ``_``).

    The engine itself refuses a key it does not take, naming the parameters it
    does; a key also set by its own option (``--metric`` and ``--param
    metric=...``) is a usage error rather than a silent choice of one.
    """
    out = dict(params)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        if key in out:
            raise click.UsageError(f"--param {key} is given twice (or also by its own option)")
        out[key] = _param_value(value)
    return out


def _receipt_json(receipt: Any) -> dict[str, Any]:
    return {
        **_render.receipt_record(receipt),
        "overridden": [converter.unstructure(v) for v in receipt.overridden],
    }


def _echo_receipt(receipt: Any) -> None:
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


@cli.command()
@click.option("--group", required=True, help="The portfolio group, e.g. BIG6.")
@click.option("--security", "security_id", required=True, help="The security id (CUSIP).")
@click.option("--side", type=click.Choice(["buy", "sell"], case_sensitive=False), required=True)
@click.option("--quantity", type=QUANTITY, required=True, help="Face: 5mm, 250k, 2,000,000.")
@click.option(
    "--method",
    default="pro-rata",
    show_default=True,
    help="pro-rata (by NAV), custom-weights, min-dispersion or a plugin's name.",
)
@click.option("--metric", default=None, help="Min dispersion: e.g. spread-duration (comma list).")
@click.option("--backend", type=click.Choice(list(BACKENDS)), default=None)
@click.option("--weighting", type=click.Choice(list(WEIGHTINGS)), default=None)
@click.option("--target", type=float, default=None, help="Min dispersion: bring toward this.")
@click.option("--basis", default=None, help="Pro-rata: nav, holdings, market-value or a metric.")
@click.option(
    "--weights", default=None, help="Custom weights: ID=W,ID=W or @file.json (summing to 1)."
)
@click.option(
    "--param",
    "extra_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any parameter of the method, plugins' too (repeatable); VALUE is JSON or text.",
)
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
@_json_option
@pass_state
def preview(
    state: _State,
    group: str,
    security_id: str,
    side: str,
    quantity: float,
    method: str,
    metric: str | None,
    backend: str | None,
    weighting: str | None,
    target: float | None,
    basis: str | None,
    weights: str | None,
    extra_params: tuple[str, ...],
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
    method = _check_method(method)
    params = _engine_params(method, metric, backend, weighting, target, basis, weights)
    params = _with_params(params, extra_params)
    if plot_path:
        _check_plot_path(plot_path)  # before anything is recorded or sent
    desk = state.desk()
    if params.get("backend") == "slsqp":
        _warn_if_slow(state, group, security_id)
    made = _render.run(
        f"allocating {quantity:,.0f} {security_id} across {group} ({method})",
        lambda: desk.preview(
            group, security_id, side.upper(), quantity, method=method, seed=seed, **params
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
            _echo_json({"allocation_id": made.allocation_id, "commit": _receipt_json(receipt)})
        else:
            _echo_receipt(receipt)

    def report() -> None:
        if plot_path:
            made.result.plot(path=plot_path)
        if as_json:
            if receipt is None:
                _echo_json(
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
        _after_booking("the report after it" if not plot_path else "the plot", report)


def _check_method(method: str) -> str:
    """The engine name for *method* (pro-rata or pro_rata), or exit 3 naming the choices."""
    from .engines import available

    name = method.strip().lower().replace("-", "_")
    names = available()
    if name not in names:
        raise errors.InvalidParameterError(
            "--method", method, "must be one of " + ", ".join(n.replace("_", "-") for n in names)
        )
    return name


#: Accounts above which SLSQP takes long enough to warn about (it scales like n^3:
#: about a minute for 1,000 accounts on the benchmark machine).
SLOW_SLSQP_ACCOUNTS = 300


def _warn_if_slow(state: _State, group: str, security_id: str) -> None:
    n = len(state.source.accounts(group, security_id))
    if n > SLOW_SLSQP_ACCOUNTS:
        text = (
            f"--backend slsqp on {n:,} accounts may take minutes (its time grows like n^3); "
            "the default exact backend solves the same problem in milliseconds. "
            "Ctrl-C stops it."
        )
        click.echo(_render.wrap(text, "warning: "), err=True)


@cli.command()
@click.argument("allocation_id")
@click.option("--comment", default=None, help="A comment for the audit trail.")
@click.option(
    "--override-warnings",
    is_flag=True,
    help="Post despite blocking compliance violations (recorded with who and why).",
)
@_json_option
@pass_state
def commit(
    state: _State, allocation_id: str, comment: str | None, override_warnings: bool, as_json: bool
) -> None:
    """Check compliance and post a previewed allocation as one order, exactly once."""
    receipt = state.desk().commit(
        allocation_id, comment=comment, override_warnings=override_warnings
    )
    if as_json:
        _echo_json(_receipt_json(receipt))
    else:
        _echo_receipt(receipt)


@cli.command()
@click.argument("order_id")
@click.option("--quantity", type=QUANTITY, required=True, help="The new face.")
@click.option("--comment", default=None)
@_json_option
@pass_state
def modify(
    state: _State, order_id: str, quantity: float, comment: str | None, as_json: bool
) -> None:
    """Re-allocate a live order to a new quantity with its original method."""
    receipt = state.desk().modify(order_id, quantity=quantity, comment=comment)
    if as_json:
        _echo_json(_receipt_json(receipt))
    else:
        _echo_receipt(receipt)


@cli.command()
@click.argument("order_id")
@click.option("--reason", required=True, help="Why (recorded).")
@_json_option
@pass_state
def cancel(state: _State, order_id: str, reason: str, as_json: bool) -> None:
    """Cancel an order the desk committed (a second cancel changes nothing, and says so)."""
    earlier = [e for e in state.sink.events(kinds=[EventKind.CANCELLED]) if e.order_id == order_id]
    posted = state.desk().cancel(order_id, reason)
    if as_json:
        _echo_json({**_render.receipt_record(posted), "already_cancelled": bool(earlier)})
    elif earlier:
        text = (
            f"order {posted.order_id} was already cancelled at {earlier[0].at:%Y-%m-%d %H:%M:%S}Z"
            f" by {earlier[0].actor}: nothing sent [{posted.status}]"
        )
        click.echo(_render.wrap(text))
    else:
        click.echo(f"cancelled order {posted.order_id} v{posted.version} [{posted.status}]")


def _when(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date or time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@cli.command()
@click.option("--group", default="BIG6", show_default=True)
@click.option("--security", "security_id", default=WELL_KNOWN["IG"], show_default=True)
@click.option("--quantity", type=QUANTITY, default="5mm", show_default=True)
@pass_state
def demo(state: _State, group: str, security_id: str, quantity: float) -> None:
    """The main job on the mock: preview, commit, fill, allocate the fills, book, audit."""
    if not isinstance(state.source, MockAladdin):
        raise click.UsageError("demo runs on the mock: pass --source mock")
    desk = state.desk()
    click.echo(_render.wrap(f"# {describe_source(state.source)}; audit store {state.audit_db}"))
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
    _echo_receipt(receipt)  # first: the order id, whatever happens after

    def report() -> None:
        with _render.status("verifying the audit chain"):
            verified = state.sink.verify()
        click.echo("")
        click.echo(_render.result_table(made.result, limit=20))
        click.echo("\naudit record:")
        click.echo(_render.events_table(desk.history(made.allocation_id)))
        click.echo(
            f"\naudit chain verified: {verified.count:,} events, head #{verified.head_seq:,}"
        )

    _after_booking("the audit check", report)
    demo_post_trade(state, desk, receipt.order.order_id)


# The post-trade commands (fills, allocate-fills, book) live in their own module.
from ._cli_fills import demo_post_trade  # noqa: E402  # it imports this module's helpers
from ._cli_fills import register as _register_post_trade  # noqa: E402

_register_post_trade(cli)

from ._cli_fairness import register as _register_fairness  # noqa: E402

_register_fairness(cli)

from ._cli_basket import register as _register_baskets  # noqa: E402  # same as above

_register_baskets(cli)

from ._cli_audit import register as _register_audit  # noqa: E402  # same as above

_register_audit(cli)


def main() -> None:
    """Entry point of the ``orderalloc`` console script."""
    cli(prog_name="orderalloc")
