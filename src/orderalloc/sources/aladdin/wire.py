"""The Aladdin wire format (public): paths, headers, limits, JSON shapes and their converter.

One idea, so one module: what travels between orderalloc and Aladdin. It
holds the API paths and ``VND.com.blackrock.*`` headers, the published
limits (`BATCH_POST_MAX`), one attrs class per published JSON definition
(swagger ``definitions`` or the fields the Positions / Security Analytics /
Security Master descriptions name), holding only the fields the library
uses, and the cattrs converter that reads JSON into them. Unknown keys are
ignored because Aladdin adds fields over time. Field names are snake_case
here and camelCase on the wire (`wire_name`). The client (`.plans`,
`.mapping`) and the test server (`orderalloc.testing.aladdin`) both import
this module, so the two sides cannot disagree on a path or a name.

To read a new Aladdin field: add it (snake_case, with a default) to its
class here, then use it in `.mapping`. `structure` reports failures through
`cattrs.transform_error`, which names the path of every bad field
(``$.portfolioCurrencyLadders[3].sodNav``), as an `AladdinResponseError`.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from orderalloc.errors import InvalidInputError

from .errors import AladdinResponseError

__all__ = [
    "ACCOUNT_INFO",
    "API_KEY",
    "BATCH_POST_MAX",
    "CASH_LADDER",
    "ORDER",
    "ORIGIN_TIMESTAMP",
    "PORTFOLIO_GROUP",
    "POSITIONS",
    "REQUEST_ID",
    "RESPONSE_ID",
    "RESTRICTED_ASSET",
    "SECURITY_ANALYTICS",
    "SECURITY_MASTER",
    "STRICT_POSITION",
    "TOKEN_PATH",
    "TRADE",
    "AccountInfo",
    "AnalyticsEntry",
    "AssetReference",
    "BatchPostOrdersResponse",
    "BatchPostTradesResponse",
    "BlockTrade",
    "BlockTradeSnippet",
    "CancelOrderResponse",
    "CancelOrderResult",
    "CancelTradeResponse",
    "CashLadder",
    "ExternalOrderReference",
    "ExternalTradeReference",
    "FilterAccountInfosResponse",
    "FilterOrdersResponse",
    "FilterRestrictedAssetsResponse",
    "FilterTradesResponse",
    "LongrunningOperation",
    "OAuthToken",
    "Order",
    "OrderDetail",
    "PortfolioCurrencyLadder",
    "PortfolioGroupMembers",
    "PortfolioGroupNode",
    "PortfolioReference",
    "Position",
    "PostOrderResponse",
    "PostOrderResult",
    "RestrictedAsset",
    "RestrictedAssetId",
    "RiskAnalytics",
    "RpcStatus",
    "SecurityAnalyticsResponse",
    "SecurityMasterRecord",
    "SettleDateBalance",
    "SinglePostOrderResponse",
    "Trade",
    "TradeResult",
    "TradeSnippet",
    "Violation",
    "configure_converter",
    "make_converter",
    "structure",
    "wire_name",
]

T = TypeVar("T")


# --- API paths --------------------------------------------------------------------------------

PORTFOLIO_GROUP = "/api/portfolio/configuration/portfolio-group/v1"
CASH_LADDER = "/api/portfolio-management/cash/cash-ladder/v2"
RESTRICTED_ASSET = "/api/portfolio/configuration/restricted-asset/v1"
ACCOUNT_INFO = "/api/investment-operations/reference-data/account-info/v1"
ORDER = "/api/trading/order-management/order/v1"
TRADE = "/api/trading/trade-processing/trade/v2"
POSITIONS = "/api/portfolio-mgmt/positions/v1/position"
SECURITY_ANALYTICS = "/api/portfolio-mgmt/security-analytics/v2/assets"
SECURITY_MASTER = "/api/reference-data/securities/v1/security-master"
TOKEN_PATH = "/api/oauth2/default/v1/token"

REQUEST_ID = "VND.com.blackrock.Request-ID"
ORIGIN_TIMESTAMP = "VND.com.blackrock.Origin-Timestamp"
API_KEY = "VND.com.blackrock.API-Key"
RESPONSE_ID = "VND.com.blackrock.Response-ID"

#: ``orders:batchPost`` takes at most this many orders per request.
BATCH_POST_MAX = 1000


# --- PortfolioGroupAPI ------------------------------------------------------------------------


@attrs.frozen
class PortfolioGroupNode:
    """``v1PortfolioGroupNode``: a portfolio, or a sub-group when it has children."""

    portfolio_ticker: str
    portfolio_id: int | None = None
    parent_portfolio_ids: list[str] = attrs.Factory(list)
    child_portfolio_ids: list[str] = attrs.Factory(list)


@attrs.frozen
class PortfolioGroupMembers:
    """``v1PortfolioGroupMembers``."""

    nodes: list[PortfolioGroupNode] = attrs.Factory(list)


# --- CashLadderAPI ----------------------------------------------------------------------------


@attrs.frozen
class SettleDateBalance:
    """``v2SettleDateBalance``."""

    settlement_date: str | None = None
    cash_balance: float | None = None


@attrs.frozen
class PortfolioCurrencyLadder:
    """``v2PortfolioCurrencyLadder`` (one portfolio, one currency)."""

    portfolio_ticker: str | None = None
    portfolio_name: str | None = None
    cash_balance_security_currency_code: str | None = None
    portfolio_base_currency_code: str | None = None
    sod_nav: float | None = None
    intraday_nav: float | None = None
    settle_date_balances: list[SettleDateBalance] = attrs.Factory(list)


@attrs.frozen
class CashLadder:
    """``v2CashLadder``."""

    portfolio_currency_ladders: list[PortfolioCurrencyLadder] = attrs.Factory(list)


# --- RestrictedAssetAPI -----------------------------------------------------------------------


@attrs.frozen
class RestrictedAssetId:
    """``v1RestrictedAssetId``."""

    portfolio_id: str
    start_date: str | None = None
    investment_number: int | None = None


@attrs.frozen
class RestrictedAsset:
    """``v1RestrictedAsset``."""

    cusip: str
    id: RestrictedAssetId | None = None
    state: str | None = None
    end_date: str | None = None
    restricted_amount: float | None = None
    purpose: str | None = None


@attrs.frozen
class FilterRestrictedAssetsResponse:
    """``v1FilterRestrictedAssetsResponse``."""

    restricted_assets: list[RestrictedAsset] = attrs.Factory(list)
    next_page_token: str | None = None


# --- AccountInfoAPI ---------------------------------------------------------------------------


@attrs.frozen
class AccountInfo:
    """``v1AccountInfo``."""

    id: str | None = None
    short_name: str | None = None
    full_name: str | None = None


@attrs.frozen
class FilterAccountInfosResponse:
    """``v1FilterAccountInfosResponse``."""

    account_infos: list[AccountInfo] = attrs.Factory(list)
    next_page_token: str | None = None


# --- Positions v1 / Security Analytics v2 / Security Master v1 --------------------------------


@attrs.frozen
class Position:
    """One element of the Positions v1 answer (one portfolio, one asset).

    Parsed strictly where an account load needs the value (`STRICT_POSITION`:
    names, quantity, market value, NAV, the risk fields summed into the
    metrics) and leniently elsewhere: a value of another type in a lenient
    field (``"priceAsPct": "Y"``, a flag in some reference data) becomes
    ``None`` and its name goes in *malformed*, so that one odd field never
    aborts a whole group's load. A security built from the position refuses
    one it needs (`orderalloc.sources.aladdin.mapping`).
    """

    portfolio_name: str
    asset_id: str
    pos_quantity: float = 0.0
    cur_par: float | None = None
    factor: float | None = None
    price: float | None = None
    price_as_pct: float | None = None
    mkt_value: float | None = None
    portfolio_n_a_v: float | None = None
    portfolio_n_a_v_computed: float | None = None
    min_trade_size: float | None = None
    min_trade_increment: float | None = None
    oad: float | None = None
    mod_dur: float | None = None
    spread_dur: float | None = None
    oas: float | None = None
    dts: float | None = None
    issuer_ticker: str | None = None
    sec_group: str | None = None
    malformed: tuple[str, ...] = ()  # lenient fields whose value was dropped


#: Position fields an account load uses: a malformed value is an error.
STRICT_POSITION = frozenset(
    {
        "portfolio_name",
        "asset_id",
        "pos_quantity",
        "mkt_value",
        "portfolio_n_a_v",
        "portfolio_n_a_v_computed",
        "spread_dur",
        "oad",
        "oas",
    }
)


@attrs.frozen
class RiskAnalytics:
    """Security Analytics v2 ``RiskAnalytics`` (the fields an allocator uses)."""

    oad: float | None = None
    modified_duration: float | None = None
    spread_duration: float | None = None
    oas: float | None = None
    convexity: float | None = None
    yield_to_worst: float | None = None
    z_spread: float | None = None
    risk_date: str | None = None


@attrs.frozen
class AnalyticsEntry:
    """``riskByAssetId[asset]``."""

    asset_id: str | None = None
    risk_by_currency: dict[str, RiskAnalytics] = attrs.Factory(dict)


@attrs.frozen
class SecurityAnalyticsResponse:
    """Security Analytics v2 ``{"riskByAssetId": ..., "errors": ...}``."""

    risk_by_asset_id: dict[str, AnalyticsEntry] = attrs.Factory(dict)
    errors: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class SecurityMasterRecord:
    """Security Master v1: ``assetId``, ``description``, ``coupon``, ``maturity``, ``issuer``."""

    asset_id: str
    description: str | None = None
    coupon: float | None = None
    maturity: str | None = None
    issuer: str | None = None


# --- OrderAPI ---------------------------------------------------------------------------------


@attrs.frozen
class RpcStatus:
    """``rpcStatus``: ``code`` is a ``google.rpc.Code`` number."""

    code: int | None = None
    message: str | None = None


@attrs.frozen
class PortfolioReference:
    """``portfolioPortfolioReference``."""

    portfolio_id: str | None = None
    portfolio_ticker: str | None = None


@attrs.frozen
class OrderDetail:
    """``v1OrderDetail`` (one portfolio's allocation)."""

    portfolio_reference: PortfolioReference | None = None
    quantity: float = 0.0
    order_detail_id: int | None = None


@attrs.frozen
class ExternalOrderReference:
    """``v1ExternalOrderReference``."""

    external_id1: str | None = None
    external_id2: str | None = None
    account_code: str | None = None


@attrs.frozen
class Order:
    """``v1Order`` (the fields the library reads back)."""

    id: str | None = None
    order_status: str | None = None
    order_details: list[OrderDetail] = attrs.Factory(list)
    external_order_reference: ExternalOrderReference | None = None
    asset_id: str | None = None
    transaction_type: str | None = None
    settle_date: str | None = None
    face: float | None = None
    version: int | None = None
    touch_count: int | None = None
    fill_amount: float | None = None
    average_price: float | None = None
    trade_date: str | None = None


@attrs.frozen
class Violation:
    """``v1Violation``."""

    action_status: str | None = None
    portfolio_id: str | None = None
    rule_id: str | None = None
    rule_assignment_name: str | None = None
    compliance_severity: str | None = None
    violation_description: str | None = None
    violation_detail: str | None = None


@attrs.frozen
class PostOrderResponse:
    """``v1PostOrderResponse``."""

    compliance_violations: list[Violation] = attrs.Factory(list)
    order: Order | None = None


@attrs.frozen
class PostOrderResult:
    """``v1PostOrderResult``: ``output`` or ``error``."""

    error: RpcStatus | None = None
    output: PostOrderResponse | None = None


@attrs.frozen
class SinglePostOrderResponse:
    """``v1SinglePostOrderResponse``."""

    results: list[PostOrderResult] = attrs.Factory(list)


@attrs.frozen
class BatchPostOrdersResponse:
    """``v1BatchPostOrdersResponse`` (inside a long-running operation's ``response``)."""

    results: list[PostOrderResult] = attrs.Factory(list)


@attrs.frozen
class CancelOrderResult:
    """``v1CancelOrderResult``."""

    error: RpcStatus | None = None
    output: Order | None = None


@attrs.frozen
class CancelOrderResponse:
    """``v1CancelOrderResponse``."""

    results: list[CancelOrderResult] = attrs.Factory(list)


@attrs.frozen
class FilterOrdersResponse:
    """``v1FilterOrdersResponse``."""

    orders: list[Order] = attrs.Factory(list)
    next_page_token: str | None = None


@attrs.frozen
class LongrunningOperation:
    """``v1LongrunningOperation``; ``response`` is an ``Any`` (``@type`` plus the message)."""

    id: str | None = None
    done: bool = False
    error: RpcStatus | None = None
    response: dict[str, Any] | None = None


# --- TradeAPI ---------------------------------------------------------------------------------


@attrs.frozen
class ExternalTradeReference:
    """``v2ExternalTradeReference``."""

    external_invnum1: str | None = None
    external_invnum2: str | None = None
    account_code: str | None = None


@attrs.frozen
class Trade:
    """``v2Trade``: one portfolio's trade inside a block (the fields the library reads)."""

    portfolio_reference: PortfolioReference | None = None
    invnum: int | None = None
    quantity: float = 0.0
    principal: float | None = None
    order_id: str | None = None
    external_trade_references: list[ExternalTradeReference] = attrs.Factory(list)


@attrs.frozen
class AssetReference:
    """``assetAssetReference``."""

    asset_id: str | None = None
    cusip: str | None = None


@attrs.frozen
class BlockTrade:
    """``v2BlockTrade`` (the fields the library reads back)."""

    trades: list[Trade] = attrs.Factory(list)
    asset_reference: AssetReference | None = None
    transaction_type: str | None = None
    price: float | None = None
    trade_date: str | None = None
    settlement_date: str | None = None
    execution_time: str | None = None
    status: str | None = None


@attrs.frozen
class FilterTradesResponse:
    """``v2FilterTradesResponse``."""

    block_trades: list[BlockTrade] = attrs.Factory(list)
    next_page_token: str | None = None


@attrs.frozen
class TradeSnippet:
    """``v2TradeSnippet``."""

    portfolio_reference: PortfolioReference | None = None
    invnum: int | None = None
    quantity: float = 0.0
    order_id: str | None = None


@attrs.frozen
class BlockTradeSnippet:
    """``v2BlockTradeSnippet``."""

    asset_id: str | None = None
    trades: list[TradeSnippet] = attrs.Factory(list)


@attrs.frozen
class TradeResult:
    """``v2TradeResult``: ``output`` or ``error``."""

    error: RpcStatus | None = None
    output: BlockTradeSnippet | None = None


@attrs.frozen
class BatchPostTradesResponse:
    """``v2BatchPostTradesResponse`` (inside a long-running operation's ``response``)."""

    results: list[TradeResult] = attrs.Factory(list)


@attrs.frozen
class CancelTradeResponse:
    """``v2CancelTradeResponse``."""

    result: TradeResult | None = None


@attrs.frozen
class OAuthToken:
    """The OAuth 2.0 token endpoint's answer (RFC 6749 section 5.1)."""

    access_token: str = attrs.field(repr=False)
    token_type: str = "Bearer"
    expires_in: float = 3600.0


# --- the converter ----------------------------------------------------------------------------

# Wire names that are not the plain camelCase of the Python name.
_WIRE_NAMES = {
    "portfolio_n_a_v": "portfolioNAV",
    "portfolio_n_a_v_computed": "portfolioNAVComputed",
    "external_id1": "externalId1",
    "external_id2": "externalId2",
    "external_invnum1": "externalInvnum1",
    "external_invnum2": "externalInvnum2",
}
# Snake-case wire names (the OAuth answer follows RFC 6749, not Aladdin's style).
_SNAKE_CLASSES: tuple[type, ...] = (OAuthToken,)


def wire_name(name: str) -> str:
    """The JSON name of the attribute *name* (``pos_quantity`` -> ``posQuantity``)."""
    return _camel(name)


def _camel(name: str) -> str:
    return _WIRE_NAMES.get(name) or re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def configure_converter(converter: cattrs.Converter) -> None:
    """Teach *converter* the camelCase wire names of every attrs class here."""

    def factory(cls: type[Any]) -> Any:
        if cls in _SNAKE_CLASSES:
            return make_dict_structure_fn(cls, converter)
        overrides = {a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)}
        return make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    converter.register_structure_hook_factory(attrs.has, factory)

    # JSON numbers for floats may come as ints; strings for ids may come as numbers.
    # A refusal is a ValueError (cattrs words it "invalid value for type, expected
    # float" at the field's JSON path); `structure` turns the lot into one error.
    def to_float(value: Any, _: type) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _refused(value, "a number")
        return float(value)

    def to_str(value: Any, _: type) -> str:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
        raise _refused(value, "a string")

    def to_int(value: Any, _: type) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise _refused(value, "an integer")
        return int(value)

    def to_bool(value: Any, _: type) -> bool:
        if not isinstance(value, bool):
            raise _refused(value, "true or false")
        return value

    converter.register_structure_hook(bool, to_bool)
    converter.register_structure_hook(float, to_float)
    converter.register_structure_hook(str, to_str)
    converter.register_structure_hook(int, to_int)

    # Position: strict where an account load needs the value, lenient elsewhere.
    lenient = [
        a for a in attrs.fields(Position) if a.name not in STRICT_POSITION and a.name != "malformed"
    ]
    position_fn = make_dict_structure_fn(
        Position,
        converter,
        malformed=override(omit=True),
        **{a.name: override(rename=_camel(a.name)) for a in attrs.fields(Position)[:-1]},  # type: ignore[arg-type]
    )

    def to_position(value: Any, _: type) -> Position:
        if not isinstance(value, dict):
            raise _refused(value, "an object")
        clean = dict(value)
        dropped: list[str] = []
        for field in lenient:
            key = _camel(field.name)
            raw = clean.get(key)
            if raw is None:
                continue
            hook = to_str if field.name in ("issuer_ticker", "sec_group") else to_float
            try:
                hook(raw, str)
            except (TypeError, ValueError):
                dropped.append(key)
                del clean[key]
        position: Position = position_fn(clean, Position)
        return attrs.evolve(position, malformed=tuple(dropped)) if dropped else position

    converter.register_structure_hook(Position, to_position)


def make_converter() -> cattrs.Converter:
    """A converter for every Aladdin wire shape, with detailed validation."""
    converter = cattrs.Converter(detailed_validation=True)
    configure_converter(converter)
    return converter


_CONVERTER = make_converter()


def _refused(value: Any, expected: str) -> InvalidInputError:
    why = f"expected {expected}, got {type(value).__name__}"
    return InvalidInputError("JSON value", value, why)


def structure(data: Any, cls: type[T], path: str) -> T:
    """*data* (parsed JSON from *path*) as *cls*.

    Raises:
        AladdinResponseError: The answer is not the published shape; the
            message names every bad field (at most five) by its JSON path.
            The driver fills in the request id and status afterwards.
    """
    try:
        return _CONVERTER.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            lines = cattrs.transform_error(exc, path="$")
        else:
            lines = [f"{type(exc).__name__}: {exc}"]
        raise AladdinResponseError("; ".join(lines[:5]), request_id=None, path=path) from None
