"""What the command prints: 80 columns, counts by reason, JSON records, whole order stories."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import orderalloc as oa
from orderalloc._cli import cli

IG = "037833DX5"


@pytest.fixture(name="run")
def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Invoke the command at 80 columns with its own audit store: (exit code, stdout, stderr)."""
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)  # a short store path, as a user's would be
    db = Path("audit.sqlite3")

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(
            cli, ["--audit-db", str(db), "--source", "mock", *args], terminal_width=80
        )
        return result.exit_code, result.stdout, result.stderr

    run.db = db  # type: ignore[attr-defined]
    return run


def preview(group: str, quantity: str, *extra: str) -> list[str]:
    """The words of a buy preview of the IG bond."""
    return ["preview", "--group", group, "--security", IG, "--side", "buy", "--quantity", quantity]


def assert_fits(text: str, width: int = 80) -> None:
    """No line of *text* is wider than *width* columns."""
    wide = [line for line in text.splitlines() if len(line) > width]
    assert not wide, f"{len(wide)} line(s) wider than {width}: {wide[0]!r}"


class TestEightyColumns:
    """Every screen of the lifecycle fits an 80-column terminal, nothing wraps."""

    def test_whole_lifecycle_fits(self, run) -> None:  # type: ignore[no-untyped-def]
        """Every command of the lifecycle prints lines of 80 columns or fewer.

        groups, security, search, preview (small and 10,000 accounts), commit,
        modify, cancel twice, audit list / show / verify and demo.
        """
        screens = [
            run("groups"),
            run("security", IG),
            run("search", "AAPL"),
            run(*preview("BIG6", "5mm"), "--method", "min-dispersion"),
            run(*preview("SMA-10K", "50mm"), "--method", "min-dispersion", "--limit", "10"),
            run(*preview("BIG6", "5mm"), "--basis", "holdings"),
        ]
        code, out, _ = run(*preview("BIG6", "5mm"), "--json")
        allocation = json.loads(out)["allocation_id"]
        screens.append(run("commit", allocation))
        order = json.loads(run("commit", allocation, "--json")[1])["order_id"]
        screens += [
            run("modify", order, "--quantity", "4mm"),
            run("cancel", order, "--reason", "the PM changed her mind about this order"),
            run("cancel", order, "--reason", "again"),
            run("audit", "list"),
            run("audit", "show", order),
            run("audit", "verify"),
            run("demo"),
        ]
        for code, out, err in screens:
            assert code == 0, err
            assert_fits(out)
            assert_fits(err)

    def test_large_group_counts_by_reason(self, run) -> None:  # type: ignore[no-untyped-def]
        """A 10,000-account preview says what every account got: counts by reason add up."""
        code, out, _ = run(*preview("SMA-10K", "50mm"), "--method", "min-dispersion")
        assert code == 0
        assert "9,970 more accounts" in out
        table = out.split("every account by reason:")[1].split("\n\n")[1].splitlines()[1:]
        counts = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in table}
        assert sum(counts.values()) == 10_000
        assert "NOT_NEEDED" in counts

    def test_no_nan_in_tables(self, run) -> None:  # type: ignore[no-untyped-def]
        """Accounts without a metric show '-', never 'nan'."""
        code, out, _ = run(*preview("SMA-10K", "50mm"), "--limit", "10000")
        assert code == 0
        assert not re.search(r"\bnan\b", out)


class TestRender:
    """The table itself, for results the mock does not produce."""

    def test_missing_metric_shows_a_dash(self) -> None:
        """An account without the metric shows '-' before and after, never 'nan'."""
        from orderalloc._render import result_table

        bond = oa.Security(id="B1", price=100.0, analytics={"duration": 4.0})
        accounts = [
            oa.Account(id="A", nav=1e8, cash=1e7, metrics={"duration": 5.0}),
            oa.Account(id="B", nav=1e8, cash=1e7),
        ]
        result = oa.allocate(oa.Order(security=bond, side="BUY", quantity=1e6), accounts)
        row = next(line for line in result_table(result).splitlines() if line.startswith("B "))
        assert row.split()[-2:] == ["-", "-"]
        assert "nan" not in result_table(result)


class TestJson:
    """--json gives machines one record per account, totals, and to_json's result."""

    def test_preview_records(self, run) -> None:  # type: ignore[no-untyped-def]
        """Each account has its reason by name and message; totals add up; result round-trips."""
        code, out, _ = run(*preview("BIG6", "5mm"), "--method", "min-dispersion", "--json")
        assert code == 0
        data = json.loads(out)
        accounts = data["accounts"]
        assert len(accounts) == 6
        assert {a["reason"] for a in accounts} <= {r.value for r in oa.Reason}
        assert all(a["message"] for a in accounts)
        assert data["totals"]["allocated"] == sum(a["quantity"] for a in accounts)
        assert sum(v["accounts"] for v in data["totals"]["by_reason"].values()) == 6
        result = oa.from_json(json.dumps(data["result"]), oa.AllocationResult)
        assert result.quantities == {a["account_id"]: a["quantity"] for a in accounts}

    def test_commit_and_modify_carry_lines(self, run) -> None:  # type: ignore[no-untyped-def]
        """Commit and modify --json give the order's quantity and one line per account."""
        allocation = json.loads(run(*preview("BIG6", "5mm"), "--json")[1])["allocation_id"]
        committed = json.loads(run("commit", allocation, "--json")[1])
        assert committed["quantity"] == 5_000_000
        assert sum(line["quantity"] for line in committed["lines"]) == 5_000_000
        modified = json.loads(
            run("modify", committed["order_id"], "--quantity", "4mm", "--json")[1]
        )
        assert modified["version"] == 2
        assert sum(line["quantity"] for line in modified["lines"]) == 4_000_000


class TestMessages:
    """Messages that say what happened, exit codes that say what failed."""

    def test_unknown_method(self, run) -> None:  # type: ignore[no-untyped-def]
        """--method foo exits 3 and lists the choices as --help spells them."""
        code, _, err = run(*preview("BIG6", "5mm"), "--method", "foo")
        assert code == 3
        assert "pro-rata" in err
        assert "pro_rata" not in err

    def test_second_cancel_says_so(self, run) -> None:  # type: ignore[no-untyped-def]
        """Cancelling twice says the order was already cancelled, not 'cancelled' again."""
        allocation = json.loads(run(*preview("BIG6", "5mm"), "--json")[1])["allocation_id"]
        order = json.loads(run("commit", allocation, "--json")[1])["order_id"]
        first = run("cancel", order, "--reason", "one")[1]
        second = run("cancel", order, "--reason", "two")[1]
        assert first.startswith("cancelled order")
        assert "already cancelled" in second

    def test_security_in_lower_case(self, run) -> None:  # type: ignore[no-untyped-def]
        """`security 037833dx5` finds the bond as search does."""
        code, out, _ = run("security", IG.lower())
        assert code == 0
        assert IG in out

    def test_empty_search_fails(self, run) -> None:  # type: ignore[no-untyped-def]
        """A search with no hit exits 4 and says so."""
        code, _, err = run("search", "ZZZZNOPE")
        assert code == 4
        assert "no security matches" in err

    def test_weights_sum(self, run) -> None:  # type: ignore[no-untyped-def]
        """Weights summing to 0.8 say what they sum to, not weights='sum 0.8'."""
        code, _, err = run(
            *preview("BIG6", "1mm"), "--method", "custom-weights", "--weights", "BIG6-01=0.8"
        )
        assert code == 3
        assert "sum to 0.8" in err
        assert "'sum 0.8'" not in err

    def test_zero_basis_is_the_cause(self, run) -> None:  # type: ignore[no-untyped-def]
        """--basis holdings where one account holds the bond names that, not cash alone."""
        code, out, _ = run(*preview("BIG6", "5mm"), "--basis", "holdings")
        assert code == 0
        assert "5 of 6 accounts get no share under this method" in " ".join(out.split())


class TestAuditStory:
    """An order's whole story from any of its ids."""

    def test_story_from_any_id(self, run) -> None:  # type: ignore[no-untyped-def]
        """The first allocation, its prefix or the order id all tell the same whole story.

        It ends CANCELLED, shows the modification; --order and --account list all of it.
        """
        first = json.loads(run(*preview("BIG6", "5mm"), "--json")[1])["allocation_id"]
        order = json.loads(run("commit", first, "--json")[1])["order_id"]
        second = json.loads(run("modify", order, "--quantity", "4mm", "--json")[1])
        run("cancel", order, "--reason", "done")
        stories = [run("audit", "show", ident, "--json")[1] for ident in (first, first[:8], order)]
        kinds = [[e["kind"] for e in json.loads(s)] for s in stories]
        assert kinds[0] == kinds[1] == kinds[2]
        assert kinds[0][0] == "PREVIEWED"
        assert kinds[0][-1] == "CANCELLED"
        assert "MODIFIED" in kinds[0]
        text = run("audit", "show", first)[1]
        assert "now CANCELLED" in text
        assert f"modified by {second['allocation_id'][:8]}" in text
        listed = json.loads(run("audit", "list", "--order", order, "--json")[1])
        assert [e["kind"] for e in listed] == kinds[0]
        by_account = json.loads(run("audit", "list", "--account", "BIG6-01", "--json")[1])
        assert {"COMMITTED", "MODIFIED", "CANCELLED"} <= {e["kind"] for e in by_account}

    def test_event_list_has_a_header(self, run) -> None:  # type: ignore[no-untyped-def]
        """Audit list opens with a header naming its columns."""
        run(*preview("BIG6", "5mm"))
        out = run("audit", "list")[1]
        assert out.splitlines()[0].split()[:3] == ["when", "(UTC)", "event"]


@pytest.mark.slow
class TestInterrupt:
    """Ctrl-C during a long solve stops at once and records nothing."""

    def test_ctrl_c_during_slsqp(self, tmp_path: Path) -> None:
        """SIGINT two seconds into SLSQP on 10,000 accounts ends the process at once.

        A warning came first, and the audit trail holds no half record and verifies.
        """
        db = tmp_path / "audit.sqlite3"
        args = [sys.executable, "-m", "orderalloc", "--audit-db", str(db), "--source", "mock"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen(
            [
                *args,
                *preview("SMA-10K", "50mm"),
                "--method",
                "min-dispersion",
                "--backend",
                "slsqp",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            # A background child inherits an ignored SIGINT: give it the terminal's default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert proc.stderr is not None
        err = proc.stderr.readline()  # the warning, printed before the solve starts
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        try:
            _, rest = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - the failure this test guards
            proc.kill()
            pytest.fail("Ctrl-C did not stop the solve within 30 s")
        assert proc.returncode in (130, -signal.SIGINT)
        assert time.monotonic() - sent < 10
        assert "slsqp on 10,000 accounts" in " ".join((err + rest).split())
        if db.exists():
            with sqlite3.connect(db) as conn:
                n = conn.execute("SELECT COUNT(*) FROM AUDIT_EVENT").fetchone()[0]
            assert n == 0
        code = subprocess.run([*args, "audit", "verify"], env=env, check=False).returncode
        assert code == 0
