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
    assert "python3 -m nox -s tests" in README.read_text()
    assert "python3 -m nox -s tests" in ci
