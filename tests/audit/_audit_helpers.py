"""Event builders shared by the audit tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from orderalloc.audit import AuditEvent, AuditSink, EventKind

T0 = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.timezone.utc)
# The kinds events cycle through: the order lifecycle's eight, so that counts per
# kind stay as the tests expect when post-trade kinds are added to EventKind.
_KINDS = list(EventKind)[:8]


def make_event(i: int, **overrides: Any) -> AuditEvent:
    """A deterministic event number *i* (its id is ``ev-<i>``)."""
    fields: dict[str, Any] = {
        "event_id": f"ev-{i:05d}",
        "allocation_id": f"alloc-{i % 3}",
        "kind": _KINDS[i % len(_KINDS)],
        "at": T0 + dt.timedelta(minutes=i),
        "actor": "desk@example.com",
        "payload": {"i": i, "qty": 1000.5 * i, "note": 'é "q" \\ ☃', "nested": {"b": [1, None]}},
        "account_ids": (f"ACC-{i % 4}", "ACC-ALL"),
        "security_id": "US912828XX" if i % 2 else None,
        "order_id": f"ord-{i}",
    }
    fields.update(overrides)
    return AuditEvent(**fields)


class Backend:
    """Opens sinks on one store; runs raw SQL on it when it is a SQL store."""

    def __init__(
        self,
        name: str,
        open_sink: Callable[[], AuditSink],
        raw: Callable[[str], list[tuple[Any, ...]]] | None = None,
        prefix: str = "",
    ) -> None:
        self.name = name
        self._open = open_sink
        self.raw = raw
        self.prefix = prefix  # table name prefix for raw SQL
        self.opened: list[AuditSink] = []

    def open(self) -> AuditSink:
        sink = self._open()
        self.opened.append(sink)
        return sink

    def close_all(self) -> None:
        for sink in self.opened:
            sink.close()
