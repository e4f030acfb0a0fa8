"""A `MockAladdin`'s data as Aladdin JSON, and Aladdin JSON requests as tickets for it.

`Renderer` writes what the published shapes hold (camelCase names, as
`orderalloc.sources.aladdin.wire` reads them): portfolio-group nodes, cash
ladders, positions, analytics, master records, account infos, restricted
assets, orders, violations and block trades. It adds what a real shop has
and the client must cope with: a foreign-currency ladder next to the base
one, an expired restriction, the street's executions as blocks of
`STREET_PORTFOLIO`.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from orderalloc._model import Side
from orderalloc.sources.mock import GroupData, MockAladdin
from orderalloc.sources.orders import (
    ComplianceViolation,
    OrderLine,
    OrderStatus,
    OrderTicket,
    PostedOrder,
)
from orderalloc.sources.trades import BookedTrade, TradeLine, TradeTicket

__all__ = ["STREET_PORTFOLIO", "Renderer"]

#: The portfolio the street's executions of an order sit in before they are allocated.
STREET_PORTFOLIO = "OA-STREET"

_STATUS_WORDS = {
    OrderStatus.OPEN: "Open",
    OrderStatus.CANCELLED: "Canceled",
    OrderStatus.COMPL_PENDING: "Compl Pending",
}

Json = dict[str, Any]


def _node(code: int, ticker: str, parents: Sequence[int], children: Sequence[int]) -> Json:
    """A ``v1PortfolioGroupNode``."""
    return {
        "portfolioId": code,
        "portfolioTicker": ticker,
        "parentPortfolioIds": [str(p) for p in parents],
        "childPortfolioIds": [str(c) for c in children],
    }


def _ladder(g: GroupData, i: int, currency: str, balances: Sequence[tuple[str, float]]) -> Json:
    """A ``v2PortfolioCurrencyLadder`` of account *i* in *currency* (base: USD)."""
    return {
        "portfolioTicker": g.ids[i],
        "cashBalanceSecurityCurrencyCode": currency,
        "portfolioBaseCurrencyCode": "USD",
        "sodNav": float(g.sod_nav[i]),
        "intradayNav": float(g.nav[i]),
        "settleDateBalances": [{"settlementDate": d, "cashBalance": c} for d, c in balances],
    }


def _restriction(code: int, cusip: str, start: str, purpose: str) -> Json:
    """A ``v1RestrictedAsset`` in force (``RESTRICTED_ASSET_STATE_YES``)."""
    return {
        "id": {"portfolioId": str(code), "startDate": start},
        "cusip": cusip,
        "restrictedAmount": 0.0,
        "purpose": purpose,
        "state": "RESTRICTED_ASSET_STATE_YES",
    }


def _date(raw: Any) -> dt.date | None:
    return dt.date.fromisoformat(raw) if raw else None


class Renderer:
    """Renders one `MockAladdin` (thread-safe; caches its code <-> ticker index).

    Args:
        mock: The data.
        account_code: The organisation account code orders and trades carry.
    """

    def __init__(self, mock: MockAladdin, account_code: str) -> None:
        self.mock = mock
        self.account_code = account_code
        self._ticker_by_code: dict[str, str] | None = None
        self._lock = threading.Lock()

    # --- groups and accounts ---------------------------------------------------------------

    def members(self, group: str) -> list[Json] | None:
        """The nodes of *group* (the root, a group or a sub-group), or None (no such group)."""
        mock = self.mock
        if group == mock.root_group:
            return [
                _node(g.code, g.name, [], [c for c, _ in g.subgroups.values()] or list(g.codes))
                for g in mock.all_groups()
            ]
        if group in mock.groups():
            g = mock.group_data(group)
            if g.subgroups:
                return [
                    _node(code, sub, [g.code], [g.codes[i] for i in rows])
                    for sub, (code, rows) in g.subgroups.items()
                ]
            return [_node(g.codes[i], g.ids[i], [g.code], []) for i in range(len(g.ids))]
        for g in self.mock.all_groups():
            if group in g.subgroups:
                code, rows = g.subgroups[group]
                return [_node(g.codes[int(i)], g.ids[int(i)], [code], []) for i in rows]
        return None

    def accounts_named(self, names: Sequence[str]) -> list[tuple[GroupData, int]]:
        """Rows for a mix of account, group and sub-group tickers."""
        rows: list[tuple[GroupData, int]] = []
        for name in names:
            found = self.mock.locate(name)
            if found is not None:
                rows.append(found)
                continue
            try:
                data, idx = self.mock.top_group(name)
            except KeyError:
                continue
            rows.extend((data, int(i)) for i in idx)
        return rows

    def ladders(self, tickers: Sequence[str], cash_date: dt.date) -> list[Json]:
        """The cash ladders of *tickers*; the first account of a group also has a EUR one."""
        dates = self.mock.settle_dates(cash_date)
        out = []
        for g, i in self.accounts_named(tickers):
            balances = [(d, float(g.ladder[i, k])) for k, d in enumerate(dates)]
            out.append({**_ladder(g, i, "USD", balances), "portfolioName": g.names[i]})
            if i == 0:  # a foreign-currency ladder the client must leave out of USD cash
                out.append(_ladder(g, i, "EUR", [(dates[0], 12345.0)]))
        return out

    def position(self, name: str, j: int, face: float, nav: float, sod_nav: float) -> Json:
        """Portfolio *name*'s position of *face* in bond *j*."""
        s = self.mock.bonds[j].security
        cur_par = face * s.factor
        a = s.analytics
        return {
            "portfolioName": name,
            "assetId": s.id,
            "posQuantity": face,
            "curPar": cur_par,
            "factor": s.factor,
            "price": s.price,
            "priceAsPct": s.price,
            "mktValue": cur_par * (s.price + s.accrued) / 100.0,
            "portfolioNAV": sod_nav,
            "portfolioNAVComputed": nav,
            "minTradeSize": s.min_piece,
            "minTradeIncrement": s.increment,
            "oad": a["duration"],
            "modDur": a["modified_duration"],
            "spreadDur": a["spread_duration"],
            "oas": a["oas"],
            "dts": a["spread_duration"] * a["oas"] / 100.0,
            "issuerTicker": s.ticker,
            "secGroup": s.asset_class,
        }

    def positions(self, names: Sequence[str]) -> list[Json]:
        """Positions of ``portGroup`` *names*: the pricing portfolio, benchmarks, accounts.

        A name starting with ``-`` leaves that account out.
        """
        mock = self.mock
        include = [n for n in names if not n.startswith("-")]
        exclude = {n[1:] for n in names if n.startswith("-")}
        benchmarks = set(mock.benchmarks.values())
        out: list[Json] = []
        for name in include:
            if name == mock.pricing_portfolio:
                out.extend(self.position(name, j, 1e6, 0.0, 0.0) for j in range(len(mock.bonds)))
            elif name in benchmarks:
                face = mock.benchmark_holdings(name)
                nav = mock.benchmark_nav(name)
                out.extend(
                    self.position(name, int(j), float(face[j]), nav, nav)
                    for j in np.flatnonzero(face)
                )
        accounts = [n for n in include if n != mock.pricing_portfolio and n not in benchmarks]
        for g, i in self.accounts_named(accounts):
            if g.ids[i] in exclude:
                continue
            nav, sod_nav = float(g.nav[i]), float(g.sod_nav[i])
            for j in np.flatnonzero(g.holdings[i]):
                out.append(self.position(g.ids[i], int(j), float(g.holdings[i, j]), nav, sod_nav))
        return out

    def account_infos(self, codes: Sequence[str]) -> list[Json]:
        """``v1AccountInfo`` of the accounts with portfolio *codes* (unknown ones left out)."""
        by_code = {
            str(g.codes[i]): (g, i) for g in self.mock.all_groups() for i in range(len(g.ids))
        }
        infos = []
        for code in codes:
            if code in by_code:
                g, i = by_code[code]
                infos.append({"id": code, "shortName": g.ids[i], "fullName": g.names[i]})
        return infos

    def restricted(self, cusip: str) -> list[Json]:
        """Restrictions of *cusip*: those in force, and an expired one per group."""
        try:
            j = self.mock.column(cusip)
        except KeyError:
            return []
        items = []
        for g in self.mock.all_groups():
            for i in np.flatnonzero(g.restricted[:, j]):
                items.append(_restriction(g.codes[i], cusip, "2024-01-02", "Client restriction"))
            if not g.restricted[0, j]:  # an expired restriction the client must ignore
                expired = _restriction(g.codes[0], cusip, "2019-01-02", "Expired")
                items.append({**expired, "endDate": "2020-01-02"})
        return items

    # --- securities ------------------------------------------------------------------------

    def analytics(self, assets: Sequence[str]) -> Json:
        """Security Analytics v2: ``riskByAssetId``, and ``errors`` for unknown assets."""
        risk: Json = {}
        errors: Json = {}
        for asset in assets:
            try:
                a = self.mock.bond(asset).security.analytics
            except KeyError:
                errors[asset] = "ASSET_NOT_FOUND"
                continue
            everything = {
                "oad": a["duration"],
                "modifiedDuration": a["modified_duration"],
                "spreadDuration": a["spread_duration"],
                "oas": a["oas"],
                "convexity": a["convexity"],
                "yieldToWorst": a["ytw"],
                "zSpread": a["z_spread"],
                "riskDate": dt.date.today().isoformat(),
            }
            risk[asset] = {"assetId": asset, "riskByCurrency": {"ALL": everything}}
        return {"riskByAssetId": risk, "errors": errors}

    def master(self, assets: Sequence[str]) -> list[Json]:
        """Security Master v1 records of the known *assets*."""
        out = []
        for asset in assets:
            try:
                bond = self.mock.bond(asset)
            except KeyError:
                continue
            out.append(
                {
                    "assetId": bond.id,
                    "description": bond.security.name,
                    "coupon": bond.coupon,
                    "maturity": bond.maturity,
                    "issuer": bond.issuer,
                }
            )
        return out

    # --- portfolio references ----------------------------------------------------------------

    def code_of(self, account: str) -> str | None:
        """The portfolio code of account *account*, or None."""
        found = self.mock.locate(account)
        return None if found is None else str(found[0].codes[found[1]])

    def _reference(self, account: str) -> Json:
        return {"portfolioId": self.code_of(account) or "", "portfolioTicker": account}

    def _account(self, ref: Mapping[str, Any]) -> str:
        """The account a ``portfolioReference`` names (by ticker, else by code)."""
        ticker = ref.get("portfolioTicker")
        if ticker:
            return str(ticker)
        code = str(ref.get("portfolioId"))
        with self._lock:
            if self._ticker_by_code is None:
                self._ticker_by_code = {
                    str(c): t
                    for g in self.mock.all_groups()
                    for c, t in zip(g.codes, g.ids, strict=True)
                }
            return self._ticker_by_code.get(code, code)

    # --- orders ------------------------------------------------------------------------------

    def ticket(self, order: Mapping[str, Any]) -> OrderTicket:
        """The `OrderTicket` a ``v1Order`` request body describes."""
        lines = [
            OrderLine(
                self._account(detail.get("portfolioReference") or {}),
                float(detail.get("quantity") or 0),
            )
            for detail in order.get("orderDetails") or []
        ]
        comment = None
        for c in order.get("orderComments") or []:
            if c.get("orderCommentKey") == "General":
                comment = c.get("orderCommentValue")
        return OrderTicket(
            security_id=order.get("assetId", ""),
            side=Side(str(order.get("transactionType", "")).upper()),
            lines=tuple(lines),
            external_id=(order.get("externalOrderReference") or {}).get("externalId1", ""),
            comment=comment,
            settle_date=_date(order.get("settleDate")),
        )

    def order(self, posted: PostedOrder) -> Json:
        """A ``v1Order`` as Aladdin answers it (with its fills so far)."""
        reference: Json = {"accountCode": self.account_code}
        if posted.external_id:
            reference["externalId1"] = posted.external_id
        return {
            "id": posted.order_id,
            "orderStatus": _STATUS_WORDS.get(posted.status, posted.status.title()),
            "assetId": posted.security_id,
            "transactionType": posted.side.value,
            "face": posted.quantity,
            "version": posted.version,
            **self._fill(posted.order_id),
            "externalOrderReference": reference,
            "orderDetails": [
                {"portfolioReference": self._reference(line.account_id), "quantity": line.quantity}
                for line in posted.lines
            ],
        }

    def violation(self, v: ComplianceViolation) -> Json:
        """A ``v1Violation``."""
        out: Json = {
            "actionStatus": "Action Required",
            "ruleId": v.rule,
            "complianceSeverity": f"COMPLIANCE_SEVERITY_{v.severity}",
            "violationDescription": v.message,
        }
        if v.account_id is not None:
            out["portfolioId"] = self.code_of(v.account_id) or v.account_id
        return out

    def _fill(self, order_id: str) -> Json:
        """The order's ``fillAmount``, ``averagePrice`` and ``tradeDate`` from its executions."""
        executions = self.mock.fills(order_id)
        if not executions:
            return {"fillAmount": 0.0}
        amount = math.fsum(e.quantity for e in executions)
        average = math.fsum(e.quantity * e.price for e in executions) / amount
        first = executions[0].time
        out: Json = {"fillAmount": amount, "averagePrice": average}
        if first is not None:
            out["tradeDate"] = first.date().isoformat()
        return out

    # --- trades ------------------------------------------------------------------------------

    def trade_ticket(self, block: Mapping[str, Any]) -> TradeTicket:
        """The `TradeTicket` a ``v2BlockTrade`` request body describes."""
        trades = block.get("trades") or []
        lines = []
        for t in trades:
            principal = t.get("principal")
            lines.append(
                TradeLine(
                    self._account(t.get("portfolioReference") or {}),
                    float(t.get("quantity") or 0),
                    None if principal is None else float(principal),
                )
            )
        refs = [r for t in trades for r in t.get("externalTradeReferences") or []]
        return TradeTicket(
            security_id=(block.get("assetReference") or {}).get("assetId", ""),
            side=Side(str(block.get("transactionType", "")).upper()),
            price=float(block.get("price") or 0),
            lines=tuple(lines),
            external_id=next((r.get("externalInvnum1") for r in refs), None) or "",
            order_id=next((t.get("orderId") for t in trades if t.get("orderId")), None),
            trade_date=_date(block.get("tradeDate")),
            settle_date=_date(block.get("settlementDate")),
        )

    def snippets(self, trade: BookedTrade, *, references: bool, full: bool) -> list[Json]:
        """Per-portfolio trades: ``v2Trade`` (*full*) or ``v2TradeSnippet``."""
        out = []
        for k, line in enumerate(trade.lines):
            item: Json = {
                "invnum": int(trade.trade_id),
                "tradeNumber": k + 1,
                "portfolioReference": self._reference(line.account_id),
                "quantity": line.quantity,
            }
            if trade.order_id is not None:
                item["orderId"] = trade.order_id
            if full and line.principal is not None:
                item["principal"] = line.principal
            if references and trade.external_id:
                item["externalTradeReferences"] = [
                    {"externalInvnum1": trade.external_id, "accountCode": self.account_code}
                ]
            out.append(item)
        return out

    def blocks(self, assets: set[str], trade_date: str, *, references: bool) -> list[Json]:
        """``v2BlockTrade`` s in *assets* on *trade_date*: executions, then booked trades."""
        blocks = []
        for order in self.mock.orders():
            if order.security_id not in assets:
                continue
            for e in self.mock.fills(order.order_id):
                if e.time is None or e.time.date().isoformat() != trade_date:
                    continue
                street = {
                    "invnum": int(e.execution_id),
                    "tradeNumber": 1,
                    "portfolioReference": {"portfolioTicker": STREET_PORTFOLIO},
                    "quantity": e.quantity,
                    "orderId": order.order_id,
                }
                blocks.append(
                    {
                        "assetReference": {"assetId": order.security_id},
                        "transactionType": order.side.value,
                        "price": e.price,
                        "tradeDate": trade_date,
                        "executionTime": e.time.isoformat(),
                        "status": " ",
                        "trades": [street],
                    }
                )
        for trade in self.mock.trades():
            if trade.security_id not in assets or trade.trade_date is None:
                continue
            if trade.trade_date.isoformat() != trade_date:
                continue
            blocks.append(
                {
                    "assetReference": {"assetId": trade.security_id},
                    "transactionType": trade.side.value,
                    "price": trade.price,
                    "tradeDate": trade_date,
                    "status": "C" if not trade.is_active else " ",
                    "trades": self.snippets(trade, references=references, full=True),
                }
            )
        return blocks

    def booked(self, trade: BookedTrade) -> Json:
        """A ``v2BlockTradeSnippet``: what booking a block answers."""
        return {
            "assetId": trade.security_id,
            "trades": self.snippets(trade, references=False, full=False),
        }
