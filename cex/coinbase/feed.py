"""CoinbaseFeed: Coinbase Advanced Trade market data -> Trade, Quote, OrderBook frames.

One websocket (``wss://advanced-trade-ws.coinbase.com``) carries four channels for the
configured products, each asked for by its own subscribe message (Coinbase takes one channel
per message, and closes a connection that has not subscribed within 5 seconds):

- ``heartbeats``: one message a second, so a quiet product does not get the connection closed
  (Coinbase closes channels without traffic after 60-90 s);
- ``level2`` (messages on channel ``l2_data``): a snapshot of each product's book, then
  updates; after each event the book's top 50 levels per side are written as an OrderBook
  (``sequence`` = the message's ``sequence_num``);
- ``market_trades``: Trade messages (``side`` turned into the taker's side, see
  :mod:`cex.coinbase.messages`); a trade already written (the subscription's snapshot repeats
  recent trades after a reconnect) is written once;
- ``ticker``: a Quote from ``best_bid``/``best_ask`` and their quantities.

``sequence_num`` numbers the messages of one connection. A message that skips numbers means
messages were lost: every book is invalidated (StateInvalidation, reason RECOVERY), forgotten,
and :attr:`CoinbaseFeed.resync_requested` is set so the transport opens a new connection, whose
level2 subscription brings fresh snapshots. Until its snapshot arrives a book's updates are
dropped. An l2 event that cannot be parsed, or a book left crossed, is a lost update too and
takes the same path. A message numbered below the expected one is a duplicate: dropped,
counted ``stale``.

Exchange time: a trade's ``time``; the latest ``event_time`` of an l2 event's updates (the
message's ``timestamp`` if the event has none); the ticker message's ``timestamp``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from cex.book import L2Book
from cex.coinbase.auth import CdpKey, ws_jwt
from cex.coinbase.messages import (
    Envelope,
    decode_envelope,
    parse_heartbeat,
    parse_l2,
    parse_tickers,
    parse_trades,
)
from cex.errors import CexError, UnknownSymbol
from cex.feed import NOTHING, FeedOutput, Frame, Limits, VenueFeed
from cex.frames import order_book_tlv, quote, trade
from cex.symbols import Pair, dashed_pair
from mesh.protocol import InstrumentId, Quote, Trade
from mesh.protocol.constants import InvalidationReason, SourceType, VenueId

__all__ = ["CHANNELS", "COINBASE_WS", "LIMITS", "CoinbaseFeed"]

COINBASE_WS = "wss://advanced-trade-ws.coinbase.com"
"""Coinbase Advanced Trade's market-data websocket."""

CHANNELS = ("heartbeats", "level2", "market_trades", "ticker")
"""The channels subscribed to, one subscribe message each, in this order."""

LIMITS = Limits(max_streams=len(CHANNELS) * 256, max_incoming_per_s=8, max_age_s=86_400.0,
                subscribe_within_s=5.0)
"""Coinbase's documented limits: 8 unauthenticated messages a second per IP, a subscribe within
5 s. Coinbase documents no connection lifetime and no product count per connection; a day and
256 products per channel are this project's bounds."""

_TRADE_MEMORY = 4096


class _SeenTrades:
    """The last trade ids written for one product (a bounded set, oldest forgotten first)."""

    __slots__ = ("ids", "order")

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.order: deque[str] = deque()

    def add(self, trade_id: str) -> bool:
        """Remember ``trade_id``; False if it was already there."""
        if trade_id in self.ids:
            return False
        self.ids.add(trade_id)
        self.order.append(trade_id)
        if len(self.order) > _TRADE_MEMORY:
            self.ids.discard(self.order.popleft())
        return True


class CoinbaseFeed(VenueFeed):
    """The Coinbase Advanced Trade market-data feed of some products (no I/O).

    Parameters
    ----------
    products : sequence of str
        Product ids (``ETH-USD``); each is ``InstrumentId.coin(COINBASE, "ETH/USD")``.
    url : str
        The websocket endpoint.
    key : CdpKey, optional
        A CDP key: each subscribe message then carries a fresh JWT. None subscribes without
        authentication (the market-data channels allow it).
    clock : callable, optional
        Unix time in seconds for the JWTs (``time.time``).

    Attributes
    ----------
    resync_requested : bool
        Set when the stream lost messages (a ``sequence_num`` gap) or a book went bad: the
        transport should close the connection and open a new one (fresh snapshots).
    heartbeat_counter : int
        The last heartbeat's counter (-1 before the first).
    subscriptions : dict
        The last ``subscriptions`` answer: channel -> product ids.
    """

    def __init__(self, products: Sequence[str], url: str = COINBASE_WS,
                 key: CdpKey | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name="coinbase", venue=int(VenueId.COINBASE),
                         source=int(SourceType.COINBASE_COLLECTOR), limits=LIMITS)
        pairs = [dashed_pair(p, VenueId.COINBASE) for p in products]
        if not pairs:
            raise UnknownSymbol("Coinbase needs at least one product id")
        self.pairs: dict[str, Pair] = {p.symbol: p for p in pairs}
        self.url = url
        self.key = key
        self._clock = clock
        self._books = {p.symbol: L2Book() for p in pairs}
        self._synced: set[str] = set()
        self._seen = {p.symbol: _SeenTrades() for p in pairs}
        self._expected: int | None = None
        self.resync_requested = False
        self.heartbeat_counter = -1
        self.subscriptions: dict[str, list[str]] = {}

    # -- connection ------------------------------------------------------------------------

    def ws_url(self) -> str:
        """The configured endpoint (products and channels go in the subscribe messages)."""
        return self.url

    def subscribe_messages(self) -> list[str]:
        """One subscribe message per channel; with a key each carries its own JWT."""
        products = list(self.pairs)
        out = []
        for channel in CHANNELS:
            msg: dict[str, Any] = {"type": "subscribe", "product_ids": products,
                                   "channel": channel}
            if self.key is not None:
                msg["jwt"] = ws_jwt(self.key, int(self._clock()))
            out.append(orjson.dumps(msg).decode())
        return out

    def on_connect(self, now_ns: int) -> FeedOutput:
        """A new connection: its ``sequence_num`` starts afresh, books wait for snapshots."""
        self._expected = None
        self._synced.clear()
        self.resync_requested = False
        return NOTHING

    def on_disconnect(self, now_ns: int) -> list[Frame]:
        """Every book is invalid until the next connection's snapshots (reason DISCONNECTION)."""
        self._forget_books()
        self._expected = None
        return self.invalidation(self.instruments(), InvalidationReason.DISCONNECTION, now_ns)

    def instruments(self) -> list[InstrumentId]:
        """The InstrumentIds of the configured products (their books)."""
        return [p.instrument for p in self.pairs.values()]

    def book(self, product: str) -> L2Book | None:
        """The local book of ``product`` if it is in sync (a snapshot since the connection)."""
        return self._books[product] if product in self._synced else None

    # -- data ------------------------------------------------------------------------------

    def on_message(self, raw: bytes | str, recv_ns: int) -> FeedOutput:
        """One websocket message -> frames; input errors are counted by kind, never raised."""
        try:
            env = decode_envelope(raw)
        except CexError as exc:
            self.count(exc.kind)
            return NOTHING
        frames: list[Frame] = []
        seq = env.sequence_num
        expected = self._expected
        if expected is not None and seq != expected:
            if seq < expected:
                self.count("stale")
                return NOTHING
            self.count("gap")
            frames += self._lost(env.timestamp_ns, InvalidationReason.RECOVERY)
        self._expected = seq + 1
        channel = env.channel
        if channel == "l2_data":
            frames += self._level2(env)
        elif channel == "market_trades":
            self._trades(env, frames)
        elif channel == "ticker":
            self._ticker(env, frames)
        elif channel == "heartbeats":
            self._heartbeats(env)
        elif channel == "subscriptions":
            self._subscriptions(env)
        else:
            self.count("unknown_stream")
        return FeedOutput(frames, []) if frames else NOTHING

    # -- channels --------------------------------------------------------------------------

    def _pair(self, product: str) -> Pair:
        pair = self.pairs.get(product)
        if pair is None:
            raise UnknownSymbol(f"product {product!r} is not configured")
        return pair

    def _level2(self, env: Envelope) -> list[Frame]:
        frames: list[Frame] = []
        for event in env.events:
            try:
                ev = parse_l2(event)
                pair = self._pair(ev.product_id)
            except CexError as exc:
                self.count(exc.kind)
                # An update we cannot apply leaves its book behind the venue's: resync.
                return frames + self._lost(env.timestamp_ns, InvalidationReason.BAD_STATE)
            product = pair.symbol
            book = self._books[product]
            if ev.snapshot:
                book.load(ev.bids, ev.asks, env.sequence_num)
                self._synced.add(product)
            elif product in self._synced:
                book.apply(ev.bids, ev.asks, env.sequence_num)
            else:
                continue  # waiting for this connection's snapshot
            if book.crossed():
                self.count("crossed")
                return frames + self._lost(env.timestamp_ns, InvalidationReason.BAD_STATE)
            frames.append([order_book_tlv(pair.instrument, book, ev.time_ns or env.timestamp_ns)])
        return frames

    def _trades(self, env: Envelope, frames: list[Frame]) -> None:
        def make(pair: Any, rec: Any) -> Trade | None:
            if not self._seen[pair.symbol].add(rec.trade_id):
                return None  # written already (a snapshot after a reconnect repeats trades)
            return trade(pair.instrument, rec.price, rec.size, rec.time_ns, rec.taker_side)
        self._records(env, parse_trades, make, frames)

    def _ticker(self, env: Envelope, frames: list[Frame]) -> None:
        def make(pair: Any, rec: Any) -> Quote:
            return quote(pair.instrument, (rec.bid_price, rec.bid_size),
                         (rec.ask_price, rec.ask_size), env.timestamp_ns)
        self._records(env, parse_tickers, make, frames)

    def _records(self, env: Envelope, parse: Callable[[Any], list[Any]],
                 make: Callable[[Any, Any], Trade | Quote | None], frames: list[Frame]) -> None:
        """One frame of the messages ``make`` builds from every record ``parse`` finds in the
        events (records of unknown products and events that do not parse are counted)."""
        out: Frame = []
        for event in env.events:
            try:
                records = parse(event)
            except CexError as exc:
                self.count(exc.kind)
                continue
            for rec in records:
                pair = self.pairs.get(rec.product_id)
                if pair is None:
                    self.count(UnknownSymbol.kind)
                elif (message := make(pair, rec)) is not None:
                    out.append(message)
        if out:
            frames.append(out)

    def _heartbeats(self, env: Envelope) -> None:
        for event in env.events:
            try:
                self.heartbeat_counter = parse_heartbeat(event)
            except CexError as exc:
                self.count(exc.kind)

    def _subscriptions(self, env: Envelope) -> None:
        for event in env.events:
            subs = event.get("subscriptions")
            if type(subs) is dict:
                self.subscriptions = {str(k): list(v) for k, v in subs.items()
                                      if type(v) is list}

    # -- resync ----------------------------------------------------------------------------

    def _forget_books(self) -> None:
        for book in self._books.values():
            book.clear()
        self._synced.clear()

    def _lost(self, time_ns: int, reason: InvalidationReason) -> list[Frame]:
        """Messages were lost or a book went bad: invalidate every book, ask for a resync."""
        self._forget_books()
        self.resync_requested = True
        return self.invalidation(self.instruments(), reason, time_ns)
