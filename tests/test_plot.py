"""Pictures of an allocation."""

from __future__ import annotations

from pathlib import Path

import pytest

import orderalloc as oa

pytest.importorskip("matplotlib")


@pytest.fixture(name="result")
def _result() -> oa.AllocationResult:
    source = oa.MockAladdin()
    bond = source.security("037833DX5")
    order = oa.Order(security=bond, side="BUY", quantity=25_000_000)
    return oa.allocate(order, source.accounts("DP-LB-USD", bond.id), method="min_dispersion")


class TestPlot:
    """result.plot draws the metric before and after."""

    def test_writes_a_png(self, result: oa.AllocationResult, tmp_path: Path) -> None:
        """A PNG file is written with one point per account before and after."""
        path = tmp_path / "alloc.png"
        fig = result.plot(path=str(path))
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        top = fig.axes[0]
        # Two scatter series (before, after), one point per account each.
        offsets = [c.get_offsets() for c in top.collections]
        assert [len(o) for o in offsets[:2]] == [len(result), len(result)]

    def test_unknown_metric(self, result: oa.AllocationResult) -> None:
        """Asking for a metric the result does not hold names the ones it has."""
        with pytest.raises(ValueError, match="spread_duration"):
            result.plot(metric="beta")
