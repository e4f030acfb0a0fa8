"""``orderalloc basket preview|commit``: a basket file in, each order booked once, 80 columns."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from orderalloc._cli import cli
from orderalloc._cli._basket import _label, read_orders
from orderalloc.audit import SQLiteAuditSink
from orderalloc.desk import BasketDesk, BasketIncompleteError, Desk
from orderalloc.errors import InvalidInputError
from orderalloc.sources.mock import MockAladdin
from orderalloc.testing.faults import Fault, FaultMode, FaultySource

CSV = "security,side,quantity\n91282CJL6,buy,6mm\n037833DX5,BUY,2mm\n3135G06G3,sell,1mm\n"
Run = Callable[..., Result]


@pytest.fixture(name="run")
def _run(tmp_path: Path) -> Run:
    """Invoke the command with its own audit store, on the mock (scenario sell_down)."""
    runner = CliRunner()
    db = tmp_path / "audit.sqlite3"

    def run(*args: str) -> Result:
        base = ["--audit-db", str(db), "--source", "mock", "--scenario", "sell_down"]
        return runner.invoke(cli, [*base, *args])

    return run


@pytest.fixture(name="basket_csv")
def _basket_csv(tmp_path: Path) -> Path:
    """A basket of two buys and a sale."""
    path = tmp_path / "basket.csv"
    path.write_text(CSV)
    return path


def _booked(tmp_path: Path) -> list[str | None]:
    path = tmp_path / "audit-mock-orders.json"
    return [o.external_id for o in MockAladdin(orders_path=path).orders()] if path.exists() else []


def _narrow(text: str) -> None:
    assert max(len(line) for line in text.splitlines()) <= 80, text


class TestPreview:
    """``basket preview FILE`` records the basket and sends nothing."""

    def test_table_fits_80_columns(self, run: Run, basket_csv: Path, tmp_path: Path) -> None:
        """One row per order with its allocation id; the commit line names the basket."""
        result = run("basket", "preview", str(basket_csv), "--group", "PUBLICPRE")
        assert result.exit_code == 0, result.output
        _narrow(result.output)
        assert "91282CJL6" in result.output
        assert "orderalloc basket commit " in result.output
        assert _booked(tmp_path) == []

    def test_json(self, run: Run, basket_csv: Path) -> None:
        """--json: the basket id and one entry per order."""
        result = run("basket", "preview", str(basket_csv), "--group", "PUBLICPRE", "--json")
        data = json.loads(result.stdout)
        assert [o["side"] for o in data["orders"]] == ["BUY", "BUY", "SELL"]
        assert data["strategy"] in ("joint", "sequential")

    def test_param_reaches_the_engine(self, run: Run, basket_csv: Path) -> None:
        """--param passes any engine parameter; one the engine does not take exits 3 by name."""
        args = ["basket", "preview", str(basket_csv), "--group", "PUBLICPRE"]
        ok = run(*args, "--method", "min-dispersion", "--param", "weighting=equal", "--json")
        assert ok.exit_code == 0, ok.output
        bad = run(*args, "--method", "min-dispersion", "--param", "tlit=1")
        assert bad.exit_code == 3
        assert "tlit" in bad.output

    def test_bad_file_is_named(self, run: Run, tmp_path: Path) -> None:
        """A missing column: exit 3, naming the order and the column."""
        path = tmp_path / "bad.csv"
        path.write_text("security,side\n91282CJL6,buy\n")
        result = run("basket", "preview", str(path), "--group", "PUBLICPRE")
        assert result.exit_code == 3
        assert "order 1.quantity" in result.output


class TestCommit:
    """``basket commit FILE`` books each order once; ``basket commit ID`` resumes."""

    def test_file_then_id(self, run: Run, basket_csv: Path, tmp_path: Path) -> None:
        """Committed from the file; committing the id again sends nothing."""
        result = run("basket", "commit", str(basket_csv), "--group", "PUBLICPRE")
        assert result.exit_code == 0, result.output
        _narrow(result.output)
        assert "committed basket" in result.output
        assert len(_booked(tmp_path)) == 3
        basket_id = result.output.split("committed basket ")[1].split(":")[0]
        story = run("audit", "show", basket_id)
        assert story.exit_code == 0, story.output
        _narrow(story.output)
        assert "3 orders, 3 committed" in " ".join(story.output.split())
        assert story.output.count("  COMMITTED") == 3
        again = run("basket", "commit", basket_id, "--json")
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["already_committed"] is True
        assert len(_booked(tmp_path)) == 3

    def test_file_refused_while_its_basket_is_unfinished(
        self, run: Run, basket_csv: Path, tmp_path: Path
    ) -> None:
        """The same file with an interrupted commit is refused (exit 5), naming the basket."""
        db = tmp_path / "audit.sqlite3"
        book = MockAladdin("sell_down", orders_path=tmp_path / "audit-mock-orders.json")
        source = FaultySource(book, [Fault("post_order", 1, FaultMode.SLOW)], slow_calls=10**6)
        orders = read_orders(basket_csv)
        with SQLiteAuditSink(db) as sink:
            baskets = BasketDesk(Desk(source, sink, actor="t"))
            preview = baskets.preview("PUBLICPRE", orders, label=_label("PUBLICPRE", orders))
            with pytest.raises(BasketIncompleteError):
                baskets.commit(preview.basket_id)
        result = run("basket", "commit", str(basket_csv), "--group", "PUBLICPRE")
        assert result.exit_code == 5
        assert preview.basket_id in result.output
        assert _booked(tmp_path) == []

    def test_json_file(self, run: Run, tmp_path: Path) -> None:
        """A JSON basket file ({"orders": [...]}) commits the same way."""
        path = tmp_path / "basket.json"
        rows = [{"security": "91282CJL6", "side": "buy", "quantity": 5_000_000}]
        path.write_text(json.dumps({"orders": rows}))
        result = run("basket", "commit", str(path), "--group", "BIG6", "--json")
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.stdout)["orders"]) == 1

    def test_file_needs_a_group(self, run: Run, basket_csv: Path) -> None:
        """A basket commit of a FILE without --group is a usage error (exit 2)."""
        assert run("basket", "commit", str(basket_csv)).exit_code == 2


def test_read_orders_names_bad_values(tmp_path: Path) -> None:
    """A bad side or quantity is refused naming the row and the field."""
    path = tmp_path / "b.csv"
    path.write_text("security,side,quantity\nX,hold,1mm\n")
    with pytest.raises(InvalidInputError, match=r"order 1\.side"):
        read_orders(path)
    path.write_text("security,side,quantity\nX,buy,lots\n")
    with pytest.raises(InvalidInputError, match=r"order 1\.quantity"):
        read_orders(path)
