"""Pictures of an allocation: Figures that leave matplotlib alone, and say what they show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import orderalloc as oa

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure

from orderalloc.plot import (
    REASON_COLOURS,
    plot_amounts,
    plot_compare,
    plot_metric,
    plot_result,
)

IG = "037833DX5"


@pytest.fixture(name="source", scope="module")
def _source() -> oa.MockAladdin:
    return oa.MockAladdin()


@pytest.fixture(name="result", scope="module")
def _result(source: oa.MockAladdin) -> oa.AllocationResult:
    bond = source.security(IG)
    order = oa.Order(security=bond, side="BUY", quantity=25_000_000)
    return oa.allocate(
        order, source.accounts("DP-LB-USD", bond.id), method="min_dispersion", seed=1
    )


@pytest.fixture(name="pro_rata", scope="module")
def _pro_rata(source: oa.MockAladdin) -> oa.AllocationResult:
    bond = source.security(IG)
    order = oa.Order(security=bond, side="BUY", quantity=25_000_000)
    return oa.allocate(order, source.accounts("DP-LB-USD", bond.id), method="pro_rata", seed=1)


@pytest.fixture(name="big", scope="module")
def _big(source: oa.MockAladdin) -> oa.AllocationResult:
    bond = source.security(IG)
    order = oa.Order(security=bond, side="BUY", quantity=50_000_000)
    return oa.allocate(order, source.accounts("SMA-10K", bond.id), method="min_dispersion")


def _titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


class TestMatplotlibState:
    """The module leaves matplotlib's backend and pyplot's figure list alone."""

    def test_import_keeps_the_backend(self) -> None:
        """Importing orderalloc.plot after choosing a backend keeps that backend."""
        code = (
            "import matplotlib; matplotlib.use('svg'); import orderalloc.plot; "
            "print(matplotlib.get_backend())"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip().lower() == "svg"

    def test_no_pyplot_figure_left_open(self, result: oa.AllocationResult) -> None:
        """Ten pictures leave pyplot's list of open figures as it was."""
        import matplotlib.pyplot as plt

        before = plt.get_fignums()
        figures = [result.plot(metric="spread_duration") for _ in range(10)]
        assert plt.get_fignums() == before
        assert all(isinstance(f, Figure) for f in figures)

    def test_ax_draws_into_the_callers_axes(self, result: oa.AllocationResult) -> None:
        """With ax=, the picture lands in the caller's axes and returns their figure."""
        fig = Figure()
        ax = fig.add_subplot()
        assert plot_metric(result, "spread_duration", ax=ax) is fig
        assert len(fig.axes) == 1
        assert ax.get_title().startswith("spread_duration")

    def test_writes_a_png(self, result: oa.AllocationResult, tmp_path: Path) -> None:
        """path= writes a PNG file."""
        path = tmp_path / "alloc.png"
        result.plot(path=path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class TestWhatIsDrawn:
    """The numbers on the picture are the result's numbers, named."""

    def test_one_panel_per_metric_and_the_amounts(self, result: oa.AllocationResult) -> None:
        """The overview has a panel per metric the trade moves, then the amounts."""
        fig = result.plot()
        assert len(fig.axes) == len(result.post_metrics) + 1
        for title, name in zip(_titles(fig), result.post_metrics, strict=False):
            assert title.startswith(name)

    def test_every_metric_panel_names_its_weighting(self, result: oa.AllocationResult) -> None:
        """Each metric panel says NAV-weighted, the weighting of the dispersion summary."""
        fig = result.plot()
        assert all("NAV-weighted" in t for t in _titles(fig)[:-1])

    def test_mean_line_is_the_weighted_mean(self, result: oa.AllocationResult) -> None:
        """The 'mean after' line sits at the NAV-weighted mean of the metric after."""
        fig = plot_metric(result, "spread_duration", view="accounts")
        line = next(ln for ln in fig.axes[0].lines if "mean after" in str(ln.get_label()))
        assert result.nav is not None
        expected = np.average(result.post_metrics["spread_duration"], weights=result.nav)
        np.testing.assert_allclose(line.get_ydata()[0], expected)

    def test_max_accounts_is_forwarded_and_said(self, result: oa.AllocationResult) -> None:
        """result.plot(max_accounts=5, view='accounts') draws 5 accounts and says so."""
        fig = result.plot(metric="spread_duration", max_accounts=5, view="accounts")
        top = fig.axes[0]
        assert len(top.get_xticklabels()) == 5
        assert f"largest 5 allocations of {len(result)} accounts" in top.get_title()

    def test_large_group_is_a_histogram(self, big: oa.AllocationResult) -> None:
        """10,000 accounts are drawn as distributions and counts by reason, all of them."""
        fig = big.plot(metric="spread_duration")
        top, bottom = fig.axes
        assert "10,000 accounts" in top.get_title()
        counted = sum(p.get_height() for p in top.patches[:40])  # the 'after' histogram
        assert counted == len(big)
        bar_total = sum(p.get_width() for p in bottom.patches)
        assert bar_total == len(big)

    def test_face_in_millions_and_sold_on_sells(self, source: oa.MockAladdin) -> None:
        """A sell's amounts read 'face sold (mm)' with bar heights in millions."""
        bond = source.security(IG)
        order = oa.Order(security=bond, side="SELL", quantity=3_000_000)
        sell = oa.allocate(order, source.accounts("DP-LB-USD", bond.id), method="pro_rata")
        fig = plot_amounts(sell, view="accounts")
        ax = fig.axes[0]
        assert ax.get_ylabel() == "face sold (mm)"
        heights = sorted(p.get_height() for p in ax.patches)
        np.testing.assert_allclose(heights, sorted(sell.quantity / 1e6))

    def test_pct_of_nav(self, result: oa.AllocationResult) -> None:
        """unit='pct_nav' draws market value over NAV, in percent."""
        fig = plot_amounts(result, unit="pct_nav", view="accounts")
        assert result.nav is not None
        expected = 100 * result.quantity * result.order.security.cash_per_face / result.nav
        np.testing.assert_allclose(
            sorted(p.get_height() for p in fig.axes[0].patches), sorted(expected)
        )

    def test_bars_coloured_by_reason(self, result: oa.AllocationResult) -> None:
        """Each reason present appears in the legend in its own colour."""
        fig = plot_amounts(result, view="accounts")
        legend = fig.axes[0].get_legend()
        labels = [t.get_text() for t in legend.get_texts()]
        present = {oa.Reason.from_code(int(c)) for c in result.reason_codes}
        assert sorted(labels) == sorted(r.value.lower().replace("_", " ") for r in present)
        restricted = [
            h.get_facecolor() for h, t in zip(legend.legend_handles, labels, strict=True)
        ][labels.index("restricted")]
        from matplotlib.colors import to_rgba

        assert restricted == to_rgba(REASON_COLOURS[oa.Reason.RESTRICTED])

    def test_relative_is_distance_from_the_mean(self, result: oa.AllocationResult) -> None:
        """relative=True draws metric minus the NAV-weighted mean, before and after."""
        fig = plot_metric(result, "spread_duration", relative=True, view="accounts")
        after = fig.axes[0].collections[-1].get_offsets()[:, 1]
        values = result.post_metrics["spread_duration"]
        assert result.nav is not None
        centred = values - np.average(values, weights=result.nav)
        np.testing.assert_allclose(sorted(after), sorted(centred))


class TestCompare:
    """Pro-rata and min dispersion side by side on one weighting."""

    def test_side_by_side(self, pro_rata: oa.AllocationResult, result: oa.AllocationResult) -> None:
        """Two results give two columns (distance, amounts) sharing their y scales."""
        fig = plot_compare([pro_rata, result], metric="spread_duration")
        assert len(fig.axes) == 4
        assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim()
        assert "pro_rata" in fig.axes[0].get_title()
        assert "min_dispersion" in fig.axes[1].get_title()

    def test_same_before_for_both_methods(
        self, pro_rata: oa.AllocationResult, result: oa.AllocationResult
    ) -> None:
        """Both methods report the same NAV-weighted dispersion before the trade."""
        a, b = pro_rata.dispersion["spread_duration"], result.dispersion["spread_duration"]
        assert a.weighting == b.weighting == "nav"
        np.testing.assert_allclose(a.std_before, b.std_before)

    def test_different_weightings_refused(
        self, source: oa.MockAladdin, pro_rata: oa.AllocationResult
    ) -> None:
        """An equally-weighted result is not drawn beside a NAV-weighted one."""
        bond = source.security(IG)
        order = oa.Order(security=bond, side="BUY", quantity=25_000_000)
        equal = oa.allocate(
            order,
            source.accounts("DP-LB-USD", bond.id),
            method="min_dispersion",
            weighting="equal",
        )
        with pytest.raises(oa.InvalidParameterError, match="weightings"):
            plot_compare([pro_rata, equal])


class TestErrors:
    """Bad arguments name themselves."""

    def test_unknown_metric(self, result: oa.AllocationResult) -> None:
        """Asking for a metric the result does not hold names the ones it has."""
        with pytest.raises(oa.InvalidParameterError, match="spread_duration"):
            result.plot(metric="beta")

    def test_unknown_view(self, result: oa.AllocationResult) -> None:
        """An unknown view is refused, naming the choices."""
        with pytest.raises(oa.InvalidParameterError, match="histogram"):
            plot_result(result, view="pie")  # type: ignore[arg-type]
