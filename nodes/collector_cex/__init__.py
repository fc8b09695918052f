"""The CEX collector: venues' websocket market data into the market-data ring, exactly.

For each enabled venue (``venues = "binance,coinbase"``) one :class:`VenueTransport` on the
runtime's asyncio loop keeps a websocket open to the configured endpoint; its messages reach
the loop thread in one post per websocket read burst, where the venue's
:class:`~cex.feed.VenueFeed` (``nodes.collector_cex.venues``) turns them into frames
(:mod:`nodes.collector_cex.driver`; Binance depth updates in compiled code straight into the
ring) written to the node's market-data
ring: ``[Trade]``, ``[Quote]``, ``[OrderBook]`` (top 50 levels per side) and
``[StateInvalidation]`` (the venue's books, while it is disconnected or a book resyncs). The
frame header's timestamp is the receive time; the message's own timestamp the exchange's.

Configuration (``[nodes.collector-cex]``)::

    venues = "binance"
    binance_ws = "wss://stream.binance.com:9443"
    binance_rest = "https://api.binance.com"
    binance_symbols = "ETHUSDT,BTCUSDT"

Input errors (``bad_json``, ``bad_field``, ``precision``, ``gap``, ``stale``, ``venue_error``
...) are counted by kind in ``alphapulse_errors_total`` and logged at most once per kind every
``log_every_s``; the node never dies on input. Disconnections are counted per venue
(``alphapulse_cex_disconnections_total``) beside a ``alphapulse_cex_connected`` gauge. See
docs/cex-collectors.md.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from functools import partial
from typing import Any

from alphapulse.errors import AlphaPulseError, ConfigError
from cex.feed import VenueFeed
from mesh.protocol import OrderBook, Quote, StateInvalidation, Trade
from mesh.protocol.constants import RelayDomain, SourceType
from nodes.collector_cex.driver import FeedDriver, RingOut
from nodes.collector_cex.metrics import CexCollector
from nodes.collector_cex.transport import Batch, VenueTransport, settings_from
from nodes.collector_cex.venues import VENUES, names
from nodes.runtime import ConfigKey, Contract, Node
from nodes.runtime.throttle import ThrottledLog

__all__ = ["CexCollectorNode"]



class CexCollectorNode(Node):
    """Collect CEX market data (Binance, Coinbase) into the market-data ring."""

    CONTRACT = Contract(
        kind="collector-cex",
        role="CEX websocket market data (trades, quotes, 50-level books) into the market-data "
             "ring, with each venue's documented book synchronisation.",
        source=SourceType.BINANCE_COLLECTOR,
        produces=(Trade, Quote, OrderBook, StateInvalidation),
        writes=(RelayDomain.MARKET_DATA,),
        config={
            "venues": ConfigKey("binance", "venues to collect, comma-separated "
                                           "(binance, coinbase)"),
            "binance_ws": ConfigKey("wss://stream.binance.com:9443", "Binance websocket base"),
            "binance_rest": ConfigKey("https://api.binance.com", "Binance REST base"),
            "binance_symbols": ConfigKey("ETHUSDT,BTCUSDT", "Binance symbols, comma-separated "
                                                            "(ETHUSDT or ETH/USDT)"),
            "binance_fast_depth": ConfigKey(True, "depth updates through the compiled path "
                                                  "(byte-identical frames, ~3x the rate)"),
            "coinbase_ws": ConfigKey("wss://advanced-trade-ws.coinbase.com",
                                     "Coinbase Advanced Trade websocket"),
            "coinbase_products": ConfigKey("ETH-USD,BTC-USD", "Coinbase product ids"),
            "coinbase_key_file": ConfigKey("", "optional CDP key JSON (mode 0600); empty = "
                                               "COINBASE_API_KEY_NAME/_PRIVATE_KEY or none"),
            "ping_interval_ms": ConfigKey(20000, "client ping period"),
            "ping_timeout_ms": ConfigKey(20000, "a pong later than this closes the connection"),
            "open_timeout_ms": ConfigKey(10000, "websocket opening handshake limit"),
            "backoff_min_ms": ConfigKey(200, "first wait before reconnecting"),
            "backoff_max_ms": ConfigKey(30000, "longest wait before reconnecting"),
            "rest_timeout_ms": ConfigKey(10000, "REST request limit (depth snapshots)"),
            "rotate_margin_s": ConfigKey(600, "reconnect this long before the venue's "
                                              "maximum connection age (Binance: 24 h)"),
            "log_every_s": ConfigKey(10.0, "at most one log line per error kind this often"),
        },
    )

    def on_start(self) -> None:
        """Build every enabled venue's feed and start its transport on the asyncio loop."""
        s = self.rt.settings
        self._log = ThrottledLog(self.rt.log, "collector-cex", float(self.rt.settings["log_every_s"]))
        self._last_report_s = -1
        self._out = RingOut(self.rt.rings.writer(RelayDomain.MARKET_DATA),
                            partial(self._note_error, "ring_full", "the market-data ring is full"))
        self.transports: dict[str, VenueTransport] = {}
        self._drivers: dict[str, FeedDriver] = {}
        self._futures: list[Future[Any]] = []
        self._reported: dict[str, Counter[str]] = {}
        enabled = names(s["venues"])
        unknown = [v for v in enabled if v not in VENUES]
        if unknown or not enabled:
            raise ConfigError(f"collector-cex: unknown venues {unknown} (known: "
                              f"{sorted(VENUES)})" if unknown else "collector-cex: no venue")
        self.cex_metrics = CexCollector(self.rt.name, enabled)
        if self.rt.metrics is not None:
            self.rt.metrics.registry.register(self.cex_metrics)
        settings = settings_from(dict(s))
        for venue in enabled:
            try:
                feed, rest = VENUES[venue](s)
            except AlphaPulseError as exc:
                raise ConfigError(f"collector-cex: {venue}: {exc}") from exc
            transport = VenueTransport(feed, rest, sink=partial(self._post_batch, venue),
                                       on_state=partial(self._post_state, venue),
                                       settings=settings)
            self.transports[venue] = transport
            self._drivers[venue] = FeedDriver(feed, transport, self._out)
            self._reported[venue] = Counter()
            self._futures.append(self.rt.offload.spawn(transport.run()))
            self.rt.log.info("collector-cex: %s at %s", venue, feed.ws_url())

    def on_stop(self) -> None:
        """Cancel the transports (their connections close)."""
        for future in self._futures:
            future.cancel()

    # -- from the asyncio thread ---------------------------------------------------------------

    def _post_batch(self, venue: str, batch: Batch) -> None:
        self.rt.offload.post(self._apply, venue, batch)

    def _post_state(self, venue: str, event: str, detail: str) -> None:
        self.rt.offload.post(self._state, venue, event, detail)

    # -- on the loop thread ------------------------------------------------------------------

    def _apply(self, venue: str, batch: Batch) -> None:
        """One burst of a venue's events through its feed into the ring; then report the
        feed's new input errors."""
        driver = self._drivers[venue]
        driver.apply(batch)
        self._report_errors(driver.feed)

    def _report_errors(self, feed: VenueFeed) -> None:
        reported = self._reported[feed.name]
        for kind, n in feed.errors.copy().items():
            new = n - reported[kind]
            if new > 0:
                reported[kind] = n
                self.rt.stats.errors[kind] += new
                self._note_error(kind, f"{feed.name}: {new} new", count=False)

    def _state(self, venue: str, event: str, detail: str) -> None:
        m = self.cex_metrics
        if event == "connected":
            m.connected[venue] = 1
            self.rt.log.info("collector-cex: %s connected", venue)
        elif event == "disconnected":
            m.connected[venue] = 0
            m.disconnections[venue] += 1
            self._note_error("disconnect", f"{venue}: {detail}")
        else:
            m.connect_failures[venue] += 1
            self._note_error("connect_failed", f"{venue}: {detail}")
        self._report_errors(self.transports[venue].feed)

    def on_tick(self, now_ns: int) -> int:
        """Report input errors of feeds that produced no frame lately (a stream of junk)."""
        if now_ns // 1_000_000_000 != self._last_report_s:
            self._last_report_s = now_ns // 1_000_000_000
            for transport in self.transports.values():
                self._report_errors(transport.feed)
        return 0

    def _note_error(self, kind: str, detail: str, count: bool = True) -> None:
        """Count an error (unless already counted); log it at most once per ``log_every_s``."""
        if count:
            self.rt.stats.error(kind)
        self._log.note(kind, detail)
