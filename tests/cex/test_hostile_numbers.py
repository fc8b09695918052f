"""Numbers past what the protocol's 64-bit fields hold are counted as bad fields, never raised.

A venue (or whoever sits between it and us) can send a time in the year 9999 or an update id
above 2^63; the frame encoder would fail on them, so the parsers refuse them first.
"""

from __future__ import annotations

import pytest

from cex.binance.feed import BinanceFeed
from cex.coinbase.feed import CoinbaseFeed
from cex.coinbase.times import parse_rfc3339_ns
from cex.errors import BadField
from mesh.protocol import encode_frame

HUGE_MS = 10**14  # ms: 1e20 ns, past 2^63
TRADE = ('{"stream":"ethusdt@trade","data":{"e":"trade","E":%s,"s":"ETHUSDT","t":%s,'
         '"p":"1.00000000","q":"2.00000000","T":%s,"m":true}}')
TICKER = ('{"stream":"ethusdt@bookTicker","data":{"u":1,"s":"ETHUSDT","b":"1.0","B":"1",'
          '"a":"2.0","A":"1","E":%s}}')


@pytest.mark.parametrize("raw", [
    TRADE % (1, 1, HUGE_MS), TRADE % (1, 1, 2**63), TRADE % (1, 1, 2**64 + 5),
    TICKER % HUGE_MS,
], ids=["trade_time", "trade_time_2_63", "trade_time_2_64", "ticker_time"])
def test_binance_out_of_range_numbers_are_bad_fields(raw: str) -> None:
    feed = BinanceFeed(symbols=["ETHUSDT"], ws_base="ws://127.0.0.1:9")
    out = feed.on_message(raw.encode(), 1)
    assert out.frames == [] and feed.errors["bad_field"] == 1


def test_the_latest_binance_time_still_encodes() -> None:
    feed = BinanceFeed(symbols=["ETHUSDT"], ws_base="ws://127.0.0.1:9")
    latest_ms = ((1 << 63) - 1) // 1_000_000
    out = feed.on_message((TRADE % (1, 7, latest_ms)).encode(), 1)
    assert feed.errors == {} and out.frames[0][0].execution_timestamp_ns == latest_ms * 1_000_000
    encode_frame(out.frames[0], source=1)


@pytest.mark.parametrize(("text", "ok"), [
    ("2262-04-11T23:47:16.854775807Z", True), ("2262-04-11T23:47:16.854775808Z", False),
    ("9999-12-31T23:59:59Z", False), ("2262-04-11T23:47:16.854775808Z", False),
])
def test_coinbase_times_past_2_63_ns_are_refused_also_when_cached(text: str, ok: bool) -> None:
    if ok:
        assert parse_rfc3339_ns(text) == (1 << 63) - 1
    else:
        with pytest.raises(BadField):
            parse_rfc3339_ns(text)


def test_a_coinbase_trade_in_the_year_9999_is_counted_not_written() -> None:
    feed = CoinbaseFeed(["ETH-USD"], url="ws://127.0.0.1:9")
    feed.on_connect(1)
    raw = ('{"channel":"market_trades","client_id":"","timestamp":"2026-01-01T00:00:00Z",'
           '"sequence_num":0,"events":[{"type":"snapshot","trades":[{"trade_id":"1",'
           '"product_id":"ETH-USD","price":"1","size":"1","side":"BUY",'
           '"time":"9999-12-31T23:59:59Z"}]}]}')
    out = feed.on_message(raw.encode(), 1)
    assert out.frames == [] and feed.errors["bad_field"] >= 1
