"""Running a replay script: queued REST answers and the steps, in order, on the server's loop."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cex.exchange import binance_ws, coinbase_ws
from cex.exchange.hub import Hub
from cex.exchange.script import Disconnect, Rest, Send, Sleep, Step, WaitClients, WaitRest
from cex.exchange.stats import ExchangeStats


class RestScript:
    """Scripted REST answers by ``(path, symbol)``: FIFO, the last one repeated once dry."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, str | None], collections.deque[Rest]] = {}
        self._last: dict[tuple[str, str | None], Rest] = {}

    def queue(self, answer: Rest) -> None:
        """Queue ``answer`` for the next GET of its path and symbol."""
        self._queues.setdefault((answer.path, answer.symbol), collections.deque()).append(answer)

    def take(self, path: str, symbol: str | None) -> Rest | None:
        """The answer for this request, or None when nothing was ever queued for it."""
        key = (path, symbol)
        queue = self._queues.get(key)
        if queue:
            self._last[key] = queue.popleft()
        return self._last.get(key)


def connected(hub: Hub, venue: str) -> int:
    """Clients that count for ``wait_clients``: Binance connected, Coinbase also subscribed."""
    clients = hub.of(venue)
    if venue == "coinbase":
        return sum(1 for c in clients if isinstance(c, coinbase_ws.CoinbaseClient) and c.subscribed)
    return len(clients)


async def send(hub: Hub, step: Send) -> int:
    """Run a ``send`` step; the number of clients reached."""
    if step.text is not None:
        reached = 0
        for client in hub.of(step.venue):
            reached += await client.send_text(step.text)
        return reached
    if step.venue == "coinbase":
        return await coinbase_ws.broadcast(hub, step.json)
    return await binance_ws.broadcast(hub, step.json)


async def disconnect(hub: Hub, venue: str, abrupt: bool) -> None:
    """Close every client of ``venue`` (abruptly: drop TCP) and wait until they are gone."""
    clients = hub.of(venue)
    for client in clients:
        if abrupt:
            client.abort()
        else:
            await client.close("script")
    await hub.changes.wait_until(lambda: not any(c in hub.clients[venue] for c in clients))


class ScriptRunner:
    """Runs steps in order against the server's hub, REST queue and counters."""

    def __init__(self, hub: Hub, rest: RestScript, stats: ExchangeStats,
                 on_send: Callable[[Any], None] | None = None) -> None:
        self.hub = hub
        self.on_send = on_send
        self.rest = rest
        self.stats = stats
        self.done = asyncio.Event()
        #: Called (on the loop) when the script has run to its end.
        self.done_callbacks: list[Callable[[], Any]] = []
        self.step = 0
        self._handlers: dict[type, Callable[[Any], Awaitable[Any]]] = {
            WaitClients: self._wait_clients, Send: self._send,
            Rest: self._rest, WaitRest: self._wait_rest,
            Disconnect: lambda s: disconnect(self.hub, s.venue, s.abrupt),
            Sleep: lambda s: asyncio.sleep(s.ms / 1000),
        }

    async def run(self, steps: Sequence[Step]) -> None:
        """Run every step, then set :attr:`done`."""
        for i, step in enumerate(steps):
            self.step = i
            await self._handlers[type(step)](step)
        self.step = len(steps)
        self.done.set()
        for callback in self.done_callbacks:
            callback()

    async def _send(self, step: Send) -> None:
        await send(self.hub, step)
        if self.on_send is not None and step.venue == "binance" and step.json is not None:
            self.on_send(step.json)

    async def _wait_clients(self, step: WaitClients) -> None:
        await self.hub.changes.wait_until(lambda: connected(self.hub, step.venue) >= step.count)

    async def _rest(self, step: Rest) -> None:
        self.rest.queue(step)

    async def _wait_rest(self, step: WaitRest) -> None:
        await self.hub.changes.wait_until(lambda: self.stats.rest[step.path] >= step.count)
