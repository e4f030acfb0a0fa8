"""The endpoints the mock server answers, each declared next to its code with `route`.

A route takes the `Request` (query, decoded JSON body, path parameters)
and answers a `Reply`; what it renders comes from `.render`. To serve a
new endpoint, write a method of the routes class under ``@route(METHOD, PATH)``
(``{name}`` in *PATH* is a path parameter).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs

from orderalloc.sources.aladdin import wire
from orderalloc.sources.mock import MockAladdin, OrderRejectedError

from .render import Json, Renderer
from .replies import Reply, error, invalid, reply

__all__ = ["Request", "route"]

_POS_TYPES = frozenset({"EOD", "SOD", "SOD+Trades", "SOD+Trades+Orders"})
_ORDER_BATCH = "type.googleapis.com/blackrock.trading.order.v1.BatchPostOrdersResponse"
_TRADE_BATCH = "type.googleapis.com/blackrock.trading.trade.v2.BatchPostTradesResponse"


@attrs.frozen
class Request:
    """A request, as a route sees it."""

    method: str
    path: str
    query: Sequence[tuple[str, str]]
    data: Any
    params: dict[str, str] = attrs.Factory(dict)

    def assets(self) -> list[str]:
        """The ``assetId`` query parameters, in order."""
        return [value for key, value in self.query if key == "assetId"]


R = TypeVar("R", bound="_Routes")
Handler = Callable[[R, Request], Reply]
_ROUTES: list[tuple[str, re.Pattern[str], Callable[[Any, Request], Reply]]] = []


def route(method: str, path: str) -> Callable[[Handler[R]], Handler[R]]:
    """Declare the decorated method the answer to *method* *path* (``{name}``: a parameter)."""
    pattern = re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)))

    def register(handler: Handler[R]) -> Handler[R]:
        _ROUTES.append((method, pattern, handler))
        return handler

    return register


def _rpc(action: Callable[[], Json]) -> Json:
    """``{"output": ...}``, or the ``rpcStatus`` the order system's refusal would be."""
    try:
        return {"output": action()}
    except OrderRejectedError as exc:
        return {"error": {"code": exc.code, "message": str(exc)}}
    except KeyError as exc:  # NotFoundError: google.rpc.Code NOT_FOUND
        return {"error": {"code": 5, "message": str(exc)}}
    except ValueError as exc:  # an invalid ticket: INVALID_ARGUMENT
        return {"error": {"code": 3, "message": str(exc)}}


class _Routes:
    """The endpoints (the state they keep lives in `AladdinMockHandler`)."""

    mock: MockAladdin
    render: Renderer
    page_size: int
    lro_polls: int
    account_code: str
    _operations: dict[str, tuple[int, Json]]
    _lock: threading.RLock

    def dispatch(
        self, method: str, path: str, query: Sequence[tuple[str, str]], data: Any
    ) -> Reply:
        """Answer one request (a 404 when no route matches)."""
        for verb, pattern, handler in _ROUTES:
            match = pattern.fullmatch(path) if verb == method else None
            if match is not None:
                return handler(self, Request(method, path, query, data, match.groupdict()))
        return error(404, "NOT_FOUND", f"no such endpoint: {method} {path}")

    def _page(self, key: str, items: list[Any], data: Any) -> Reply:
        """One page of *items* under *key*, with ``nextPageToken`` when more follow."""
        size = int(data.get("pageSize") or self.page_size)
        size = max(1, min(size, self.page_size))
        token = data.get("pageToken")
        start = 0
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode())
            except ValueError:
                raise invalid(f"bad pageToken {token!r}") from None
        end = start + size
        answer: Json = {key: items[start:end]}
        if end < len(items):
            answer["nextPageToken"] = base64.urlsafe_b64encode(str(end).encode()).decode()
        return reply(200, answer)

    def _start(self, response: Json) -> Reply:
        """A long-running operation that is done after ``lro_polls`` polls."""
        with self._lock:
            op_id = f"op-{len(self._operations) + 1}"
            self._operations[op_id] = (self.lro_polls, response)
        return reply(200, {"id": op_id, "done": False})

    # --- groups and accounts ---------------------------------------------------------------

    @route("GET", f"{wire.PORTFOLIO_GROUP}/portfolioGroups/{{group}}/members")
    def _members(self, req: Request) -> Reply:
        group = urllib.parse.unquote(req.params["group"])
        nodes = self.render.members(group)
        if nodes is None:
            return error(404, "NOT_FOUND", f"portfolio group {group!r} not found")
        return reply(200, {"nodes": nodes})

    @route("POST", f"{wire.CASH_LADDER}/ladders:filter")
    def _ladders(self, req: Request) -> Reply:
        query = req.data["cashLadderQuery"]
        cash_date = dt.date.fromisoformat(query["cashDate"])
        ladders = self.render.ladders(query["portfolioGroupTickers"], cash_date)
        return reply(200, {"portfolioCurrencyLadders": ladders})

    @route("GET", wire.POSITIONS)
    def _positions(self, req: Request) -> Reply:
        params = dict(req.query)
        pos_type = params.get("posType")
        if pos_type not in _POS_TYPES:
            raise invalid(f"posType {pos_type!r} is not one of {sorted(_POS_TYPES)}")
        names = [n.strip() for n in params.get("portGroup", "").split(",") if n.strip()]
        return reply(200, self.render.positions(names))

    @route("POST", f"{wire.ACCOUNT_INFO}/accountInfos:filter")
    def _account_infos(self, req: Request) -> Reply:
        codes = list((req.data.get("query") or {}).get("ids") or [])
        return self._page("accountInfos", self.render.account_infos(codes), req.data)

    @route("POST", f"{wire.RESTRICTED_ASSET}/restrictedAssets:filter")
    def _restricted(self, req: Request) -> Reply:
        cusip = (req.data.get("query") or {}).get("cusip")
        if not cusip:
            raise invalid("this mock filters restricted assets by cusip")
        return self._page("restrictedAssets", self.render.restricted(cusip), req.data)

    # --- securities ------------------------------------------------------------------------

    @route("GET", wire.SECURITY_ANALYTICS)
    def _analytics(self, req: Request) -> Reply:
        return reply(200, self.render.analytics(req.assets()))

    @route("GET", wire.SECURITY_MASTER)
    def _master(self, req: Request) -> Reply:
        records = self.render.master(req.assets())
        if not records:
            return error(404, "NOT_FOUND", "no such security")
        return reply(200, records)

    # --- orders (OrderAPI) -----------------------------------------------------------------

    def _post_result(self, order: Json, what_if: bool) -> Json:
        def act() -> Json:
            ticket = self.render.ticket(order)
            if what_if:
                report = self.mock.what_if(ticket)
                return {
                    "complianceViolations": [self.render.violation(v) for v in report.violations]
                }
            if order.get("id"):
                posted = self.mock.modify_order(str(order["id"]), ticket)
            else:
                posted = self.mock.post_order(ticket)
            report = self.mock.what_if(ticket)
            return {
                "complianceViolations": [self.render.violation(v) for v in report.violations],
                "order": self.render.order(posted),
            }

        return _rpc(act)

    @route("POST", f"{wire.ORDER}/order:post")
    def _order_post(self, req: Request) -> Reply:
        what_if = bool((req.data.get("postOrderConfig") or {}).get("whatIf"))
        return reply(200, {"results": [self._post_result(req.data.get("order") or {}, what_if)]})

    @route("POST", f"{wire.ORDER}/order:cancel")
    def _order_cancel(self, req: Request) -> Reply:
        comments = req.data.get("orderComments") or []
        reason = next((c.get("orderCommentValue", "") for c in comments), "")
        order_id = str(req.data.get("orderId"))
        result = _rpc(lambda: self.render.order(self.mock.cancel_order(order_id, reason)))
        return reply(200, {"results": [result]})

    @route("POST", f"{wire.ORDER}/orders:filter")
    def _orders_filter(self, req: Request) -> Reply:
        query = req.data.get("query") or {}
        orders = self.mock.orders()
        if "orderIdCriterion" in query:
            ids = set(query["orderIdCriterion"]["ids"])
            found = [o for o in orders if o.order_id in ids]
        elif "externalIdCriterion" in query:
            crit = query["externalIdCriterion"]
            mine = crit["accountCode"] == self.account_code
            found = [o for o in orders if mine and o.external_id == crit["externalId1"]]
        else:
            raise invalid("this mock filters orders by ids or external id")
        return self._page("orders", [self.render.order(o) for o in found], req.data)

    @route("POST", f"{wire.ORDER}/orders:batchPost")
    def _batch_post(self, req: Request) -> Reply:
        orders = req.data["orders"]
        if len(orders) > wire.BATCH_POST_MAX:
            raise invalid(f"{len(orders)} orders; at most {wire.BATCH_POST_MAX}")
        results = [self._post_result(o, False) for o in orders]
        return self._start({"@type": _ORDER_BATCH, "results": results})

    @route("GET", f"{wire.ORDER}/longrunningoperations/{{op}}")
    @route("GET", f"{wire.TRADE}/longrunningoperations/{{op}}")
    def _operation_status(self, req: Request) -> Reply:
        op_id = req.params["op"]
        with self._lock:
            if op_id not in self._operations:
                return error(404, "NOT_FOUND", f"no operation {op_id!r}")
            polls, response = self._operations[op_id]
            self._operations[op_id] = (polls - 1, response)
        if polls > 1:
            return reply(200, {"id": op_id, "done": False})
        return reply(200, {"id": op_id, "done": True, "response": response})

    # --- trades (TradeAPI) -----------------------------------------------------------------

    @route("POST", f"{wire.TRADE}/trades:filter")
    def _trades_filter(self, req: Request) -> Reply:
        query = req.data.get("query") or {}
        criteria = query.get("criteria") or {}
        trade_date = (criteria.get("dateTime") or {}).get("tradeDate")
        assets = set((criteria.get("asset") or {}).get("assetIds") or [])
        if not trade_date:
            raise invalid("at least one field of the date time criterion is required")
        if not assets:
            raise invalid("this mock filters trades by asset ids")
        load = "FILTER_QUERY_OPTION_LOAD_EXTERNAL_TRADE_REFERENCE" in (query.get("options") or [])
        blocks = self.render.blocks(assets, trade_date, references=load)
        return self._page("blockTrades", blocks, req.data)

    @route("POST", f"{wire.TRADE}/trades:batchPost")
    def _trades_batch_post(self, req: Request) -> Reply:
        mode = (req.data.get("config") or {}).get("mode", "POSTING_MODE_NEW")
        if mode != "POSTING_MODE_NEW":
            raise invalid(f"this mock only books new trades ({mode})")
        results = [_rpc(self._booker(block)) for block in req.data["blockTrades"]]
        return self._start({"@type": _TRADE_BATCH, "results": results})

    def _booker(self, block: Json) -> Callable[[], Json]:
        return lambda: self.render.booked(self.mock.book_trade(self.render.trade_ticket(block)))

    @route("POST", f"{wire.TRADE}/trades:cancel")
    def _trade_cancel(self, req: Request) -> Reply:
        invnum = str((req.data.get("tradeKey") or {}).get("invnum"))
        stored = next((t for t in self.mock.trades() if t.trade_id == invnum), None)
        if stored is None:
            return reply(200, {"result": {"error": {"code": 5, "message": f"no trade {invnum}"}}})
        result = _rpc(lambda: self.render.booked(self.mock.cancel_trade(stored)))
        return reply(200, {"result": result})
