"""The README's first Python example gives the answer the README shows."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_first_example_runs_and_matches_its_comments() -> None:
    """The pro-rata example returns the quantities and leftover its comments state."""
    text = README.read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    result = namespace["result"]
    assert result.quantities == {"ACC001": 5_076_000.0, "ACC002": 0.0}  # type: ignore[attr-defined]
    assert result.unallocated == 4_924_000.0  # type: ignore[attr-defined]
    assert any("unallocated" in w for w in result.warnings)  # type: ignore[attr-defined]


def test_commands_are_the_ones_ci_runs() -> None:
    """The README's test command is the one .ci/run runs."""
    ci = (README.parent / ".ci" / "run").read_text()
    command = (
        'python3 -m venv .nox-venv && .nox-venv/bin/pip install "nox[uv]>=2025.2.9" '
        "&& .nox-venv/bin/nox -s tests"
    )
    assert command in README.read_text()
    assert command in ci.splitlines()


def test_test_command_needs_no_system_pip() -> None:
    """The test command never runs pip on the system Python (PEP 668 refuses it)."""
    text = README.read_text() + (README.parent / ".ci" / "run").read_text()
    assert "python3 -m pip install" not in text
