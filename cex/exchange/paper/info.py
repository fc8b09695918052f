"""``/api/v3/exchangeInfo``: the configured symbols with their filters, as Binance lists them."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from cex.exchange.paper.orders import q8
from cex.exchange.symbols import SymbolSpec


def symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    """One ``symbols`` item: assets, order types and the PRICE_FILTER, LOT_SIZE and
    MIN_NOTIONAL filters."""
    return {
        "symbol": spec.symbol, "status": "TRADING",
        "baseAsset": spec.base, "baseAssetPrecision": 8,
        "quoteAsset": spec.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"], "icebergAllowed": False, "ocoAllowed": False,
        "otoAllowed": False, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": q8(spec.min_price),
             "maxPrice": q8(spec.max_price), "tickSize": q8(spec.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": q8(spec.min_qty), "maxQty": q8(spec.max_qty),
             "stepSize": q8(spec.step_size)},
            {"filterType": "MIN_NOTIONAL", "minNotional": q8(spec.min_notional),
             "applyToMarket": True, "avgPriceMins": 0},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE", "allowedSelfTradePreventionModes": ["NONE"],
    }


def exchange_info(specs: Iterable[SymbolSpec]) -> dict[str, Any]:
    """The whole answer for ``specs``."""
    return {
        "timezone": "UTC", "serverTime": time.time_ns() // 1_000_000,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        ],
        "exchangeFilters": [], "symbols": [symbol_info(s) for s in specs],
    }
