"""BinanceFeed without I/O: parsing exactly, the documented depth sync, errors counted."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cex.binance.feed import BinanceFeed
from cex.feed import FeedOutput, RestReply
from mesh.protocol import (
    InstrumentId,
    OrderBook,
    Quote,
    StateInvalidation,
    Trade,
    VenueId,
    decode_frame,
    encode_frame,
)
from mesh.protocol.constants import InvalidationReason, RelayDomain

ETH = InstrumentId.coin(int(VenueId.BINANCE), "ETH/USDT")
Q = 100_000_000


def msg(stream: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"stream": stream, "data": data})


def depth(first: int, last: int, bids: list[list[str]] | None = None,
          asks: list[list[str]] | None = None, e_ms: int = 1_700_000_000_000) -> bytes:
    return msg("ethusdt@depth@100ms", {"e": "depthUpdate", "E": e_ms, "s": "ETHUSDT",
                                       "U": first, "u": last, "b": bids or [],
                                       "a": asks or []})


def snapshot(feed: BinanceFeed, out: FeedOutput, last_id: int, bids: list[list[str]],
             asks: list[list[str]], status: int = 200) -> FeedOutput:
    (request,) = out.requests
    body = orjson.dumps({"lastUpdateId": last_id, "bids": bids, "asks": asks})
    return feed.on_snapshot(RestReply(request, status, body), 99)


def decoded(out: FeedOutput) -> list[Any]:
    """Every message of ``out`` as a reader of the ring would decode it."""
    return [m for frame in out.frames
            for m in decode_frame(encode_frame(frame, source=1,
                                               domain=RelayDomain.MARKET_DATA)).tlvs]


def levels(side: tuple[Any, ...]) -> list[tuple[int, int]]:
    return [(lv.price, lv.size) for lv in side]


@pytest.fixture
def feed() -> BinanceFeed:
    f = BinanceFeed(symbols=["ETHUSDT"], ws_base="ws://127.0.0.1:1")
    f.on_connect(0)
    return f


def test_the_url_is_the_combined_stream_of_every_symbol() -> None:
    f = BinanceFeed(symbols=["ETHUSDT", "BTC/USDC"], ws_base="wss://x:9443/")
    assert f.ws_url() == ("wss://x:9443/stream?streams=ethusdt@trade/ethusdt@bookTicker/"
                          "ethusdt@depth@100ms/btcusdc@trade/btcusdc@bookTicker/"
                          "btcusdc@depth@100ms")
    assert f.subscribe_messages() == []


def test_more_than_1024_streams_are_refused() -> None:
    with pytest.raises(Exception, match="1024"):
        BinanceFeed(symbols=[f"A{i}USDT" for i in range(342)])


def test_a_trade_is_exact_with_the_taker_side(feed: BinanceFeed) -> None:
    data = {"e": "trade", "E": 1, "s": "ETHUSDT", "t": 7, "p": "3012.34567891", "q": "0.015",
            "b": 1, "a": 2, "T": 1_700_000_000_123, "m": True, "M": True}
    (sold,) = decoded(feed.on_message(msg("ethusdt@trade", data), 5))
    assert sold == Trade(asset_id=ETH.asset_id, price=301_234_567_891, volume=1_500_000,
                         execution_timestamp_ns=1_700_000_000_123_000_000, venue=100,
                         asset_type=ETH.asset_type, side=1)
    (bought,) = decoded(feed.on_message(msg("ethusdt@trade", {**data, "m": False}), 5))
    assert bought.side == 0


def test_a_book_ticker_is_a_quote_at_the_receive_time(feed: BinanceFeed) -> None:
    data = {"u": 400900217, "s": "ETHUSDT", "b": "25.35190000", "B": "31.21000000",
            "a": "25.36520000", "A": "40.66000000"}
    (quote,) = decoded(feed.on_message(msg("ethusdt@bookTicker", data), 777))
    assert quote == Quote(asset_id=ETH.asset_id, bid_price=2_535_190_000,
                          bid_size=3_121_000_000, ask_price=2_536_520_000,
                          ask_size=4_066_000_000, quote_timestamp_ns=777, venue=100,
                          asset_type=ETH.asset_type)


def test_first_event_asks_for_one_snapshot_of_5000_levels(feed: BinanceFeed) -> None:
    out = feed.on_message(depth(100, 102), 1)
    assert out.frames == []
    (request,) = out.requests
    assert (request.path, request.params) == ("/api/v3/depth",
                                              (("symbol", "ETHUSDT"), ("limit", "5000")))
    assert feed.on_message(depth(103, 104), 1).requests == []


def test_sync_drops_buffered_events_the_snapshot_covers(feed: BinanceFeed) -> None:
    out = feed.on_message(depth(100, 102, bids=[["10", "9"]]), 1)
    feed.on_message(depth(103, 105, bids=[["11", "1"]]), 1)
    feed.on_message(depth(106, 107, asks=[["20", "0"], ["21", "2"]], e_ms=5), 1)
    (book,) = decoded(snapshot(feed, out, 104, [["10", "1"], ["9", "3"]],
                               [["20", "4"]]))
    assert isinstance(book, OrderBook)
    # event 100-102 dropped (u <= 104); 103-105 straddles 105 and 106-107 follows: applied
    assert book.sequence == 107 and book.snapshot_timestamp_ns == 5_000_000
    assert levels(book.bids) == [(11 * Q, Q), (10 * Q, Q), (9 * Q, 3 * Q)]
    assert levels(book.asks) == [(21 * Q, 2 * Q)]
    (live,) = decoded(feed.on_message(depth(108, 108, bids=[["9", "0"]]), 1))
    assert live.sequence == 108 and levels(live.bids) == [(11 * Q, Q), (10 * Q, Q)]


def test_a_snapshot_older_than_the_stream_is_fetched_again(feed: BinanceFeed) -> None:
    out = feed.on_message(depth(100, 102), 1)
    again = snapshot(feed, out, 50, [], [])
    assert again.frames == [] and len(again.requests) == 1
    assert feed.errors["stale_snapshot"] == 1
    (book,) = decoded(snapshot(feed, again, 101, [["1", "1"]], []))
    assert book.sequence == 102


def test_stale_events_are_ignored_and_counted(feed: BinanceFeed) -> None:
    out = feed.on_message(depth(100, 102), 1)
    snapshot(feed, out, 102, [["1", "1"]], [])
    assert feed.on_message(depth(95, 101), 1).frames == []
    assert feed.on_message(depth(101, 102), 1).frames == []
    assert feed.errors["stale"] == 2
    (book,) = decoded(feed.on_message(depth(103, 103, bids=[["2", "1"]]), 1))
    assert book.sequence == 103


def test_a_gap_invalidates_the_book_and_resyncs(feed: BinanceFeed) -> None:
    out = feed.on_message(depth(100, 102), 1)
    snapshot(feed, out, 101, [["1", "1"]], [])
    gap = feed.on_message(depth(110, 112, bids=[["3", "3"]], e_ms=9), 1)
    (inv,) = decoded(gap)
    assert isinstance(inv, StateInvalidation)
    assert inv.reason == InvalidationReason.RECOVERY and inv.venue == 100
    assert [i.asset_id for i in inv.instruments] == [ETH.asset_id]
    assert feed.errors["gap"] == 1 and len(gap.requests) == 1
    assert feed.on_message(depth(113, 114, bids=[["4", "4"]]), 1).frames == []  # buffered
    (book,) = decoded(snapshot(feed, gap, 111, [["1", "5"]], []))
    assert book.sequence == 114
    assert levels(book.bids) == [(4 * Q, 4 * Q), (3 * Q, 3 * Q), (Q, 5 * Q)]


def test_a_failed_snapshot_is_asked_again_later(feed: BinanceFeed) -> None:
    out = feed.on_message(depth(100, 102), 1)
    again = snapshot(feed, out, 0, [], [], status=429)
    (retry,) = again.requests
    assert retry.delay_s > 0 and feed.errors["venue_error"] == 1


def test_an_answer_from_an_older_connection_is_ignored(feed: BinanceFeed) -> None:
    out = feed.on_message(depth(100, 102), 1)
    (inv,) = feed.on_disconnect(3)
    assert inv[0].reason == InvalidationReason.DISCONNECTION
    feed.on_connect(4)
    assert snapshot(feed, out, 101, [], []).frames == []


@pytest.mark.parametrize(("raw", "kind"), [
    (b"{not json", "bad_json"),
    (b"[1, 2]", "bad_json"),
    (msg("ethusdt@trade", {"p": "1", "q": "1", "T": 1}), "bad_field"),
    (msg("ethusdt@trade", {"p": "1", "q": "1", "T": 1, "m": "yes"}), "bad_field"),
    (msg("ethusdt@trade", {"p": "1.000000001", "q": "1", "T": 1, "m": True}), "precision"),
    (msg("ethusdt@trade", {"p": "-1", "q": "1", "T": 1, "m": True}), "bad_field"),
    (msg("ethusdt@depth@100ms", {"E": 1, "U": 5, "u": 4, "b": [], "a": []}), "bad_field"),
    (msg("ethusdt@depth@100ms", {"E": 1, "U": 5, "u": 6, "b": [["1"]], "a": []}),
     "bad_field"),
    (orjson.dumps({"stream": "ethusdt@trade", "data": 5}), "bad_json"),
    (msg("xrpusdt@trade", {}), "unknown_stream"),
])
def test_bad_input_is_counted_by_kind_and_never_raised(feed: BinanceFeed, raw: bytes,
                                                       kind: str) -> None:
    out = feed.on_message(raw, 1)
    assert out.frames == [] and out.requests == []
    assert feed.errors == {kind: 1}


def test_control_answers_are_not_errors(feed: BinanceFeed) -> None:
    assert feed.on_message(b'{"result": null, "id": 1}', 1).frames == []
    assert not feed.errors
