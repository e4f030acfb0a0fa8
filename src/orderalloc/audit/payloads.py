"""Reading a few payload fields of many events, extracted by the store itself.

`AuditSink.events` rebuilds every event whole: right for one allocation,
wasteful for a year of trail whose fill allocations each carry arrays over
10,000 accounts when an analysis needs four of them. A sink may offer
``select_payloads(query, paths)``: the events an ``EventQuery`` matches,
with only the payload fields at *paths* (dotted keys, like
``"result.quantity"``), extracted in SQL (``json_extract`` in SQLite,
``PARSE_JSON`` paths in Snowflake) so the rest never leaves the store.
`select_payloads` here calls it where a sink has it, and reads
`AuditSink.events` otherwise, with the same answer.

.. versionadded:: 26.1
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import InvalidInputError
from ._store import EventQuery
from .events import AuditEvent, EventKind, format_time

__all__ = ["PayloadRow", "check_paths", "rows_from_events", "select_payloads"]

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@attrs.frozen
class PayloadRow:
    """One event with the payload fields asked for.

    Attributes:
        seq: Its position in the trail (append order).
        kind: The event kind's value.
        allocation_id: The allocation the event is about.
        at: When: canonical UTC text, which sorts as time.
        actor: Who.
        order_id: The order, if the event names one.
        security_id: The security, if any.
        values: The payload at each requested path, as plain JSON values
            (``dict``, ``list``, ...), None where absent.
    """

    seq: int
    kind: str
    allocation_id: str
    at: str
    actor: str
    order_id: str | None
    security_id: str | None
    values: tuple[Any, ...]


def check_paths(paths: Sequence[str]) -> tuple[str, ...]:
    """*paths* checked: dotted identifiers, at least one.

    Raises:
        InvalidInputError: A path that is not dotted identifiers, or none.
    """
    if isinstance(paths, str) or not paths:
        raise InvalidInputError("paths", paths, "must be a non-empty sequence of dotted keys")
    for i, p in enumerate(paths):
        if not isinstance(p, str) or not _PATH.fullmatch(p):
            raise InvalidInputError(f"paths[{i}]", p, "must be dotted identifiers (a.b_c.d)")
    return tuple(paths)


def sqlite_columns(paths: Sequence[str]) -> tuple[str, list[str]]:
    """The SELECT list of a SQLite ``select_payloads`` and its parameters (the paths).

    ``json_extract`` with two or more paths parses the payload once and
    returns a JSON array; a leading path that never exists keeps it an array
    for a single field.
    """
    marks = ", ".join("?" for _ in range(len(paths) + 1))
    cols = (
        "SEQ, KIND, ALLOCATION_ID, OCCURRED_AT, ACTOR, ORDER_ID, SECURITY_ID, "
        f"json_extract(PAYLOAD, {marks})"
    )
    return cols, ["$.__none__", *(f"$.{p}" for p in paths)]


def snowflake_columns(paths: Sequence[str]) -> str:
    """The SELECT list of a Snowflake ``select_payloads`` over ``P_ = PARSE_JSON(PAYLOAD)``."""
    fields = ", ".join("P_" + "".join(f"['{key}']" for key in p.split(".")) for p in paths)
    return (
        "SEQ, KIND, ALLOCATION_ID, OCCURRED_AT, ACTOR, ORDER_ID, SECURITY_ID, "
        f"TO_JSON(ARRAY_CONSTRUCT({fields}))"
    )


def parse_rows(rows: Iterable[Sequence[Any]], *, skip_first: bool) -> list[PayloadRow]:
    """`PayloadRow` from result rows whose last column is the JSON array of the values."""
    out = []
    for row in rows:
        values = json.loads(row[7]) if row[7] is not None else []
        if skip_first:
            values = values[1:]
        out.append(
            PayloadRow(
                seq=int(row[0]),
                kind=str(row[1]),
                allocation_id=str(row[2]),
                at=str(row[3]),
                actor=str(row[4]),
                order_id=row[5],
                security_id=row[6],
                values=tuple(values),
            )
        )
    return out


def _get(payload: Mapping[str, Any], path: str) -> Any:
    value: Any = payload
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def rows_from_events(events: Iterable[AuditEvent], paths: Sequence[str]) -> list[PayloadRow]:
    """`PayloadRow` built from whole events (what a sink without SQL does)."""
    return [
        PayloadRow(
            seq=i,
            kind=e.kind.value,
            allocation_id=e.allocation_id,
            at=format_time(e.at),
            actor=e.actor,
            order_id=e.order_id,
            security_id=e.security_id,
            values=tuple(_plain(_get(e.payload, p)) for p in paths),
        )
        for i, e in enumerate(events, start=1)
    ]


def select_payloads(
    sink: Any,
    *,
    kinds: Collection[EventKind],
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    paths: Sequence[str],
) -> list[PayloadRow]:
    """Events of *kinds* in [*since*, *until*) with the payload at *paths*, in append order.

    Args:
        sink: Any `AuditSink`; its own ``select_payloads`` is used if it has one.
        kinds: The event kinds.
        since: Only events at or after this time (timezone-aware).
        until: Only events strictly before this time.
        paths: Dotted payload keys, e.g. ``("group", "result.quantity")``.

    Raises:
        InvalidInputError: A bad path or a naive time.
        AuditSinkError: The sink could not be read.
    """
    checked = check_paths(paths)
    own = getattr(sink, "select_payloads", None)
    if callable(own):
        query = EventQuery(since=since, until=until, kinds=kinds)
        rows: list[PayloadRow] = own(query, checked)
        return rows
    return rows_from_events(sink.events(kinds=kinds, since=since, until=until), checked)
