"""`MockAladdin`: a deterministic, in-memory `DataSource` that looks like an Aladdin shop.

Layout: ``market`` (the seeded bonds, groups and benchmarks: the read side),
``book`` (orders, executions and trades, in memory or in a shared file),
``source`` (`MockAladdin`, the order and trade system over the market, and
`AsyncMockAladdin`).

No network, no files: everything is generated from a seed with numpy, group
by group on first use (each group from its own seeded stream, so the data do
not depend on the order of calls).

Groups (`MockAladdin.groups`):

============= ========= ===========================================================
``BIG6``       6         insurance general accounts, $5MM-$2BN NAV, benchmark ``BM-AGG``
``DP-LB-USD``  23        defined-benefit long-bond mandates, benchmark ``BM-USLC``
``OPNIC``      37        two nested sub-groups ``OPNIC-LIFE`` (20) and ``OPNIC-PC`` (17),
                         benchmark ``BM-INTC``
``PUBLICPRE``  14        public pension reserves, benchmark ``BM-AGG``
``SMA-10K``    10,000    separately managed accounts ($250k-$10MM), no benchmark
============= ========= ===========================================================

plus any ``extra_groups={"SMA-500": 500}`` (SMA-like, no benchmark).

The universe holds 128 bonds: Treasuries, agencies, IG and HY corporates,
munis (5,000 minimum piece), 144A bonds (200,000 minimum piece) and
amortising agency MBS (factor below 1). One well-known id per asset class
(`WELL_KNOWN`), stable across versions for a given seed's universe:

=========== ============== ===============================================
``TSY``     ``91282CJL6``  US Treasury 4.5% 2033
``AGENCY``  ``3135G06G3``  Fannie Mae 0.5% 2025 (agency debenture)
``IG``      ``037833DX5``  Apple 2.2% 2029
``HY``      ``345370CR9``  Ford Motor 4.346% 2026
``MUNI``    ``64971XQM3``  New York City GO 5% 2036 (5,000 minimum piece)
``144A``    ``88167AAN1``  Teva 144A 3.15% 2026 (200,000 minimum piece)
``MBS``     ``3140X7G59``  Fannie Mae pool 3.5% 2050 (amortising, factor < 1)
=========== ============== ===============================================

Scenarios (``MockAladdin(scenario=...)``):

* ``"default"``: 1%-5% cash, 2% of (account, bond) pairs restricted, 144A
  bonds restricted for accounts under $25MM;
* ``"high_dispersion"``: account durations spread from 1 to 16 years;
* ``"cash_constrained"``: 60% of accounts hold 0%-0.2% cash;
* ``"restricted_accounts"``: 25% of (account, bond) pairs restricted;
* ``"sell_down"``: every account holds every well-known bond (1%-3% of NAV);
* ``"compliance_violation"``: `what_if` reports an issuer-concentration
  violation for every third account of a ticket.

Orders posted are kept in memory: `find_order` by external id, `get_order`,
`modify_order` and `cancel_order` work as on Aladdin; an order with a
blocking violation is posted in status ``COMPL_PENDING``.

Executions and trades (the `~orderalloc.sources.protocol.TradeSource`
capability): `MockAladdin.execute` records one fill, `simulate_fills` works an
order for a day (partial fills at several prices) and `allot_new_issue` gives
a new issue's allotment (5%-20% of the order), all seeded and deterministic;
`book_trade`, `find_trade` and `cancel_trade` keep block trades.
"""

from __future__ import annotations

from .book import OrderRejectedError
from .market import PRICING_PORTFOLIO as PRICING_PORTFOLIO
from .market import ROOT_GROUP as ROOT_GROUP
from .market import SCENARIOS, WELL_KNOWN, Bond, GroupData
from .source import AsyncMockAladdin, MockAladdin

__all__ = [
    "SCENARIOS",
    "WELL_KNOWN",
    "AsyncMockAladdin",
    "Bond",
    "GroupData",
    "MockAladdin",
    "OrderRejectedError",
]
