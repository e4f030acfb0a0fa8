"""The benchmark campaign's scenarios: seeded, distinct, allocatable; gaps never beat a bound."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import orderalloc as oa

BENCH = Path(__file__).parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import campaign  # noqa: E402


def test_scenarios_are_seeded_and_distinct() -> None:
    """Scenario k is the same on every call and 200 scenarios have 200 fingerprints."""
    first = [campaign.make_scenario(1, k, 40, None) for k in range(200)]
    again = campaign.make_scenario(1, 17, 40, None)
    assert campaign.fingerprint(*again) == campaign.fingerprint(*first[17])
    assert len({campaign.fingerprint(o, t) for o, t in first}) == 200


def test_every_scenario_has_something_to_allocate() -> None:
    """Pro-rata places face in each of 40 scenarios (orders are sized to capacity)."""
    for k in range(40):
        order, table = campaign.make_scenario(3, k, 20, None)
        assert oa.allocate(order, table).allocated > 0, k


@pytest.mark.slow
def test_no_comparable_run_beats_the_optimum() -> None:
    """On 15 small scenarios, every gap shown is >= -1e-9 and SLSQP covers every scenario."""
    rows = [row for k in range(15) for row in campaign._task((5, k, 12, None))]
    gaps = np.array([r["gap"] for r in rows if not r["failed"]], dtype=float)
    assert np.all(gaps[np.isfinite(gaps)] >= campaign.BELOW_OPTIMUM)
    slsqp = {r["scenario"] for r in rows if r["method"] == "min_dispersion/slsqp"}
    assert slsqp == set(range(15))


def test_default_out_leaves_tracked_results_alone(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Without --out the campaign writes under ./campaign-out, not benchmarks/results."""
    monkeypatch.chdir(tmp_path)
    campaign.main(["--scenarios", "2", "--max-accounts", "4", "--no-plot"])
    assert (tmp_path / "campaign-out" / "campaign.md").exists()
