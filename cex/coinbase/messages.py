"""Coinbase Advanced Trade market-data messages -> plain integer records, without I/O.

Every message of the market-data websocket is one JSON object, the envelope::

    {"channel": "l2_data", "client_id": "", "timestamp": "2023-02-09T20:32:50.714964855Z",
     "sequence_num": 4, "events": [{"type": "update", "product_id": "ETH-USD", ...}]}

``sequence_num`` counts the connection's messages (every channel together). Each channel's
events have their own shape (documented examples in tests/cex/test_coinbase_messages.py):

- ``l2_data`` (channel ``level2``): ``{"type": "snapshot" | "update", "product_id",
  "updates": [{"side": "bid" | "offer", "event_time", "price_level", "new_quantity"}]}``;
  ``new_quantity`` is the level's new size (not a delta), ``"0"`` removes the level.
- ``market_trades``: ``{"type", "trades": [{"trade_id", "product_id", "price", "size",
  "side": "BUY" | "SELL", "time"}]}``; ``side`` is the MAKER's side (Coinbase documents a
  trade's side as the side of the order that rested on the book), so a ``"SELL"`` is a taker
  buy: the records here carry the taker side, as the Trade message does.
- ``ticker``: ``{"type", "tickers": [{"type": "ticker", "product_id", "price", "best_bid",
  "best_bid_quantity", "best_ask", "best_ask_quantity", ...}]}``.
- ``heartbeats``: ``{"current_time", "heartbeat_counter"}``; ``subscriptions``: the
  subscriptions in force. An ``{"type": "error", "message": ...}`` object reports a refusal.

Prices and sizes become i64 x 1e8 (:func:`cex.fixed.parse_q8`), times integer nanoseconds
(:func:`cex.coinbase.times.parse_rfc3339_ns`). Anything malformed raises a typed
:class:`~cex.errors.CexError` (``bad_json``, ``bad_field``, ``precision``, ``venue_error``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from cex.coinbase.times import parse_rfc3339_ns
from cex.errors import BadField, BadJson, VenueRejected
from cex.fixed import parse_int, parse_q8

__all__ = [
    "TAKER_BUY", "TAKER_SELL", "Envelope", "L2Event", "TickerRecord", "TradeRecord",
    "decode_envelope", "parse_heartbeat", "parse_l2", "parse_tickers", "parse_trades",
]

TAKER_BUY = 0
"""Trade.side of a trade whose taker bought (the maker sold: Coinbase side ``"SELL"``)."""
TAKER_SELL = 1
"""Trade.side of a trade whose taker sold (the maker bought: Coinbase side ``"BUY"``)."""

_TAKER_SIDE = {"SELL": TAKER_BUY, "BUY": TAKER_SELL}
_EVENT_TYPES = {"snapshot": True, "update": False}


class Envelope(NamedTuple):
    """The fields every market-data message shares.

    Attributes
    ----------
    channel : str
        ``l2_data``, ``market_trades``, ``ticker``, ``heartbeats``, ``subscriptions`` ...
    sequence_num : int
        The message's number on its connection.
    timestamp_ns : int
        When Coinbase sent it (ns since the epoch).
    events : list of dict
        The channel's events (shapes in the module docstring).
    """

    channel: str
    sequence_num: int
    timestamp_ns: int
    events: list[dict[str, Any]]


class TradeRecord(NamedTuple):
    """One market trade; price and size x 1e8, ``taker_side`` as Trade.side (0 buy, 1 sell)."""

    product_id: str
    trade_id: str
    price: int
    size: int
    taker_side: int
    time_ns: int


class TickerRecord(NamedTuple):
    """A product's top of book from the ticker channel, x 1e8."""

    product_id: str
    bid_price: int
    bid_size: int
    ask_price: int
    ask_size: int


class L2Event(NamedTuple):
    """One level2 event: the changed levels of one product (a whole book if ``snapshot``).

    Attributes
    ----------
    product_id : str
        The product.
    snapshot : bool
        True for the subscription's snapshot (the whole book), False for an update.
    bids, asks : list of (price, size)
        Levels x 1e8 in message order; a size of 0 removes the level.
    time_ns : int
        The latest ``event_time`` of the updates (0 when there is none).
    """

    product_id: str
    snapshot: bool
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
    time_ns: int


def _field(obj: dict[str, Any], name: str) -> Any:
    try:
        return obj[name]
    except KeyError:
        raise BadField(f"field {name!r} missing") from None


def _str(obj: dict[str, Any], name: str) -> str:
    value = _field(obj, name)
    if type(value) is not str:
        raise BadField(f"field {name!r} is not a string: {value!r}")
    return value


def _list(obj: dict[str, Any], name: str) -> list[Any]:
    value = _field(obj, name)
    if type(value) is not list:
        raise BadField(f"field {name!r} is not a list")
    return value


def _objects(items: list[Any], name: str) -> list[dict[str, Any]]:
    for item in items:
        if type(item) is not dict:
            raise BadField(f"an item of {name!r} is not an object")
    return items


def decode_envelope(raw: bytes | str) -> Envelope:
    """Decode one websocket message into its :class:`Envelope`.

    Parameters
    ----------
    raw : bytes or str
        The message as received.

    Raises
    ------
    BadJson
        Not JSON, or not a JSON object.
    VenueRejected
        Coinbase's ``{"type": "error", "message": ...}`` answer.
    BadField
        A missing or malformed envelope field.
    """
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadJson(f"not JSON: {exc}") from None
    if type(msg) is not dict:
        raise BadJson(f"a message is a JSON object, got {type(msg).__name__}")
    if msg.get("type") == "error":
        raise VenueRejected(f"coinbase error: {str(msg.get('message', ''))[:200]}")
    events = _list(msg, "events")
    return Envelope(_str(msg, "channel"), parse_int(_field(msg, "sequence_num")),
                    parse_rfc3339_ns(_field(msg, "timestamp")), _objects(events, "events"))


def _snapshot(event: dict[str, Any]) -> bool:
    kind = _field(event, "type")
    try:
        return _EVENT_TYPES[kind]
    except (KeyError, TypeError):
        raise BadField(f"an event's type is snapshot or update, got {kind!r}") from None


def parse_l2(event: dict[str, Any]) -> L2Event:
    """One ``l2_data`` event -> :class:`L2Event` (levels x 1e8, sizes absolute).

    Raises
    ------
    BadField, PrecisionLoss
        A missing field, a side other than ``bid``/``offer``, a bad decimal or time.
    """
    snapshot = _snapshot(event)
    product = _str(event, "product_id")
    bids: list[tuple[int, int]] = []
    asks: list[tuple[int, int]] = []
    latest = 0
    for update in _objects(_list(event, "updates"), "updates"):
        side = update.get("side")
        level = (parse_q8(_field(update, "price_level")), parse_q8(_field(update, "new_quantity")))
        if side == "bid":
            bids.append(level)
        elif side == "offer":
            asks.append(level)
        else:
            raise BadField(f"a level2 side is bid or offer, got {side!r}")
        t = parse_rfc3339_ns(_field(update, "event_time"))
        if t > latest:
            latest = t
    return L2Event(product, snapshot, bids, asks, latest)


def parse_trades(event: dict[str, Any]) -> list[TradeRecord]:
    """One ``market_trades`` event -> its trades, oldest first (by time, then as listed).

    Raises
    ------
    BadField, PrecisionLoss
        A missing field, a side other than ``BUY``/``SELL``, a bad decimal or time.
    """
    _snapshot(event)
    out: list[TradeRecord] = []
    for trade in _objects(_list(event, "trades"), "trades"):
        side: Any = trade.get("side")
        try:
            taker = _TAKER_SIDE[side]
        except (KeyError, TypeError):
            raise BadField(f"a trade's side is BUY or SELL, got {side!r}") from None
        trade_id = _field(trade, "trade_id")
        if type(trade_id) is int:
            trade_id = str(trade_id)
        elif type(trade_id) is not str:
            raise BadField(f"a trade_id is a string, got {trade_id!r}")
        out.append(TradeRecord(_str(trade, "product_id"), trade_id,
                               parse_q8(_field(trade, "price")), parse_q8(_field(trade, "size")),
                               taker, parse_rfc3339_ns(_field(trade, "time"))))
    out.sort(key=lambda t: t.time_ns)
    return out


def parse_tickers(event: dict[str, Any]) -> list[TickerRecord]:
    """One ``ticker`` event -> the best bid and ask (with their quantities) of each product.

    Raises
    ------
    BadField, PrecisionLoss
        A missing field or a bad decimal.
    """
    _snapshot(event)
    return [TickerRecord(_str(t, "product_id"),
                         parse_q8(_field(t, "best_bid")), parse_q8(_field(t, "best_bid_quantity")),
                         parse_q8(_field(t, "best_ask")), parse_q8(_field(t, "best_ask_quantity")))
            for t in _objects(_list(event, "tickers"), "tickers")]


def parse_heartbeat(event: dict[str, Any]) -> int:
    """One ``heartbeats`` event -> its ``heartbeat_counter`` (a decimal string or an int).

    Raises
    ------
    BadField
        A missing or non-integer counter.
    """
    counter = _field(event, "heartbeat_counter")
    if type(counter) is str and counter.isdigit() and counter.isascii():
        return int(counter)
    return parse_int(counter)
