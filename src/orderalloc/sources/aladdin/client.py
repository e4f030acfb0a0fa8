"""`AladdinClient` (``httpx.Client``) and `AsyncAladdinClient` (``httpx.AsyncClient``).

Both implement the data-source Protocols on BlackRock's published Aladdin
APIs. They share every plan (`.plans`), mapping (`.mapping`) and transport rule
(`.transport`); only the I/O differs, here. Each call:

* waits for the client-wide rate limiter (all threads together), and only
  then is stamped and authorised, so that neither is stale when it leaves:
* carries a fresh ``VND.com.blackrock.Request-ID`` (UUID4), the
  ``VND.com.blackrock.Origin-Timestamp`` and the ``VND.com.blackrock.API-Key``;
* authenticates with an OAuth 2.0 client-credentials token (cached, refreshed
  before it expires and once on a 401) or HTTP Basic;
* for a read: is served from the TTL cache when possible (``fresh=True``
  skips it) and retried on 429 / 500 / 502 / 503 / 504, connection errors,
  timeouts and non-JSON answers, with exponential backoff and jitter that
  honours ``Retry-After``, within ``max_attempts`` and ``max_retry_time``;
* for a write (post, modify, cancel): is sent again only if it never left the
  client. Any later failure raises `AladdinOutcomeUnknownError`.

Mapping of the Protocol onto the APIs:

============================ ====================================================================
``groups``                   PortfolioGroupAPI ``members`` of ``root_group`` (or ``config.groups``)
``accounts``                 PortfolioGroupAPI ``members`` (nested groups expanded), CashLadderAPI
                             ``ladders:filter`` (NAV, cash), Positions v1 (``SOD+Trades+Orders``:
                             holdings and per-position analytics), AccountInfoAPI
                             ``accountInfos:filter`` (names), RestrictedAssetAPI
                             ``restrictedAssets:filter`` (by CUSIP), benchmark positions
``security`` / ``search``    Positions v1 of ``pricing_group`` (price, factor, trade sizes),
                             Security Analytics v2, Security Master v1
``what_if``                  OrderAPI ``order:post`` with ``postOrderConfig.whatIf = true``
``post_order``               OrderAPI ``order:post``
``modify_order``             OrderAPI ``order:post`` with the order ``id`` (an update)
``find_order``               OrderAPI ``orders:filter`` by ``externalIdCriterion``
``get_order``                OrderAPI ``orders:filter`` by ``orderIdCriterion``
``cancel_order``             OrderAPI ``order:cancel``
``post_orders``              OrderAPI ``orders:batchPost`` (<= 1,000 per request), then
                             ``longrunningoperations/{id}`` until done
``fills``                    OrderAPI ``orders:filter`` (``fillAmount``, ``averagePrice``,
                             ``tradeDate``), TradeAPI ``trades:filter`` (the order's blocks)
``book_trade``               TradeAPI ``trades:batchPost`` (one block, its per-portfolio
                             trades), then ``longrunningoperations/{id}`` until done
``find_trade``               TradeAPI ``trades:filter`` by asset and trade date, matched on
                             ``externalTradeReferences[].externalInvnum1``
``cancel_trade``             TradeAPI ``trades:cancel`` with ``cancelEntireBlock``
============================ ====================================================================
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
import tenacity

from orderalloc._model import AccountTable, Security
from orderalloc.sources.orders import OrderTicket, PostedOrder, WhatIfReport
from orderalloc.sources.trades import BookedTrade, Execution, TradeTicket

from ..._closing import Closing
from .config import AladdinConfig
from .errors import AladdinResponseError
from .plans import Plan, Plans, Sleep, Step
from .transport import TOKEN_CALL, Answered, Call, NotSentError, Token, Transport, retry_kwargs

__all__ = ["AladdinClient", "AsyncAladdinClient"]

T = TypeVar("T")


def fill_context(exc: AladdinResponseError, answers: Sequence[Answered]) -> None:
    """Name the request(s) and status behind a shape error raised while structuring.

    Plans structure answers without their headers; the driver knows which
    answers the plan had just received: the ones for the error's path.
    """
    if exc.request_id is not None:
        return
    mine = [a for a in answers if a.path == exc.path] or list(answers)
    ids = [a.request_id for a in mine if a.request_id is not None]
    if ids:
        exc.request_id = ", ".join(dict.fromkeys(ids))
    statuses = {a.status for a in mine if a.status is not None}
    if exc.status is None and len(statuses) == 1:
        exc.status = statuses.pop()


def _calls(step: Call | list[Call]) -> list[Call]:
    return step if isinstance(step, list) else [step]


def _send_back(step: Step, answers: list[Answered]) -> Any:
    """What the plan receives for *step*: nothing, a list of answers, or one answer."""
    if isinstance(step, Sleep):
        return None
    if isinstance(step, list):
        return [a.data for a in answers]
    return answers[0].data


class _AladdinBase(Transport):
    """What both clients share beyond the transport: their plans and how they read."""

    def __init__(self, config: AladdinConfig) -> None:
        super().__init__(config)
        self._plans = Plans(config)

    def __repr__(self) -> str:
        auth = "oauth2" if self.config.oauth else "basic"
        return f"{type(self).__name__}(base_url={self.config.base_url!r}, auth={auth!r})"

    @property
    def description(self) -> str:
        """A one-line, secret-free description of where the data comes from."""
        return f"Aladdin at {self.config.base_url}"

    @property
    def positions_include_open_orders(self) -> bool:
        """Whether holdings count open orders (``posType`` ``SOD+Trades+Orders``, the default).

        The desk reads it when it re-allocates a live order (`Desk.modify`): the
        order's own lines are then taken out of the holdings first, so they are
        not counted twice.
        """
        return "Orders" in self.config.pos_type

    def _feed(self, plan: Plan[T], step: Step, answers: list[Answered]) -> Step:
        """Send *step*'s answers to *plan*; a shape error names the requests behind it."""
        try:
            return plan.send(_send_back(step, answers))
        except AladdinResponseError as exc:
            fill_context(exc, answers)
            raise


class AladdinClient(_AladdinBase, Closing):
    """A synchronous `~orderalloc.sources.DataSource` backed by Aladdin.

    Thread-safe: one client may serve many threads; the rate limit, token and
    cache are shared.

    Args:
        config: Where and how to connect (see `AladdinConfig`).
        client: An ``httpx.Client`` to use (its lifetime stays yours).
        transport: An ``httpx`` transport for a client the instance creates
            (tests pass ``httpx.MockTransport``).

    Example::

        with AladdinClient(AladdinConfig.from_env()) as aladdin:
            table = aladdin.accounts("BIG6", "91282CJL6")
    """

    def __init__(
        self,
        config: AladdinConfig,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(config)
        self._owns_client = client is None
        self._client = client or httpx.Client(transport=transport, timeout=config.timeout)
        self._token_lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._owns_client:
            self._client.close()

    # --- the Protocol -------------------------------------------------------------------

    def groups(self, *, fresh: bool = False) -> tuple[str, ...]:
        """See `DataSource.groups`; *fresh* skips the cache."""
        return self._run(self._plans.groups(fresh))

    def accounts(self, group: str, security_id: str, *, fresh: bool = False) -> AccountTable:
        """See `DataSource.accounts`; *fresh* skips the cache."""
        return self._run(self._plans.accounts(group, security_id, fresh))

    def security(self, security_id: str, *, fresh: bool = False) -> Security:
        """See `DataSource.security`; *fresh* skips the cache."""
        return self._run(self._plans.security(security_id, fresh))

    def search_securities(
        self, query: str, *, limit: int = 20, fresh: bool = False
    ) -> tuple[Security, ...]:
        """See `DataSource.search_securities`; *fresh* skips the cache."""
        return self._run(self._plans.search(query, limit, fresh))

    def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        """See `DataSource.what_if` (``order:post`` with ``whatIf``; retried like a read)."""
        return self._run(self._plans.what_if(ticket))

    def post_order(self, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.post_order` (never re-sent once it left the client)."""
        return self._run(self._plans.post(ticket))

    def post_orders(self, tickets: Sequence[OrderTicket]) -> tuple[PostedOrder, ...]:
        """Post many orders with ``orders:batchPost`` (1,000 a request); wait for each operation.

        Raises:
            AladdinOperationTimeoutError: An operation was not done within
                ``config.lro_timeout``.
        """
        return self._run(self._plans.post_many(tickets))

    def find_order(self, external_id: str) -> PostedOrder | None:
        """See `DataSource.find_order` (needs ``config.account_code``)."""
        return self._run(self._plans.find(external_id))

    def get_order(self, order_id: str) -> PostedOrder:
        """See `DataSource.get_order`."""
        return self._run(self._plans.get(order_id))

    def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.modify_order` (``order:post`` with the order's id)."""
        return self._run(self._plans.post(ticket, order_id))

    def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        """See `DataSource.cancel_order`."""
        return self._run(self._plans.cancel(order_id, reason))

    # --- trades (`TradeSource`) --------------------------------------------------------

    def fills(self, order_id: str) -> tuple[Execution, ...]:
        """See `TradeSource.fills` (the order's ``fillAmount``, ``trades:filter``)."""
        return self._run(self._plans.fills(order_id))

    def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        """See `TradeSource.book_trade` (``trades:batchPost``; never re-sent once it left)."""
        return self._run(self._plans.book(ticket))

    def find_trade(self, ticket: TradeTicket) -> BookedTrade | None:
        """See `TradeSource.find_trade` (``trades:filter`` by asset and trade date)."""
        return self._run(self._plans.find_trade(ticket))

    def cancel_trade(self, trade: BookedTrade) -> BookedTrade:
        """See `TradeSource.cancel_trade` (``trades:cancel`` of the entire block)."""
        return self._run(self._plans.cancel_trade(trade))

    # --- the driver ---------------------------------------------------------------------

    def _run(self, plan: Plan[T]) -> T:
        """Drive *plan* to its end; close it in ``finally`` (its clean-up runs on any error)."""
        try:
            step = next(plan)
            while True:
                answers: list[Answered] = []
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                else:
                    answers = [self._exchange(call) for call in _calls(step)]
                step = self._feed(plan, step, answers)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            plan.close()

    def _exchange(self, call: Call) -> Answered:
        cached = self._cached(call)
        if cached is not None:
            return cached
        try:
            answered = tenacity.Retrying(**retry_kwargs(self.config, call, self.stats))(
                self._attempt, call
            )
        except NotSentError as exc:
            raise exc.error from None
        return self._keep(call, answered)

    def _ensure_token(self, stale: Token | None = None) -> None:
        if not self.config.oauth:
            return
        with self._token_lock:
            if not self._token_stale(stale):
                return
            self._limiter.acquire()  # before stamping the token request too
            request, request_id = self._token_request(self._client)
            try:
                response = self._client.send(request)
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, TOKEN_CALL, request_id) from None
            self._token = self._parse_token(response, request_id)

    def _attempt(self, call: Call) -> Answered:
        refreshed = False
        while True:
            # The slot first, then the token and the Origin-Timestamp: under load
            # the wait can be long, and both must be fresh when the request leaves.
            self._limiter.acquire()
            self._ensure_token()
            token = self._token
            request, request_id = self._request(self._client, call)
            start = time.monotonic()
            try:
                response = self._client.send(request)
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, call, request_id) from None
            answered = self._answer(call, response, request_id, start, refreshed)
            if answered is not None:
                return answered
            refreshed = True
            self._ensure_token(stale=token)


class AsyncAladdinClient(_AladdinBase):
    """The ``async`` twin of `AladdinClient`: an `~orderalloc.sources.AsyncDataSource`.

    Independent requests of one call (cash-ladder and positions chunks) run
    concurrently, paced by the same rate limiter.

    Args:
        config: Where and how to connect (see `AladdinConfig`).
        client: An ``httpx.AsyncClient`` to use (its lifetime stays yours).
        transport: An async ``httpx`` transport for a client the instance creates.
    """

    def __init__(
        self,
        config: AladdinConfig,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(config)
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(transport=transport, timeout=config.timeout)
        self._token_lock: asyncio.Lock | None = None

    async def aclose(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncAladdinClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- the Protocol -------------------------------------------------------------------

    async def groups(self, *, fresh: bool = False) -> tuple[str, ...]:
        """See `DataSource.groups`; *fresh* skips the cache."""
        return await self._run(self._plans.groups(fresh))

    async def accounts(self, group: str, security_id: str, *, fresh: bool = False) -> AccountTable:
        """See `DataSource.accounts`; *fresh* skips the cache."""
        return await self._run(self._plans.accounts(group, security_id, fresh))

    async def security(self, security_id: str, *, fresh: bool = False) -> Security:
        """See `DataSource.security`; *fresh* skips the cache."""
        return await self._run(self._plans.security(security_id, fresh))

    async def search_securities(
        self, query: str, *, limit: int = 20, fresh: bool = False
    ) -> tuple[Security, ...]:
        """See `DataSource.search_securities`; *fresh* skips the cache."""
        return await self._run(self._plans.search(query, limit, fresh))

    async def what_if(self, ticket: OrderTicket) -> WhatIfReport:
        """See `DataSource.what_if`."""
        return await self._run(self._plans.what_if(ticket))

    async def post_order(self, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.post_order`."""
        return await self._run(self._plans.post(ticket))

    async def post_orders(self, tickets: Sequence[OrderTicket]) -> tuple[PostedOrder, ...]:
        """See `AladdinClient.post_orders`."""
        return await self._run(self._plans.post_many(tickets))

    async def find_order(self, external_id: str) -> PostedOrder | None:
        """See `DataSource.find_order`."""
        return await self._run(self._plans.find(external_id))

    async def get_order(self, order_id: str) -> PostedOrder:
        """See `DataSource.get_order`."""
        return await self._run(self._plans.get(order_id))

    async def modify_order(self, order_id: str, ticket: OrderTicket) -> PostedOrder:
        """See `DataSource.modify_order`."""
        return await self._run(self._plans.post(ticket, order_id))

    async def cancel_order(self, order_id: str, reason: str) -> PostedOrder:
        """See `DataSource.cancel_order`."""
        return await self._run(self._plans.cancel(order_id, reason))

    # --- trades (`AsyncTradeSource`) ---------------------------------------------------

    async def fills(self, order_id: str) -> tuple[Execution, ...]:
        """See `TradeSource.fills`."""
        return await self._run(self._plans.fills(order_id))

    async def book_trade(self, ticket: TradeTicket) -> BookedTrade:
        """See `TradeSource.book_trade`."""
        return await self._run(self._plans.book(ticket))

    async def find_trade(self, ticket: TradeTicket) -> BookedTrade | None:
        """See `TradeSource.find_trade`."""
        return await self._run(self._plans.find_trade(ticket))

    async def cancel_trade(self, trade: BookedTrade) -> BookedTrade:
        """See `TradeSource.cancel_trade`."""
        return await self._run(self._plans.cancel_trade(trade))

    # --- the driver ---------------------------------------------------------------------

    async def _run(self, plan: Plan[T]) -> T:
        """Drive *plan* to its end; close it in ``finally`` (its clean-up runs on any error)."""
        try:
            step = next(plan)
            while True:
                answers: list[Answered] = []
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                else:
                    answers = list(await asyncio.gather(*map(self._exchange, _calls(step))))
                step = self._feed(plan, step, answers)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            plan.close()

    async def _exchange(self, call: Call) -> Answered:
        cached = self._cached(call)
        if cached is not None:
            return cached
        try:
            answered: Answered = await tenacity.AsyncRetrying(
                **retry_kwargs(self.config, call, self.stats)
            )(self._attempt, call)
        except NotSentError as exc:
            raise exc.error from None
        return self._keep(call, answered)

    async def _pace(self) -> None:
        while (wait := self._limiter.try_acquire()) > 0:
            await asyncio.sleep(wait)

    async def _ensure_token(self, stale: Token | None = None) -> None:
        if not self.config.oauth:
            return
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            if not self._token_stale(stale):
                return
            await self._pace()  # before stamping the token request too
            request, request_id = self._token_request(self._client)
            try:
                response = await self._client.send(request)
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, TOKEN_CALL, request_id) from None
            self._token = self._parse_token(response, request_id)

    async def _attempt(self, call: Call) -> Answered:
        refreshed = False
        while True:
            await self._pace()  # the slot first: token and timestamp fresh when sent
            await self._ensure_token()
            token = self._token
            request, request_id = self._request(self._client, call)
            start = time.monotonic()
            try:
                response = await self._client.send(request)
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, call, request_id) from None
            answered = self._answer(call, response, request_id, start, refreshed)
            if answered is not None:
                return answered
            refreshed = True
            await self._ensure_token(stale=token)
