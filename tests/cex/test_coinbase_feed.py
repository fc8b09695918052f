"""CoinbaseFeed without I/O: messages in, frames out, sequence gaps -> invalidation + resync."""

from __future__ import annotations

import calendar
from typing import Any

import orjson
import pytest
from Crypto.PublicKey import ECC

from cex.coinbase.auth import CdpKey
from cex.coinbase.feed import CHANNELS, CoinbaseFeed
from mesh.protocol import (
    InstrumentId,
    OrderBook,
    Quote,
    StateInvalidation,
    Trade,
    decode_frame,
    encode_frame,
)
from mesh.protocol.constants import InvalidationReason, VenueId

ETH = InstrumentId.coin(VenueId.COINBASE, "ETH/USD")
BTC = InstrumentId.coin(VenueId.COINBASE, "BTC/USD")
TS = "2024-05-01T12:00:00.123456789Z"
TS_NS = calendar.timegm((2024, 5, 1, 12, 0, 0, 0, 0, 0)) * 10**9 + 123_456_789


def _msg(channel: str, seq: int, events: list[dict[str, Any]], ts: str = TS) -> bytes:
    return orjson.dumps({"channel": channel, "client_id": "", "timestamp": ts,
                         "sequence_num": seq, "events": events})


def _level(side: str, price: str, qty: str, t: str = "2024-05-01T12:00:00.5Z") -> dict[str, str]:
    return {"side": side, "event_time": t, "price_level": price, "new_quantity": qty}


def _l2(seq: int, kind: str, product: str, *levels: dict[str, str]) -> bytes:
    return _msg("l2_data", seq, [{"type": kind, "product_id": product, "updates": list(levels)}])


def _decoded(frames: list[list[Any]]) -> list[list[Any]]:
    """Each frame through the wire and back (what a ring reader sees)."""
    return [list(decode_frame(encode_frame(f, source=3, sequence=1)).tlvs) for f in frames]


def _book(inst: InstrumentId, bids: list[tuple[int, int]], asks: list[tuple[int, int]],
          seq: int, t: int) -> dict[str, Any]:
    return {"snapshot_timestamp_ns": t, "sequence": seq, "precision_factor": 100_000_000,
            "asset_id": inst.asset_id, "venue": 102, "asset_type": inst.asset_type,
            "bids": [(p, s, 0) for p, s in bids], "asks": [(p, s, 0) for p, s in asks]}


def _as_dict(ob: OrderBook) -> dict[str, Any]:
    return {"snapshot_timestamp_ns": ob.snapshot_timestamp_ns, "sequence": ob.sequence,
            "precision_factor": ob.precision_factor, "asset_id": ob.asset_id,
            "venue": ob.venue, "asset_type": ob.asset_type,
            "bids": [(x.price, x.size, x.order_count) for x in ob.bids],
            "asks": [(x.price, x.size, x.order_count) for x in ob.asks]}


@pytest.fixture
def feed() -> CoinbaseFeed:
    f = CoinbaseFeed(["ETH-USD", "btc-usd"], url="ws://127.0.0.1:1/coinbase")
    f.on_connect(0)
    return f


def _synced(feed: CoinbaseFeed) -> None:
    out = feed.on_message(_l2(0, "snapshot", "ETH-USD", _level("bid", "3000.5", "2"),
                              _level("bid", "3000", "1.25"), _level("offer", "3001", "0.5")),
                          1)
    assert len(out.frames) == 1


def test_one_subscribe_message_per_channel_names_the_products(feed: CoinbaseFeed) -> None:
    sent = [orjson.loads(m) for m in feed.subscribe_messages()]
    assert [m["channel"] for m in sent] == list(CHANNELS)
    assert {"heartbeats", "level2", "market_trades", "ticker"} == set(CHANNELS)
    for m in sent:
        assert m == {"type": "subscribe", "product_ids": ["ETH-USD", "BTC-USD"],
                     "channel": m["channel"]}
    assert feed.ws_url() == "ws://127.0.0.1:1/coinbase"
    assert feed.instruments() == [ETH, BTC]


def test_with_a_key_each_subscribe_message_carries_its_own_jwt() -> None:
    key = CdpKey.from_pem("organizations/o/apiKeys/k",
                          ECC.generate(curve="P-256").export_key(format="PEM"))
    f = CoinbaseFeed(["ETH-USD"], key=key, clock=lambda: 1_700_000_000.7)
    jwts = [orjson.loads(m)["jwt"] for m in f.subscribe_messages()]
    assert len(jwts) == len(CHANNELS) == len(set(jwts))
    assert all(j.count(".") == 2 for j in jwts)


def test_a_level2_snapshot_writes_the_book_exactly(feed: CoinbaseFeed) -> None:
    out = feed.on_message(_l2(0, "snapshot", "ETH-USD", _level("bid", "3000", "1.25"),
                              _level("offer", "3001.75", "0.5"), _level("bid", "3000.5", "2"),
                              _level("offer", "3001", "0.00000001")), 99)
    assert out.requests == []
    ((ob,),) = _decoded(out.frames)
    t = calendar.timegm((2024, 5, 1, 12, 0, 0, 0, 0, 0)) * 10**9 + 500_000_000
    assert _as_dict(ob) == _book(ETH, [(300_050_000_000, 200_000_000),
                                       (300_000_000_000, 125_000_000)],
                                 [(300_100_000_000, 1), (300_175_000_000, 50_000_000)], 0, t)


def test_updates_set_absolute_sizes_and_zero_removes_a_level(feed: CoinbaseFeed) -> None:
    _synced(feed)
    out = feed.on_message(_l2(1, "update", "ETH-USD", _level("bid", "3000.5", "0"),
                              _level("bid", "2999", "3"), _level("offer", "3001", "0.75"),
                              _level("offer", "3005", "0")), 2)
    ((ob,),) = _decoded(out.frames)
    t = calendar.timegm((2024, 5, 1, 12, 0, 0, 0, 0, 0)) * 10**9 + 500_000_000
    assert _as_dict(ob) == _book(ETH, [(300_000_000_000, 125_000_000),
                                       (299_900_000_000, 300_000_000)],
                                 [(300_100_000_000, 75_000_000)], 1, t)


def test_the_book_frame_holds_the_best_50_levels_per_side(feed: CoinbaseFeed) -> None:
    bids = [_level("bid", str(1000 - i), "1") for i in range(70)]
    asks = [_level("offer", str(1001 + i), "2") for i in range(60)]
    out = feed.on_message(_l2(0, "snapshot", "ETH-USD", *reversed(bids), *asks), 1)
    ((ob,),) = _decoded(out.frames)
    assert [x.price for x in ob.bids] == [(1000 - i) * 10**8 for i in range(50)]
    assert [x.price for x in ob.asks] == [(1001 + i) * 10**8 for i in range(50)]


def test_an_event_without_updates_is_stamped_with_the_message_time(feed: CoinbaseFeed) -> None:
    _synced(feed)
    out = feed.on_message(_l2(1, "update", "ETH-USD"), 2)
    ((ob,),) = _decoded(out.frames)
    assert ob.snapshot_timestamp_ns == TS_NS


def test_a_sequence_gap_invalidates_every_book_and_asks_for_a_resync(feed: CoinbaseFeed) -> None:
    _synced(feed)
    assert not feed.resync_requested
    out = feed.on_message(_l2(5, "update", "ETH-USD", _level("bid", "2999", "3")), 2)
    ((inv,),) = _decoded(out.frames)
    assert isinstance(inv, StateInvalidation)
    assert inv.reason == InvalidationReason.RECOVERY
    assert inv.venue == VenueId.COINBASE
    assert inv.timestamp_ns == TS_NS
    assert [(x.asset_id, x.venue, x.asset_type) for x in inv.instruments] == [
        (i.asset_id, i.venue, i.asset_type) for i in (ETH, BTC)]
    assert feed.errors["gap"] == 1
    assert feed.resync_requested
    assert feed.book("ETH-USD") is None
    # Updates wait for a fresh snapshot; the snapshot brings the book back.
    assert feed.on_message(_l2(6, "update", "ETH-USD", _level("bid", "2999", "3")), 3).frames == []
    out = feed.on_message(_l2(7, "snapshot", "ETH-USD", _level("bid", "10", "1"),
                              _level("offer", "11", "1")), 4)
    ((ob,),) = _decoded(out.frames)
    assert ob.sequence == 7 and [x.price for x in ob.bids] == [10 * 10**8]


def test_a_new_connection_starts_a_new_sequence(feed: CoinbaseFeed) -> None:
    _synced(feed)
    feed.on_message(_l2(1, "update", "ETH-USD"), 2)
    feed.on_disconnect(3)
    feed.on_connect(4)
    assert not feed.resync_requested
    out = feed.on_message(_l2(0, "snapshot", "ETH-USD", _level("bid", "1", "1")), 5)
    assert len(out.frames) == 1 and feed.errors["gap"] == 0


def test_a_repeated_sequence_number_is_dropped_as_stale(feed: CoinbaseFeed) -> None:
    _synced(feed)
    assert feed.on_message(_l2(0, "update", "ETH-USD", _level("bid", "1", "1")), 2).frames == []
    assert feed.errors["stale"] == 1
    assert feed.book("ETH-USD") is not None
    assert feed.book("ETH-USD").bids.best() == (300_050_000_000, 200_000_000)


def test_malformed_json_is_counted_and_leaves_the_sequence_alone(feed: CoinbaseFeed) -> None:
    _synced(feed)
    assert feed.on_message(b"{not json", 2).frames == []
    assert feed.on_message(b"[]", 2).frames == []
    assert feed.errors["bad_json"] == 2
    assert len(feed.on_message(_l2(1, "update", "ETH-USD"), 3).frames) == 1
    assert feed.errors["gap"] == 0


def test_an_update_that_cannot_be_applied_invalidates_and_resyncs(feed: CoinbaseFeed) -> None:
    _synced(feed)
    out = feed.on_message(_l2(1, "update", "ETH-USD", _level("bid", "3000", "0.123456789")), 2)
    ((inv,),) = _decoded(out.frames)
    assert inv.reason == InvalidationReason.BAD_STATE
    assert feed.errors["precision"] == 1 and feed.resync_requested


def test_a_crossed_book_invalidates_and_resyncs(feed: CoinbaseFeed) -> None:
    _synced(feed)
    out = feed.on_message(_l2(1, "update", "ETH-USD", _level("bid", "3002", "1")), 2)
    ((inv,),) = _decoded(out.frames)
    assert isinstance(inv, StateInvalidation) and inv.reason == InvalidationReason.BAD_STATE
    assert feed.errors["crossed"] == 1 and feed.resync_requested


def test_a_disconnection_invalidates_every_book(feed: CoinbaseFeed) -> None:
    _synced(feed)
    ((inv,),) = _decoded(feed.on_disconnect(1234))
    assert inv.reason == InvalidationReason.DISCONNECTION and inv.timestamp_ns == 1234
    assert len(inv.instruments) == 2
    assert feed.book("ETH-USD") is None


def test_trades_become_trade_messages_with_the_taker_side(feed: CoinbaseFeed) -> None:
    events = [{"type": "update", "trades": [
        {"trade_id": "11", "product_id": "ETH-USD", "price": "3000.01", "size": "0.5",
         "side": "BUY", "time": "2024-05-01T12:00:00.000000002Z"},
        {"trade_id": "10", "product_id": "BTC-USD", "price": "60000", "size": "0.001",
         "side": "SELL", "time": "2024-05-01T12:00:00.000000001Z"}]}]
    out = feed.on_message(_msg("market_trades", 0, events), 7)
    (frame,) = _decoded(out.frames)
    base = calendar.timegm((2024, 5, 1, 12, 0, 0, 0, 0, 0)) * 10**9
    assert frame == [
        Trade(asset_id=BTC.asset_id, price=6_000_000_000_000, volume=100_000,
              execution_timestamp_ns=base + 1, venue=102, asset_type=BTC.asset_type,
              reserved=0, side=0),
        Trade(asset_id=ETH.asset_id, price=300_001_000_000, volume=50_000_000,
              execution_timestamp_ns=base + 2, venue=102, asset_type=ETH.asset_type,
              reserved=0, side=1)]


def test_a_trade_repeated_by_a_later_snapshot_is_written_once(feed: CoinbaseFeed) -> None:
    trade = {"trade_id": "11", "product_id": "ETH-USD", "price": "1", "size": "1",
             "side": "BUY", "time": TS}
    assert len(feed.on_message(_msg("market_trades", 0, [
        {"type": "snapshot", "trades": [trade]}]), 1).frames) == 1
    feed.on_disconnect(2)
    feed.on_connect(3)
    newer = dict(trade, trade_id="12")
    out = feed.on_message(_msg("market_trades", 0, [
        {"type": "snapshot", "trades": [newer, trade]}]), 4)
    ((only,),) = _decoded(out.frames)
    assert isinstance(only, Trade)


def test_a_ticker_becomes_a_quote_at_the_message_time(feed: CoinbaseFeed) -> None:
    events = [{"type": "update", "tickers": [{
        "type": "ticker", "product_id": "ETH-USD", "price": "3000.5", "best_bid": "3000.25",
        "best_bid_quantity": "4.5", "best_ask": "3000.75", "best_ask_quantity": "0.01"}]}]
    ((q,),) = _decoded(feed.on_message(_msg("ticker", 0, events), 9).frames)
    assert q == Quote(asset_id=ETH.asset_id, bid_price=300_025_000_000, bid_size=450_000_000,
                      ask_price=300_075_000_000, ask_size=1_000_000, quote_timestamp_ns=TS_NS,
                      venue=102, asset_type=ETH.asset_type, reserved=0)


def test_heartbeats_and_subscriptions_write_nothing(feed: CoinbaseFeed) -> None:
    out = feed.on_message(_msg("subscriptions", 0, [{"subscriptions": {
        "level2": ["ETH-USD"], "heartbeats": ["heartbeats"]}}]), 1)
    assert out.frames == [] and feed.subscriptions["level2"] == ["ETH-USD"]
    out = feed.on_message(_msg("heartbeats", 1, [
        {"current_time": "x", "heartbeat_counter": "17"}]), 2)
    assert out.frames == [] and feed.heartbeat_counter == 17
    assert sum(feed.errors.values()) == 0


def test_unknown_products_and_channels_are_counted(feed: CoinbaseFeed) -> None:
    events = [{"type": "update", "tickers": [{
        "type": "ticker", "product_id": "SOL-USD", "best_bid": "1", "best_bid_quantity": "1",
        "best_ask": "2", "best_ask_quantity": "1"}]}]
    assert feed.on_message(_msg("ticker", 0, events), 1).frames == []
    assert feed.on_message(_msg("candles", 1, []), 1).frames == []
    assert feed.errors["unknown_symbol"] == 1 and feed.errors["unknown_stream"] == 1


def test_a_coinbase_error_message_is_counted_as_a_venue_error(feed: CoinbaseFeed) -> None:
    assert feed.on_message(b'{"type":"error","message":"failure to subscribe"}', 1).frames == []
    assert feed.errors["venue_error"] == 1
