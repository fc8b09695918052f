"""One venue's connection: a websocket that reconnects, REST work, events to the loop thread.

:class:`VenueTransport` runs on the runtime's asyncio loop (``rt.offload.spawn``). It opens
``feed.ws_url()`` with the ``websockets`` asyncio client (the library answers the venue's pings
and sends its own every ``ping_interval_s``; a pong missing for ``ping_timeout_s`` closes the
connection), sends ``feed.subscribe_messages()`` and hands what happens to ``sink`` as
events, in order: the connection opened, every message (bytes, with its receive time), REST
answers, the connection gone. The feed itself runs where the events go (the node's loop
thread, beside its ring); the transport reads only the feed's configuration (URL,
subscriptions, limits). The loop thread asks back through two thread-safe calls:
:meth:`VenueTransport.request` (a REST GET the feed needs, performed with aiohttp after its
``delay_s``, its answer an event) and :meth:`VenueTransport.resync` (close this connection and
open a new one at once).

Events read in one burst are handed to ``sink`` as one list: the flush is scheduled with
``call_soon`` at the first event and runs only when the reader waits for the network again. A
lost connection is counted (``on_state``) and the next attempt waits an exponential back-off
with jitter (``backoff_min_s`` doubling up to ``backoff_max_s``, times a random factor in
[0.5, 1]). A connection is closed and reopened before the venue's maximum age
(``feed.limits.max_age_s`` minus ``rotate_margin_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException

from cex.feed import RestReply, RestRequest, VenueFeed

MESSAGE, CONNECTED, DISCONNECTED, REPLY = range(4)
"""Event kinds: a websocket message (payload: bytes or str), the connection opened or gone
(payload: None), the answer to a :meth:`VenueTransport.request` (payload: RestReply)."""

Event = tuple[int, int, int, Any]
"""``(kind, connection, wall ns, payload)``; ``connection`` numbers the connections from 1."""

Batch = list[Event]
"""Events of one burst, in order."""


@dataclass(frozen=True)
class TransportSettings:
    """Timing of a venue connection (seconds).

    Attributes
    ----------
    ping_interval_s, ping_timeout_s : float
        Client pings and how long a pong may take (the library's keepalive).
    open_timeout_s : float
        Opening handshake limit.
    backoff_min_s, backoff_max_s : float
        First and largest wait before reconnecting.
    rest_timeout_s : float
        Limit of one REST request.
    rotate_margin_s : float
        Reconnect this long before the venue's maximum connection age.
    max_message_bytes : int
        Largest websocket message accepted.
    """

    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    open_timeout_s: float = 10.0
    backoff_min_s: float = 0.2
    backoff_max_s: float = 30.0
    rest_timeout_s: float = 10.0
    rotate_margin_s: float = 600.0
    max_message_bytes: int = 8 << 20


def backoff_s(attempt: int, low: float, high: float, rng: random.Random) -> float:
    """The wait before reconnection attempt ``attempt`` (0 = first): ``min(high, low x
    2^attempt)`` times a random factor in [0.5, 1]."""
    return min(high, low * (2 ** min(attempt, 30))) * (0.5 + rng.random() / 2)


class VenueTransport:
    """Keep one venue connected and its feed fed (see the module docstring).

    Parameters
    ----------
    feed : VenueFeed
        The venue's wire format.
    rest_base : str
        Base URL of the venue's REST API ("" if the feed asks for none).
    sink : callable
        ``sink(batch)``, called on the asyncio thread with each burst's events.
    on_state : callable
        ``on_state(event, detail)`` with event ``connected``, ``disconnected`` (an open
        connection was lost or closed) or ``connect_failed``.
    settings : TransportSettings
        Timings.
    """

    def __init__(self, feed: VenueFeed, rest_base: str, sink: Callable[[Batch], None],
                 on_state: Callable[[str, str], None], settings: TransportSettings,
                 rng: random.Random | None = None) -> None:
        self.feed = feed
        self.rest_base = rest_base.rstrip("/")
        self.sink = sink
        self.on_state = on_state
        self.settings = settings
        self.rng = rng or random.Random()
        self._pending: Batch = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: ClientConnection | None = None
        self._resync_asked = False
        self.connection = 0
        self.connected = False

    # -- called from the loop thread -----------------------------------------------------------

    def request(self, request: RestRequest) -> None:
        """Perform ``request`` (thread-safe); its answer comes back as a REPLY event."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._start, request)

    def resync(self, connection: int) -> None:
        """Close ``connection`` and open a new one without back-off (thread-safe); nothing if
        that connection is already gone."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._close_for_resync, connection)

    def _start(self, request: RestRequest) -> None:
        self._spawn(self._rest(request))

    def _close_for_resync(self, connection: int) -> None:
        if connection == self.connection and self._ws is not None and not self._resync_asked:
            self._resync_asked = True
            self._spawn(self._ws.close())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a task kept until it ends (cancelled when the transport stops)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the connection loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, read, reconnect, until cancelled."""
        s = self.settings
        timeout = aiohttp.ClientTimeout(total=s.rest_timeout_s)
        attempt = 0
        self._loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self._session = session
            try:
                while True:
                    reason = await self._connection()
                    if reason == "rotate" or reason == "resync":
                        attempt = 0
                        continue
                    if reason == "up":
                        attempt = 0
                    await asyncio.sleep(backoff_s(attempt, s.backoff_min_s, s.backoff_max_s,
                                                  self.rng))
                    attempt += 1
            finally:
                for task in list(self._tasks):
                    task.cancel()
                self._flush()

    async def _connection(self) -> str:
        """One connection's life; returns why it ended: ``rotate`` (age), ``resync`` (the
        feed asked), ``up`` (it had carried data), ``down`` (it failed early)."""
        s, feed = self.settings, self.feed
        try:
            ws = await connect(feed.ws_url(), ping_interval=s.ping_interval_s,
                               ping_timeout=s.ping_timeout_s, open_timeout=s.open_timeout_s,
                               max_size=s.max_message_bytes, compression=None, proxy=None)
        except (OSError, TimeoutError, WebSocketException, InvalidURI) as exc:
            self.on_state("connect_failed", f"{type(exc).__name__}: {exc}")
            return "down"
        carried = False
        reason = "down"
        self.connection += 1
        self._ws, self._resync_asked = ws, False
        try:
            for text in feed.subscribe_messages():
                await ws.send(text)
            self.connected = True
            self.on_state("connected", "")
            self._event(CONNECTED, time.time_ns(), None)
            age = max(1.0, feed.limits.max_age_s - s.rotate_margin_s)
            try:
                async with asyncio.timeout(age):
                    carried, reason = await self._read(ws)
            except TimeoutError:
                reason = "rotate"
        except (OSError, WebSocketException) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            self._ws = None
            with contextlib.suppress(Exception):
                await ws.close()
            if self.connected:
                self.connected = False
                self._event(DISCONNECTED, time.time_ns(), None)
                self._flush()
                self.on_state("disconnected", reason)
        if reason in ("rotate", "resync"):
            return reason
        return "up" if carried else "down"

    async def _read(self, ws: ClientConnection) -> tuple[bool, str]:
        carried = False
        try:
            while True:
                raw = await ws.recv(decode=False)
                carried = True
                self._event(MESSAGE, time.time_ns(), raw)
        except ConnectionClosed:
            pass
        return carried, "resync" if self._resync_asked else "closed by the venue"

    # -- output ----------------------------------------------------------------------------

    def _event(self, kind: int, stamp: int, payload: Any) -> None:
        self._pending.append((kind, self.connection, stamp, payload))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._pending:
            batch, self._pending = self._pending, []
            self.sink(batch)

    async def _rest(self, request: RestRequest) -> None:
        if request.delay_s > 0:
            await asyncio.sleep(request.delay_s)
        reply = await self._get(request)
        self._event(REPLY, time.time_ns(), reply)

    async def _get(self, request: RestRequest) -> RestReply:
        session = self._session
        if session is None or not self.rest_base:
            return RestReply(request, 0)
        try:
            async with session.get(self.rest_base + request.path,
                                   params=list(request.params)) as resp:
                return RestReply(request, resp.status, await resp.read())
        except (aiohttp.ClientError, TimeoutError, OSError):
            return RestReply(request, 0)


def settings_from(values: dict[str, Any]) -> TransportSettings:
    """TransportSettings from the node's configuration (milliseconds keys)."""
    return TransportSettings(
        ping_interval_s=float(values["ping_interval_ms"]) / 1000,
        ping_timeout_s=float(values["ping_timeout_ms"]) / 1000,
        open_timeout_s=float(values["open_timeout_ms"]) / 1000,
        backoff_min_s=float(values["backoff_min_ms"]) / 1000,
        backoff_max_s=float(values["backoff_max_ms"]) / 1000,
        rest_timeout_s=float(values["rest_timeout_ms"]) / 1000,
        rotate_margin_s=float(values["rotate_margin_s"]))
