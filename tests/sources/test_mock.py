"""MockAladdin: deterministic, realistic data and an in-memory order book."""

from __future__ import annotations

import numpy as np
import pytest

from orderalloc.errors import NotFoundError
from orderalloc.sources import DataSource, default_source, describe_source
from orderalloc.sources.mock import SCENARIOS, WELL_KNOWN, MockAladdin, OrderRejectedError
from orderalloc.sources.orders import OrderLine, OrderTicket


class TestUniverse:
    """The bond universe mixes asset classes with their trading conventions."""

    def test_well_known(self, mock: MockAladdin) -> None:
        """Each well-known id exists with its asset class and minimum piece."""
        for cls, sec in WELL_KNOWN.items():
            assert mock.security(sec).asset_class == cls
        assert mock.security(WELL_KNOWN["MUNI"]).min_piece == 5_000
        assert mock.security(WELL_KNOWN["144A"]).min_piece == 200_000
        assert mock.security(WELL_KNOWN["MBS"]).factor < 1
        assert 50 <= len(mock.bonds) <= 200

    def test_search(self, mock: MockAladdin) -> None:
        """Search matches a CUSIP prefix or a ticker, sorted and limited."""
        by_ticker = mock.search_securities("aapl")
        assert by_ticker
        assert all(s.ticker == "AAPL" for s in by_ticker)
        assert [s.id for s in mock.search_securities("0378", limit=2)] == sorted(
            s.id for s in by_ticker
        )[:2]
        assert mock.search_securities("ZZZZ") == ()

    def test_unknown(self, mock: MockAladdin) -> None:
        """Unknown securities and groups raise NotFoundError."""
        with pytest.raises(NotFoundError):
            mock.security("000000000")
        with pytest.raises(NotFoundError):
            mock.accounts("NOPE", WELL_KNOWN["TSY"])


class TestGroups:
    """Groups have the documented sizes, NAV ranges and metrics."""

    def test_sizes(self, mock: MockAladdin) -> None:
        """BIG6 has six accounts and the others 3 to 40, with NAVs in $5MM-$2BN."""
        assert {"BIG6", "DP-LB-USD", "OPNIC", "PUBLICPRE", "SMA-10K"} <= set(mock.groups())
        assert isinstance(mock, DataSource)
        for group in ("BIG6", "DP-LB-USD", "OPNIC", "PUBLICPRE"):
            table = mock.accounts(group, WELL_KNOWN["IG"])
            assert 3 <= len(table) <= 40
            assert table.nav.min() >= 5e6
            assert table.nav.max() <= 2e9
            assert {"spread_duration", "duration", "oas", "active_spread_duration"} <= set(
                table.metrics
            )
        assert len(mock.accounts("BIG6", WELL_KNOWN["IG"])) == 6

    def test_sma_group(self) -> None:
        """The SMA group has 10,000 distinct accounts with positive NAV (its speed: benchmarks/)."""
        fresh = MockAladdin(seed=1)
        table = fresh.accounts("SMA-10K", WELL_KNOWN["MUNI"])
        assert len(table) == 10_000
        assert len(set(table.ids)) == 10_000
        assert bool((table.nav > 0).all())

    def test_deterministic(self) -> None:
        """The same seed gives the same data, whatever the order of calls."""
        a, b = MockAladdin(seed=3), MockAladdin(seed=3)
        b.accounts("OPNIC", WELL_KNOWN["TSY"])
        ta, tb = a.accounts("BIG6", WELL_KNOWN["TSY"]), b.accounts("BIG6", WELL_KNOWN["TSY"])
        np.testing.assert_array_equal(ta.nav, tb.nav)
        np.testing.assert_array_equal(ta.metrics["duration"], tb.metrics["duration"])

    def test_nested(self, mock: MockAladdin) -> None:
        """OPNIC's sub-groups partition its accounts."""
        whole = mock.accounts("OPNIC", WELL_KNOWN["IG"]).ids
        parts = (
            mock.accounts("OPNIC-LIFE", WELL_KNOWN["IG"]).ids
            + mock.accounts("OPNIC-PC", WELL_KNOWN["IG"]).ids
        )
        assert parts == whole


class TestScenarios:
    """Named scenarios change the data the way their names say."""

    @pytest.mark.parametrize("scenario", SCENARIOS)
    def test_valid(self, scenario: str) -> None:
        """Every scenario builds valid tables."""
        table = MockAladdin(scenario).accounts("PUBLICPRE", WELL_KNOWN["HY"])
        assert np.all(table.cash >= 0)

    def test_effects(self) -> None:
        """Dispersion, cash, restrictions and holdings move as named."""
        sec = WELL_KNOWN["IG"]
        base = MockAladdin().accounts("SMA-10K", sec)
        wide = MockAladdin("high_dispersion").accounts("SMA-10K", sec)
        assert wide.metrics["duration"].std() > 1.5 * base.metrics["duration"].std()
        poor = MockAladdin("cash_constrained").accounts("SMA-10K", sec)
        assert np.median(poor.cash / poor.nav) < np.median(base.cash / base.nav) / 3
        blocked = MockAladdin("restricted_accounts").accounts("SMA-10K", sec)
        assert blocked.is_restricted(sec).mean() > 0.2
        held = MockAladdin("sell_down").accounts("BIG6", sec)
        assert np.all(held.holding(sec) > 0)

    def test_unknown(self) -> None:
        """An unknown scenario is refused."""
        with pytest.raises(ValueError, match="scenario"):
            MockAladdin("nope")


class TestOrders:
    """The in-memory order book supports idempotency, modify and cancel."""

    def test_life_cycle(self) -> None:
        """Post, find by external id, refuse a duplicate, modify, cancel."""
        mock = MockAladdin()
        sec = WELL_KNOWN["TSY"]
        ticket = OrderTicket(
            security_id=sec, side="BUY", lines=(OrderLine("BIG6-01", 10_000),), external_id="e1"
        )
        posted = mock.post_order(ticket)
        assert mock.find_order("e1") == posted
        assert mock.find_order("nope") is None
        with pytest.raises(OrderRejectedError):
            mock.post_order(ticket)
        bigger = OrderTicket(
            security_id=sec, side="BUY", lines=(OrderLine("BIG6-02", 20_000),), external_id="e1"
        )
        modified = mock.modify_order(posted.order_id, bigger)
        assert modified.version == 2
        assert modified.quantity == 20_000
        cancelled = mock.cancel_order(posted.order_id, "done")
        assert cancelled.status == "CANCELLED"
        with pytest.raises(OrderRejectedError):
            mock.cancel_order(posted.order_id, "again")
        with pytest.raises(NotFoundError):
            mock.get_order("1")

    def test_compliance(self) -> None:
        """The compliance_violation scenario reports blocking violations."""
        mock = MockAladdin("compliance_violation")
        lines = tuple(OrderLine(f"BIG6-0{i}", 5_000) for i in range(1, 7))
        report = mock.what_if(
            OrderTicket(security_id=WELL_KNOWN["IG"], side="BUY", lines=lines, external_id="c")
        )
        assert not report.passed
        assert {v.account_id for v in report.violations if v.rule == "ISSUER_CONC_3PCT"} == {
            "BIG6-01",
            "BIG6-04",
        }

    def test_sell_too_much(self) -> None:
        """Selling more than an account holds is a blocking violation."""
        mock = MockAladdin()
        report = mock.what_if(
            OrderTicket(
                security_id=WELL_KNOWN["IG"],
                side="SELL",
                lines=(OrderLine("BIG6-01", 1e12),),
                external_id="s",
            )
        )
        assert [v.rule for v in report.violations] == ["NO_SHORT_SALES"]


class TestDefaultSource:
    """default_source picks Aladdin only when credentials are present."""

    def test_mock_without_credentials(self, caplog: pytest.LogCaptureFixture) -> None:
        """Without credentials the mock is chosen and the choice is logged."""
        with caplog.at_level("INFO", logger="orderalloc.sources"):
            source = default_source({})
        assert isinstance(source, MockAladdin)
        assert "MockAladdin" in caplog.text
        assert "MockAladdin" in describe_source(source)

    def test_aladdin_with_credentials(self, caplog: pytest.LogCaptureFixture) -> None:
        """With credentials the client is chosen; the log shows no secret."""
        env = {
            "ALADDIN_HOST": "acme.blackrock.com",
            "ALADDIN_API_KEY": "k-SECRET-1",
            "ALADDIN_CLIENT_ID": "cid",
            "ALADDIN_CLIENT_SECRET": "s-SECRET-2",
        }
        with caplog.at_level("DEBUG"):
            source = default_source(env)
        assert describe_source(source) == "Aladdin at https://acme.blackrock.com"
        assert "SECRET" not in caplog.text
        assert "SECRET" not in repr(source)
