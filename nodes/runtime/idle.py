"""Idle strategies for run loops: what a loop does when a pass found no work.

``spin`` never yields (a dedicated core only), ``backoff`` spins a little, then yields, then
sleeps in growing steps up to a ceiling (the default: parallel tests and 2-core hosts stay
healthy), ``block`` waits in ``zmq.poll`` for the socket (lowest CPU, adds a wake-up of 20-100
µs per message). The run loop asks :meth:`IdleStrategy.poll_timeout_ms` how long it may block
in ``poll`` and calls :meth:`IdleStrategy.idle` after an empty pass.

Not thread-safe: one instance per loop.
"""

from __future__ import annotations

import os
import time

from alphapulse.errors import ConfigError


class IdleStrategy:
    """Base: ``idle(work)`` after each pass, ``reset()`` when work was found."""

    name = "spin"

    def poll_timeout_ms(self) -> int:
        """How long the loop may block in ``poll`` this pass (0: do not block)."""
        return 0

    def idle(self, work: int) -> None:
        """Called after each pass with the amount of work it did."""

    def reset(self) -> None:
        """Forget accumulated back-off."""


class BackoffIdle(IdleStrategy):
    """Spin ``spins`` passes, yield ``yields`` passes, then sleep 50 µs doubling to ``max_us``."""

    name = "backoff"

    def __init__(self, spins: int = 100, yields: int = 20, max_us: int = 1000) -> None:
        self.spins, self.yields, self.max_us = spins, yields, max_us
        self._count = 0
        self._sleep_us = 50

    def idle(self, work: int) -> None:
        """Back off one step unless the pass did work."""
        if work:
            self.reset()
            return
        self._count += 1
        if self._count <= self.spins:
            return
        if self._count <= self.spins + self.yields:
            os.sched_yield()
            return
        time.sleep(self._sleep_us / 1e6)
        self._sleep_us = min(self._sleep_us * 2, self.max_us)

    def reset(self) -> None:
        """Back to spinning."""
        self._count = 0
        self._sleep_us = 50


class BlockIdle(IdleStrategy):
    """Block in ``poll`` for up to ``max_ms`` per pass (timers still fire on time)."""

    name = "block"

    def __init__(self, max_ms: int = 50) -> None:
        self.max_ms = max_ms

    def poll_timeout_ms(self) -> int:
        """Block up to ``max_ms``."""
        return self.max_ms


def make_idle(name: str) -> IdleStrategy:
    """The idle strategy called ``name`` (spin, backoff, block)."""
    if name == "spin":
        return IdleStrategy()
    if name == "backoff":
        return BackoffIdle()
    if name == "block":
        return BlockIdle()
    raise ConfigError(f"unknown idle strategy {name!r}")
