"""Aladdin wire objects <-> domain objects (`AccountTable`, `Security`, orders, trades).

The plans (`.plans`) fetch; this module says what the answers mean and
what the requests say: a group's answers become an `AccountTable`
(`Mapper.table`), positions and analytics a `Security`, an order ticket an
``order:post`` body and an ``Order`` a `PostedOrder`, a trade ticket a
``v2BlockTrade`` and a block a `BookedTrade`, an order's blocks its
`Execution` s. Rules of the published shapes that are not about one
request (a result holds ``output`` or ``error``; a long-running operation's
``response`` is an ``Any``) are here too.

To use a new Aladdin field: declare it in `.wire` (its class), then read it
here, in the function that builds the domain object it feeds.

One idea, so one module (about 600 lines): what the published shapes mean in
orderalloc's terms, in both directions. Fetching is in `.plans`, the shapes
themselves in `.wire`, the transport's rules in `.transport`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs
import numpy as np

from orderalloc._model import AccountTable, Security, Side
from orderalloc.sources import orders as o
from orderalloc.sources import trades as t

from . import wire
from .errors import AladdinAPIError, AladdinNotFoundError, AladdinResponseError

logger = logging.getLogger("orderalloc.sources.aladdin")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_SEVERITY_PREFIX = "COMPLIANCE_SEVERITY_"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@attrs.frozen
class Leaf:
    """A portfolio of a group: its ticker and its Aladdin portfolio code."""

    ticker: str
    code: str


@attrs.frozen
class GroupAnswers:
    """What the plan for `accounts` gathered about one group."""

    leaves: list[Leaf]
    ladders: list[wire.PortfolioCurrencyLadder]
    positions: list[wire.Position]
    bench_positions: list[wire.Position] | None
    infos: list[wire.AccountInfo]
    restricted: list[wire.RestrictedAsset]


# --- shapes and results ---------------------------------------------------------------------------


def structure_list(data: Any, cls: type[T], path: str) -> list[T]:
    """*data* (a JSON array) as a list of *cls* (see `wire.structure`)."""
    if not isinstance(data, list):
        raise AladdinResponseError("expected a JSON array", request_id=None, path=path)
    return [wire.structure(item, cls, path) for item in data]


def positions(data: Any) -> list[wire.Position]:
    """A Positions v1 answer; an error names the position, its portfolio and the JSON field."""
    path = wire.POSITIONS
    if not isinstance(data, list):
        raise AladdinResponseError("expected a JSON array of positions", request_id=None, path=path)
    out: list[wire.Position] = []
    for i, item in enumerate(data):
        try:
            out.append(wire.structure(item, wire.Position, path))
        except AladdinResponseError as exc:
            who = item if isinstance(item, Mapping) else {}
            text = exc.detail
            for a in attrs.fields(wire.Position):  # say the JSON names
                text = text.replace(f"$.{a.name}", f"$.{wire.wire_name(a.name)}")
            raise AladdinResponseError(
                f"position {i} (portfolio {who.get('portfolioName')!r}, asset "
                f"{who.get('assetId')!r}): {text}",
                request_id=None,
                path=path,
            ) from None
    return out


def rpc_error(error: wire.RpcStatus, path: str) -> AladdinAPIError:
    """The typed error for an ``rpcStatus`` inside a 200 answer."""
    kwargs: dict[str, Any] = {
        "status": None,
        "code": error.code,
        "message": error.message or "order refused",
        "request_id": None,
        "path": path,
    }
    if error.code == 5:  # google.rpc.Code.NOT_FOUND
        return AladdinNotFoundError(**kwargs)
    return AladdinAPIError(**kwargs)


class _Result(Protocol[T_co]):
    """A published ``...Result``: ``output`` or ``error``."""

    @property
    def error(self) -> wire.RpcStatus | None: ...  # pragma: no cover - a Protocol

    @property
    def output(self) -> T_co | None: ...  # pragma: no cover - a Protocol


def output(result: _Result[T], path: str) -> T | None:
    """A result's ``output``; its ``error`` raised when it has no output."""
    if result.error is not None and result.output is None:
        raise rpc_error(result.error, path)
    return result.output


def first(results: Sequence[T] | None, path: str, what: str = "results") -> T:
    """The first result of an answer that must hold one."""
    if not results:
        raise AladdinResponseError(f"no {what} in the answer", request_id=None, path=path)
    return results[0]


def operation_response(
    operation: wire.LongrunningOperation, cls: type[T], path: str, api: str
) -> T:
    """A finished long-running operation's ``response`` (an ``Any``) as *cls*."""
    if operation.error is not None:
        raise rpc_error(operation.error, f"{api}/longrunningoperations/{operation.id}")
    response = dict(operation.response or {})
    response.pop("@type", None)
    return wire.structure(response, cls, path)


# --- values -------------------------------------------------------------------------------------


def _severity(raw: str | None) -> str:
    if not raw:
        return "UNSPECIFIED"
    return raw[len(_SEVERITY_PREFIX) :] if raw.startswith(_SEVERITY_PREFIX) else raw


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _parse_time(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def order_number(order_id: str) -> tuple[int, str]:
    """A sort key: Aladdin's order and trade numbers grow, so the highest is the latest."""
    return (int(order_id), order_id) if order_id.isdigit() else (0, order_id)


# --- accounts -----------------------------------------------------------------------------------


def _nav_and_cash(
    ladders: list[wire.PortfolioCurrencyLadder], row: Mapping[str, int], n: int
) -> tuple[np.ndarray, np.ndarray]:
    nav = np.full(n, np.nan)
    cash = np.full(n, np.nan)
    for ladder in ladders:
        i = row.get(ladder.portfolio_ticker or "")
        if i is None:
            continue
        base = ladder.portfolio_base_currency_code
        if base and ladder.cash_balance_security_currency_code not in (None, base):
            continue  # a foreign-currency ladder: base cash only
        value = _finite(ladder.intraday_nav) or _finite(ladder.sod_nav)
        if value is not None:
            nav[i] = value
        balances = [
            b.cash_balance
            for b in ladder.settle_date_balances
            if _finite(b.cash_balance) is not None
        ]
        if balances:
            # The ladder projects cash by settle date: the lowest projection is what a
            # buy can spend without overdrawing the account on any date.
            cash[i] = min(balances)  # type: ignore[type-var]
    return nav, cash


def _benchmark_sd(positions: list[wire.Position]) -> float:
    total = math.fsum((p.mkt_value or 0.0) for p in positions)
    navs = [_finite(p.portfolio_n_a_v) for p in positions]
    bench_nav = next((v for v in navs if v), None) or total
    if not bench_nav:
        return 0.0
    return math.fsum((p.mkt_value or 0.0) * (p.spread_dur or 0.0) for p in positions) / bench_nav


# --- the mapper ---------------------------------------------------------------------------------


class Mapper:
    """Maps one client's answers and requests, remembering what it learns on the way.

    Attributes:
        account_code: The organisation account code orders and trades carry.
        ticker_by_code: Aladdin portfolio codes -> tickers, learnt from group members.
        quotes: Positions seen for securities (price, factor, trade sizes), by asset id.
    """

    def __init__(self, account_code: str | None) -> None:
        self.account_code = account_code
        self.ticker_by_code: dict[str, str] = {}
        self.quotes: dict[str, wire.Position] = {}

    def account(self, ref: wire.PortfolioReference | None) -> str | None:
        """The account ticker a portfolio reference names (by ticker, else by code)."""
        if ref is None:
            return None
        return ref.portfolio_ticker or self.ticker_by_code.get(
            ref.portfolio_id or "", ref.portfolio_id
        )

    # --- accounts --------------------------------------------------------------------------

    def table(self, answers: GroupAnswers, security_id: str, today: dt.date) -> AccountTable:
        """The group's `AccountTable` for *security_id* (positions of it become quotes)."""
        leaves = answers.leaves
        n = len(leaves)
        row = {leaf.ticker: i for i, leaf in enumerate(leaves)}
        row_by_code = {leaf.code: i for i, leaf in enumerate(leaves)}
        nav, cash = _nav_and_cash(answers.ladders, row, n)
        holding = np.zeros(n)
        mv_sd = np.zeros(n)
        mv_oad = np.zeros(n)
        mv_oas = np.zeros(n)
        nav_from_positions = np.full(n, np.nan)
        for p in answers.positions:
            i = row.get(p.portfolio_name)
            if i is None:
                continue
            if p.asset_id == security_id:
                holding[i] += p.pos_quantity
                self.quotes[p.asset_id] = p
            mv = p.mkt_value or 0.0
            mv_sd[i] += mv * (p.spread_dur or 0.0)
            mv_oad[i] += mv * (p.oad or 0.0)
            mv_oas[i] += mv * (p.oas or 0.0)
            pnav = _finite(p.portfolio_n_a_v_computed) or _finite(p.portfolio_n_a_v)
            if pnav is not None:
                nav_from_positions[i] = pnav
        missing = np.isnan(nav)
        nav[missing] = nav_from_positions[missing]
        if np.isnan(nav).any():
            bad = leaves[int(np.flatnonzero(np.isnan(nav))[0])].ticker
            raise AladdinResponseError(
                f"no NAV for portfolio {bad!r} in the cash ladder or the positions",
                request_id=None,
                path=f"{wire.CASH_LADDER}/ladders:filter",
            )
        metrics = {
            "spread_duration": mv_sd / nav,
            "duration": mv_oad / nav,
            "oas": mv_oas / nav,
        }
        if answers.bench_positions is not None:
            metrics["active_spread_duration"] = metrics["spread_duration"] - _benchmark_sd(
                answers.bench_positions
            )
        blocked = np.zeros(n, dtype=bool)
        for asset in answers.restricted:
            if asset.cusip != security_id or asset.id is None:
                continue
            if asset.state == "RESTRICTED_ASSET_STATE_NO":
                continue
            if asset.end_date and asset.end_date < today.isoformat():
                continue
            i = row_by_code.get(asset.id.portfolio_id, row.get(asset.id.portfolio_id))
            if i is not None:
                blocked[i] = True
        names: list[str | None] = [None] * n
        for info in answers.infos:
            i = row_by_code.get(info.id or "")
            if i is not None:
                names[i] = info.full_name or info.short_name
        return AccountTable(
            ids=tuple(leaf.ticker for leaf in leaves),
            nav=nav,
            cash=cash,
            holdings={security_id: holding},
            metrics=metrics,
            restricted={security_id: blocked},
            names=tuple(names),
        )

    # --- securities ------------------------------------------------------------------------

    def securities(
        self, quotes: list[wire.Position], analytics: Any, master: Any
    ) -> list[Security]:
        """Securities from their quotes, Security Analytics v2 and Security Master v1 answers."""
        risk = wire.structure(analytics, wire.SecurityAnalyticsResponse, wire.SECURITY_ANALYTICS)
        records = master if isinstance(master, list) else [master]
        static = {
            r.asset_id: r
            for r in structure_list(records, wire.SecurityMasterRecord, wire.SECURITY_MASTER)
        }
        out = []
        for q in quotes:
            entry = risk.risk_by_asset_id.get(q.asset_id)
            if entry is None:
                why = risk.errors.get(q.asset_id, "missing from riskByAssetId")
                raise AladdinNotFoundError(
                    status=None,
                    code=None,
                    message=f"no analytics for {q.asset_id!r}: {why}",
                    request_id=None,
                    path=wire.SECURITY_ANALYTICS,
                )
            ra = entry.risk_by_currency.get("ALL") or next(
                iter(entry.risk_by_currency.values()), wire.RiskAnalytics()
            )
            out.append(security(q, ra, static.get(q.asset_id)))
        return out

    # --- orders ----------------------------------------------------------------------------

    def order_body(self, ticket: o.OrderTicket, order_id: str | None = None) -> dict[str, Any]:
        """The ``v1Order`` of *ticket* (an update of *order_id* when given)."""
        reference: dict[str, Any] = {"externalId1": ticket.external_id}
        if self.account_code is not None:
            reference["accountCode"] = self.account_code
        order: dict[str, Any] = {
            "assetId": ticket.security_id,
            "transactionType": ticket.side.value,
            "face": ticket.quantity,
            "externalOrderReference": reference,
            "orderDetails": [
                {
                    "portfolioReference": {"portfolioTicker": line.account_id},
                    "quantity": line.quantity,
                }
                for line in ticket.lines
            ],
        }
        if order_id is not None:
            order["id"] = order_id  # "Request treated as an update when order number is specified"
        if ticket.settle_date is not None:
            order["settleDate"] = ticket.settle_date.isoformat()
        if ticket.comment:
            order["orderComments"] = [
                {"orderCommentKey": "General", "orderCommentValue": ticket.comment}
            ]
        return order

    def posted(self, order: wire.Order | None, path: str) -> o.PostedOrder:
        """The `PostedOrder` an answer's ``v1Order`` describes."""
        if order is None or not order.id:
            raise AladdinResponseError("the answer holds no order", request_id=None, path=path)
        lines = []
        for detail in order.order_details:
            account = self.account(detail.portfolio_reference)
            if account and detail.quantity > 0:
                lines.append(o.OrderLine(account, detail.quantity))
        quantity = (
            order.face if order.face is not None else math.fsum(line.quantity for line in lines)
        )
        external = (
            order.external_order_reference.external_id1 if order.external_order_reference else None
        )
        return o.PostedOrder(
            order_id=order.id,
            external_id=external,
            security_id=order.asset_id or "",
            side=Side(order.transaction_type.upper()) if order.transaction_type else Side.BUY,
            quantity=quantity,
            lines=tuple(lines),
            status=o.OrderStatus.normalise(order.order_status),
            version=order.version if order.version is not None else 1,
        )

    def what_if(self, answer: wire.PostOrderResponse) -> o.WhatIfReport:
        """The what-if report of an ``order:post`` output."""
        return o.WhatIfReport(tuple(self.violation(v) for v in answer.compliance_violations))

    def violation(self, v: wire.Violation) -> o.ComplianceViolation:
        """One ``v1Violation`` as a `ComplianceViolation` (its portfolio as a ticker)."""
        account = None
        if v.portfolio_id is not None:
            account = self.ticker_by_code.get(v.portfolio_id, v.portfolio_id)
        return o.ComplianceViolation(
            account_id=account,
            rule=v.rule_id or v.rule_assignment_name or "UNKNOWN",
            message=v.violation_description or v.violation_detail or "",
            severity=_severity(v.compliance_severity),
        )

    # --- trades ----------------------------------------------------------------------------

    def block_body(self, ticket: t.TradeTicket) -> dict[str, Any]:
        """The ``v2BlockTrade`` of *ticket*: one trade per line, each carrying the external id."""
        reference: dict[str, Any] = {"externalInvnum1": ticket.external_id}
        if self.account_code is not None:
            reference["accountCode"] = self.account_code
        trades = []
        for line in ticket.lines:
            trade: dict[str, Any] = {
                "portfolioReference": {"portfolioTicker": line.account_id},
                "quantity": line.quantity,
                "externalTradeReferences": [reference],
            }
            if ticket.order_id is not None:
                trade["orderId"] = ticket.order_id
            if line.principal is not None:
                trade["principal"] = line.principal
            trades.append(trade)
        block: dict[str, Any] = {
            "assetReference": {"assetId": ticket.security_id},
            "transactionType": ticket.side.value,
            "price": ticket.price,
            "priceType": "PRICE_TYPE_CLEAN",
            "tradeDate": (ticket.trade_date or dt.date.today()).isoformat(),
            "trades": trades,
        }
        if ticket.settle_date is not None:
            block["settlementDate"] = ticket.settle_date.isoformat()
        return block

    def _lines(
        self,
        trades: Sequence[wire.Trade | wire.TradeSnippet],
        principals: Mapping[str, float | None],
    ) -> tuple[t.TradeLine, ...]:
        """One line per trade with a known account and a face (a `Trade` says its principal)."""
        lines = []
        for trade in trades:
            account = self.account(trade.portfolio_reference)
            if account and trade.quantity > 0:
                principal = (
                    trade.principal if isinstance(trade, wire.Trade) else principals.get(account)
                )
                lines.append(t.TradeLine(account, trade.quantity, principal))
        return tuple(lines)

    def booked_ticket(
        self, ticket: t.TradeTicket, snippet: wire.BlockTradeSnippet | None, path: str
    ) -> t.BookedTrade:
        """The `BookedTrade` that booking *ticket* gave (``v2BlockTradeSnippet``)."""
        if snippet is None or not snippet.trades or snippet.trades[0].invnum is None:
            raise AladdinResponseError("the answer holds no trade", request_id=None, path=path)
        principals = {line.account_id: line.principal for line in ticket.lines}
        booked = ticket.booked(str(snippet.trades[0].invnum))
        return attrs.evolve(
            booked,
            security_id=snippet.asset_id or ticket.security_id,
            lines=self._lines(snippet.trades, principals),
        )

    def booked(self, block: wire.BlockTrade) -> t.BookedTrade | None:
        """The `BookedTrade` a ``v2BlockTrade`` read back describes (None: no trade numbers)."""
        trades = [trade for trade in block.trades if trade.invnum is not None]
        if not trades:
            return None
        refs = [r.external_invnum1 for trade in trades for r in trade.external_trade_references]
        asset = block.asset_reference
        return t.BookedTrade(
            trade_id=str(trades[0].invnum),
            external_id=next((r for r in refs if r), None),
            security_id=(asset.asset_id or asset.cusip or "") if asset is not None else "",
            side=Side(block.transaction_type.upper()) if block.transaction_type else Side.BUY,
            price=block.price if block.price is not None else math.nan,
            lines=self._lines(trades, {}),
            status=t.TradeStatus.from_wire(block.status),
            order_id=trades[0].order_id,
            trade_date=dt.date.fromisoformat(block.trade_date) if block.trade_date else None,
        )


def security(
    q: wire.Position, ra: wire.RiskAnalytics, master: wire.SecurityMasterRecord | None
) -> Security:
    """A `Security` from its position (price, factor, sizes), analytics and master record.

    Raises:
        AladdinResponseError: A value the security needs is malformed in the position.
    """
    needed = ["price" if q.price is None else "", "factor", "curPar"]
    needed += ["priceAsPct" if q.price is None else "", "minTradeSize", "minTradeIncrement"]
    bad = [name for name in needed if name and name in q.malformed]
    if bad:
        raise AladdinResponseError(
            f"security {q.asset_id!r} (position of portfolio {q.portfolio_name!r}): "
            f"malformed {', '.join(bad)}",
            request_id=None,
            path=wire.POSITIONS,
        )
    price = q.price if q.price is not None else q.price_as_pct
    assert price is not None
    factor = q.factor
    if factor is None and q.cur_par is not None and q.pos_quantity:
        factor = q.cur_par / q.pos_quantity
    factor = factor or 1.0
    accrued = 0.0
    if q.mkt_value is not None and q.cur_par:
        # mktValue = price/100 x current face + accrued: accrued in points per 100
        # of current face.
        accrued = max(0.0, round(q.mkt_value / q.cur_par * 100.0 - price, 8))
    analytics = {
        "spread_duration": ra.spread_duration if ra.spread_duration is not None else q.spread_dur,
        "duration": ra.oad if ra.oad is not None else q.oad,
        "modified_duration": ra.modified_duration
        if ra.modified_duration is not None
        else q.mod_dur,
        "oas": ra.oas if ra.oas is not None else q.oas,
        "convexity": ra.convexity,
        "ytw": ra.yield_to_worst,
        "z_spread": ra.z_spread,
    }
    return Security(
        id=q.asset_id,
        price=price,
        min_piece=q.min_trade_size or 1_000.0,
        increment=q.min_trade_increment or 1_000.0,
        accrued=accrued,
        factor=factor,
        analytics={k: v for k, v in analytics.items() if v is not None and math.isfinite(v)},
        name=master.description if master is not None else None,
        ticker=q.issuer_ticker,
        asset_class=q.sec_group,
    )


def executions(
    order: wire.Order, blocks: list[wire.BlockTrade], path: str
) -> tuple[t.Execution, ...]:
    """The order's executions: its blocks, checked against its ``fillAmount``.

    An execution is a block trade of the order (its trades carry the
    ``orderId``) that carries no external reference (those are allocations
    booked by a desk) and is not cancelled. When they account for less than
    the order's ``fillAmount`` (trades not visible yet), the rest is one more
    execution at the price that makes the volume-weighted average the order's
    ``averagePrice``.
    """
    order_id = order.id or ""
    filled = order.fill_amount or 0.0
    out: list[t.Execution] = []
    for block in blocks:
        mine = [x for x in block.trades if x.order_id == order_id]
        booked = any(r.external_invnum1 for x in block.trades for r in x.external_trade_references)
        cancelled = t.TradeStatus.from_wire(block.status) == t.TradeStatus.CANCELLED
        if not mine or booked or cancelled or block.price is None:
            continue
        quantity = math.fsum(x.quantity for x in mine)
        if quantity <= 0:
            continue
        out.append(
            t.Execution(
                order_id=order_id,
                execution_id=str(mine[0].invnum),
                quantity=quantity,
                price=block.price,
                time=_parse_time(block.execution_time),
            )
        )
    out.sort(key=lambda e: (e.time is None, e.time or _EPOCH, e.execution_id))
    seen = math.fsum(e.quantity for e in out)
    rest = filled - seen
    if rest > 0.5:
        average = order.average_price
        if average is None or not math.isfinite(average):
            raise AladdinResponseError(
                f"order {order_id}: fillAmount {filled:,.0f} but its trades hold "
                f"{seen:,.0f} and it has no averagePrice",
                request_id=None,
                path=path,
            )
        price = (filled * average - math.fsum(e.quantity * e.price for e in out)) / rest
        if not math.isfinite(price) or price <= 0:
            raise AladdinResponseError(
                f"order {order_id}: its trades do not reconcile with fillAmount "
                f"{filled:,.0f} at averagePrice {average}",
                request_id=None,
                path=path,
            )
        out.append(
            t.Execution(
                order_id=order_id,
                execution_id=f"{order_id}-unreported",
                quantity=rest,
                price=round(price, 8),
            )
        )
    elif rest < -0.5:
        logger.warning(
            "order %s: its trades hold %s face, more than its fillAmount %s",
            order_id,
            seen,
            filled,
        )
    return tuple(out)
