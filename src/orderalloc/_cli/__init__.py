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

The layout: this module is the root group (`cli`, its options and `main`);
each family of commands is a private module adding its ``COMMANDS``::

    _common.py    the group's state, quantities and dates, shared options,
                  the --json writer, errors to exit codes
    _params.py    --method, the engines' own options and --param KEY=VALUE
    _reads.py     groups, security, search
    _orders.py    preview, commit, modify, cancel
    _fills.py     fills, allocate-fills, book
    _basket.py    basket preview, basket commit
    _audit.py     audit list, show, verify, head
    _fairness.py  fairness report
    _demo.py      demo: the main job on the mock, end to end
"""

from __future__ import annotations

from pathlib import Path

import click

from ..audit.sqlite import default_audit_path
from ..sources import SOURCE_KINDS
from ..sources.mock import SCENARIOS
from . import _audit, _basket, _demo, _fairness, _fills, _orders, _reads
from ._common import ErrorsToExitCodes, State, parse_quantity

__all__ = ["cli", "main", "parse_quantity"]

_EPILOG = """\b
Exit codes: 0 ok; 1 unexpected error; 2 usage; 3 invalid input or parameter;
4 data source failed or found nothing; 5 the desk refused (stale preview,
changed inputs, compliance); 6 audit trail failed or does not verify;
7 no allocation could be made; 8 the order WAS booked but a later optional
step failed (do not commit again). ORDERALLOC_DEBUG=1 shows tracebacks."""


@click.group(
    cls=ErrorsToExitCodes,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_EPILOG,
)
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
    state = State(Path(audit_db), source, scenario, actor)
    ctx.obj = state
    ctx.call_on_close(state.close)


for _family in (_reads, _orders, _demo, _fills, _fairness, _basket, _audit):
    for _command in _family.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Entry point of the ``orderalloc`` console script."""
    cli(prog_name="orderalloc")
