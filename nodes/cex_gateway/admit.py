"""Admission of an OrderRequest: every check made before anything is signed, none of them waits.

In this order (the first failure is the reject code, :mod:`.codes`): the venue and the symbol
(``asset_id`` of a configured symbol, asset type COIN), the enums (side, type, time in force),
the amounts (quantity > 0; price > 0 for LIMIT, 0 for MARKET), then, once the venue is known
(:func:`check_order`), the symbol's exchange filters, the risk limits and the day's loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum

from cex.binance.filters import FilterFailure, SymbolRules
from cex.binance.signing import client_order_id
from mesh.protocol import OrderRequest
from mesh.protocol.constants import AssetType, OrderSide, OrderType, TimeInForce, VenueId
from nodes.cex_gateway.codes import OrderReject
from nodes.cex_gateway.orders import Order
from nodes.cex_gateway.risk import DailyLoss, Limits, Ticker
from nodes.cex_gateway.settings import SymbolConfig

__all__ = ["check_order", "check_request"]

_FILTERS = {"PRICE_FILTER": OrderReject.PRICE_FILTER, "LOT_SIZE": OrderReject.LOT_SIZE,
            "MARKET_LOT_SIZE": OrderReject.LOT_SIZE, "NOTIONAL": OrderReject.NOTIONAL,
            "STATUS": OrderReject.SYMBOL_NOT_TRADING}


def _valid(enum: type[IntEnum], value: int) -> bool:
    try:
        enum(value)
    except ValueError:
        return False
    return True


def check_request(req: OrderRequest, symbols: Mapping[int, SymbolConfig]
                  ) -> SymbolConfig | OrderReject:
    """The request's symbol, or the first thing wrong with the request itself."""
    if req.venue != VenueId.BINANCE:
        return OrderReject.UNKNOWN_VENUE
    cfg = symbols.get(req.asset_id)
    if cfg is None or req.asset_type != AssetType.COIN:
        return OrderReject.UNKNOWN_SYMBOL
    checks = ((_valid(OrderSide, req.side), OrderReject.BAD_SIDE),
              (_valid(OrderType, req.order_type), OrderReject.BAD_TYPE),
              (_valid(TimeInForce, req.time_in_force), OrderReject.BAD_TIME_IN_FORCE),
              (req.quantity > 0, OrderReject.BAD_QUANTITY),
              ((req.price > 0) if req.order_type == OrderType.LIMIT else req.price == 0,
               OrderReject.BAD_PRICE))
    for ok, reason in checks:
        if not ok:
            return reason
    return cfg


def check_order(req: OrderRequest, cfg: SymbolConfig, rules: SymbolRules, *, limits: Limits,
                ticker: Ticker | None, position_q8: int, open_orders: Iterable[Order],
                loss: DailyLoss) -> Order | OrderReject:
    """The order to sign, or the filter or limit it breaks.

    ``open_orders`` are the orders not final yet (their remaining quantities count toward the
    position limit); ``ticker`` prices a MARKET order (best ask to buy, best bid to sell).
    """
    side, kind = OrderSide(req.side), OrderType(req.order_type)
    reference = 0 if ticker is None else (ticker.ask_q8 if side == OrderSide.BUY
                                          else ticker.bid_q8)
    try:
        rules.check(market=kind == OrderType.MARKET, quantity_q8=req.quantity,
                    price_q8=req.price, reference_q8=reference)
    except FilterFailure as exc:
        return _FILTERS.get(exc.filter, OrderReject.NOTIONAL)
    open_buys = open_sells = 0
    for o in open_orders:
        if o.symbol == cfg.symbol:
            if o.side == OrderSide.BUY:
                open_buys += o.remaining_q8
            else:
                open_sells += o.remaining_q8
    refused = limits.check(symbol=cfg.symbol, side=side, order_type=kind,
                           quantity_q8=req.quantity, price_q8=req.price, ticker=ticker,
                           position_q8=position_q8, open_buys_q8=open_buys,
                           open_sells_q8=open_sells) or loss.refusal()
    if refused is not None:
        return refused
    return Order(req.order_id, cfg.symbol, cfg.base, cfg.quote, side, kind, req.quantity,
                 req.price, client_order_id(req.order_id))
