"""Coinbase Advanced Trade messages in their documented shapes -> integer records."""

from __future__ import annotations

import calendar

import orjson
import pytest

from cex.coinbase.messages import (
    TAKER_BUY,
    TAKER_SELL,
    decode_envelope,
    parse_heartbeat,
    parse_l2,
    parse_tickers,
    parse_trades,
)
from cex.errors import BadField, BadJson, PrecisionLoss, VenueRejected


def _ns(text_secs: tuple[int, ...], frac_ns: int = 0) -> int:
    return calendar.timegm((*text_secs, 0, 0, 0)) * 1_000_000_000 + frac_ns


# Shapes as Coinbase documents them for the Advanced Trade market-data websocket.
L2_SNAPSHOT = {
    "channel": "l2_data", "client_id": "", "timestamp": "2023-02-09T20:32:50.714964855Z",
    "sequence_num": 0,
    "events": [{"type": "snapshot", "product_id": "BTC-USD", "updates": [
        {"side": "bid", "event_time": "1970-01-01T00:00:00Z", "price_level": "21921.73",
         "new_quantity": "0.06317902"},
        {"side": "bid", "event_time": "1970-01-01T00:00:00Z", "price_level": "21921.3",
         "new_quantity": "0.02"},
        {"side": "offer", "event_time": "1970-01-01T00:00:00Z", "price_level": "21921.74",
         "new_quantity": "1.5"},
    ]}],
}
L2_UPDATE_EVENT = {"type": "update", "product_id": "BTC-USD", "updates": [
    {"side": "bid", "event_time": "2023-02-09T20:32:50.714964855Z", "price_level": "21921.73",
     "new_quantity": "0"},
    {"side": "offer", "event_time": "2023-02-09T20:32:50.714964856Z", "price_level": "21922",
     "new_quantity": "0.25"},
]}
TRADES_EVENT = {"type": "update", "trades": [
    {"trade_id": "000000002", "product_id": "ETH-USD", "price": "1260.02", "size": "0.3",
     "side": "BUY", "time": "2019-08-14T20:42:27.265Z"},
    {"trade_id": "000000001", "product_id": "ETH-USD", "price": "1260.01", "size": "0.00000001",
     "side": "SELL", "time": "2019-08-14T20:42:27.264Z"},
]}
TICKER_EVENT = {"type": "snapshot", "tickers": [{
    "type": "ticker", "product_id": "BTC-USD", "price": "21932.98", "volume_24_h": "16038.28",
    "low_24_h": "21835.29", "high_24_h": "23011.18", "low_52_w": "15460",
    "high_52_w": "48240", "price_percent_chg_24_h": "-4.15775596190603",
    "best_bid": "21931.98", "best_bid_quantity": "8000.21", "best_ask": "21933.98",
    "best_ask_quantity": "8038.07770004"}]}
HEARTBEAT = {"channel": "heartbeats", "client_id": "", "timestamp": "2023-06-23T20:31:26.122969572Z",
             "sequence_num": 0, "events": [{
                 "current_time": "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105",
                 "heartbeat_counter": "3049"}]}


def test_the_envelope_gives_channel_sequence_time_and_events() -> None:
    env = decode_envelope(orjson.dumps(L2_SNAPSHOT))
    assert env.channel == "l2_data"
    assert env.sequence_num == 0
    assert env.timestamp_ns == _ns((2023, 2, 9, 20, 32, 50), 714_964_855)
    assert env.events == L2_SNAPSHOT["events"]


def test_a_text_message_decodes_as_bytes_do() -> None:
    assert decode_envelope(orjson.dumps(HEARTBEAT).decode()) == decode_envelope(
        orjson.dumps(HEARTBEAT))


def test_a_level2_snapshot_gives_bids_and_offers_in_fixed_point() -> None:
    ev = parse_l2(L2_SNAPSHOT["events"][0])
    assert ev.product_id == "BTC-USD"
    assert ev.snapshot is True
    assert ev.bids == [(2_192_173_000_000, 6_317_902), (2_192_130_000_000, 2_000_000)]
    assert ev.asks == [(2_192_174_000_000, 150_000_000)]
    assert ev.time_ns == 0


def test_a_level2_update_keeps_zero_quantities_and_the_latest_event_time() -> None:
    ev = parse_l2(L2_UPDATE_EVENT)
    assert ev.snapshot is False
    assert ev.bids == [(2_192_173_000_000, 0)]
    assert ev.asks == [(2_192_200_000_000, 25_000_000)]
    assert ev.time_ns == _ns((2023, 2, 9, 20, 32, 50), 714_964_856)


def test_market_trades_carry_the_taker_side_oldest_first() -> None:
    trades = parse_trades(TRADES_EVENT)
    assert [t.trade_id for t in trades] == ["000000001", "000000002"]
    first, second = trades
    # Coinbase's side is the maker's: a maker SELL means the taker bought.
    assert first.taker_side == TAKER_BUY
    assert second.taker_side == TAKER_SELL
    assert (first.price, first.size) == (126_001_000_000, 1)
    assert (second.price, second.size) == (126_002_000_000, 30_000_000)
    assert first.time_ns == _ns((2019, 8, 14, 20, 42, 27), 264_000_000)
    assert first.product_id == "ETH-USD"


def test_a_numeric_trade_id_is_kept_as_text() -> None:
    event = {"type": "update", "trades": [dict(TRADES_EVENT["trades"][0], trade_id=42)]}
    assert parse_trades(event)[0].trade_id == "42"


def test_a_ticker_gives_the_best_bid_and_ask_with_quantities() -> None:
    (rec,) = parse_tickers(TICKER_EVENT)
    assert rec.product_id == "BTC-USD"
    assert (rec.bid_price, rec.bid_size) == (2_193_198_000_000, 800_021_000_000)
    assert (rec.ask_price, rec.ask_size) == (2_193_398_000_000, 803_807_770_004)


def test_a_heartbeat_gives_its_counter() -> None:
    env = decode_envelope(orjson.dumps(HEARTBEAT))
    assert parse_heartbeat(env.events[0]) == 3049
    assert parse_heartbeat({"heartbeat_counter": 7}) == 7


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"\"text\"", b"null"])
def test_non_json_or_non_object_messages_are_bad_json(raw: bytes) -> None:
    with pytest.raises(BadJson):
        decode_envelope(raw)


def test_a_coinbase_error_answer_is_a_venue_rejection() -> None:
    with pytest.raises(VenueRejected, match="failure to subscribe"):
        decode_envelope(b'{"type": "error", "message": "failure to subscribe"}')


@pytest.mark.parametrize("change", [
    {"channel": 5}, {"sequence_num": -1}, {"sequence_num": "3"}, {"sequence_num": 1.0},
    {"timestamp": "yesterday"}, {"events": {}}, {"events": [1]},
])
def test_a_malformed_envelope_field_is_a_bad_field(change: dict[str, object]) -> None:
    with pytest.raises(BadField):
        decode_envelope(orjson.dumps({**HEARTBEAT, **change}))


@pytest.mark.parametrize("missing", ["channel", "sequence_num", "timestamp", "events"])
def test_a_missing_envelope_field_is_a_bad_field(missing: str) -> None:
    msg = {k: v for k, v in HEARTBEAT.items() if k != missing}
    with pytest.raises(BadField, match=missing):
        decode_envelope(orjson.dumps(msg))


def _update(**change: object) -> dict[str, object]:
    return {**L2_UPDATE_EVENT, "updates": [{**L2_UPDATE_EVENT["updates"][0], **change}]}


@pytest.mark.parametrize(("event", "error"), [
    (_update(side="ask"), BadField),
    (_update(price_level="-1"), BadField),
    (_update(new_quantity="1e3"), BadField),
    (_update(new_quantity=1.5), BadField),
    (_update(new_quantity="0.000000001"), PrecisionLoss),
    (_update(event_time="noon"), BadField),
    ({**L2_UPDATE_EVENT, "type": "delta"}, BadField),
    ({"type": "update", "updates": []}, BadField),
    ({"type": "update", "product_id": "BTC-USD"}, BadField),
])
def test_a_malformed_level2_event_raises_its_error_kind(event: dict[str, object],
                                                        error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_l2(event)


def _trade(**change: object) -> dict[str, object]:
    return {"type": "update", "trades": [{**TRADES_EVENT["trades"][0], **change}]}


@pytest.mark.parametrize(("event", "error"), [
    (_trade(side="buy"), BadField), (_trade(side=None), BadField),
    (_trade(price="1,5"), BadField), (_trade(size="0.123456789"), PrecisionLoss),
    (_trade(time=0), BadField), (_trade(trade_id=None), BadField),
    (_trade(product_id=3), BadField), ({"type": "update"}, BadField),
])
def test_a_malformed_trade_raises_its_error_kind(event: dict[str, object],
                                                 error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_trades(event)


@pytest.mark.parametrize("change", [{"best_bid": ""}, {"best_ask_quantity": None},
                                    {"best_bid": "99999999999999999999"}])
def test_a_malformed_ticker_is_a_bad_field(change: dict[str, object]) -> None:
    event = {"type": "update", "tickers": [{**TICKER_EVENT["tickers"][0], **change}]}
    with pytest.raises(BadField):
        parse_tickers(event)


@pytest.mark.parametrize("counter", ["", "-1", "1.5", None, -3])
def test_a_malformed_heartbeat_counter_is_a_bad_field(counter: object) -> None:
    with pytest.raises(BadField):
        parse_heartbeat({"heartbeat_counter": counter})
