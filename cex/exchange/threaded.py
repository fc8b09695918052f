"""``serve_in_thread``: the local exchange on its own thread and loop, for synchronous tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from cex.exchange.server import LocalExchange
from cex.exchange.stats import ExchangeStats

T = TypeVar("T")


class ThreadedExchange:
    """A handle on a :class:`LocalExchange` running on another thread.

    Attributes
    ----------
    exchange : LocalExchange
        The server (touch it only through :meth:`call`).
    script_done : threading.Event
        Set once the replay script ran to its end.
    """

    def __init__(self, exchange: LocalExchange, loop: asyncio.AbstractEventLoop) -> None:
        self.exchange = exchange
        self.loop = loop
        self.script_done = threading.Event()

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.exchange.http_url

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT``."""
        return self.exchange.ws_url

    @property
    def coinbase_url(self) -> str:
        """``ws://127.0.0.1:PORT/coinbase``."""
        return self.exchange.coinbase_url

    @property
    def port(self) -> int:
        """The bound port."""
        return self.exchange.port

    @property
    def stats(self) -> ExchangeStats:
        """The server's counters (read them with ``stats.snapshot()``)."""
        return self.exchange.stats

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float | None = 30.0) -> T:
        """Run ``await fn()`` on the server's loop and return its result."""
        async def run() -> T:
            return await fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)


@contextlib.contextmanager
def serve_in_thread(*args: Any, start_timeout: float = 30.0, **kwargs: Any
                    ) -> Iterator[ThreadedExchange]:
    """Run ``LocalExchange(*args, **kwargs)`` on a new thread until the block ends.

    Raises
    ------
    Exception
        Whatever stopped the server from starting (a bad script, a port in use).
    """
    started: concurrent.futures.Future[ThreadedExchange] = concurrent.futures.Future()
    holder: dict[str, Any] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        holder["stop"] = stop
        try:
            exchange = LocalExchange(*args, **kwargs)
            await exchange.start()
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread
            started.set_exception(exc)
            return
        handle = ThreadedExchange(exchange, loop)
        exchange.runner.done_callbacks.append(handle.script_done.set)
        if exchange.script_done.is_set():
            handle.script_done.set()
        started.set_result(handle)
        try:
            await stop.wait()
        finally:
            await exchange.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="local-exchange",
                              daemon=True)
    thread.start()
    handle = started.result(start_timeout)
    try:
        yield handle
    finally:
        handle.loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(30.0)
