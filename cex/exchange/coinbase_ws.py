"""The Coinbase Advanced Trade market-data websocket at ``/coinbase``.

A client sends ``{"type": "subscribe", "channel": "level2", "product_ids": ["ETH-USD"]}``
(``unsubscribe`` likewise; ``heartbeats`` needs no product) and gets a ``subscriptions``
message listing what it is subscribed to. Every message the server sends on a connection
carries that connection's next ``sequence_num`` (from 0). A client that has not subscribed
within ``coinbase_subscribe_deadline`` seconds is closed, as Coinbase does. Messages of the
channel ``l2_data`` belong to the subscription ``level2``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from cex.exchange.client import Client
from cex.exchange.hub import Hub, attend
from cex.exchange.settings import WsLimits
from cex.exchange.stats import ExchangeStats

#: Channels a client may subscribe to.
CHANNELS = ("level2", "market_trades", "ticker", "ticker_batch", "heartbeats", "candles",
            "status", "user", "futures_balance_summary")
#: The subscription a message channel belongs to, where the names differ.
SUBSCRIPTION_OF = {"l2_data": "level2"}
#: Channels that need no product id.
PRODUCTLESS = ("heartbeats", "status", "user", "futures_balance_summary")


def rfc3339(ns: int) -> str:
    """``ns`` since the epoch as RFC 3339 UTC text with nanoseconds (integer arithmetic)."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def products_of(message: dict[str, Any]) -> set[str]:
    """Product ids a market-data message is about (its events' ``product_id``, ``trades`` and
    ``tickers``); empty for messages about no product (heartbeats)."""
    found: set[str] = set()
    events = message.get("events")
    for event in events if isinstance(events, list) else ():
        if not isinstance(event, dict):
            continue
        if isinstance(event.get("product_id"), str):
            found.add(event["product_id"])
        for key in ("trades", "tickers", "candles"):
            items = event.get(key)
            for item in items if isinstance(items, list) else ():
                if isinstance(item, dict) and isinstance(item.get("product_id"), str):
                    found.add(item["product_id"])
    return found


class CoinbaseClient(Client):
    """A Coinbase connection: its subscriptions and its next ``sequence_num``."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request,
                 stats: ExchangeStats) -> None:
        super().__init__("coinbase", ws, request, stats)
        self.subscriptions: dict[str, set[str]] = {}
        self.next_sequence = 0

    @property
    def subscribed(self) -> bool:
        """True once the client holds at least one subscription."""
        return bool(self.subscriptions)

    def wants(self, message: Any) -> bool:
        """True when ``message`` is for a channel (and a product) this client subscribed to."""
        if not isinstance(message, dict) or not isinstance(message.get("channel"), str):
            return True
        channel = SUBSCRIPTION_OF.get(message["channel"], message["channel"])
        if channel not in self.subscriptions:
            return False
        products = products_of(message)
        return not products or bool(products & self.subscriptions[channel])

    async def send_message(self, message: Any) -> bool:
        """Send a JSON value; an object without ``sequence_num`` gets the connection's next one,
        a given one is kept (and the connection's count continues after it)."""
        if isinstance(message, dict):
            given = message.get("sequence_num")
            if isinstance(given, int) and not isinstance(given, bool):
                self.next_sequence = given + 1
            else:
                message = {**message, "sequence_num": self.next_sequence}
                self.next_sequence += 1
        return await self.send_json(message)

    def apply(self, request: Any) -> str | None:
        """Apply a subscribe/unsubscribe request; an error text when it cannot be used."""
        if not isinstance(request, dict) or request.get("type") not in ("subscribe", "unsubscribe"):
            return "failure to subscribe: type must be subscribe or unsubscribe"
        channel = request.get("channel")
        if channel not in CHANNELS:
            return f"failure to subscribe: unknown channel {channel!r}"
        products = request.get("product_ids", [])
        if not isinstance(products, list) or not all(isinstance(p, str) for p in products):
            return "failure to subscribe: product_ids must be a list of strings"
        if not products and channel not in PRODUCTLESS:
            return "failure to subscribe: product_ids required"
        held = self.subscriptions.setdefault(channel, set())
        if request["type"] == "subscribe":
            held.update(products)
        else:
            held.difference_update(products)
            if not held or channel in PRODUCTLESS:
                del self.subscriptions[channel]
        return None

    def subscriptions_message(self) -> dict[str, Any]:
        """The ``subscriptions`` answer: every channel held and its product ids."""
        held = {channel: sorted(products) for channel, products in self.subscriptions.items()}
        return {"channel": "subscriptions", "client_id": "", "timestamp": rfc3339(time.time_ns()),
                "events": [{"subscriptions": held}]}


async def _deadline(client: CoinbaseClient, seconds: float) -> None:
    await asyncio.sleep(seconds)
    if not client.subscribed:
        await client.close("no_subscribe", 1008, "subscribe deadline")


async def _serve(client: CoinbaseClient, hub: Hub) -> None:
    ws = client.ws
    while True:
        msg = await ws.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return
        client.stats.bump("received", client.venue)
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            continue
        try:
            request = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            request = None
        error = client.apply(request)
        if error is not None:
            await client.send_json({"type": "error", "message": error})
            continue
        await client.send_message(client.subscriptions_message())
        if request.get("type") == "subscribe":
            for callback in hub.coinbase_subscribed:
                await callback(client, request["channel"], list(request.get("product_ids", [])))
        hub.changes.pulse()


async def serve_coinbase(request: web.Request, hub: Hub, stats: ExchangeStats,
                         limits: WsLimits) -> web.WebSocketResponse:
    """Run one Coinbase connection until it ends."""
    ws = web.WebSocketResponse(max_msg_size=1 << 20)
    await ws.prepare(request)
    client = CoinbaseClient(ws, request, stats)
    await attend(hub, client, ws, _serve(client, hub),
                 _deadline(client, limits.coinbase_subscribe_deadline))
    return ws


async def broadcast(hub: Hub, value: Any) -> int:
    """Send a scripted JSON value to the Coinbase clients subscribed to it; the number reached."""
    reached = 0
    for client in hub.of("coinbase"):
        assert isinstance(client, CoinbaseClient)
        if client.wants(value):
            reached += await client.send_message(value)
    return reached
