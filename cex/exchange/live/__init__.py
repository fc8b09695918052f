"""Live mode: the exchange's prices follow the devnet's V2 pools, with noise and a lag.

On a worker thread (never the event loop) the follower waits for the devnet's manifest and
node, then polls for new blocks and reads each followed pair's reserves in one batch at that
block. Each new block moves the symbol's fair price toward the pool price (see :mod:`.fair`);
every ``depth_ms`` the loop rebuilds each symbol's synthetic book around its mid and publishes
the difference (Binance ``depthUpdate``, ``bookTicker``; Coinbase ``l2_data``, ``ticker``),
plus ``trade``/``market_trades`` events at ``trades_per_s``. Paper orders fill against the
same book. See docs/local-exchange.md.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from cex.exchange import binance_ws, coinbase_ws
from cex.exchange.coinbase_ws import rfc3339
from cex.exchange.live.fair import FairPrice
from cex.exchange.live.feeds import BinanceFeed, CoinbaseFeed
from cex.exchange.live.pools import GET_RESERVES, PoolRef, decode_reserves, resolve
from cex.exchange.live.settings import FollowSettings
from cex.exchange.live.synth import book_around, size_factors
from cex.exchange.paper import reject
from cex.exchange.symbols import SymbolSpec

if TYPE_CHECKING:
    from cex.exchange.server import LocalExchange

log = logging.getLogger("cex.exchange.live")

__all__ = ["DevnetFollower", "FollowSettings"]


class DevnetFollower:
    """The live-mode component of a :class:`LocalExchange`.

    Attributes
    ----------
    block : int
        The last block read (0 before the devnet was reached).
    pool_prices, mids : dict[str, int]
        Per symbol: the pool's price at that block and the exchange's mid (x 1e8).
    """

    def __init__(self, ex: LocalExchange, settings: FollowSettings) -> None:
        from cex.exchange.server import binance_error, json_response

        self._error, self._json = binance_error, json_response
        self.ex = ex
        self.settings = settings
        self.specs: list[SymbolSpec] = list(ex.specs.values())
        self.rng = random.Random(settings.seed)
        self.fair = {s.symbol: FairPrice(settings.alpha_bps, settings.noise_bps, self.rng)
                     for s in self.specs}
        self.factors = {s.symbol: size_factors(self.rng, settings.levels) for s in self.specs}
        self.binance = {s.symbol: BinanceFeed(s.symbol) for s in self.specs if not s.coinbase}
        self.coinbase = {s.symbol: CoinbaseFeed(s.symbol) for s in self.specs if s.coinbase}
        self.block = 0
        self.pool_prices: dict[str, int] = {}
        self.mids: dict[str, int] = {}
        self.pools: dict[str, PoolRef] = {}
        self.waiting = ""
        self.first_block = asyncio.Event()
        self._chain: Any = None
        ex.endpoints[("GET", "/api/v3/depth")] = self.depth
        ex.endpoints[("GET", "/api/v3/ticker/bookTicker")] = self.book_ticker
        ex.hub.coinbase_subscribed.append(self.coinbase_subscribed)

    async def start(self) -> None:
        """Start the chain poller and the publishing ticker."""
        self.ex.spawn(self._follow())
        self.ex.spawn(self._ticker())
        self.ex.spawn(self._heartbeats())

    async def stop(self) -> None:
        """Nothing beyond the server's task cancellation."""

    # -- chain side (worker thread) ------------------------------------------------------------

    def _connect(self) -> None:
        """Load the manifest, resolve the pools, open the chain (raises while not up)."""
        from contracts.client import Chain
        from contracts.devnet import DevnetPaths, load_manifest

        manifest = self.settings.manifest
        if manifest is None:
            manifest = load_manifest(DevnetPaths.of(self.settings.run_dir).manifest)
        self.pools = {s.symbol: resolve(manifest, s) for s in self.specs}
        self._chain = Chain(manifest["rpc_url"], timeout=5.0)

    def _read(self) -> tuple[int, dict[str, int]] | None:
        """The latest block and each pool's price there; None when no new block."""
        chain = self._chain
        block = chain.block_number()
        if block <= self.block:
            return None
        addresses = sorted({p.address for p in self.pools.values()})
        results = chain.rpc_batch([("eth_call", [{"to": a, "data": GET_RESERVES}, hex(block)])
                                   for a in addresses])
        reserves = dict(zip(addresses, map(decode_reserves, results), strict=True))
        return block, {sym: ref.price(*reserves[ref.address]) for sym, ref in self.pools.items()}

    async def _follow(self) -> None:
        from alphapulse.errors import AlphaPulseError

        while self._chain is None:
            try:
                await asyncio.to_thread(self._connect)
            except AlphaPulseError as exc:
                if self.waiting != str(exc):
                    log.warning("waiting for the devnet: %s", exc)
                    self.waiting = str(exc)
                await asyncio.sleep(self.settings.retry_s)
        log.info("following the devnet: %s", ", ".join(
            f"{s}={'/'.join(spec.pool or ())}" for s, spec in self.ex.specs.items()))
        while True:
            try:
                read = await asyncio.to_thread(self._read)
            except (AlphaPulseError, ValueError) as exc:
                if self.waiting != str(exc):
                    log.warning("devnet read failed (retrying): %s", exc)
                    self.waiting = str(exc)
                await asyncio.sleep(self.settings.retry_s)
                continue
            if read is not None:
                self._on_block(*read)
            await asyncio.sleep(self.settings.poll_s)

    def _on_block(self, block: int, prices: dict[str, int]) -> None:
        self.block = block
        self.pool_prices = prices
        for symbol, price in prices.items():
            self.mids[symbol] = self.fair[symbol].block(price)
            self.factors[symbol] = size_factors(self.rng, self.settings.levels)
        self.first_block.set()

    # -- publishing (event loop) ---------------------------------------------------------------

    async def _ticker(self) -> None:
        period = self.settings.depth_ms / 1000
        next_at = time.monotonic()
        while True:
            next_at += period
            await self.tick()
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def tick(self) -> None:
        """Rebuild every book around its mid, publish the differences and some trades."""
        s, now_ms = self.settings, time.time_ns() // 1_000_000
        trade_p = s.trades_per_s * s.depth_ms / 1000
        for spec in self.specs:
            mid = self.mids.get(spec.symbol)
            if not mid:
                continue
            bids, asks = book_around(mid, spec, s.levels, s.half_spread_bps, s.level_gap_bps,
                                     s.level_notional, self.factors[spec.symbol])
            book = self.ex.market.book(spec.symbol)
            if book is not None:
                book.load(bids, asks, book.sequence + 1)
            trade = self.rng.random() < trade_p
            side, qty = self.rng.random() < 0.5, spec.min_qty * self.rng.randint(1, 100)
            if spec.coinbase:
                await self._coinbase(spec.symbol, bids, asks, trade, side, qty)
            else:
                await self._binance(spec.symbol, bids, asks, trade, side, qty, now_ms)
            if book is not None:
                self.ex.market.changed(spec.symbol)

    async def _binance(self, symbol: str, bids: list[Any], asks: list[Any], trade: bool,
                       buyer_maker: bool, qty: int, now_ms: int) -> None:
        feed = self.binance[symbol]
        messages = feed.tick(bids, asks, now_ms)
        if trade:
            message = feed.trade(buyer_maker, qty, now_ms)
            messages += [message] if message else []
        for message in messages:
            await binance_ws.broadcast(self.ex.hub, message)
            self.ex.stats.bump("published", message["stream"].split("@", 1)[1])

    async def _coinbase(self, product: str, bids: list[Any], asks: list[Any], trade: bool,
                        taker_buys: bool, qty: int) -> None:
        feed = self.coinbase[product]
        messages = feed.tick(bids, asks)
        if trade:
            message = feed.trade(taker_buys, qty)
            messages += [message] if message else []
        for message in messages:
            await coinbase_ws.broadcast(self.ex.hub, message)
            self.ex.stats.bump("published", message["channel"])

    async def _heartbeats(self) -> None:
        """Coinbase ``heartbeats``: one a second to its subscribers (live mode only: in replay
        the script alone decides what is sent)."""
        counter, started = 0, time.monotonic_ns()
        while True:
            await asyncio.sleep(1.0)
            counter += 1
            since = time.monotonic_ns() - started
            stamp = rfc3339(time.time_ns())
            current = (f"{stamp[:10]} {stamp[11:-1]} +0000 UTC "
                       f"m=+{since // 1_000_000_000}.{since % 1_000_000_000:09d}")
            await coinbase_ws.broadcast(self.ex.hub, {
                "channel": "heartbeats", "client_id": "", "timestamp": stamp,
                "events": [{"current_time": current, "heartbeat_counter": str(counter)}]})

    async def coinbase_subscribed(self, client: coinbase_ws.CoinbaseClient, channel: str,
                                  products: list[str]) -> None:
        """A new level2 subscriber gets each product's snapshot first."""
        if channel != "level2":
            return
        for product in products:
            feed = self.coinbase.get(product)
            if feed is not None:
                await client.send_message(feed.snapshot())

    # -- REST ----------------------------------------------------------------------------------

    def _feed(self, request: web.Request) -> BinanceFeed:
        symbol = request.query.get("symbol", "")
        if not symbol:
            raise reject.missing("symbol")
        feed = self.binance.get(symbol)
        if feed is None:
            raise reject.bad_symbol()
        return feed

    async def depth(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v3/depth (``limit`` default 100, at most 5000)."""
        try:
            feed = self._feed(request)
            limit_text = request.query.get("limit", "100")
            if not limit_text.isdigit() or not 1 <= int(limit_text) <= 5000:
                raise reject.illegal("limit")
        except reject.Reject as exc:
            return self._error(exc.code, exc.msg, exc.status)
        return self._json(feed.depth_snapshot(int(limit_text)))

    async def book_ticker(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v3/ticker/bookTicker (one symbol)."""
        try:
            feed = self._feed(request)
        except reject.Reject as exc:
            return self._error(exc.code, exc.msg, exc.status)
        return self._json(feed.book_ticker())
