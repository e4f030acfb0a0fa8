"""One default method everywhere, and a desk that says where it records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import orderalloc as oa
from orderalloc._cli import cli
from orderalloc.audit import sqlite as sqlite_module
from orderalloc.desk import Desk

IG = "037833DX5"


def test_the_same_default_method_everywhere(tmp_path: Path) -> None:
    """allocate, Desk.preview and the command line all default to pro-rata."""
    source = oa.MockAladdin()
    bond = source.security(IG)
    order = oa.Order(security=bond, side="BUY", quantity=5_000_000)
    direct = oa.allocate(order, source.accounts("BIG6", bond.id))
    with Desk(source, oa.SQLiteAuditSink(tmp_path / "a.sqlite3"), actor="t") as desk:
        previewed = desk.preview("BIG6", IG, "BUY", 5_000_000).result
    out = CliRunner().invoke(
        cli,
        ["--audit-db", str(tmp_path / "b.sqlite3"), "--source", "mock", "preview",
         "--group", "BIG6", "--security", IG, "--side", "buy", "--quantity", "5mm", "--json"],
    ).stdout  # fmt: skip
    assert direct.method == previewed.method == json.loads(out)["result"]["method"] == "pro_rata"
    assert direct.quantities == previewed.quantities


def test_desk_without_sink_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Desk(source) warns with the path of the audit file it opened."""
    target = tmp_path / "user-data" / "audit.sqlite3"
    monkeypatch.setattr(sqlite_module, "default_audit_path", lambda: target)
    with pytest.warns(UserWarning, match=str(target)), Desk(oa.MockAladdin()) as desk:
        desk.preview("BIG6", IG, "BUY", 1_000_000)
    assert target.exists()
