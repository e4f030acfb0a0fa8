"""The command line never books and then says "failed", never picks a source it was not told to."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import orderalloc
import orderalloc._cli._common as cli_module
from orderalloc import AllocationResult
from orderalloc._cli import cli
from orderalloc._cli._common import EXIT_BOOKED_BUT
from orderalloc.audit import SQLiteAuditSink
from orderalloc.errors import AuditIntegrityError
from orderalloc.sources.mock import MockAladdin

IG = "037833DX5"
PREVIEW = ["preview", "--group", "BIG6", "--security", IG, "--side", "buy", "--quantity", "5mm"]

Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def _forget_plot_module() -> Iterator[None]:
    """Leave ``orderalloc.plot`` unimported if it was (``--plot`` imports it to check)."""
    had = "orderalloc.plot" in sys.modules
    yield
    if not had:
        sys.modules.pop("orderalloc.plot", None)
        if hasattr(orderalloc, "plot"):
            delattr(orderalloc, "plot")


@pytest.fixture(name="run")
def _run(tmp_path: Path) -> Run:
    """Invoke the command with its own audit store (source: mock unless given)."""
    runner = CliRunner()
    db = tmp_path / "audit.sqlite3"

    def run(*args: str, source: str = "mock", env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, ["--audit-db", str(db), "--source", source, *args], env=env)

    return run


def booked(tmp_path: Path) -> list[object]:
    """The orders in the mock's order book beside the audit store."""
    path = tmp_path / "audit-mock-orders.json"
    if not path.exists():
        return []
    return list(MockAladdin(orders_path=path).orders())


def previews(tmp_path: Path) -> int:
    """How many allocations the audit store holds."""
    path = tmp_path / "audit.sqlite3"
    if not path.exists():
        return 0
    with SQLiteAuditSink(path) as sink:
        return len({e.allocation_id for e in sink.events()})


def no_traceback(result: Result) -> None:
    """The command ended by itself (an exit code), with no traceback shown."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


class TestPlotCheckedBeforePosting:
    """A --plot that would fail is refused before anything is recorded or sent."""

    def test_matplotlib_missing(
        self, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without matplotlib: usage error naming the extra; no order, no preview."""
        monkeypatch.delitem(sys.modules, "orderalloc.plot", raising=False)
        # An earlier test may have imported it: the package keeps it as an attribute.
        monkeypatch.delattr(orderalloc, "plot", raising=False)
        # Hide every matplotlib module an earlier test may have loaded, not only pyplot.
        loaded = [name for name in sys.modules if name.split(".")[0] == "matplotlib"]
        for name in {"matplotlib", "matplotlib.pyplot", "matplotlib.figure", *loaded}:
            monkeypatch.setitem(sys.modules, name, None)
        result = run(*PREVIEW, "--commit", "--plot", str(tmp_path / "p.png"))
        assert result.exit_code == 2
        assert "pip install" in result.stderr
        assert booked(tmp_path) == []
        assert previews(tmp_path) == 0
        no_traceback(result)

    @pytest.mark.parametrize(
        ("name", "words"),
        [("missing-folder/p.png", "does not exist"), ("p.xyz", "not a picture type")],
    )
    def test_bad_path(self, run: Run, tmp_path: Path, name: str, words: str) -> None:
        """A missing folder or an unknown suffix: one line, exit 2, nothing booked."""
        result = run(*PREVIEW, "--commit", "--plot", str(tmp_path / name))
        assert result.exit_code == 2, result.output
        assert words in result.stderr
        assert booked(tmp_path) == []
        no_traceback(result)


class TestBookedButOptionalStepFailed:
    """Once booked, the receipt is printed first and a later failure exits 8."""

    @pytest.mark.parametrize("as_json", [False, True])
    def test_preview_commit_plot_fails(
        self, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
    ) -> None:
        """The plot fails after the post: receipt with the order id, exit 8, one order."""

        def broken(self: AllocationResult, **kwargs: object) -> None:
            raise OSError("No space left on device")

        monkeypatch.setattr(AllocationResult, "plot", broken)
        extra = ["--json"] if as_json else []
        result = run(*PREVIEW, "--commit", "--plot", str(tmp_path / "p.png"), *extra)
        orders = booked(tmp_path)
        assert len(orders) == 1
        order_id = orders[0].order_id  # type: ignore[attr-defined]
        assert result.exit_code == EXIT_BOOKED_BUT
        if as_json:
            assert json.loads(result.stdout)["commit"]["order_id"] == order_id
        else:
            assert f"as order {order_id}" in result.stdout
        assert "booked, but the plot failed" in result.stderr
        assert "do not commit again" in result.stderr
        no_traceback(result)

    def test_demo_audit_check_fails(
        self, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The demo's audit check fails after the post: receipt, exit 8."""

        def broken(self: SQLiteAuditSink) -> None:
            raise AuditIntegrityError("injected: chain broken")

        monkeypatch.setattr(SQLiteAuditSink, "verify", broken)
        result = run("demo")
        orders = booked(tmp_path)
        assert len(orders) == 1
        assert f"as order {orders[0].order_id}" in result.stdout  # type: ignore[attr-defined]
        assert result.exit_code == EXIT_BOOKED_BUT
        assert "booked, but the audit check failed" in result.stderr
        no_traceback(result)

    def test_unexpected_error_is_one_line(self, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
        """An error that is not orderalloc's: one line on stderr, exit 1, no traceback."""

        def boom(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(cli_module.Desk, "preview", boom)
        result = run(*PREVIEW)
        assert result.exit_code == 1
        assert "RuntimeError: boom" in result.stderr
        no_traceback(result)


class TestSourceChoice:
    """--source aladdin never becomes the mock; auto says what it chose; the source is closed."""

    @pytest.mark.parametrize(
        ("env", "missing"),
        [
            ({}, "ALADDIN_HOST"),
            (
                {"ALADDIN_HOST": "h", "ALADDIN_API_KEY": "k", "ALADDIN_CLIENT_ID": "id"},
                "ALADDIN_CLIENT_SECRET",
            ),
        ],
    )
    def test_explicit_aladdin_without_credentials(
        self, run: Run, tmp_path: Path, env: dict[str, str], missing: str
    ) -> None:
        """No or half credentials: exit 4 naming the variable; nothing committed on the mock."""
        made = run(*PREVIEW)  # on the mock
        allocation_id = made.stdout.split("allocation id: ")[1].split()[0]
        result = run("commit", allocation_id, source="aladdin", env=env)
        assert result.exit_code == 4
        assert missing in result.stderr
        assert "committed" not in result.stdout
        assert booked(tmp_path) == []
        no_traceback(result)

    def test_auto_with_half_credentials_is_an_error(self, run: Run) -> None:
        """A client id without its secret under auto: an error naming it, not the mock."""
        result = run(
            "groups",
            source="auto",
            env={"ALADDIN_HOST": "h", "ALADDIN_API_KEY": "k", "ALADDIN_CLIENT_ID": "id"},
        )
        assert result.exit_code == 4
        assert "ALADDIN_CLIENT_SECRET" in result.stderr

    def test_auto_says_what_it_chose_every_time(self, run: Run) -> None:
        """Each run under auto names its source on stderr."""
        for _ in range(2):
            result = run("groups", source="auto")
            assert result.exit_code == 0
            said = " ".join(result.stderr.split())
            assert "data source: MockAladdin" in said
            assert "no ALADDIN_* credentials" in said
            assert max(map(len, result.stderr.splitlines())) <= 80

    def test_source_is_closed(self, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
        """The command closes the data source it opened, once, and builds only one."""
        built: list[Closing] = []

        class Closing(MockAladdin):
            closed = 0

            def close(self) -> None:
                self.closed += 1

        def fake_default_source(*args: object, **kwargs: object) -> MockAladdin:
            built.append(Closing())
            return built[-1]

        monkeypatch.setattr(cli_module, "default_source", fake_default_source)
        result = run("groups", source="auto")
        assert result.exit_code == 0
        assert [s.closed for s in built] == [1]
