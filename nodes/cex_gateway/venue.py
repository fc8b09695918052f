"""The gateway's network side, on the runtime's asyncio loop (``rt.offload.spawn``).

:class:`Venue` owns the REST client and two background tasks:

- the user-data stream: a listen key (``POST /api/v3/userDataStream``), a websocket on
  ``<ws_url>/ws/<listenKey>``, every ``executionReport`` handed to the loop thread, the key kept
  alive (``PUT``) every ``keepalive_s`` (Binance: every 30 minutes, it expires after 60), and a
  reconnect with capped exponential backoff and jitter after any disconnection (counted);
- the account valuation: ``GET /api/v3/account`` and each symbol's book ticker every
  ``valuation_s`` (sooner after a fill), handed to the loop thread for the daily loss.

Results reach the node only through ``post`` (thread-safe; the callables run on the loop
thread), so node state is never touched from this loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from alphapulse.errors import AlphaPulseError
from cex.binance.filters import SymbolRules, parse_exchange_info
from cex.binance.rest import (
    BinanceError,
    BinanceRest,
    UnknownOutcome,
    VenueTimeout,
    VenueUnreachable,
)
from cex.binance.signing import Credentials, order_params
from cex.errors import BadJson, CexError
from cex.fixed import parse_q8
from mesh.protocol.constants import OrderSide, OrderType, TimeInForce
from nodes.cex_gateway.orders import Order, Report
from nodes.cex_gateway.risk import Ticker
from nodes.cex_gateway.settings import GatewaySettings

__all__ = ["Halted", "Venue"]

_SIDES = {OrderSide.BUY: "BUY", OrderSide.SELL: "SELL"}
_TIFS = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_NO_SUCH_ORDER = -2013
#: Seconds added to recvWindow before a missing order counts as never placed (clock skew).
_CLOCK_MARGIN_S = 1.0
#: Seconds between look-ups of an order whose sending ended without an answer.
_LOOKUP_PAUSE_S = 0.5
_BACKOFF_MIN_S, _BACKOFF_MAX_S = 0.2, 30.0

Post = Callable[..., None]


class Halted(CexError):
    """Trading halted (emergency stop, kill flag, dead man's switch): the order was not signed."""

    kind = "halted"


class Venue:
    """REST orders, the user-data stream and valuations of one Binance account.

    Parameters
    ----------
    settings : GatewaySettings
    credentials : Credentials
    post : callable
        ``rt.offload.post``: queue ``fn(*args)`` for the loop thread.
    halted : callable
        True while trading is halted; checked right before an order is signed.
    log : logging.Logger
    """

    def __init__(self, settings: GatewaySettings, credentials: Credentials, post: Post,
                 halted: Callable[[], bool], log: logging.Logger) -> None:
        self.s = settings
        self.rest = BinanceRest(settings.rest_url, credentials,
                                recv_window_ms=settings.recv_window_ms,
                                timeout_s=settings.timeout_s, max_wait_s=settings.max_wait_s)
        self.post = post
        self.halted = halted
        self.log = log
        self.stream_connects = 0
        self.stream_disconnects = 0
        self.keepalives = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._listen_key: str | None = None
        self._poke: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, on_event: Post, on_valuation: Post, on_stream: Post
                    ) -> dict[str, SymbolRules]:
        """Open the client (clock offset), read the symbols' rules, start the two tasks."""
        await self.rest.open()
        wanted = {c.symbol for c in self.s.symbols.values()}
        rules = parse_exchange_info(await self.rest.exchange_info(), wanted)
        self._poke = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._tasks = [asyncio.create_task(self._user_stream(on_event, on_stream)),
                       asyncio.create_task(self._valuations(on_valuation))]
        return rules

    async def close(self) -> None:
        """Stop the tasks, close the listen key (best effort) and the client."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._listen_key is not None:
            with contextlib.suppress(AlphaPulseError):
                await self.rest.close_listen_key(self._listen_key)
        await self.rest.close()

    def poke(self) -> None:
        """Ask for a valuation now (thread-safe)."""
        loop, poke = self._loop, self._poke
        if loop is not None and poke is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(poke.set)

    # -- orders ----------------------------------------------------------------------------

    def _guard(self) -> None:
        if self.halted():
            raise Halted("trading halted: the order was not signed")

    async def place(self, order: Order, time_in_force: TimeInForce) -> Report:
        """Sign and send a new order; when its outcome is unknown (timeout, HTTP 5xx, a broken
        connection), ask for it by client id before deciding.

        Raises
        ------
        Halted
            Trading halted before the order was signed.
        BinanceError, RateLimited, VenueTimeout, UnknownOutcome, VenueUnreachable
            The venue refused, or the order was not found after an unknown outcome.
        """
        market = order.order_type == OrderType.MARKET
        params = order_params(
            symbol=order.symbol, side=_SIDES[order.side],
            order_type="MARKET" if market else "LIMIT", quantity_q8=order.quantity_q8,
            price_q8=0 if market else order.price_q8,
            time_in_force="" if market else _TIFS[time_in_force], client_id=order.client_id)
        sent = time.monotonic()
        try:
            doc = await self.rest.new_order(params, guard=self._guard)
        except (VenueTimeout, UnknownOutcome, VenueUnreachable) as exc:
            doc = await self._look_up(order, exc, sent)
        return Report.from_rest(doc, order.base, order.quote)

    async def _look_up(self, order: Order, unknown: AlphaPulseError, sent: float
                       ) -> dict[str, Any]:
        """The order whose sending ended without an answer, asked for by its client id.

        The request may still reach the venue after a first "no such order": Binance refuses
        a signed request once its ``recvWindow`` has passed, so the order is declared unknown
        (``unknown`` raised) only when it is still missing after that window, plus a margin
        for the clocks, has passed since it was sent. Other refusals are raised as they are.
        """
        settled = sent + self.s.recv_window_ms / 1000 + _CLOCK_MARGIN_S
        while True:
            try:
                return await self.rest.query_order(order.symbol, order.client_id)
            except BinanceError as missing:
                if missing.code != _NO_SUCH_ORDER:
                    raise
                if time.monotonic() >= settled:
                    raise unknown from None
            except (VenueTimeout, UnknownOutcome, VenueUnreachable):
                if time.monotonic() >= settled + self.s.timeout_s:
                    raise unknown from None
            await asyncio.sleep(min(_LOOKUP_PAUSE_S, max(0.0, settled - time.monotonic())))

    async def cancel(self, order: Order) -> Report:
        """Cancel an open order by its client id."""
        doc = await self.rest.cancel_order(order.symbol, order.client_id)
        return Report.from_rest(doc, order.base, order.quote)

    # -- the user-data stream --------------------------------------------------------------

    async def _user_stream(self, on_event: Post, on_stream: Post) -> None:
        backoff = _BACKOFF_MIN_S
        while True:
            try:
                if self._listen_key is None:
                    self._listen_key = await self.rest.new_listen_key()
                url = f"{self.s.ws_url}/ws/{self._listen_key}"
                async with connect(url, ping_interval=20, ping_timeout=20,
                                   open_timeout=self.s.timeout_s) as ws:
                    self.stream_connects += 1
                    backoff = _BACKOFF_MIN_S
                    self.post(on_stream, True)
                    keepalive = asyncio.create_task(self._keepalive(ws))
                    try:
                        async for raw in ws:
                            self._event(raw, on_event)
                    finally:
                        keepalive.cancel()
            except asyncio.CancelledError:
                raise
            except (AlphaPulseError, WebSocketException, OSError, TimeoutError) as exc:
                self.log.warning("cex-gateway: user-data stream: %s: %s", type(exc).__name__,
                                 exc)
                if isinstance(exc, BinanceError):
                    self._listen_key = None  # expired or unknown (-1125): ask for a new one
            self.stream_disconnects += 1
            self.post(on_stream, False)
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def _event(self, raw: str | bytes, on_event: Post) -> None:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.post(on_event, None)
            return
        if isinstance(doc, dict) and isinstance(doc.get("event"), dict):
            doc = doc["event"]  # the WebSocket API's wrapped form
        if isinstance(doc, dict) and doc.get("e") == "listenKeyExpired":
            self._listen_key = None
            raise VenueUnreachable("the listen key expired")
        self.post(on_event, doc)

    async def _keepalive(self, ws: Any) -> None:
        """PUT the listen key every ``keepalive_s``; a key the venue no longer knows (a
        Binance error such as -1125) closes the connection, which reconnects with a new key."""
        while True:
            await asyncio.sleep(self.s.keepalive_s)
            if self._listen_key is None:
                continue
            try:
                await self.rest.keepalive_listen_key(self._listen_key)
                self.keepalives += 1
            except BinanceError as exc:
                self.log.warning("cex-gateway: listen key keepalive: %s (new key)", exc)
                self._listen_key = None
                await ws.close()
                return
            except AlphaPulseError as exc:
                self.log.warning("cex-gateway: listen key keepalive: %s", exc)

    # -- valuations ------------------------------------------------------------------------

    async def _valuations(self, on_valuation: Post) -> None:
        assert self._poke is not None
        while True:
            try:
                balances, tickers = await self.valuation()
                self.post(on_valuation, balances, tickers)
            except asyncio.CancelledError:
                raise
            except AlphaPulseError as exc:
                self.log.warning("cex-gateway: valuation: %s", exc)
                self.post(on_valuation, None, exc.kind)
            self._poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.s.valuation_s)

    async def valuation(self) -> tuple[dict[str, int], dict[str, Ticker]]:
        """The account's balances (free + locked, x 1e8) and the symbols' best bid and ask.

        A symbol's prices come from ``GET /api/v3/ticker/bookTicker``, else from the top of
        ``GET /api/v3/depth?limit=5``; a symbol with neither is left out (the node then prices
        it at its last fill).
        """
        account = await self.rest.account()
        balances: dict[str, int] = {}
        for b in account.get("balances", []) or []:
            if isinstance(b, dict) and isinstance(b.get("asset"), str):
                balances[b["asset"]] = parse_q8(b.get("free", "0")) + parse_q8(b.get("locked", "0"))
        tickers: dict[str, Ticker] = {}
        for cfg in self.s.symbols.values():
            ticker = await self.ticker(cfg.symbol)
            if ticker is not None:
                tickers[cfg.symbol] = ticker
        return balances, tickers

    async def ticker(self, symbol: str) -> Ticker | None:
        """The symbol's best bid and ask, or None when the venue gives neither."""
        try:
            doc = await self.rest.book_ticker(symbol)
            return Ticker(parse_q8(doc.get("bidPrice") or "0"), parse_q8(doc.get("askPrice") or "0"))
        except BinanceError:
            pass
        try:
            depth = await self.rest.depth(symbol, 5)
            bids, asks = depth.get("bids") or [], depth.get("asks") or []
            return Ticker(parse_q8(bids[0][0]) if bids else 0, parse_q8(asks[0][0]) if asks else 0)
        except BinanceError:
            return None
        except (TypeError, IndexError, KeyError):
            raise BadJson(f"a depth answer of {symbol} without [price, qty] levels") from None
