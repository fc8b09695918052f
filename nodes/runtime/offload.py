"""Work beside the loop: blocking calls and coroutines whose results come back to the loop thread.

A node's loop must never wait on the network (a receipt, a websocket, a slow JSON-RPC node):
heartbeats, stops and the dead man's switch keep their latency only if every pass is short.
The runtime owns one :class:`Offload` per node (``rt.offload``):

- :meth:`Offload.call` runs a blocking function on a small thread pool;
- :meth:`Offload.spawn` runs a coroutine on an asyncio event loop in a thread of its own
  (websocket subscriptions, async web3), started on first use;
- :meth:`Offload.post` (thread-safe) queues a callable for the loop thread: a coroutine that
  streams (a subscription) posts each message back this way.

Completion callbacks (``on_done(future)``) and posted callables run on the loop thread, during
:meth:`Offload.run_completions`, which the runtime calls every pass: node code never needs a
lock. A finished job also writes one byte to a pipe (:attr:`Offload.wakeup_fd`) that the run
loop polls, so a loop idling in ``zmq_poll`` wakes at once.

Errors: ``future.result()`` re-raises what the job raised; the runtime runs callbacks with the
same isolation as other hooks (errors of the project's tree counted by ``kind``, anything else
as ``node_exception``). A callable that fails on the loop thread never kills the node.

Thread-safety: ``call``, ``spawn`` and ``post`` may be called from any thread;
``run_completions`` and ``close`` only from the loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

__all__ = ["Offload"]

Done = Callable[[Future[Any]], None]


class Offload:
    """The runtime's facility for blocking and async work (see the module docstring).

    Parameters
    ----------
    name : str
        Node name (names the threads).
    workers : int
        Threads of the pool behind :meth:`call`.
    """

    def __init__(self, name: str, workers: int = 4) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]
                                      | None] = queue.SimpleQueue()
        self._workers = [threading.Thread(target=self._work, name=f"{name}-io{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._workers:
            thread.start()
        self._ready: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._aio: asyncio.AbstractEventLoop | None = None
        self._aio_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.inflight = 0
        self.completed = 0
        self._closed = False

    @property
    def wakeup_fd(self) -> int:
        """A file descriptor that becomes readable when a completion is queued."""
        return self._read_fd

    # -- submitting (any thread) ---------------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any, on_done: Done | None = None
             ) -> Future[Any]:
        """Run ``fn(*args)`` on the pool; ``on_done(future)`` later runs on the loop thread."""
        future: Future[Any] = Future()
        self._track(future, on_done)
        self._jobs.put((future, fn, args))
        return future

    def _work(self) -> None:
        """A pool thread: run jobs until a ``None`` arrives (daemon: never delays an exit)."""
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the loop thread via the future
                future.set_exception(exc)

    def spawn(self, coro: Coroutine[Any, Any, Any], on_done: Done | None = None
              ) -> Future[Any]:
        """Run a coroutine on the runtime's asyncio loop; ``on_done`` as for :meth:`call`."""
        future = asyncio.run_coroutine_threadsafe(coro, self._event_loop())
        self._track(future, on_done)
        return future

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` to run on the loop thread at its next pass (thread-safe)."""
        self._ready.append((fn, args))
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write_fd, b"\0")

    def _track(self, future: Future[Any], on_done: Done | None) -> None:
        with self._lock:
            self.inflight += 1

        def finished(f: Future[Any]) -> None:
            with self._lock:
                self.inflight -= 1
                self.completed += 1
            if on_done is not None:
                self.post(on_done, f)
            elif not f.cancelled() and f.exception() is not None:
                self.post(f.result)  # surface the error on the loop thread, where it is counted

        future.add_done_callback(finished)

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: offload is closed")
            if self._aio is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"{self.name}-aio",
                                          daemon=True)
                thread.start()
                self._aio, self._aio_thread = loop, thread
            return self._aio

    # -- completing (loop thread) --------------------------------------------------------------

    def run_completions(self, run: Callable[[Callable[..., Any], tuple[Any, ...]], None],
                        limit: int = 256) -> int:
        """Run up to ``limit`` queued callables through ``run(fn, args)``; return how many."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.read(self._read_fd, 4096)
        done = 0
        while done < limit and self._ready:
            fn, args = self._ready.popleft()
            run(fn, args)
            done += 1
        if self._ready:  # more than the limit: make sure the next poll wakes at once
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._write_fd, b"\0")
        return done

    def close(self, timeout: float = 2.0) -> None:
        """Cancel queued jobs, stop the asyncio loop, let running jobs finish in the background.

        A blocking call already running cannot be interrupted; its thread is left to end on
        its own (pool threads are daemons: they never keep the process alive).
        """
        with self._lock:
            self._closed = True
            loop, thread = self._aio, self._aio_thread
        while True:  # cancel what has not started
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in self._workers:
            self._jobs.put(None)
        if loop is not None and thread is not None:
            def stop() -> None:
                for task in asyncio.all_tasks(loop):
                    task.cancel()
                loop.call_soon(loop.stop)
            loop.call_soon_threadsafe(stop)
            thread.join(timeout)
            if not thread.is_alive():
                loop.close()
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._ready.clear()
