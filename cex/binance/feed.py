"""BinanceFeed: the :class:`~cex.feed.VenueFeed` of Binance spot (one combined stream).

One connection carries ``<symbol>@trade``, ``<symbol>@bookTicker`` and
``<symbol>@depth@100ms`` for every configured symbol (3 streams per symbol; Binance allows
1024 streams per connection, so at most 341 symbols). Nothing is sent after connecting (the
streams are in the URL), which keeps the client far below Binance's 5 incoming messages per
second; pongs are the websocket library's. A connection lives at most 24 h at Binance: the
transport reconnects before (``limits.max_age_s``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from cex.binance.depth import DepthSync
from cex.binance.stream import (
    combined_url,
    parse_book_ticker,
    parse_depth,
    parse_snapshot,
    parse_trade,
    stream_names,
)
from cex.errors import BadJson, CexError, UnknownSymbol
from cex.feed import NOTHING, FeedOutput, Frame, Limits, RestReply, VenueFeed
from cex.symbols import BINANCE_QUOTES, Pair, binance_pair
from mesh.protocol import InstrumentId
from mesh.protocol.constants import InvalidationReason, SourceType, VenueId

LIMITS = Limits(max_streams=1024, max_incoming_per_s=5, max_age_s=24 * 3600.0)
"""Binance spot's documented websocket limits."""

DEFAULT_WS = "wss://stream.binance.com:9443"
DEFAULT_REST = "https://api.binance.com"

_TRADE, _TICKER, _DEPTH = 0, 1, 2


@dataclass
class _Route:
    kind: int
    pair: Pair
    depth: DepthSync


@dataclass
class BinanceFeed(VenueFeed):
    """Binance spot market data for ``symbols`` (``ETHUSDT`` or ``ETH/USDT``).

    Parameters
    ----------
    symbols : list of str
        The configured symbols.
    ws_base : str
        Websocket base URL (``wss://stream.binance.com:9443``).
    quotes : tuple of str
        Quote assets used to split symbols (:data:`cex.symbols.BINANCE_QUOTES`).
    """

    name: str = "binance"
    venue: int = int(VenueId.BINANCE)
    source: int = int(SourceType.BINANCE_COLLECTOR)
    limits: Limits = LIMITS
    symbols: list[str] = field(default_factory=list)
    ws_base: str = DEFAULT_WS
    quotes: tuple[str, ...] = BINANCE_QUOTES
    epoch: int = 0

    def __post_init__(self) -> None:
        if not self.symbols:
            raise UnknownSymbol("binance: no symbols configured")
        self.pairs = [binance_pair(s, self.venue, self.quotes) for s in self.symbols]
        if len({p.symbol for p in self.pairs}) != len(self.pairs):
            raise UnknownSymbol(f"binance: a symbol is configured twice: {self.symbols}")
        if 3 * len(self.pairs) > self.limits.max_streams:
            raise UnknownSymbol(f"binance: {3 * len(self.pairs)} streams exceed "
                                f"{self.limits.max_streams} per connection")
        self.books = {p.symbol: DepthSync(p, self.errors) for p in self.pairs}
        self._routes: dict[str, _Route] = {}
        self._streams: list[str] = []
        for pair in self.pairs:
            for kind, name in enumerate(stream_names(pair.symbol)):
                self._routes[name] = _Route(kind, pair, self.books[pair.symbol])
                self._streams.append(name)

    # -- connection ------------------------------------------------------------------------

    def ws_url(self) -> str:
        """The combined-stream URL of every configured symbol."""
        return combined_url(self.ws_base, self._streams)

    def on_connect(self, now_ns: int) -> FeedOutput:
        """A new connection: every book starts over (snapshots are asked on first events)."""
        self.epoch += 1
        for sync in self.books.values():
            sync.reset()
        return NOTHING

    def on_disconnect(self, now_ns: int) -> list[Frame]:
        """StateInvalidation (DISCONNECTION) for every book; books forgotten."""
        self.epoch += 1
        for sync in self.books.values():
            sync.reset()
        return self.invalidation(self.instruments(), InvalidationReason.DISCONNECTION, now_ns)

    def instruments(self) -> list[InstrumentId]:
        """The configured pairs' InstrumentIds."""
        return [p.instrument for p in self.pairs]

    # -- data ------------------------------------------------------------------------------

    def on_message(self, raw: bytes | str, recv_ns: int) -> FeedOutput:
        """One combined-stream message; errors counted by kind, never raised."""
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.errors["bad_json"] += 1
            return NOTHING
        try:
            return self._dispatch(msg, recv_ns)
        except CexError as exc:
            self.errors[exc.kind] += 1
            return NOTHING

    def _dispatch(self, msg: Any, recv_ns: int) -> FeedOutput:
        if type(msg) is not dict:
            raise BadJson("a combined-stream message is a JSON object")
        route = self._routes.get(msg.get("stream"))  # type: ignore[arg-type]
        if route is None:
            if "id" in msg and "result" in msg:
                return NOTHING                  # an answer to a control message
            self.errors["unknown_stream"] += 1
            return NOTHING
        data = msg.get("data")
        if type(data) is not dict:
            raise BadJson("a combined-stream message has a 'data' object")
        kind = route.kind
        if kind == _DEPTH:
            return route.depth.on_event(parse_depth(data), self.epoch)
        if kind == _TRADE:
            return FeedOutput([[parse_trade(route.pair.instrument, data)]], [])
        return FeedOutput([[parse_book_ticker(route.pair.instrument, data, recv_ns)]], [])

    def on_snapshot(self, reply: RestReply, recv_ns: int) -> FeedOutput:
        """A depth snapshot (or its failure) for one symbol."""
        request = reply.request
        sync = self.books.get(request.key)
        if sync is None or request.epoch != self.epoch:
            return NOTHING                      # asked on an older connection
        if reply.status != 200:
            self.errors["venue_error"] += 1
            return sync.on_snapshot_failed(self.epoch)
        try:
            snap = parse_snapshot(orjson.loads(reply.body))
        except orjson.JSONDecodeError:
            self.errors["bad_json"] += 1
            return sync.on_snapshot_failed(self.epoch)
        except CexError as exc:
            self.errors[exc.kind] += 1
            return sync.on_snapshot_failed(self.epoch)
        return sync.on_snapshot(snap, recv_ns, self.epoch)
