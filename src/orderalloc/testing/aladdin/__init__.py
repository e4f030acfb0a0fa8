"""An Aladdin look-alike for tests: serves a `MockAladdin`'s data in the published shapes.

`AladdinMockHandler` answers the requests `AladdinClient` sends (PortfolioGroupAPI,
CashLadderAPI, Positions v1, Security Analytics v2, Security Master v1,
AccountInfoAPI, RestrictedAssetAPI, OrderAPI, TradeAPI, the OAuth 2.0 token
endpoint)
from a `~orderalloc.sources.mock.MockAladdin`. Use it two ways:

* in-process: ``httpx.Client(transport=httpx.MockTransport(handler))``;
* over real HTTP on 127.0.0.1: ``with serve(handler) as server: ... server.url``.

It checks every request the way Aladdin would: the ``VND.com.blackrock.*``
headers (a UUID4 request id, an ISO-8601 UTC timestamp, the API key), the
credentials, and, with ``validate=True``, every JSON body against the swagger
schema of its operation (``$ref`` resolved within the file; unknown and
read-only fields refused). Problems are answered with 400 / 401 and listed in
`AladdinMockHandler.problems`. Faults are injected from a seeded `FaultPlan`
(429 with ``Retry-After``, 503, slow answers, malformed JSON) or scripted one
by one (`AladdinMockHandler.script`); tokens can be expired at will.

``jsonschema`` is imported only when validation is on.

Layout: ``schema`` (the published operations and their validators, read from
the swagger files), ``replies`` (`Reply`, `RequestRecord`), ``faults``
(`FaultPlan`, scripted faults), ``render`` (mock data as Aladdin JSON),
``routes`` (the endpoints), ``handler`` (`AladdinMockHandler`: checks, faults,
routing), ``server`` (`serve`, `LoopbackServer`). Paths, headers and limits
come from the public `orderalloc.sources.aladdin.wire`, as the client's do.

Example::

    mock = MockAladdin(extra_groups={"SMA-500": 500})
    handler = AladdinMockHandler(mock, faults=FaultPlan(rate=0.2, seed=1))
    with serve(handler) as server:
        config = handler.config(server.url, rate_limit=6000)
        with AladdinClient(config) as client:
            table = client.accounts("SMA-500", WELL_KNOWN["IG"])
"""

from __future__ import annotations

from .faults import FaultPlan
from .handler import AladdinMockHandler
from .render import STREET_PORTFOLIO as STREET_PORTFOLIO
from .replies import Reply, RequestRecord
from .server import LoopbackServer, serve

__all__ = [
    "AladdinMockHandler",
    "FaultPlan",
    "LoopbackServer",
    "Reply",
    "RequestRecord",
    "serve",
]
