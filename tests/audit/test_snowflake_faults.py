"""Snowflake: the answer to any one statement lost, or the statement run twice, loses nothing.

A connection wrapper plays one fault on the *k*-th statement of an append:

* ``"retried"``: the statement runs twice, as a connector does when it re-sends a
  request whose answer it never received;
* ``"lost"``: the statement runs, then its answer is lost (an ``OperationalError``).

The caller retries the append, as `~orderalloc.audit.OutboxSink` does. Whatever
*k* and the fault, the trail must end with every event exactly once, the account
index exactly once per event, and a chain that verifies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _audit_helpers import make_event

from orderalloc.errors import AuditSinkError

pytestmark = pytest.mark.snowflake

FAULTS = ("retried", "lost")


class _Plan:
    def __init__(self, at: int | None, mode: str | None) -> None:
        self.at, self.mode, self.count, self.played = at, mode, 0, False
        self.statements: list[str] = []


class _Cursor:
    def __init__(self, cur: Any, plan: _Plan) -> None:
        self._cur, self._plan = cur, plan

    def execute(self, sql: str, params: Any = None) -> Any:
        from snowflake.connector.errors import OperationalError

        plan = self._plan
        hit = not plan.played and plan.count == plan.at
        plan.count += 1
        plan.statements.append(sql.split()[0].upper())
        if hit and plan.mode == "retried":
            plan.played = True
            self._cur.execute(sql, params)  # the first send; its answer never arrived
        self._cur.execute(sql, params)
        if hit and plan.mode == "lost":
            plan.played = True
            raise OperationalError(msg="the answer to this statement was lost", errno=254)
        return self

    def __iter__(self) -> Any:
        return iter(self._cur)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class _Connection:
    def __init__(self, conn: Any, plan: _Plan) -> None:
        self._conn, self._plan = conn, plan

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor(), self._plan)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _sink(kwargs: dict[str, Any], plan: _Plan) -> Any:
    import snowflake.connector

    from orderalloc.audit.snowflake import SnowflakeAuditSink

    def connect() -> Any:
        return _Connection(snowflake.connector.connect(**kwargs), plan)

    return SnowflakeAuditSink(connect=connect)


def _fresh(fakesnow_kwargs: dict[str, Any], name: str) -> dict[str, Any]:
    return {**fakesnow_kwargs, "database": "AUDIT_FAULTS", "schema": name, "paramstyle": "qmark"}


def _append_until_done(append: Callable[[Any], None], events: Any, tries: int = 3) -> int:
    failures = 0
    for _ in range(tries):
        try:
            append(events)
            return failures
        except AuditSinkError:
            failures += 1
    raise AssertionError(f"the append still failed after {tries} tries")


def _statements_of_one_append(fakesnow_kwargs: dict[str, Any]) -> int:
    kwargs = _fresh(fakesnow_kwargs, "COUNTING")
    plan = _Plan(None, None)
    sink = _sink(kwargs, plan)
    sink.append([make_event(i) for i in range(1, 4)])
    before = plan.count
    sink.append([make_event(i) for i in range(4, 7)])
    sink.close()
    return plan.count - before


def test_every_statement_dropped_once(fakesnow_kwargs: dict[str, Any]) -> None:
    """For each statement of an append and each fault, nothing is lost, doubled or broken."""
    n = _statements_of_one_append(fakesnow_kwargs)
    assert n >= 8  # BEGIN, lock, head, existing ids, last row, events, index, head, COMMIT
    outcomes: dict[tuple[int, str], int] = {}
    for k in range(n):
        for mode in FAULTS:
            kwargs = _fresh(fakesnow_kwargs, f"F{k}_{mode.upper()}")
            plan = _Plan(None, None)
            sink = _sink(kwargs, plan)
            first = [make_event(i) for i in range(1, 4)]
            sink.append(first)
            plan.at, plan.mode = plan.count + k, mode  # fault the k-th statement of the next
            second = [make_event(i) for i in range(4, 7)]
            outcomes[(k, mode)] = _append_until_done(sink.append, second)
            assert plan.played
            assert sink.events() == first + second, (k, mode)  # 0 lost, 0 doubled, in order
            report = sink.verify()  # the chain and the account index, exactly once
            assert report.count == 6
            rows = sink._cursor
            with rows() as cur:
                cur.execute(f"SELECT SEQ, COUNT(*) FROM {sink._accounts_table} GROUP BY SEQ")
                counts = dict(cur.fetchall())
            assert counts == dict.fromkeys(range(1, 7), 2), (k, mode, counts)
            sink.close()
    # Some faults are absorbed (a repeated SELECT), others fail the append once and the
    # retry completes it; none needs more than one retry.
    assert set(outcomes.values()) <= {0, 1}
    assert 1 in outcomes.values()


def test_lost_index_answer_is_not_doubled(fakesnow_kwargs: dict[str, Any]) -> None:
    """The account-index insert re-sent by the connector adds no second copy (issue 17)."""
    kwargs = _fresh(fakesnow_kwargs, "INDEX_RETRY")
    plan = _Plan(None, None)
    sink = _sink(kwargs, plan)
    sink.append([make_event(1)])
    start = plan.count
    sink.append([make_event(2)])
    index_at = start + plan.statements[start:].index("INSERT") + 1  # events, then the index
    assert plan.statements[index_at] == "INSERT"

    kwargs = _fresh(fakesnow_kwargs, "INDEX_RETRY2")
    plan = _Plan(None, None)
    sink = _sink(kwargs, plan)
    sink.append([make_event(1)])
    plan.at, plan.mode = plan.count + (index_at - start), "retried"
    sink.append([make_event(2)])  # absorbed: no error at all
    assert plan.played
    assert sink.verify().count == 2
    sink.close()


def test_lock_timeout_set_at_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sink asks for a short LOCK_TIMEOUT at login, and keeps the caller's own."""
    import snowflake.connector

    from orderalloc.audit.snowflake import SnowflakeAuditSink

    seen: list[dict[str, Any]] = []

    def fake_connect(**kwargs: Any) -> Any:
        seen.append(kwargs)
        raise snowflake.connector.errors.OperationalError(msg="offline", errno=1)

    monkeypatch.setattr(snowflake.connector, "connect", fake_connect)
    for kwargs, expected in (
        ({}, 120),
        ({"session_parameters": {"LOCK_TIMEOUT": 30}}, 30),
    ):
        sink = SnowflakeAuditSink(connection_kwargs={"account": "x", **kwargs})
        with pytest.raises(AuditSinkError):
            sink.events()
        assert seen[-1]["session_parameters"]["LOCK_TIMEOUT"] == expected
    sink = SnowflakeAuditSink(connection_kwargs={"account": "x"}, lock_timeout=None)
    with pytest.raises(AuditSinkError):
        sink.events()
    assert "session_parameters" not in seen[-1]


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "60", 50_000])
def test_bad_lock_timeout(value: object) -> None:
    """A lock timeout that is not whole seconds in [1, 43200] is refused by name."""
    pytest.importorskip("snowflake.connector")
    from orderalloc.audit.snowflake import SnowflakeAuditSink
    from orderalloc.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="lock_timeout"):
        SnowflakeAuditSink(connection_kwargs={}, lock_timeout=value)  # type: ignore[arg-type]
