"""Websocket subscriptions (web3.py's WebSocketProvider): new heads and logs as an async iterator.

One :class:`Subscription` holds one websocket with a ``newHeads`` and/or a ``logs`` subscription
and yields, in the order the node sent them, :class:`~contracts.answers.Head` and
:class:`~contracts.answers.Log` values, each checked like every other answer::

    async with Subscription(ws_url("http://127.0.0.1:8545"), logs=LogFilter.of([pool])) as events:
        async for event in events:
            ...

Heads are in chain order and logs are in chain order, but a block's head and its logs are not
ordered against each other (anvil sends the head first): a consumer that needs block boundaries
closes a block when it has both, for example on the next head.

A malformed message raises :class:`~contracts.answers.BadRpcAnswer` from ``__anext__`` and the
iteration can go on; a dropped connection raises :class:`SubscriptionLost` (reconnecting,
back-filling with ``eth_getLogs`` and re-bootstrapping are the collector's policy). A log with
``removed`` set is a reorg's retraction, passed on as such.

Thread-safety: a subscription belongs to the asyncio loop that entered it.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from web3 import AsyncWeb3, WebSocketProvider
from web3.exceptions import Web3Exception
from websockets.exceptions import WebSocketException

from alphapulse.errors import ChainError
from contracts.answers import BadRpcAnswer, Head, Log, parse_head, parse_log
from contracts.client import redacted
from contracts.logs import LogFilter

#: Foreign errors that mean the connection is gone or unusable.
_TRANSPORT = (Web3Exception, OSError, WebSocketException, asyncio.TimeoutError)


class SubscriptionLost(ChainError):
    """The websocket closed or failed; the events after the last one yielded are not known."""

    kind = "subscription_lost"


def ws_url(http_url: str) -> str:
    """The websocket endpoint of an HTTP JSON-RPC endpoint on the same port (as anvil serves)."""
    parts = urlsplit(http_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ChainError(f"not an http(s) or ws(s) endpoint: {redacted(http_url)}")
    return urlunsplit((scheme, *parts[1:]))


class Subscription:
    """``newHeads`` and/or ``logs`` on one websocket, as an async iterator of Head and Log.

    Parameters
    ----------
    url
        ``ws://`` or ``wss://`` endpoint (see :func:`ws_url`).
    heads
        Subscribe to new heads.
    logs
        Subscribe to the logs this filter asks for; None for no log subscription.
    timeout
        Seconds to connect and to answer each subscribe request.
    """

    def __init__(self, url: str, *, heads: bool = True, logs: LogFilter | None = None, timeout: float = 10.0):
        if not heads and logs is None:
            raise ChainError("a subscription needs heads, logs or both")
        self.url = url
        self.heads = heads
        self.logs = logs
        self.timeout = timeout
        self._w3: Any = None
        self._kinds: dict[str, str] = {}
        self._stream: Any = None

    async def __aenter__(self) -> Subscription:
        provider = WebSocketProvider(self.url, max_connection_retries=1, request_timeout=self.timeout)
        try:
            # Not ``await AsyncWeb3(provider)``: that installs SIGINT/SIGTERM handlers, which fails
            # off the main thread and would take a node's own stop signals away from it.
            self._w3 = AsyncWeb3(provider)
            await asyncio.wait_for(provider.connect(), self.timeout)
            if self.heads:
                self._kinds[await self._subscribe("newHeads")] = "head"
            if self.logs is not None:
                params = self.logs.params(0, 0)
                del params["fromBlock"], params["toBlock"]
                self._kinds[await self._subscribe("logs", params)] = "log"
        except BaseException as exc:
            await self._close()
            if isinstance(exc, _TRANSPORT):
                raise SubscriptionLost(f"cannot subscribe at {redacted(self.url)}: {type(exc).__name__}") from exc
            raise
        self._stream = self._w3.socket.process_subscriptions()
        return self

    async def _subscribe(self, kind: str, params: dict | None = None) -> str:
        sub_id = await self._w3.eth.subscribe(kind, params) if params else await self._w3.eth.subscribe(kind)
        if not isinstance(sub_id, str) or not sub_id:
            raise BadRpcAnswer(f"eth_subscribe {kind}: the subscription id is not a string")
        return sub_id

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._w3 is not None:
            w3, self._w3 = self._w3, None
            with contextlib.suppress(*_TRANSPORT):  # already gone: nothing left to close
                await w3.provider.disconnect()

    def __aiter__(self) -> Subscription:
        return self

    def _connection_alive(self) -> bool:
        task = getattr(self._w3.provider, "_message_listener_task", None) if self._w3 else None
        return task is not None and not task.done()

    async def __anext__(self) -> Head | Log:
        """The next head or log.

        Raises
        ------
        SubscriptionLost
            The connection closed or failed (also when the subscription was never entered).
        BadRpcAnswer
            This message was malformed; the next call reads the next message.
        """
        if self._stream is None:
            raise SubscriptionLost("the subscription is not open")
        try:
            message = await self._stream.__anext__()
        except StopAsyncIteration as exc:
            raise SubscriptionLost(f"the websocket to {redacted(self.url)} closed") from exc
        except (*_TRANSPORT, ValueError, TypeError, KeyError) as exc:
            if not self._connection_alive():
                raise SubscriptionLost(f"the websocket to {redacted(self.url)} failed: "
                                       f"{type(exc).__name__}") from exc
            raise BadRpcAnswer(f"a subscription message could not be read: {type(exc).__name__}") from exc
        return self._event(message)

    def _event(self, message: Any) -> Head | Log:
        if not isinstance(message, dict):
            raise BadRpcAnswer("a subscription message is not an object")
        kind = self._kinds.get(message.get("subscription"))  # type: ignore[arg-type]
        if kind is None:
            raise BadRpcAnswer("a subscription message names a subscription this client did not make")
        if kind == "head":
            return parse_head(message.get("result"), "newHeads header")
        log = parse_log(message.get("result"), "logs subscription log")
        if not (self.logs or LogFilter()).matches(log):
            raise BadRpcAnswer(f"the logs subscription sent a log that was not asked for "
                               f"(block {log['blockNumber']}, address {log['address']})")
        return log
