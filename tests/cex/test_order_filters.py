"""Symbol filters from exchangeInfo, checked exactly before an order is signed."""

from __future__ import annotations

import pytest

from cex.binance.filters import FilterFailure, parse_exchange_info
from cex.errors import BadJson

INFO = {"symbols": [
    {"symbol": "ETHUSDT", "status": "TRADING", "baseAsset": "ETH", "quoteAsset": "USDT",
     "filters": [
         {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
          "tickSize": "0.01000000"},
         {"filterType": "LOT_SIZE", "minQty": "0.00010000", "maxQty": "9000.00000000",
          "stepSize": "0.00010000"},
         {"filterType": "MIN_NOTIONAL", "minNotional": "5.00000000", "applyToMarket": True,
          "avgPriceMins": 5}]},
    {"symbol": "BTCUSDT", "status": "BREAK", "baseAsset": "BTC", "quoteAsset": "USDT",
     "filters": [{"filterType": "NOTIONAL", "minNotional": "10", "applyMinToMarket": False,
                  "maxNotional": "1000", "applyMaxToMarket": True}]},
]}
Q = 100_000_000


def rules(symbol: str = "ETHUSDT"):
    return parse_exchange_info(INFO)[symbol]


def test_a_valid_limit_order_passes_every_filter():
    rules().check(market=False, quantity_q8=Q // 2, price_q8=2000 * Q)


@pytest.mark.parametrize(("qty", "price", "name"), [
    (Q // 2, 2000 * Q + 1, "PRICE_FILTER"),  # off the 0.01 tick
    (Q // 2, 500_000, "PRICE_FILTER"),  # below the minimum price 0.01
    (Q // 2, 2_000_000 * Q, "PRICE_FILTER"),
    (5_000, 2000 * Q, "LOT_SIZE"),  # below minQty 0.0001
    (10_001 * Q // 10_000 + 1, 2000 * Q, "LOT_SIZE"),  # off the step
    (9001 * Q, 10 * Q, "LOT_SIZE"),
    (10_000, 2000 * Q, "NOTIONAL"),  # 0.0001 x 2000 = 0.2 < 5
])
def test_orders_breaking_a_filter_are_refused_with_its_name(qty, price, name):
    with pytest.raises(FilterFailure) as info:
        rules().check(market=False, quantity_q8=qty, price_q8=price)
    assert info.value.filter == name
    assert str(info.value).startswith(f"Filter failure: {name}")


def test_min_notional_compares_exactly_at_the_boundary():
    r = rules()
    r.check(market=False, quantity_q8=25_000_000, price_q8=20 * Q)  # 0.25 x 20 = 5 exactly
    with pytest.raises(FilterFailure):
        r.check(market=False, quantity_q8=25_000_000, price_q8=20 * Q - 1_000_000)


def test_market_orders_use_the_reference_price_only_where_the_filter_applies():
    eth = rules()
    eth.check(market=True, quantity_q8=10_000, price_q8=0)  # no reference: the venue judges
    with pytest.raises(FilterFailure):
        eth.check(market=True, quantity_q8=10_000, price_q8=0, reference_q8=2000 * Q)
    btc = parse_exchange_info(INFO, wanted={"BTCUSDT"})["BTCUSDT"]
    assert btc.status == "BREAK"
    with pytest.raises(FilterFailure, match="STATUS"):
        btc.check(market=True, quantity_q8=Q, price_q8=0, reference_q8=5 * Q)


def test_notional_max_applies_to_market_when_told():
    doc = {"symbols": [dict(INFO["symbols"][1], status="TRADING")]}
    btc = parse_exchange_info(doc)["BTCUSDT"]
    btc.check(market=True, quantity_q8=Q, price_q8=0, reference_q8=5 * Q)  # min not for market
    with pytest.raises(FilterFailure):
        btc.check(market=True, quantity_q8=Q, price_q8=0, reference_q8=1001 * Q)


def test_malformed_exchange_info_is_a_typed_error():
    with pytest.raises(BadJson):
        parse_exchange_info({})
    with pytest.raises(BadJson):
        parse_exchange_info({"symbols": [{"symbol": "X"}]})
