"""Idle strategies for polling readers and a back-pressured writer (Agrona's ``IdleStrategy``).

A strategy is a small int64 array (``IS_*`` fields) stepped by :func:`idle_step`, an ``@njit``
function, so a numba node can idle inside its own loop without returning to Python:

=============  ==============================================================================
``spin``       busy-spin: lowest latency, burns a CPU (only on a CPU of its own)
``yield``      ``sched_yield`` every time
``backoff``    spin ``spins`` times, then yield ``yields`` times, then sleep from
               ``min_sleep_ns`` doubling up to ``max_sleep_ns`` (the default; tests use it)
``sleep``      sleep ``max_sleep_ns`` every time
``block``      the poller blocks in its own wait primitive (``zmq_poll`` in a node's run loop)
               for up to ``max_sleep_ns``; lowest CPU, adds a wake-up per message;
               :func:`idle_step` sleeps ``max_sleep_ns`` for a poller that has none
=============  ==============================================================================

``idle_step(state, work)`` resets the strategy when ``work > 0`` and idles one step otherwise.
Process safety: one state array per polling thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from shm.clock import sleep_ns, yield_cpu

__all__ = ["IdleStrategy", "idle_step"]

SPIN, YIELD, BACKOFF, SLEEP, BLOCK = 0, 1, 2, 3, 4
KINDS = {"spin": SPIN, "yield": YIELD, "backoff": BACKOFF, "sleep": SLEEP, "block": BLOCK}
IS_KIND, IS_SPINS, IS_YIELDS, IS_MIN_NS, IS_MAX_NS, IS_COUNT, IS_SLEEP_NS = range(7)
IS_SIZE = 8


@njit(cache=True)
def idle_step(state, work):
    """Idle one step according to ``state`` unless ``work > 0`` (which resets the back-off)."""
    if work > 0:
        state[IS_COUNT] = 0
        state[IS_SLEEP_NS] = state[IS_MIN_NS]
        return
    kind = state[IS_KIND]
    if kind == SPIN:
        return
    if kind == YIELD:
        yield_cpu()
        return
    if kind in (SLEEP, BLOCK):
        sleep_ns(state[IS_MAX_NS])
        return
    n = state[IS_COUNT]
    state[IS_COUNT] = n + 1
    if n < state[IS_SPINS]:
        return
    if n < state[IS_SPINS] + state[IS_YIELDS]:
        yield_cpu()
        return
    ns = max(state[IS_SLEEP_NS], state[IS_MIN_NS])
    sleep_ns(ns)
    state[IS_SLEEP_NS] = min(ns * 2, state[IS_MAX_NS])


@dataclass(slots=True)
class IdleStrategy:
    """How a poller waits when there is no work; see the module table.

    Parameters
    ----------
    kind : {"spin", "yield", "backoff", "sleep", "block"}
    spins, yields : int
        Back-off phases.
    min_sleep_ns, max_sleep_ns : int
        Back-off sleep range; ``sleep`` uses ``max_sleep_ns``.
    """

    kind: str = "backoff"
    spins: int = 100
    yields: int = 50
    min_sleep_ns: int = 1_000
    max_sleep_ns: int = 1_000_000

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"idle strategy {self.kind!r} is not one of {sorted(KINDS)}")
        if not 0 < self.min_sleep_ns <= self.max_sleep_ns:
            raise ValueError(
                f"idle sleeps need 0 < min_sleep_ns ({self.min_sleep_ns}) <= max_sleep_ns "
                f"({self.max_sleep_ns})")

    @classmethod
    def parse(cls, spec: str | IdleStrategy | None) -> IdleStrategy:
        """An IdleStrategy from itself, a kind name, or None (back-off)."""
        if isinstance(spec, IdleStrategy):
            return spec
        return cls() if spec is None else cls(kind=spec)

    def state(self) -> np.ndarray:
        """A fresh state array for :func:`idle_step` (one per polling thread)."""
        s = np.zeros(IS_SIZE, np.int64)
        s[IS_KIND] = KINDS[self.kind]
        s[IS_SPINS] = self.spins
        s[IS_YIELDS] = self.yields
        s[IS_MIN_NS] = self.min_sleep_ns
        s[IS_MAX_NS] = self.max_sleep_ns
        s[IS_SLEEP_NS] = self.min_sleep_ns
        return s
