"""One websocket client of the server: sending, closing, dropping, the incoming-rate limit."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from cex.exchange.stats import ExchangeStats

#: Errors a send to a client that is going away raises (it is then simply skipped).
SEND_ERRORS = (ConnectionError, RuntimeError, asyncio.CancelledError)


class RateWindow:
    """At most ``limit`` events in any window of ``window`` seconds (a sliding window).

    Parameters
    ----------
    limit : int | None
        Events allowed per window; None allows any number.
    window : float
        The window's length in seconds.
    clock : Callable[[], float]
        Monotonic seconds.
    """

    def __init__(self, limit: int | None, window: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: collections.deque[float] = collections.deque()

    def hit(self) -> bool:
        """Record one event; False when it goes over the limit."""
        if self.limit is None:
            return True
        now = self._clock()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        self._times.append(now)
        return len(self._times) <= self.limit


class Client:
    """A connected websocket client of one venue.

    Parameters
    ----------
    venue : str
        ``binance``, ``binance_user`` or ``coinbase`` (the key of the stats counters).
    ws : aiohttp.web.WebSocketResponse
        The prepared websocket.
    request : aiohttp.web.Request
        The upgrade request (its transport can be dropped for an abrupt disconnect).
    stats : ExchangeStats
        The server's counters.
    """

    def __init__(self, venue: str, ws: web.WebSocketResponse, request: web.Request,
                 stats: ExchangeStats) -> None:
        self.venue = venue
        self.ws = ws
        self.request = request
        self.stats = stats
        self.connected_at = time.monotonic()

    @property
    def open(self) -> bool:
        """True until the websocket starts closing."""
        return not self.ws.closed

    async def send_text(self, text: str) -> bool:
        """Send one text message; False when the client is going away."""
        if self.ws.closed:
            return False
        try:
            await self.ws.send_str(text)
        except SEND_ERRORS:
            return False
        self.stats.bump("sent", self.venue)
        return True

    async def send_json(self, value: Any) -> bool:
        """Send one JSON value (orjson-encoded)."""
        import orjson

        return await self.send_text(orjson.dumps(value).decode())

    async def close(self, reason: str, code: int = 1000, message: str = "") -> None:
        """Close with a close frame, counting ``reason``."""
        if self.ws.closed:
            return
        self.stats.bump("closed_by_server", reason)
        try:
            await self.ws.close(code=code, message=message.encode())
        except SEND_ERRORS:
            self.abort(None)

    def abort(self, reason: str | None = "abrupt") -> None:
        """Drop the TCP connection without a close frame."""
        if reason is not None:
            self.stats.bump("closed_by_server", reason)
        transport = self.request.transport
        if transport is not None:
            transport.abort()
