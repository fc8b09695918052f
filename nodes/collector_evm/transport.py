"""Drive a :class:`~nodes.collector_evm.follower.ChainFollower`: websocket, HTTP polling, reconnects.

:class:`FollowerThread` owns the follower and runs it on a thread of its own:

- **websocket** (``ws_url`` set): a :class:`WsPump` thread holds a ``newHeads`` + ``logs``
  subscription (:class:`contracts.subscribe.Subscription`) and queues every event with its
  receive time; the follower thread closes a block per head. No head for ``head_timeout_s``
  counts as a lost connection.
- **HTTP polling** (``ws_url`` empty): every ``poll_interval_s`` the follower catches up to
  the latest block (``eth_getLogs`` per block hash).

Anything else that fails inside the follower (a bug, a library's surprise) is counted as
``follower_error`` and handled like a lost connection: the thread never dies while the node's
heartbeat says it runs.

A websocket that cannot be had at all is not an outage: the HTTP endpoint is polled meanwhile
(blocks stay exact) and the websocket is tried again after a growing wait. A websocket that
dropped after working, or any error on the HTTP side (the node unreachable, a malformed
answer), makes every pool invalid (PoolInvalidation, reason DISCONNECTION); the thread waits
(exponential backoff from ``backoff_min_s`` to ``backoff_max_s``), reconnects, re-reads the
pools at the last block still canonical and back-fills the blocks it missed
(:meth:`ChainFollower.resync`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from alphapulse.errors import ChainError
from contracts.answers import BadRpcAnswer, Head
from contracts.logs import LogFilter
from contracts.subscribe import Subscription, SubscriptionLost
from mesh.protocol.constants import InvalidationReason
from nodes.collector_evm.follower import ChainFollower

__all__ = ["FollowerThread", "WsPump"]

#: How often the follower thread looks at its stop flag while the queue is quiet.
_QUIET_S = 0.2


class WsPump:
    """A websocket subscription on its own asyncio thread, queueing ``(kind, received_ns, event)``.

    ``kind`` is ``head``, ``log``, ``bad`` (a malformed message, counted and skipped),
    ``ready`` (subscribed) or ``lost`` (the event is the :class:`SubscriptionLost`; nothing
    follows it).
    """

    def __init__(self, url: str, logs: LogFilter, out: queue.SimpleQueue[tuple[str, int, Any]]) -> None:
        self.url = url
        self.logs = logs
        self.out = out
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="collector-ws", daemon=True)
        self._started = threading.Event()

    def start(self) -> None:
        """Connect and subscribe in the background."""
        self._thread.start()
        self._started.wait(5.0)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()  # type: ignore[assignment]
        self._started.set()
        put = self.out.put
        try:
            async with Subscription(self.url, heads=True, logs=self.logs) as events:
                put(("ready", time.time_ns(), None))
                while True:
                    try:
                        event = await events.__anext__()
                    except BadRpcAnswer as exc:
                        put(("bad", time.time_ns(), exc))
                        continue
                    put(("head" if isinstance(event, Head) else "log", time.time_ns(), event))
        except asyncio.CancelledError:
            return
        except SubscriptionLost as exc:
            put(("lost", time.time_ns(), exc))
        except Exception as exc:  # noqa: BLE001 - any other failure of the socket is a loss too
            put(("lost", time.time_ns(), SubscriptionLost(f"websocket failed: {type(exc).__name__}: {exc}")))

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel the subscription and wait for the thread."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout)


class FollowerThread:
    """Run a follower until stopped (see the module docstring).

    Parameters
    ----------
    follower : ChainFollower
        The follower to drive; only this thread touches it once started.
    ws_url : str
        Websocket endpoint, or empty to poll over HTTP.
    logs : LogFilter
        What the websocket's ``logs`` subscription asks for.
    count : callable
        ``count(kind, detail)`` for every error.
    poll_interval_s, backoff_min_s, backoff_max_s, head_timeout_s : float
        HTTP poll period; reconnect backoff bounds; silence that counts as a lost websocket.
    """

    def __init__(self, follower: ChainFollower, *, ws_url: str, logs: LogFilter,
                 count: Callable[[str, str], None], poll_interval_s: float = 0.5,
                 backoff_min_s: float = 0.2, backoff_max_s: float = 5.0,
                 head_timeout_s: float = 30.0) -> None:
        self.follower = follower
        self.ws_url = ws_url
        self.logs = logs
        self.count = count
        self.poll_interval_s = poll_interval_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.head_timeout_s = head_timeout_s
        self.stopping = threading.Event()
        #: Connections lost so far (each one invalidated every pool).
        self.outages = 0
        #: True while a websocket subscription is up.
        self.streaming = False
        self._thread = threading.Thread(target=self._run, name="collector-follower", daemon=True)

    def start(self) -> None:
        """Start following."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following and wait for the thread."""
        self.stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        backoff = self.backoff_min_s
        ws_backoff = self.backoff_min_s
        needs_sync = True
        while not self.stopping.is_set():
            try:
                if needs_sync:
                    if self.follower.synced:
                        self.follower.resync()
                    else:
                        self.follower.start()
                    needs_sync = False
                backoff = self.backoff_min_s
                if not self.ws_url:
                    self._poll(None)
                    continue
                try:
                    self._stream()
                except SubscriptionLost as exc:
                    self.count(exc.kind, str(exc))
                    if self.streaming:  # it worked, then dropped: what it missed is unknown
                        ws_backoff = self.backoff_min_s
                        self._outage()
                        needs_sync = True
                        self.stopping.wait(backoff)
                    else:  # no websocket to be had: the HTTP endpoint carries on meanwhile
                        self._poll(time.monotonic() + ws_backoff)
                        ws_backoff = min(ws_backoff * 2, self.backoff_max_s)
            except Exception as exc:  # noqa: BLE001 - the follower must outlive any one failure
                kind = exc.kind if isinstance(exc, ChainError) else "follower_error"
                self.count(kind, f"{type(exc).__name__}: {exc}")
                if not needs_sync:
                    self._outage()
                    needs_sync = True
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)

    def _outage(self) -> None:
        """Every pool's state is unknown until the next resync."""
        if self.follower.synced and not self.stopping.is_set():
            self.outages += 1
            self.follower.invalidate_all(InvalidationReason.DISCONNECTION)

    def _poll(self, until: float | None) -> None:
        """Close blocks over HTTP every ``poll_interval_s`` until stopped or ``until`` (monotonic)."""
        while not self.stopping.is_set() and (until is None or time.monotonic() < until):
            self.follower.catch_up()
            self.stopping.wait(self.poll_interval_s)

    def _stream(self) -> None:
        events: queue.SimpleQueue[tuple[str, int, Any]] = queue.SimpleQueue()
        pump = WsPump(self.ws_url, self.logs, events)
        self.streaming = False
        pump.start()
        try:
            last_event = time.monotonic()
            while not self.stopping.is_set():
                try:
                    kind, received_ns, event = events.get(timeout=_QUIET_S)
                except queue.Empty:
                    if time.monotonic() - last_event > self.head_timeout_s:
                        raise SubscriptionLost(f"no head for {self.head_timeout_s:g} s") from None
                    continue
                if kind == "head":
                    last_event = time.monotonic()
                    self.follower.on_head(event, received_ns)
                elif kind == "log":
                    self.follower.on_log(event, received_ns)
                elif kind == "ready":
                    last_event = time.monotonic()
                    self.streaming = True
                    self.follower.catch_up()  # blocks mined between the resync and the subscription
                elif kind == "bad":
                    self.count(event.kind, str(event))
                else:
                    raise event
        finally:
            pump.stop()
