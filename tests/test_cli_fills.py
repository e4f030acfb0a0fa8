"""The post-trade commands: fills, allocate-fills, book, and the demo that runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orderalloc._cli import cli

IG = "037833DX5"


@pytest.fixture(name="run")
def _run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Invoke the command with its own audit store, returning (exit code, stdout, stderr)."""
    runner = CliRunner()
    db = tmp_path / "audit.sqlite3"

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, ["--audit-db", str(db), "--source", "mock", *args])
        return result.exit_code, result.stdout, result.stderr

    return run


def _order(run) -> str:  # type: ignore[no-untyped-def]
    code, out, _ = run(
        "preview", "--group", "PUBLICPRE", "--security", IG, "--side", "buy",
        "--quantity", "10mm", "--method", "pro-rata", "--commit", "--json",
    )  # fmt: skip
    assert code == 0, out
    return str(json.loads(out)["commit"]["order_id"])


class TestPostTrade:
    """Fills recorded, allocated and booked across separate invocations."""

    def test_fills_allocate_book(self, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        """Two fills at two prices are allocated, booked once, and in the verified trail."""
        order_id = _order(run)
        code, out, _ = run("fills", order_id, "--add", "2mm@99.10", "--add", "3mm@99.25", "--json")
        assert code == 0
        fills = json.loads(out)
        assert [(f["quantity"], f["price"]) for f in fills] == [(2e6, 99.10), (3e6, 99.25)]
        extra = tmp_path / "fills.json"
        extra.write_text(json.dumps([{"quantity": 1e6, "price": 99.3, "execution_id": "FIX-9"}]))
        code, out, _ = run("fills", order_id, "--file", str(extra))
        assert code == 0
        assert "3 fill(s), 6,000,000 face" in out
        code, out, _ = run("allocate-fills", order_id, "--json")
        assert code == 0
        fp = json.loads(out)
        assert fp["filled"] == 6_000_000
        assert sum(line["quantity"] for line in fp["ticket"]["lines"]) == fp["allocated"]
        code, out, _ = run("book", fp["fill_allocation_id"], "--json")
        assert code == 0
        booked = json.loads(out)
        assert booked["quantity"] == fp["allocated"]
        assert not booked["already_booked"]
        code, out, _ = run("book", fp["fill_allocation_id"])
        assert code == 0
        assert "already booked: nothing sent" in out
        code, out, _ = run("audit", "list", "--kind", "BOOKED", "--json")
        assert [e["allocation_id"] for e in json.loads(out)] == [fp["fill_allocation_id"]]
        code, out, _ = run("audit", "verify")
        assert code == 0

    def test_story_from_a_fill_allocation(self, run) -> None:  # type: ignore[no-untyped-def]
        """`audit show` on a fill allocation id tells the order's whole story, lines included."""
        order_id = _order(run)
        run("fills", order_id, "--add", "2mm@99.10")
        code, out, _ = run("allocate-fills", order_id, "--json")
        fill_allocation = json.loads(out)["fill_allocation_id"]
        run("book", fill_allocation)
        code, out, err = run("audit", "show", fill_allocation[:8])
        assert code == 0, err
        assert f"order {order_id}: now BOOKED" in out
        assert f"{fill_allocation}  BOOKED (fill allocation)" in out
        assert "modified by" not in out
        assert "PREVIEWED" in out
        assert "reason" in out  # the pre-trade allocation's lines

    def test_table_and_hint(self, run) -> None:  # type: ignore[no-untyped-def]
        """Without --json, allocate-fills prints the lines and how to book them."""
        order_id = _order(run)
        run("fills", order_id, "--add", "4mm@99.5")
        code, out, _ = run("allocate-fills", order_id)
        assert code == 0
        assert "block to book:" in out
        assert "book it with: orderalloc book " in out

    def test_errors(self, run) -> None:  # type: ignore[no-untyped-def]
        """Unknown ids and nothing to book are desk refusals (exit 5); a bad fill is usage (2)."""
        order_id = _order(run)
        code, _, err = run("allocate-fills", order_id)
        assert code == 5
        assert "NothingToBookError" in err
        code, _, err = run("book", "no-such-id")
        assert code == 5
        assert "Traceback" not in err
        code, _, err = run("fills", order_id, "--add", "2mm")
        assert code == 2
        assert "QUANTITY@PRICE" in err
        code, _, err = run("fills", "99999", "--add", "2mm@99")
        assert code == 5

    def test_demo_books_and_verifies(self, run) -> None:  # type: ignore[no-untyped-def]
        """The README's main job goes on after the commit: fills, allocation, booking, audit."""
        code, out, _ = run("demo")
        assert code == 0
        assert "fills:" in out
        assert "BOOKED" in out
        assert "audit chain verified: 7 events" in out
