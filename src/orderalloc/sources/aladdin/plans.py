"""Each Aladdin operation written once, as a *plan* both drivers run.

A plan is a generator that yields what it needs (a `Call`, a list of
independent `Call` s, or a `Sleep`) and receives the parsed JSON answers
(a list for a list). It does no I/O: the sync client drives it with
``httpx.Client`` and ``time.sleep``, the async client with
``httpx.AsyncClient``, ``asyncio.gather`` and ``asyncio.sleep`` (`.client`),
so the two cannot drift apart. What the answers mean is `.mapping`'s; how
a request travels (retries, cache, token) is `.transport`'s.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Generator, Sequence
from typing import Any, TypeVar

import attrs

from orderalloc._model import AccountTable, Security
from orderalloc.sources import orders as o
from orderalloc.sources import trades as t

from . import mapping, wire
from .config import AladdinConfig
from .errors import (
    AladdinConfigError,
    AladdinNotFoundError,
    AladdinOperationTimeoutError,
    AladdinResponseError,
)
from .mapping import GroupAnswers, Leaf, Mapper
from .transport import Call

T = TypeVar("T")


@attrs.frozen
class Sleep:
    """A plan asks its driver to wait (between polls of a long-running operation)."""

    seconds: float


Step = Call | list[Call] | Sleep
Plan = Generator[Step, Any, T]

_ORDERS_FILTER = f"{wire.ORDER}/orders:filter"


def _chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _not_found(message: str, path: str) -> AladdinNotFoundError:
    return AladdinNotFoundError(status=None, code=None, message=message, request_id=None, path=path)


class Plans:
    """The plans of one client, over its settings and its `Mapper`.

    Args:
        config: The client's settings (groups, batch and page sizes, polling).
    """

    def __init__(self, config: AladdinConfig) -> None:
        self.config = config
        self.mapper = Mapper(config.account_code)

    # --- building blocks -----------------------------------------------------------------

    def _members(self, group: str, fresh: bool) -> Plan[list[wire.PortfolioGroupNode]]:
        path = f"{wire.PORTFOLIO_GROUP}/portfolioGroups/{group}/members"
        data = yield Call("GET", path, fresh=fresh)
        return wire.structure(data, wire.PortfolioGroupMembers, path).nodes

    def _paged(
        self,
        path: str,
        body: dict[str, Any],
        cls: type[Any],
        attr: str,
        fresh: bool,
        *,
        cache: bool = True,
    ) -> Plan[list[Any]]:
        """Every item of a paged ``:filter`` list, following ``nextPageToken``."""
        items: list[Any] = []
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            page = dict(body)
            page["pageSize"] = self.config.page_size
            if token:
                page["pageToken"] = token
            data = yield Call("POST", path, body=page, fresh=fresh, cache=cache)
            answer = wire.structure(data, cls, path)
            items.extend(getattr(answer, attr))
            token = answer.next_page_token
            if not token:
                return items
            if token in seen_tokens:
                raise AladdinResponseError(
                    "nextPageToken repeats: paging would not end", request_id=None, path=path
                )
            seen_tokens.add(token)

    def _orders(self, query: dict[str, Any]) -> Plan[list[wire.Order]]:
        """``orders:filter`` (never cached: orders change)."""
        orders: list[wire.Order] = yield from self._paged(
            _ORDERS_FILTER, {"query": query}, wire.FilterOrdersResponse, "orders", True, cache=False
        )
        return orders

    def _order(self, order_id: str) -> Plan[wire.Order]:
        """The order *order_id* as Aladdin holds it now."""
        orders = yield from self._orders({"orderIdCriterion": {"ids": [order_id]}})
        for order in orders:
            if order.id == order_id:
                return order
        raise _not_found(f"no order {order_id!r}", _ORDERS_FILTER)

    def _operation(self, api: str, path: str, body: Any, cls: type[T]) -> Plan[T]:
        """POST a long-running operation (a write), wait until done, and read its response."""
        data = yield Call("POST", path, body=body, write=True, cache=False)
        operation = wire.structure(data, wire.LongrunningOperation, path)
        operation = yield from self.wait(operation, api)
        return mapping.operation_response(operation, cls, path, api)

    def wait(
        self, operation: wire.LongrunningOperation, api: str = wire.ORDER
    ) -> Plan[wire.LongrunningOperation]:
        """Poll *api*'s ``longrunningoperations/{id}`` until done (backing off to 5 s)."""
        start = time.monotonic()
        interval = self.config.lro_poll_interval
        while not operation.done:
            if not operation.id:
                raise AladdinResponseError(
                    "a long-running operation without an id", request_id=None, path=wire.ORDER
                )
            waited = time.monotonic() - start
            if waited + interval > self.config.lro_timeout:
                raise AladdinOperationTimeoutError(operation.id, waited)
            yield Sleep(interval)
            interval = min(interval * 1.5, 5.0)
            path = f"{api}/longrunningoperations/{operation.id}"
            data = yield Call("GET", path, cache=False)
            operation = wire.structure(data, wire.LongrunningOperation, path)
        return operation

    # --- groups and accounts -------------------------------------------------------------

    def groups(self, fresh: bool = False) -> Plan[tuple[str, ...]]:
        """The top-level groups: members of ``root_group`` with children (or ``groups``)."""
        root = self.config.root_group
        if root is None:
            if not self.config.groups:
                raise AladdinConfigError(
                    "AladdinConfig: set root_group (ALADDIN_ROOT_GROUP) or groups (ALADDIN_GROUPS) "
                    "so that groups() knows what to list"
                )
            return tuple(sorted(self.config.groups))
        nodes = yield from self._members(root, fresh)
        return tuple(
            sorted(
                {
                    n.portfolio_ticker
                    for n in nodes
                    if n.child_portfolio_ids and n.portfolio_ticker != root
                }
            )
        )

    def leaves(self, group: str, fresh: bool) -> Plan[list[Leaf]]:
        """The portfolios of *group*, nested groups expanded (breadth first, no repeats)."""
        leaves: dict[str, Leaf] = {}
        seen = {group}
        queue = [group]
        while queue:
            current = queue.pop(0)
            nodes = yield from self._members(current, fresh)
            for node in nodes:
                ticker = node.portfolio_ticker
                if ticker == current:
                    continue
                if node.child_portfolio_ids:
                    if ticker not in seen:
                        seen.add(ticker)
                        queue.append(ticker)
                    continue
                code = str(node.portfolio_id) if node.portfolio_id is not None else ticker
                self.mapper.ticker_by_code[code] = ticker
                leaves.setdefault(ticker, Leaf(ticker, code))
        if not leaves:
            raise _not_found(
                f"group {group!r} has no portfolios",
                f"{wire.PORTFOLIO_GROUP}/portfolioGroups/{group}/members",
            )
        return list(leaves.values())

    def _positions_call(self, port_group: str, fresh: bool) -> Call:
        return Call(
            "GET",
            wire.POSITIONS,
            params=(("portGroup", port_group), ("posType", self.config.pos_type)),
            fresh=fresh,
        )

    def accounts(self, group: str, security_id: str, fresh: bool = False) -> Plan[AccountTable]:
        """The group's accounts: members, cash ladders and positions (together), names, bans."""
        leaves = yield from self.leaves(group, fresh)
        tickers = [leaf.ticker for leaf in leaves]
        today = dt.date.today()
        ladders_path = f"{wire.CASH_LADDER}/ladders:filter"
        calls: list[Call] = []
        for chunk in _chunks(tickers, self.config.cash_batch):
            body = {
                "cashLadderQuery": {"portfolioGroupTickers": chunk, "cashDate": today.isoformat()}
            }
            calls.append(Call("POST", ladders_path, body=body, fresh=fresh))
        n_cash = len(calls)
        for chunk in _chunks(tickers, self.config.positions_batch):
            calls.append(self._positions_call(",".join(chunk), fresh))
        benchmark = self.config.benchmarks.get(group)
        if benchmark is not None:
            calls.append(self._positions_call(benchmark, fresh))
        answers = yield calls
        ladders = [
            ladder
            for data in answers[:n_cash]
            for ladder in wire.structure(
                data, wire.CashLadder, ladders_path
            ).portfolio_currency_ladders
        ]
        n_pos = len(answers) - n_cash - (benchmark is not None)
        positions = [
            p for data in answers[n_cash : n_cash + n_pos] for p in mapping.positions(data)
        ]
        bench_positions = mapping.positions(answers[-1]) if benchmark is not None else None
        infos: list[wire.AccountInfo] = yield from self._paged(
            f"{wire.ACCOUNT_INFO}/accountInfos:filter",
            {"query": {"ids": [leaf.code for leaf in leaves]}},
            wire.FilterAccountInfosResponse,
            "account_infos",
            fresh,
        )
        restricted: list[wire.RestrictedAsset] = yield from self._paged(
            f"{wire.RESTRICTED_ASSET}/restrictedAssets:filter",
            {"query": {"cusip": security_id}},
            wire.FilterRestrictedAssetsResponse,
            "restricted_assets",
            fresh,
        )
        found = GroupAnswers(leaves, ladders, positions, bench_positions, infos, restricted)
        return self.mapper.table(found, security_id, today)

    # --- securities ----------------------------------------------------------------------

    def quotes(self, fresh: bool) -> Plan[dict[str, wire.Position]]:
        """Positions that price securities: the pricing group's, else those seen so far."""
        if self.config.pricing_group is None:
            return dict(self.mapper.quotes)
        data = yield self._positions_call(self.config.pricing_group, fresh)
        quotes: dict[str, wire.Position] = {}
        for p in mapping.positions(data):
            # A malformed price is kept too: the security then names it (not "not found").
            if p.price is not None or p.price_as_pct is not None or "price" in p.malformed:
                quotes.setdefault(p.asset_id, p)
        return quotes

    def _securities(self, quotes: list[wire.Position], fresh: bool) -> Plan[list[Security]]:
        params = tuple(("assetId", q.asset_id) for q in quotes)
        analytics, master = yield [
            Call("GET", wire.SECURITY_ANALYTICS, params=params, fresh=fresh),
            Call("GET", wire.SECURITY_MASTER, params=params, fresh=fresh),
        ]
        return self.mapper.securities(quotes, analytics, master)

    def security(self, security_id: str, fresh: bool = False) -> Plan[Security]:
        """One security: its quote, then its analytics and master record."""
        quotes = yield from self.quotes(fresh)
        quote = quotes.get(security_id) or self.mapper.quotes.get(security_id)
        if quote is None:
            raise _not_found(
                f"no price for security {security_id!r}: it is in no loaded group's "
                "positions; set AladdinConfig.pricing_group",
                wire.POSITIONS,
            )
        securities = yield from self._securities([quote], fresh)
        return securities[0]

    def search(self, query: str, limit: int, fresh: bool = False) -> Plan[tuple[Security, ...]]:
        """Securities whose id starts with *query* or whose issuer ticker is *query*."""
        needle = query.strip().upper()
        if not needle or limit <= 0:
            return ()
        quotes = yield from self.quotes(fresh)
        merged = {**self.mapper.quotes, **quotes}
        matches = sorted(
            (
                q
                for q in merged.values()
                if q.asset_id.upper().startswith(needle)
                or (q.issuer_ticker or "").upper() == needle
            ),
            key=lambda q: q.asset_id,
        )[:limit]
        if not matches:
            return ()
        securities = yield from self._securities(matches, fresh)
        return tuple(securities)

    # --- orders (OrderAPI) ---------------------------------------------------------------

    def _order_post(
        self, ticket: o.OrderTicket, what_if: bool, order_id: str | None = None
    ) -> Plan[wire.PostOrderResponse]:
        path = f"{wire.ORDER}/order:post"
        body = {
            "postOrderConfig": {"whatIf": what_if, "runCompliance": True},
            "order": self.mapper.order_body(ticket, order_id),
        }
        # What-if books nothing, so it is as safe to retry as a read; it is never cached.
        data = yield Call("POST", path, body=body, write=not what_if, cache=False)
        answer = wire.structure(data, wire.SinglePostOrderResponse, path)
        result = mapping.output(mapping.first(answer.results, path), path)
        if result is None:
            raise AladdinResponseError(
                "a result with neither output nor error", request_id=None, path=path
            )
        return result

    def what_if(self, ticket: o.OrderTicket) -> Plan[o.WhatIfReport]:
        """``order:post`` with ``whatIf``: the compliance report, nothing booked."""
        output = yield from self._order_post(ticket, True)
        return self.mapper.what_if(output)

    def post(self, ticket: o.OrderTicket, order_id: str | None = None) -> Plan[o.PostedOrder]:
        """``order:post``: a new order, or an update of *order_id*."""
        output = yield from self._order_post(ticket, False, order_id)
        return self.mapper.posted(output.order, f"{wire.ORDER}/order:post")

    def find(self, external_id: str) -> Plan[o.PostedOrder | None]:
        """The latest order carrying *external_id* (live ones first), or None."""
        if self.config.account_code is None:
            raise AladdinConfigError(
                "find_order needs AladdinConfig.account_code (ALADDIN_ACCOUNT_CODE): "
                "Aladdin filters external ids per account code"
            )
        orders = yield from self._orders(
            {
                "externalIdCriterion": {
                    "externalId1": external_id,
                    "accountCode": self.config.account_code,
                }
            }
        )
        found = [self.mapper.posted(x, _ORDERS_FILTER) for x in orders]
        found = [x for x in found if x.external_id in (None, external_id)]
        if not found:
            return None
        return max(found, key=lambda x: (x.is_live, mapping.order_number(x.order_id), x.version))

    def get(self, order_id: str) -> Plan[o.PostedOrder]:
        """The order *order_id*."""
        order = yield from self._order(order_id)
        return self.mapper.posted(order, _ORDERS_FILTER)

    def cancel(self, order_id: str, reason: str) -> Plan[o.PostedOrder]:
        """``order:cancel`` with *reason* as its comment."""
        path = f"{wire.ORDER}/order:cancel"
        body = {
            "orderId": order_id,
            "orderComments": [{"orderCommentKey": "General", "orderCommentValue": reason}],
        }
        data = yield Call("POST", path, body=body, write=True, cache=False)
        answer = wire.structure(data, wire.CancelOrderResponse, path)
        return self.mapper.posted(mapping.output(mapping.first(answer.results, path), path), path)

    def post_many(self, tickets: Sequence[o.OrderTicket]) -> Plan[tuple[o.PostedOrder, ...]]:
        """``orders:batchPost`` in chunks of at most 1,000, each a long-running operation."""
        posted: list[o.PostedOrder] = []
        path = f"{wire.ORDER}/orders:batchPost"
        for chunk in _chunks(list(tickets), wire.BATCH_POST_MAX):
            body = {
                "postOrderConfig": {"whatIf": False, "runCompliance": True},
                "orders": [self.mapper.order_body(x) for x in chunk],
            }
            batch = yield from self._operation(wire.ORDER, path, body, wire.BatchPostOrdersResponse)
            for result in batch.results:
                output = mapping.output(result, path)
                assert output is not None
                posted.append(self.mapper.posted(output.order, path))
        return tuple(posted)

    # --- trades (TradeAPI) ---------------------------------------------------------------

    def trades(self, security_id: str, trade_date: str) -> Plan[list[wire.BlockTrade]]:
        """Every block trade in *security_id* on *trade_date*, external references loaded."""
        query = {
            "criteria": {
                "asset": {"assetIds": [security_id]},
                "dateTime": {"tradeDate": trade_date},
            },
            "options": ["FILTER_QUERY_OPTION_LOAD_EXTERNAL_TRADE_REFERENCE"],
        }
        blocks: list[wire.BlockTrade] = yield from self._paged(
            f"{wire.TRADE}/trades:filter",
            {"query": query},
            wire.FilterTradesResponse,
            "block_trades",
            True,
            cache=False,
        )
        return blocks

    def fills(self, order_id: str) -> Plan[tuple[t.Execution, ...]]:
        """The order's executions (`mapping.executions`): its ``fillAmount``, then its blocks."""
        order = yield from self._order(order_id)
        if (order.fill_amount or 0.0) <= 0 or not order.asset_id:
            return ()
        trade_date = order.trade_date or dt.date.today().isoformat()
        blocks = yield from self.trades(order.asset_id, trade_date)
        return mapping.executions(order, blocks, _ORDERS_FILTER)

    def book(self, ticket: t.TradeTicket) -> Plan[t.BookedTrade]:
        """``trades:batchPost`` of one block (a long-running operation), then wait for it."""
        path = f"{wire.TRADE}/trades:batchPost"
        body = {
            "blockTrades": [self.mapper.block_body(ticket)],
            "config": {"mode": "POSTING_MODE_NEW"},
        }
        batch = yield from self._operation(wire.TRADE, path, body, wire.BatchPostTradesResponse)
        snippet = mapping.output(mapping.first(batch.results, path), path)
        return self.mapper.booked_ticket(ticket, snippet, path)

    def find_trade(self, ticket: t.TradeTicket) -> Plan[t.BookedTrade | None]:
        """``trades:filter`` by asset and trade date; the blocks carrying the external id."""
        trade_date = (ticket.trade_date or dt.date.today()).isoformat()
        blocks = yield from self.trades(ticket.security_id, trade_date)
        code = self.config.account_code
        found = []
        for block in blocks:
            refs = [r for x in block.trades for r in x.external_trade_references]
            if any(
                r.external_invnum1 == ticket.external_id
                and (code is None or r.account_code in (None, code))
                for r in refs
            ):
                booked = self.mapper.booked(block)
                if booked is not None:
                    found.append(booked)
        if not found:
            return None
        return max(found, key=lambda b: (b.is_active, mapping.order_number(b.trade_id)))

    def cancel_trade(self, trade: t.BookedTrade) -> Plan[t.BookedTrade]:
        """``trades:cancel`` of the whole block (``cancelEntireBlock``)."""
        path = f"{wire.TRADE}/trades:cancel"
        if not trade.trade_id.isdigit():
            raise _not_found(f"trade id {trade.trade_id!r} is not an Aladdin invnum", path)
        key: dict[str, Any] = {"invnum": int(trade.trade_id)}
        if trade.lines:
            key["portfolioReference"] = {"portfolioTicker": trade.lines[0].account_id}
        body = {"tradeKey": key, "config": {"cancelEntireBlock": True}}
        data = yield Call("POST", path, body=body, write=True, cache=False)
        answer = wire.structure(data, wire.CancelTradeResponse, path)
        if answer.result is None:
            raise AladdinResponseError("no result in the answer", request_id=None, path=path)
        mapping.output(answer.result, path)
        return attrs.evolve(trade, status=t.TradeStatus.CANCELLED)
