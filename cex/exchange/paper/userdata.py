"""The user-data stream: listen keys and the ``/ws/<listenKey>`` connections.

POST /api/v3/userDataStream (with ``X-MBX-APIKEY``) answers ``{"listenKey": ...}`` (the
key's current one if it has one), PUT keeps it alive, DELETE closes it and its connections.
Events reach every connection of the key's account in the order the engine produced them.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from cex.exchange.client import Client
from cex.exchange.hub import Hub
from cex.exchange.stats import ExchangeStats


class UserClient(Client):
    """A user-data connection: an ordered queue of events for one account."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, stats: ExchangeStats,
                 api_key: str, listen_key: str) -> None:
        super().__init__("binance_user", ws, request, stats)
        self.api_key = api_key
        self.listen_key = listen_key
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()


class UserData:
    """Listen keys by API key, and the connections that listen to them."""

    def __init__(self, hub: Hub, stats: ExchangeStats) -> None:
        self.hub = hub
        self.stats = stats
        self.by_key: dict[str, str] = {}        # listenKey -> API key
        self.of_api: dict[str, str] = {}        # API key -> listenKey

    def create(self, api_key: str) -> str:
        """The API key's listen key (a new one when it has none)."""
        key = self.of_api.get(api_key)
        if key is None:
            key = secrets.token_hex(30)
            self.of_api[api_key] = key
            self.by_key[key] = api_key
        return key

    def delete(self, listen_key: str) -> None:
        """Forget ``listen_key`` and close its connections."""
        api_key = self.by_key.pop(listen_key)
        self.of_api.pop(api_key, None)
        for client in self.hub.of("binance_user"):
            if isinstance(client, UserClient) and client.listen_key == listen_key:
                client.queue.put_nowait(None)

    def publish(self, api_key: str, event: dict[str, Any]) -> None:
        """Queue ``event`` for every connection of ``api_key``'s account."""
        payload = orjson.dumps(event)
        for client in self.hub.of("binance_user"):
            if isinstance(client, UserClient) and client.api_key == api_key:
                client.queue.put_nowait(payload)

    def claim(self, tail: str) -> Any:
        """The websocket handler for ``/ws/<tail>`` when ``tail`` is a listen key."""
        if tail in self.by_key:
            return lambda request: self.serve(request, tail)
        return None

    async def serve(self, request: web.Request, listen_key: str) -> web.WebSocketResponse:
        """Run one user-data connection until it ends."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        client = UserClient(ws, request, self.stats, self.by_key[listen_key], listen_key)
        self.hub.add(client)
        writer = asyncio.create_task(self._write(client))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self.hub.remove(client)
        return ws

    async def _write(self, client: UserClient) -> None:
        while True:
            payload = await client.queue.get()
            if payload is None:
                await client.close("listen_key_closed")
                return
            if not await client.send_text(payload.decode()):
                return
