"""What every command of ``orderalloc`` shares: its state, inputs, options, output and exits.

- `State`: what the root group's options set up (the data source, the audit
  store, the actor), opened on first use and closed when the command ends;
  `pass_state` hands it to a command.
- Inputs read like a desk writes them: `parse_quantity` (``5mm``, ``250k``)
  behind the `QUANTITY` option type, and `parse_when` for ISO dates and times.
- Options more than one command takes, written once: `json_option`,
  `comment_option`, `override_warnings_option`, and `INPUT_FILE` for a file
  to read; `bundle_options` hands options that travel together to a command
  as one value.
- Output: `echo_json` is the one writer of every ``--json`` (strict JSON, NaN
  as null), `echo_either` picks it or the text for people.
- Failure: `ErrorsToExitCodes` turns orderalloc's errors into a message and
  the exit code of `EXIT_CODES`; `fail` exits with a message; `after_booking`
  runs an optional step after an order was booked, which exits
  `EXIT_BOOKED_BUT` if it fails.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

from .. import errors
from .._serialization import dumps
from ..audit import SQLiteAuditSink
from ..desk import Desk
from ..sources import DataSource, default_source

__all__ = [
    "EXIT_BOOKED_BUT",
    "EXIT_CODES",
    "INPUT_FILE",
    "QUANTITY",
    "ErrorsToExitCodes",
    "State",
    "after_booking",
    "bundle_options",
    "comment_option",
    "echo_either",
    "echo_json",
    "fail",
    "json_option",
    "override_warnings_option",
    "parse_quantity",
    "parse_when",
    "pass_state",
]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (errors.InvalidInputError, 3),
    (errors.UnknownMethodError, 3),  # a wrong --method is bad input, not a failed allocation
    (errors.DataSourceError, 4),
    (errors.DeskError, 5),
    (errors.AuditSinkError, 6),
    (errors.AllocationError, 7),
)

#: Exit code: the order was booked, then an optional step failed.
EXIT_BOOKED_BUT = 8

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


def parse_when(value: str | None) -> dt.datetime | None:
    """An ISO date or time from ``--since`` / ``--until``; UTC when it names no zone."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date or time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


#: A file a command reads: it must exist (click says so, exit 2, before the command runs).
INPUT_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


def json_option(func: F) -> F:
    """``--json``: print JSON for machines (through `echo_json`)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(func)


def comment_option(func: F) -> F:
    """``--comment``: a comment recorded in the audit trail with the action."""
    return click.option("--comment", default=None, help="A comment for the audit trail.")(func)


def override_warnings_option(func: F) -> F:
    """``--override-warnings``: post despite blocking compliance violations (audited)."""
    return click.option(
        "--override-warnings",
        is_flag=True,
        help="Post despite blocking compliance violations (recorded with who and why).",
    )(func)


def bundle_options(
    keyword: str, build: Callable[..., Any], options: Sequence[_Decorator]
) -> Callable[[F], F]:
    """Add *options* to a command, which takes ``build(**their values)`` as *keyword* instead.

    Options that travel together (an engine's, a basket file's) then reach
    the command, and the helpers it calls, as one checked value rather than
    as a row of arguments. *options* are listed in --help's order.
    """

    def probe() -> None: ...

    for option in options:
        option(probe)
    names = [param.name for param in getattr(probe, "__click_params__", ())]

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def bundled(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return command(*args, **{keyword: build(**values)}, **kwargs)

        decorated: Callable[..., Any] = bundled
        for option in reversed(options):
            decorated = option(decorated)
        return cast("F", decorated)  # the options' values arrive as *keyword*

    return decorate


def echo_json(value: Any) -> None:
    """*value* as strict JSON (NaN as null: scripts parse it with any parser)."""
    click.echo(dumps(value, indent=2, default=str))


def echo_either(
    value: T, as_json: bool, record: Callable[[T], Any], text: Callable[[T], None]
) -> None:
    """*value* for ``--json`` as its *record* (through `echo_json`), else as *text* prints it."""
    if as_json:
        echo_json(record(value))
    else:
        text(value)


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: message`` to stderr and exit with *code*."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class ErrorsToExitCodes(click.Group):
    """Turns orderalloc's errors into a message on stderr and a meaningful exit code.

    No traceback reaches a user (``ORDERALLOC_DEBUG=1`` shows it): an error
    that is not orderalloc's is reported in one line, exit 1.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("ORDERALLOC_DEBUG"):
                raise
            if isinstance(exc, errors.OrderAllocError):
                code = next((c for t, c in EXIT_CODES if isinstance(exc, t)), 1)
                fail(f"{type(exc).__name__}: {exc}", code)
            if isinstance(exc, ImportError):  # a missing extra: its message says what to install
                fail(str(exc), 1)
            fail(f"{type(exc).__name__}: {exc} (ORDERALLOC_DEBUG=1 shows the traceback)", 1)


def after_booking(step: str, action: Callable[[], None]) -> None:
    """Run an optional *step* after an order was booked; a failure exits 8, never 1.

    The receipt is printed before this is called: the user must learn the
    order id whatever happens here, and must not commit again.
    """
    try:
        action()
    except Exception as exc:
        if os.environ.get("ORDERALLOC_DEBUG"):
            raise
        fail(
            f"booked, but {step} failed ({type(exc).__name__}: {exc}); the order stands "
            "(see the receipt above): do not commit again",
            EXIT_BOOKED_BUT,
        )


class State:
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


pass_state = click.make_pass_decorator(State)
