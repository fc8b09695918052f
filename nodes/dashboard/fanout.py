"""Fan-out to websocket clients: one bounded queue per client, never a wait for a client.

A message is serialized once (orjson) and the same text is queued for every client, so a
client costs one queue slot per message. A client whose queue is full has fallen behind: it is
marked dropped at once (nothing more is queued for it), sent ``{"type":"dropped"}`` best effort
(a short deadline) and closed. The sender of each client is its own task; the broadcaster only
does ``put_nowait``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from nodes.dashboard.metrics import DashboardMetrics

#: Messages a client may have queued before it counts as fallen behind.
CLIENT_QUEUE = 1024
#: Seconds the best-effort ``dropped`` message and the close may take.
DROP_GRACE = 1.0


def dumps(msg: dict[str, Any]) -> str:
    """A message as JSON text."""
    return orjson.dumps(msg).decode()


class Client:
    """One websocket client: its queue and its sender task."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None,
                 first: list[str], size: int, metrics: DashboardMetrics) -> None:
        self.ws = ws
        self.transport = transport
        self.first = first
        self.queue: asyncio.Queue[str] = asyncio.Queue(size)
        self.metrics = metrics
        self.dropped = False
        self.sender: asyncio.Task[None] | None = None

    def offer(self, text: str) -> bool:
        """Queue ``text``; False when the queue is full (the client has fallen behind)."""
        if self.dropped:
            return True
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def send_loop(self) -> None:
        """Send the snapshot, then queued messages in order, until closed or cancelled."""
        first, self.first = self.first, []
        for text in first:
            await self.ws.send_str(text)
            self.metrics.sent.inc()
        while True:
            text = await self.queue.get()
            await self.ws.send_str(text)
            self.metrics.sent.inc()


class Hub:
    """The set of clients and the broadcast."""

    def __init__(self, metrics: DashboardMetrics, queue_size: int = CLIENT_QUEUE) -> None:
        self.metrics = metrics
        self.queue_size = queue_size
        self.clients: set[Client] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def add(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None,
            first: Iterable[dict[str, Any]]) -> Client:
        """Register a client and start its sender, which sends ``first`` (the snapshot, bounded
        by the state's history) before anything queued after it."""
        c = Client(ws, transport, [dumps(msg) for msg in first], self.queue_size, self.metrics)
        c.sender = asyncio.get_running_loop().create_task(c.send_loop())
        self.clients.add(c)
        self.metrics.clients.set(len(self.clients))
        self.metrics.connected.inc()
        return c

    def remove(self, c: Client) -> None:
        """Forget a client (its handler ended)."""
        self.clients.discard(c)
        self.metrics.clients.set(len(self.clients))
        if c.sender is not None:
            c.sender.cancel()

    def broadcast(self, msgs: Iterable[dict[str, Any]]) -> None:
        """Queue each message for every client; drop those that cannot take it."""
        for msg in msgs:
            if not self.clients:
                return
            text = dumps(msg)
            self.metrics.broadcast.labels(msg["type"]).inc()
            for c in list(self.clients):
                if not c.offer(text):
                    self.drop(c, "slow")

    def drop(self, c: Client, reason: str) -> None:
        """Stop queueing for ``c``; tell it why (best effort) and close it."""
        if c.dropped:
            return
        c.dropped = True
        self.metrics.dropped.labels(reason).inc()
        self.clients.discard(c)
        self.metrics.clients.set(len(self.clients))
        task = asyncio.get_running_loop().create_task(self._close(c, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, c: Client, reason: str) -> None:
        if c.sender is not None:
            c.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await c.sender
        try:
            await asyncio.wait_for(c.ws.send_str(dumps({"type": "dropped", "reason": reason})),
                                   DROP_GRACE)
            await asyncio.wait_for(c.ws.close(code=1008, message=reason.encode()), DROP_GRACE)
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        finally:
            if c.transport is not None and not c.transport.is_closing():
                abort = getattr(c.transport, "abort", None)
                if abort is not None:
                    abort()

    async def close_all(self) -> None:
        """Close every client (shutdown)."""
        for c in list(self.clients):
            self.remove(c)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.ws.close(code=1001, message=b"server shutdown"), 1.0)
        for t in list(self._closing):
            with contextlib.suppress(Exception):
                await t
