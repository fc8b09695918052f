"""An order's parameters checked as Binance checks them: presence, form, filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cex.errors import PrecisionLoss
from cex.exchange.paper import reject
from cex.exchange.symbols import SymbolSpec
from cex.fixed import parse_q8

SIDES = ("BUY", "SELL")
TYPES = ("LIMIT", "MARKET")
TIFS = ("GTC", "IOC", "FOK")
RESP_TYPES = ("ACK", "RESULT", "FULL")


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A checked new order (amounts x 1e8; 0 where not given)."""

    symbol: str
    side: str
    type: str
    tif: str
    price: int
    qty: int
    quote_qty: int
    client_id: str | None
    resp_type: str


def decimal(params: Mapping[str, str], name: str) -> int:
    """A decimal parameter x 1e8 (raises -1100 for bad text, -1111 beyond 8 decimals)."""
    text = params[name]
    try:
        return parse_q8(text)
    except PrecisionLoss:
        raise reject.precision() from None
    except Exception:  # noqa: BLE001 -- any other bad text is Binance's -1100
        raise reject.illegal(name) from None


def _present(params: Mapping[str, str], name: str) -> bool:
    return bool(params.get(name, ""))


def parse_new_order(params: Mapping[str, str], specs: Mapping[str, SymbolSpec]) -> NewOrder:
    """Check POST /api/v3/order's parameters (not the balance, not the book).

    Raises
    ------
    Reject
        -1102 missing, -1121 symbol, -1117 side, -1116 type, -1115 timeInForce, -1106 not
        required, -1100/-1111 bad decimals, -1013 filters.
    """
    for name in ("symbol", "side", "type"):
        if not _present(params, name):
            raise reject.missing(name)
    spec = specs.get(params["symbol"])
    if spec is None or spec.coinbase:
        raise reject.bad_symbol()
    side, kind = params["side"], params["type"]
    if side not in SIDES:
        raise reject.Reject(-1117, "Invalid side.")
    if kind not in TYPES:
        raise reject.Reject(-1116, "Invalid orderType.")
    resp = params.get("newOrderRespType", "FULL")
    if resp not in RESP_TYPES:
        raise reject.illegal("newOrderRespType")
    client_id = params.get("newClientOrderId") or None
    if client_id is not None and (len(client_id) > 36 or not client_id.isascii()):
        raise reject.illegal("newClientOrderId")
    if kind == "LIMIT":
        order = _limit(params, spec, client_id, resp)
    else:
        order = _market(params, spec, client_id, resp)
    check_filters(order, spec)
    return order


def _limit(params: Mapping[str, str], spec: SymbolSpec, client_id: str | None,
           resp: str) -> NewOrder:
    for name in ("timeInForce", "quantity", "price"):
        if not _present(params, name):
            raise reject.missing(name)
    if _present(params, "quoteOrderQty"):
        raise reject.not_required("quoteOrderQty")
    tif = params["timeInForce"]
    if tif not in TIFS:
        raise reject.Reject(-1115, "Invalid timeInForce.")
    return NewOrder(spec.symbol, params["side"], "LIMIT", tif, decimal(params, "price"),
                    decimal(params, "quantity"), 0, client_id, resp)


def _market(params: Mapping[str, str], spec: SymbolSpec, client_id: str | None,
            resp: str) -> NewOrder:
    for name in ("price", "timeInForce"):
        if _present(params, name):
            raise reject.not_required(name)
    has_qty, has_quote = _present(params, "quantity"), _present(params, "quoteOrderQty")
    if not has_qty and not has_quote:
        raise reject.Reject(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both "
                                   "were empty/null!")
    if has_qty and has_quote:
        raise reject.not_required("quoteOrderQty")
    qty = decimal(params, "quantity") if has_qty else 0
    quote = decimal(params, "quoteOrderQty") if has_quote else 0
    return NewOrder(spec.symbol, params["side"], "MARKET", "GTC", 0, qty, quote, client_id, resp)


def check_filters(order: NewOrder, spec: SymbolSpec) -> None:
    """PRICE_FILTER and LOT_SIZE for what the order gives; MIN_NOTIONAL for limit orders and
    market orders by quoteOrderQty (market orders by quantity: at matching, see the engine)."""
    if order.type == "LIMIT":
        p = order.price
        if p < spec.min_price or p > spec.max_price or (p - spec.min_price) % spec.tick_size:
            raise reject.filter_failure("PRICE_FILTER")
    if order.qty or order.type == "LIMIT":
        q = order.qty
        if q < spec.min_qty or q > spec.max_qty or (q - spec.min_qty) % spec.step_size:
            raise reject.filter_failure("LOT_SIZE")
    if order.type == "LIMIT" and order.price * order.qty < spec.min_notional * 100_000_000:
        raise reject.filter_failure("MIN_NOTIONAL")
    if order.quote_qty and order.quote_qty < spec.min_notional:
        raise reject.filter_failure("MIN_NOTIONAL")
