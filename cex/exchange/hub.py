"""The server's registry of connected clients, and a signal to wait on any change."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cex.exchange.client import Client


class Changes:
    """Wake every waiter when something changed; waiters re-check their own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def pulse(self) -> None:
        """Something changed: wake the current waiters."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` is true (checked now and after every pulse)."""
        while not condition():
            await self._event.wait()


class Hub:
    """Clients connected now, by venue, and the changes signal shared with REST counters."""

    def __init__(self) -> None:
        self.clients: dict[str, list[Client]] = {"binance": [], "binance_user": [], "coinbase": []}
        self.changes = Changes()
        #: Awaited as ``cb(client, channel, product_ids)`` after a Coinbase subscribe was
        #: answered (live mode sends the level2 snapshot).
        self.coinbase_subscribed: list[Callable[[Any, str, list[str]], Awaitable[None]]] = []

    def add(self, client: Client) -> None:
        """Register a newly connected client."""
        self.clients[client.venue].append(client)
        client.stats.bump("connections", client.venue)
        client.stats.bump("connects", client.venue)
        self.changes.pulse()

    def remove(self, client: Client) -> None:
        """Forget a client whose connection ended."""
        group = self.clients[client.venue]
        if client in group:
            group.remove(client)
            client.stats.bump("connections", client.venue, -1)
            self.changes.pulse()

    def of(self, venue: str) -> list[Client]:
        """A copy of the venue's client list (safe to iterate across awaits)."""
        return list(self.clients[venue])


async def attend(hub: Hub, client: Any, ws: Any, serve: Coroutine[Any, Any, Any],
                 watch: Coroutine[Any, Any, Any]) -> None:
    """Serve one websocket client until ``serve`` ends: registered in ``hub`` meanwhile, with
    ``watch`` (its pings, a subscribe deadline) beside it; afterwards the watcher cancelled,
    the client removed and the socket closed."""
    hub.add(client)
    watcher = asyncio.create_task(watch)
    try:
        await serve
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        hub.remove(client)
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close()
