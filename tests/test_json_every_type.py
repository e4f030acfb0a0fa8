"""`to_json` of every public value type is strict JSON, with NaN where NaN can be."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import orderalloc as oa
from orderalloc._serialization import REDACTED
from orderalloc.sources import MockAladdin
from orderalloc.sources.aladdin.config import Secret


def strict(text: str) -> Any:
    """JSON read by a parser that refuses NaN and Infinity (RFC 8259)."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


#: Exported attrs classes that are settings, not values: nothing records them as JSON
#: (a configuration holds an httpx timeout and credentials, and is read from the
#: environment).
SETTINGS = {"AladdinConfig"}
#: Exported attrs classes that are reports over a trail already stored: their JSON
#: form is `FairnessReport.records()` (tested in tests/fairness), not `to_json`.
REPORTS = {"FairnessReport", "FairnessTrail", "PermutationResult"}


def public_attrs_types() -> set[type]:
    """Every attrs value class `orderalloc` exports."""
    found = set()
    for name in set(oa.__all__) - SETTINGS - REPORTS:
        obj = getattr(oa, name)
        if isinstance(obj, type) and attrs.has(obj):
            found.add(obj)
    return found


def nested(value: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """*value* and every attrs instance inside it (fields, lists, dicts)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if attrs.has(type(value)):
        yield value
        for field in attrs.fields(type(value)):
            yield from nested(getattr(value, field.name), seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from nested(item, seen)
    elif isinstance(value, dict):
        for item in value.values():
            yield from nested(item, seen)


@pytest.fixture(name="samples", scope="module")
def _samples(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """One of each public value, from a real flow on the mock (no-limit caps are inf)."""
    bond = oa.Security(id="B", price=99.5, min_piece=2_000, increment=1_000,
                       analytics={"spread_duration": 5.0})  # fmt: skip
    other = oa.Security(id="C", price=101.0, analytics={"spread_duration": 7.0})
    accounts = [
        oa.Account(id="A1", nav=4e6, cash=1e6, holdings={"B": 50_000},
                   metrics={"spread_duration": 4.8}),
        oa.Account(id="A2", nav=6e6, limits=oa.AccountLimits(max_pct_nav=0.05),
                   metrics={"spread_duration": 5.1}),
        oa.Account(id="A3", nav=2e6, cash=5e5, metrics={"spread_duration": 5.5}),
    ]  # fmt: skip
    order = oa.Order(security=bond, side="BUY", quantity=60_000)
    result = oa.allocate(
        order, accounts, method="min_dispersion", metric="spread_duration", weighting="equal"
    )
    fills = [oa.Fill(quantity=20_000, price=99.4), oa.Fill(quantity=10_000, price=99.6)]
    filled = oa.allocate_fills(order, accounts, intent=result, fills=fills, group="G")
    sell = oa.Order(security=bond, side="SELL", quantity=20_000)
    switch = oa.Switch(sell=sell, buy=other)
    basket = oa.allocate_basket([order], accounts, switches=[switch])
    intent = oa.new_issue_intent(order, accounts, {"A1": 40_000, "A3": 90_000}, max_pct_nav=0.02)

    root = tmp_path_factory.mktemp("desk")
    with oa.SQLiteAuditSink(root / "audit.sqlite3") as sink:
        mock = MockAladdin(seed=7)
        desk = oa.Desk(mock, sink)
        made = desk.preview("BIG6", "037833DX5", "BUY", 2_000_000)
        receipt = desk.commit(made.allocation_id)
        events = desk.history(made.allocation_id)
        baskets = oa.BasketDesk(desk)
        basket_preview = baskets.preview(
            "BIG6", [("037833DX5", "BUY", 1_000_000), ("91282CJL6", "BUY", 1_000_000)]
        )
        basket_receipt = baskets.commit(basket_preview.basket_id)
        report = sink.verify()
    ticket = oa.OrderTicket(
        security_id="B",
        side="BUY",
        lines=[oa.OrderLine("A1", 40_000), oa.OrderLine("A3", 20_000)],
        external_id="oa-test-1",
    )
    violation = oa.ComplianceViolation(
        account_id="A3", rule="ISSUER_LIMIT", message="over 5% of NAV", severity="WARNING"
    )
    what_if = oa.WhatIfReport(violations=(violation,))
    roots = [result, result.allocations, ticket, what_if, filled, basket, intent, made,
             receipt, events, report, filled.ledger, *accounts, oa.as_table(accounts),
             basket_preview, basket_receipt]  # fmt: skip
    out: list[Any] = []
    seen: set[int] = set()
    for value in roots:
        out.extend(nested(value, seen))
    return out


def test_every_public_type_is_covered(samples: list[Any]) -> None:
    """The samples hold every exported value type, so a new one cannot skip this check."""
    covered = {type(value) for value in samples}
    missing = sorted(t.__name__ for t in public_attrs_types() - covered)
    assert not missing, f"add a sample of: {', '.join(missing)}"


def test_to_json_is_strict_json(samples: list[Any]) -> None:
    """Every sample's JSON parses with NaN refused; non-finite values are null or "inf"."""
    saw_non_finite = False
    for value in samples:
        text = oa.to_json(value)
        strict(text)
        saw_non_finite = saw_non_finite or '"inf"' in text or "null" in text
    assert saw_non_finite  # the samples really carry a non-finite number somewhere


def test_credentials_never_leave_as_text() -> None:
    """A credential in anything written as JSON shows that it is set, never its value."""
    text = oa.to_json({"api_key": Secret("KEY-abc123"), "user": "u"})
    assert "KEY-abc123" not in text
    assert strict(text) == {"api_key": REDACTED, "user": "u"}


def test_a_value_with_no_json_form_is_named() -> None:
    """An object JSON cannot hold is refused by type name, not with a foreign TypeError."""
    config = oa.AladdinConfig(
        host="acme.blackrock.com", api_key="KEY-abc123", username="u", password="PW-xyz789"
    )
    with pytest.raises(oa.InvalidInputError, match=r"AladdinConfig.*no JSON form") as info:
        oa.to_json(config)
    assert "KEY-abc123" not in str(info.value)


def test_cli_json_is_strict(tmp_path: Path) -> None:
    """What `--json` prints (which scripts parse) is strict JSON too."""
    from click.testing import CliRunner

    from orderalloc._cli import cli

    db = tmp_path / "audit.sqlite3"
    out = CliRunner().invoke(
        cli,
        ["--audit-db", str(db), "--source", "mock", "preview", "--group", "BIG6",
         "--security", "037833DX5", "--side", "buy", "--quantity", "5mm",
         "--method", "min-dispersion", "--json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    strict(out.stdout)


def test_cli_json_writer_never_writes_nan(capsys: pytest.CaptureFixture[str]) -> None:
    """Every --json of the command goes through one writer, which keeps to the NaN rule."""
    from orderalloc._cli._common import echo_json

    echo_json({"price": float("nan"), "cap": float("inf"), "at": dt.date(2026, 12, 1)})
    assert strict(capsys.readouterr().out) == {"price": None, "cap": "inf", "at": "2026-12-01"}
