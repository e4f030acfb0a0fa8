"""The command line refuses malformed input with a message, never a traceback or exit 0."""

from __future__ import annotations

import json
import sqlite3
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
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        return result.exit_code, result.stdout, result.stderr

    run.db = db  # type: ignore[attr-defined]
    return run


def preview(*extra: str, quantity: str = "5mm") -> list[str]:
    """The words of a BIG6 buy preview of the IG bond."""
    return [
        "preview",
        "--group",
        "BIG6",
        "--security",
        IG,
        "--side",
        "buy",
        "--quantity",
        quantity,
        *extra,
    ]


class TestQuantity:
    """Doubled or misplaced separators are typos, not numbers."""

    @pytest.mark.parametrize(
        "text", ["5,,000", "5__0", "5,00", "5_", "_5", ",5", "5,000,00", "1e400", "5mmm", "", "nan"]
    )
    def test_refused(self, run, text: str) -> None:  # type: ignore[no-untyped-def]
        """Each malformed quantity is a usage error (exit 2) that quotes it."""
        code, out, err = run(*preview(quantity=text))
        assert code == 2
        assert "Traceback" not in err + out
        assert "quantity" in err.lower()

    def test_zero_refused_by_name(self, run) -> None:  # type: ignore[no-untyped-def]
        """A zero quantity reaches the order and is refused there, naming the field (exit 3)."""
        code, _, err = run(*preview(quantity="0"))
        assert code == 3
        assert "order.quantity" in err


class TestWeightsFile:
    """A weights file holding anything but numbers is refused with the account named."""

    @pytest.mark.parametrize("value", ['"x"', "null", "true", "false", "[1]", '{"a": 1}', "1e999"])
    def test_bad_value(self, run, tmp_path: Path, value: str) -> None:  # type: ignore[no-untyped-def]
        """Strings, null, booleans, containers and overflowing numbers exit 2 with the id."""
        path = tmp_path / "w.json"
        path.write_text('{"BIG6-01": ' + value + ', "BIG6-02": 0.5}')
        code, out, err = run(*preview("--method", "custom-weights", "--weights", f"@{path}"))
        assert code in (2, 3)
        assert "Traceback" not in err + out
        assert "BIG6-01" in err

    @pytest.mark.parametrize("content", ["[1, 2]", "not json", "[" * 100_000, b"\xff\xfe"])
    def test_bad_file(self, run, tmp_path: Path, content: str | bytes) -> None:  # type: ignore[no-untyped-def]
        """A file that is not a JSON object (or not UTF-8, or nested too deep) exits 2."""
        path = tmp_path / "w.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        code, out, err = run(*preview("--method", "custom-weights", "--weights", f"@{path}"))
        assert code == 2
        assert "Traceback" not in err + out


class TestAuditHead:
    """`audit head` prints an anchor; `audit verify --expected-head` holds the trail to it."""

    def test_truncation_caught_by_the_anchor(self, run) -> None:  # type: ignore[no-untyped-def]
        """Deleting the last row and rewinding the head passes verify alone, not anchored."""
        assert run("demo")[0] == 0
        code, anchor, _ = run("audit", "head")
        assert code == 0
        seq, _, digest = anchor.strip().partition(":")
        assert int(seq) >= 2
        assert len(digest) == 64
        assert run("audit", "verify", "--expected-head", anchor.strip())[0] == 0
        with sqlite3.connect(run.db) as conn:
            for trigger in (
                "AUDIT_EVENT_NO_DELETE",
                "AUDIT_EVENT_ACCOUNT_NO_DELETE",
                "AUDIT_HEAD_FORWARD_ONLY",
            ):
                conn.execute(f"DROP TRIGGER {trigger}")
            last = int(seq)
            conn.execute("DELETE FROM AUDIT_EVENT_ACCOUNT WHERE SEQ = ?", (last,))
            conn.execute("DELETE FROM AUDIT_EVENT WHERE SEQ = ?", (last,))
            (prev,) = conn.execute(
                "SELECT HASH FROM AUDIT_EVENT WHERE SEQ = ?", (last - 1,)
            ).fetchone()
            conn.execute("UPDATE AUDIT_HEAD SET SEQ = ?, HASH = ?", (last - 1, prev))
        # The sink re-creates its guards on open; the shortened chain is self-consistent.
        assert run("audit", "verify")[0] == 0
        code, _, err = run("audit", "verify", "--expected-head", anchor.strip())
        assert code == 6
        assert "anchored head" in err
        assert "Traceback" not in err

    def test_head_json(self, run) -> None:  # type: ignore[no-untyped-def]
        """--json gives the count, the head and the anchor text."""
        assert run("demo")[0] == 0
        code, out, _ = run("audit", "head", "--json")
        data = json.loads(out)
        assert code == 0
        assert data["anchor"] == f"{data['head_seq']}:{data['head_hash']}"

    def test_malformed_anchor(self, run) -> None:  # type: ignore[no-untyped-def]
        """A malformed --expected-head is an input error naming it (exit 3)."""
        code, _, err = run("audit", "verify", "--expected-head", "abc")
        assert code == 3
        assert "expected_head" in err
