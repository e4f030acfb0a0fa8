"""The tutorial's flow in a real Jupyter kernel: every figure shows, none is left open."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

SRC = Path(__file__).parent.parent / "src"

# (cell source, how many PNG images the cell must display)
CELLS: list[tuple[str, int]] = [
    (f"import sys; sys.path.insert(0, {str(SRC)!r})\n%matplotlib inline", 0),
    (
        "import orderalloc as oa\n"
        "from orderalloc.plot import plot_compare, plot_metric\n"
        "source = oa.MockAladdin()\n"
        "bond = source.security('037833DX5')\n"
        "group = source.accounts('PUBLICPRE', bond.id)\n"
        "buy = oa.Order(security=bond, side='BUY', quantity=100_000_000)\n"
        "pro_rata = oa.allocate(buy, group)\n"
        "result = oa.allocate(buy, group, method='min_dispersion', metric='spread_duration')\n"
        "result",
        0,
    ),
    ("result.plot(metric='spread_duration')", 1),
    ("plot_compare([pro_rata, result], metric='spread_duration')", 1),
    (
        "from IPython.display import display\n"
        "for name in ('spread_duration', 'duration', 'oas'):\n"
        "    display(result.plot(metric=name, max_accounts=5, view='accounts'))",
        3,
    ),
    (
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\n"
        "plot_metric(result, 'spread_duration', ax=ax)\n"
        "plt.show()",
        1,
    ),
    ("plt.plot([1, 2, 3])\nplt.show()", 1),
    ("import matplotlib\nprint(len(plt.get_fignums()), matplotlib.get_backend())", 0),
]


def _images(cell: object) -> int:
    return sum("image/png" in out.get("data", {}) for out in cell.outputs)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_tutorial_flow_in_a_kernel(tmp_path: Path) -> None:
    """Each plotting cell displays its figures, the result shows as HTML, nothing stays open."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source, _ in CELLS]
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    for cell, (source, expected) in zip(notebook.cells, CELLS, strict=True):
        assert _images(cell) == expected, source
    html = [o for o in notebook.cells[1].outputs if "text/html" in o.get("data", {})]
    assert html, "the result shows as HTML"
    assert "CAPPED_BY_CASH" in html[0]["data"]["text/html"]
    last = "".join(o.get("text", "") for o in notebook.cells[-1].outputs).split()
    assert last[0] == "0", "a pyplot figure was left open"
    assert "inline" in last[1], "the inline backend was switched away"
