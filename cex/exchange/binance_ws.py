"""Binance market-data websockets: ``/stream?streams=...`` (combined) and ``/ws/<stream>`` (raw).

Per connection: the streams it listens to (from the URL, then ``SUBSCRIBE``/``UNSUBSCRIBE``
requests), the ``combined`` property (combined connections get ``{"stream", "data"}``, raw
ones the payload alone), and Binance's documented limits: more than ``max_streams`` streams
or more than ``max_incoming`` incoming messages (pings, pongs, JSON requests) in a second
closes the connection; the server pings every ``ping_interval`` and closes a connection whose
pong has not come within ``pong_timeout``. Answers follow Binance's documentation:
``{"result": null, "id": 1}``, ``{"result": [...], "id": 3}`` and errors
``{"code": 2, "msg": "Invalid request: ...", "id": ...}``.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from cex.exchange.client import Client, RateWindow
from cex.exchange.hub import Hub, attend
from cex.exchange.settings import WsLimits
from cex.exchange.stats import ExchangeStats

#: A stream name: lowercase symbol, '@', the stream type (``ethusdt@depth@100ms``).
STREAM = re.compile(r"^[a-z0-9]{1,40}@[A-Za-z0-9_@]{1,40}$")
#: Methods a client may send.
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
#: A request id: a 64-bit integer, an alphanumeric string of at most 36 characters, or null.
ID_TEXT = re.compile(r"^[A-Za-z0-9]{1,36}$")


class _BadRequest(Exception):
    """A request answered with Binance's error JSON (``code`` and ``msg``)."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class BinanceClient(Client):
    """A market-data connection: its streams and whether messages are combined."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, stats: ExchangeStats,
                 streams: list[str], combined: bool) -> None:
        super().__init__("binance", ws, request, stats)
        self.streams: dict[str, None] = dict.fromkeys(streams)
        self.combined = combined
        self.awaiting_pong_since: float | None = None

    def listens(self, stream: str) -> bool:
        """True when ``stream`` is among this connection's streams."""
        return stream in self.streams

    def answer(self, request: Any, max_streams: int) -> Any:
        """The answer to one decoded JSON request (raises ``_BadRequest`` for an error).

        Returns ``None`` for a SUBSCRIBE that would exceed ``max_streams`` (the caller closes).
        """
        if not isinstance(request, dict):
            raise _BadRequest(2, "Invalid request: expected an object")
        rid = request.get("id")
        ok_id = rid is None or (isinstance(rid, int) and not isinstance(rid, bool)
                                and -2**63 <= rid < 2**63) or (
            isinstance(rid, str) and ID_TEXT.match(rid) is not None)
        if not ok_id:
            raise _BadRequest(2, "Invalid request: request ID must be an unsigned integer")
        method = request.get("method")
        if method not in METHODS:
            raise _BadRequest(2, f"Invalid request: unknown variant {method!r}, expected one of "
                                 + ", ".join(METHODS))
        params = request.get("params", [])
        if not isinstance(params, list):
            raise _BadRequest(2, "Invalid request: params must be an array")
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(self.streams), "id": rid}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(method, params, rid)
        if not all(isinstance(s, str) and STREAM.match(s) for s in params):
            raise _BadRequest(2, "Invalid request: invalid stream")
        if method == "SUBSCRIBE":
            wanted = dict(self.streams) | dict.fromkeys(params)
            if len(wanted) > max_streams:
                return None
            self.streams = wanted
        else:
            for s in params:
                self.streams.pop(s, None)
        return {"result": None, "id": rid}

    def _property(self, method: str, params: list[Any], rid: Any) -> Any:
        if not params or params[0] != "combined":
            raise _BadRequest(0, "Unknown property")
        if method == "GET_PROPERTY":
            return {"result": self.combined, "id": rid}
        if len(params) != 2 or not isinstance(params[1], bool):
            raise _BadRequest(1, "Invalid value type: expected Boolean")
        self.combined = params[1]
        return {"result": None, "id": rid}


async def _pinger(client: BinanceClient, limits: WsLimits) -> None:
    """Ping every ``ping_interval``; close when a ping went unanswered for ``pong_timeout``."""
    while client.open:
        await asyncio.sleep(limits.ping_interval)
        now = time.monotonic()
        since = client.awaiting_pong_since
        if since is not None and now - since >= limits.pong_timeout:
            await client.close("pong_timeout", 1008, "Pong timeout")
            return
        if since is None:
            client.awaiting_pong_since = now
        try:
            await client.ws.ping(b"")
        except (ConnectionError, RuntimeError):
            return


async def _serve(client: BinanceClient, limits: WsLimits) -> None:
    ws, rate = client.ws, RateWindow(limits.max_incoming)
    while True:
        msg = await ws.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return
        client.stats.bump("received", client.venue)
        if not rate.hit():
            await client.close("rate_limit", 1008, "Too many requests")
            return
        if msg.type == WSMsgType.PING:
            await ws.pong(msg.data)
        elif msg.type == WSMsgType.PONG:
            client.awaiting_pong_since = None
        elif (msg.type in (WSMsgType.TEXT, WSMsgType.BINARY)
              and not await _request(client, msg.data, limits)):
            return


async def _request(client: BinanceClient, data: str | bytes, limits: WsLimits) -> bool:
    """Answer one JSON request; False when the connection was closed for it."""
    rid: Any = None
    try:
        request = orjson.loads(data)
        rid = request.get("id") if isinstance(request, dict) else None
        answer = client.answer(request, limits.max_streams)
    except orjson.JSONDecodeError as exc:
        answer = {"code": 3, "msg": f"Invalid JSON: {exc}", "id": None}
    except _BadRequest as exc:
        answer = {"code": exc.code, "msg": exc.msg, "id": rid if _plain(rid) else None}
    if answer is None:
        await client.close("max_streams", 1008, "Too many streams")
        return False
    await client.send_json(answer)
    return True


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, int | str)


def streams_of(request: web.Request) -> tuple[list[str], bool]:
    """The streams named by the URL, and whether the connection is combined."""
    if request.path == "/stream":
        raw = request.query.get("streams", "")
        return [s for s in raw.split("/") if s], True
    tail = request.match_info.get("tail", "")
    return [s for s in tail.split("/") if s], False


async def serve_binance(request: web.Request, hub: Hub, stats: ExchangeStats,
                        limits: WsLimits) -> web.WebSocketResponse:
    """Run one Binance market-data connection until it ends."""
    ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    streams, combined = streams_of(request)
    client = BinanceClient(ws, request, stats, streams, combined)
    if len(client.streams) > limits.max_streams:
        await client.close("max_streams", 1008, "Too many streams")
        return ws
    await attend(hub, client, ws, _serve(client, limits), _pinger(client, limits))
    return ws


def route(value: Any) -> tuple[str | None, bytes, bytes | None]:
    """How a scripted JSON value goes to Binance clients.

    Returns ``(stream, combined_text, raw_text)``: a value shaped ``{"stream": s, "data": d}``
    goes to clients listening to ``s`` (combined ones get it whole, raw ones ``d``); any other
    value goes to every client as is (``stream`` None, ``raw_text`` None).
    """
    whole = orjson.dumps(value)
    if isinstance(value, dict) and isinstance(value.get("stream"), str) and "data" in value:
        return value["stream"], whole, orjson.dumps(value["data"])
    return None, whole, None


async def broadcast(hub: Hub, value: Any) -> int:
    """Send a scripted JSON value to the Binance clients it is for; the number reached."""
    stream, whole, raw = route(value)
    reached = 0
    for client in hub.of("binance"):
        assert isinstance(client, BinanceClient)
        if stream is not None and not client.listens(stream):
            continue
        payload = whole if raw is None or client.combined else raw
        reached += await client.send_text(payload.decode())
    return reached
