"""Invariants: fill rates in [0, 1], and nothing depends on event order or account labels."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pytest
from _year import trade_year, trading_days
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderalloc.audit import AuditEvent
from orderalloc.fairness import FairnessReport, analyse_fairness
from orderalloc.testing.recording import RecordingSink

DAYS = trading_days(dt.date(2024, 9, 2), 24)
SLOW = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
# Each example re-reads a 24-order trail (relabelling also rebuilds every event):
# a fraction of the profile's examples keeps the default run near 10 s each
# (tests: 50 and 25 examples; ci: 250 and 125).
QUARTER = settings(
    max_examples=max(6, settings.default.max_examples // 4),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
EIGHTH = settings(
    max_examples=max(4, settings.default.max_examples // 8),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(name="trail", scope="module")
def _trail() -> tuple[list[AuditEvent], dict[str, float], tuple[str, ...]]:
    """24 desk orders in the 23-account group: events, next-day prices, account ids."""
    desk, _, later = trade_year(group="DP-LB-USD", days=DAYS, seed=31, new_issue_every=3)
    events = list(desk.sink.events())
    ids = sorted({a for e in events for a in e.account_ids})
    return events, later, tuple(ids)


def _analyse(events: list[AuditEvent], later: dict[str, float], **kw: object) -> FairnessReport:
    sink = RecordingSink()
    sink.append(events)
    return analyse_fairness(sink, "DP-LB-USD", prices=later, permutations=199, seed=5, **kw)  # type: ignore[arg-type]


def _relabel(event: AuditEvent, mapping: dict[str, str]) -> AuditEvent:
    """The event with every account id renamed (payload, ledgers and index alike)."""
    pattern = re.compile("|".join(re.escape(f'"{a}"') for a in mapping))

    def swap(text: str) -> str:
        return pattern.sub(lambda m: f'"{mapping[m.group(0)[1:-1]]}"', text)

    return AuditEvent(
        allocation_id=event.allocation_id,
        kind=event.kind,
        actor=event.actor,
        payload=json.loads(swap(event.payload_json())),
        at=event.at,
        event_id=event.event_id,
        account_ids=[mapping.get(a, a) for a in event.account_ids],
        security_id=event.security_id,
        order_id=event.order_id,
    )


class TestInvariants:
    """Properties every report keeps, on a real desk trail."""

    @QUARTER
    @given(data=st.data())
    def test_event_order_does_not_matter(
        self,
        trail: tuple[list[AuditEvent], dict[str, float], tuple[str, ...]],
        data: st.DataObject,
    ) -> None:
        """The same events appended in any order give the same report."""
        events, later, _ = trail
        shuffled = data.draw(st.permutations(events))
        want = _analyse(events, later).records()
        assert _analyse(list(shuffled), later).records() == want

    @EIGHTH
    @given(data=st.data())
    def test_account_labels_do_not_matter(
        self,
        trail: tuple[list[AuditEvent], dict[str, float], tuple[str, ...]],
        data: st.DataObject,
    ) -> None:
        """Permuting the accounts' ids permutes the summary rows and changes nothing else."""
        events, later, ids = trail
        new = data.draw(st.permutations(ids))
        mapping = dict(zip(ids, new, strict=True))
        before = _analyse(events, later).columns()
        after = _analyse([_relabel(e, mapping) for e in events], later).columns()
        row = {a: i for i, a in enumerate(after["account_id"])}
        take = [row[mapping[a]] for a in before["account_id"]]
        for key, column in before.items():
            if key == "account_id":
                continue
            np.testing.assert_allclose(
                np.asarray(after[key], dtype=float)[take],
                np.asarray(column, dtype=float),
                rtol=1e-9,
                atol=1e-6,
                err_msg=key,
            )

    @SLOW
    @given(
        start=st.integers(min_value=0, max_value=len(DAYS) - 1),
        length=st.integers(min_value=1, max_value=len(DAYS)),
    )
    def test_rates_in_range_for_any_period(
        self,
        trail: tuple[list[AuditEvent], dict[str, float], tuple[str, ...]],
        start: int,
        length: int,
    ) -> None:
        """Any period: fill rates in [0, 1], zero fills <= partial fills <= orders, p in (0, 1]."""
        events, later, _ = trail
        until = DAYS[min(start + length, len(DAYS) - 1)] + dt.timedelta(days=1)
        report = _analyse(events, later, since=DAYS[start], until=until)
        cols = report.columns()
        rate = np.asarray(cols["fill_rate"], dtype=float)
        rate = rate[~np.isnan(rate)]
        assert np.all((rate >= 0) & (rate <= 1 + 1e-12))
        assert np.all(cols["zero_fills"] <= cols["partial_orders"])
        assert np.all(cols["partial_orders"] <= cols["orders"])
        p = np.asarray(cols["p_value"], dtype=float)
        p = p[~np.isnan(p)]
        assert np.all((p > 0) & (p <= 1))
        holm = np.asarray(cols["p_holm"], dtype=float)
        assert np.all(holm[~np.isnan(holm)] >= p - 1e-12)
        np.testing.assert_allclose(
            np.sum(cols["filled"]), float(np.sum(report.trail.placed)), rtol=1e-12
        )
