"""The orderalloc command, as a user runs it, on the mock with no setup."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from orderalloc._cli import cli, parse_quantity

IG = "037833DX5"


def preview_args(group: str, quantity: str) -> list[str]:
    """The words of a buy preview of the IG bond."""
    return ["preview", "--group", group, "--security", IG, "--side", "buy", "--quantity", quantity]


@pytest.fixture(name="run")
def _run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Invoke the command with its own audit store, returning (exit code, stdout, stderr)."""
    runner = CliRunner()
    db = tmp_path / "audit.sqlite3"

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, ["--audit-db", str(db), "--source", "mock", *args])
        return result.exit_code, result.stdout, result.stderr

    run.db = db  # type: ignore[attr-defined]
    return run


class TestQuantities:
    """Human quantities read as a desk writes them."""

    @pytest.mark.parametrize(
        ("text", "face"),
        [("5mm", 5e6), ("250k", 2.5e5), ("1.5bn", 1.5e9), ("2,000,000", 2e6), ("5e6", 5e6)],
    )
    def test_parsed(self, text: str, face: float) -> None:
        """Each accepted spelling gives the face it means."""
        assert parse_quantity(text) == face

    def test_bare_m_is_refused(self, run) -> None:  # type: ignore[no-untyped-def]
        """'5m' is ambiguous (thousand or million): usage error, exit 2, with the fix."""
        code, _, err = run(*preview_args("BIG6", "5m"))
        assert code == 2
        assert "write 5mm for five million" in err


class TestLifecycle:
    """Preview, commit, modify, cancel and audit across separate invocations."""

    def test_preview_commit_cancel_audit(self, run) -> None:  # type: ignore[no-untyped-def]
        """Every step works from a fresh process state and lands in the audit trail."""
        code, out, _ = run(*preview_args("PUBLICPRE", "10mm"), "--json")
        assert code == 0
        preview = json.loads(out)
        allocation_id = preview["allocation_id"]
        assert sum(preview["result"]["quantity"]) == 10_000_000

        code, out, _ = run("commit", allocation_id, "--json")
        assert code == 0
        first = json.loads(out)
        code, out, _ = run("commit", allocation_id, "--json")
        second = json.loads(out)
        assert second["order_id"] == first["order_id"]
        assert second["already_committed"] is True

        code, out, _ = run("cancel", first["order_id"], "--reason", "test")
        assert code == 0
        assert "CANCELLED" in out

        code, out, _ = run("audit", "list", "--allocation", allocation_id, "--json")
        kinds = [e["kind"] for e in json.loads(out)]
        assert kinds[:4] == ["PREVIEWED", "COMPLIANCE_CHECKED", "COMMIT_STARTED", "COMMITTED"]
        assert kinds[-1] == "CANCELLED"
        code, out, _ = run("audit", "verify")
        assert code == 0
        assert out.startswith("ok:")

    def test_demo(self, run) -> None:  # type: ignore[no-untyped-def]
        """The README's main job previews, commits and shows a verified audit record."""
        code, out, _ = run("demo")
        assert code == 0
        assert "COMMITTED" in out
        assert "audit chain verified: 4 events" in out


class TestErrors:
    """Clear errors on stderr, no traceback, meaningful exit codes."""

    def test_unknown_group_is_a_data_source_error(self, run) -> None:  # type: ignore[no-untyped-def]
        """An unknown group exits 4 and lists the groups."""
        code, _, err = run(*preview_args("NOPE", "5mm"))
        assert code == 4
        assert "BIG6" in err
        assert "Traceback" not in err

    def test_bad_parameter_is_an_input_error(self, run) -> None:  # type: ignore[no-untyped-def]
        """An unknown metric exits 3 naming it."""
        code, _, err = run(
            *preview_args("BIG6", "5mm"), "--method", "min-dispersion", "--metric", "beta"
        )
        assert code == 3
        assert "metric='beta'" in err

    def test_unknown_allocation_is_a_desk_error(self, run) -> None:  # type: ignore[no-untyped-def]
        """Committing an allocation that was never previewed exits 5."""
        code, _, err = run("commit", "no-such-allocation")
        assert code == 5
        assert "no-such-allocation" in err

    def test_tampered_trail_fails_verify(self, run) -> None:  # type: ignore[no-untyped-def]
        """An edited audit row makes `audit verify` exit 6."""
        assert run("demo")[0] == 0
        with sqlite3.connect(run.db) as conn:
            # Someone with write access drops the guard and edits who acted.
            conn.execute("DROP TRIGGER AUDIT_EVENT_NO_UPDATE")
            conn.execute("UPDATE AUDIT_EVENT SET actor = 'mallory' WHERE rowid = 1")
        code, _, err = run("audit", "verify")
        assert code == 6
        assert "Traceback" not in err

    def test_help_explains_every_command(self) -> None:
        """--help lists every command with its summary."""
        out = CliRunner().invoke(cli, ["--help"]).stdout
        for command in (
            "groups",
            "security",
            "search",
            "preview",
            "commit",
            "modify",
            "cancel",
            "audit",
            "demo",
        ):
            assert command in out


class TestCustomWeights:
    """Custom weights from the command line."""

    def test_weights_inline(self, run) -> None:  # type: ignore[no-untyped-def]
        """--weights ID=W,ID=W splits the order by those weights (JSON checked)."""
        code, out, _ = run(
            *preview_args("BIG6", "200k"),
            "--method",
            "custom-weights",
            "--weights",
            "BIG6-01=0.5,BIG6-03=0.5",
            "--json",
        )
        assert code == 0
        result = json.loads(out)["result"]
        quantities = dict(zip(result["account_ids"], result["quantity"], strict=True))
        assert quantities["BIG6-01"] == quantities["BIG6-03"] == 100_000

    def test_weights_required(self, run) -> None:  # type: ignore[no-untyped-def]
        """custom-weights without --weights is a usage error that says what to add."""
        code, _, err = run(*preview_args("BIG6", "2mm"), "--method", "custom-weights")
        assert code == 2
        assert "--weights" in err
