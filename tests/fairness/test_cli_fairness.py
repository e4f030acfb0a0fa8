"""``orderalloc fairness report``: the terminal summary, --json and the self-contained HTML."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from _year import FAVOURED, trade_year, trading_days
from click.testing import CliRunner

from orderalloc._cli import cli
from orderalloc.audit import SQLiteAuditSink


@pytest.fixture(name="db", scope="module")
def _db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, float]]:
    """A SQLite trail of 40 cherry-picked orders, and their next-day prices as CSV."""
    root = tmp_path_factory.mktemp("cli")
    db = root / "audit.sqlite3"
    with SQLiteAuditSink(db) as sink:
        _, mock, later = trade_year(
            group="OPNIC",
            days=trading_days(dt.date(2024, 1, 2), 40),
            method="favour",
            params={"favoured": FAVOURED, "tilt": 4.0},
            sink=sink,
            seed=41,
        )
        day_after = {
            o: (t.security_id, t.trade_date) for t in mock.trades() if (o := t.order_id) is not None
        }
    prices = root / "prices.csv"
    lines = ["security_id,date,price"]
    for order_id, price in later.items():
        security, day = day_after[order_id]
        assert day is not None
        lines.append(f"{security},{day + dt.timedelta(days=1)},{price}")
    prices.write_text("\n".join(lines) + "\n")
    return db, prices, later


def _run(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--audit-db", str(db), "--source", "mock", *args])
    return result.exit_code, result.stdout, result.stderr


class TestReportCommand:
    """The review a compliance officer reads, from the command line."""

    def test_terminal_summary_fits_80_columns(
        self, db: tuple[Path, Path, dict[str, float]], tmp_path: Path
    ) -> None:
        """The summary names the flagged account and no line is wider than 80 columns."""
        path, prices, _ = db
        html = tmp_path / "review.html"
        code, out, err = _run(
            path, "fairness", "report", "--group", "OPNIC", "--since", "2024-01-01",
            "--until", "2024-12-31", "--prices", str(prices), "--permutations", "9999",
            "--html", str(html),
        )  # fmt: skip
        assert code == 0, out + err
        assert max(len(line) for line in out.splitlines()) <= 80
        assert f"flagged at Holm-adjusted p < 0.01: {FAVOURED}" in " ".join(out.split())
        assert str(html) in err
        page = html.read_text()
        assert page.count("<svg") == 3  # fill rate, shortfall, P&L against the null
        assert "@media print" in page
        # Self-contained: nothing is fetched (no scripts, stylesheets or images by URL).
        assert not re.search(r"<(script|link|img)\b", page)
        assert not re.search(r"(src|href)\s*=\s*[\"']https?:", page)
        assert FAVOURED in page

    def test_json(self, db: tuple[Path, Path, dict[str, float]], tmp_path: Path) -> None:
        """--json gives every account's row, and order-id prices in JSON give the same flag."""
        path, _, later = db
        prices = tmp_path / "prices.json"
        prices.write_text(json.dumps(later))
        code, out, err = _run(
            path, "fairness", "report", "--group", "OPNIC", "--since", "2024-01-01",
            "--prices", str(prices), "--permutations", "9999", "--json",
        )  # fmt: skip
        assert code == 0, err
        data = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
        assert data["flagged"] == [FAVOURED]
        assert data["orders"] == 40
        assert len(data["summary"]) == 37
        assert all(0 <= row["fill_rate"] <= 1 for row in data["summary"])

    def test_without_prices_and_bad_prices(
        self, db: tuple[Path, Path, dict[str, float]], tmp_path: Path
    ) -> None:
        """Without prices there is no test (it says so); a broken price file is a usage error."""
        path, _, _ = db
        code, out, _ = _run(path, "fairness", "report", "--group", "OPNIC", "--since", "2024-01-01")
        assert code == 0
        assert "no permutation test" in out
        bad = tmp_path / "bad.csv"
        bad.write_text("when,value\n2024-01-02,99\n")
        code, _, err = _run(
            path, "fairness", "report", "--group", "OPNIC", "--since", "2024-01-01",
            "--prices", str(bad),
        )  # fmt: skip
        assert code == 2
        assert "--prices" in err
