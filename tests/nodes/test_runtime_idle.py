"""The run loop's idle waits: which steps wait in ``zmq_poll`` (woken by any message)."""

from __future__ import annotations

import numpy as np

from nodes.runtime.runtime import idle_wait_ms, loop_idle
from shm.idle import IS_COUNT, IS_SLEEP_NS, idle_step


def test_backoff_spins_yields_and_short_sleeps_stay_with_idle_step_then_polls_1_ms():
    state = loop_idle("backoff").state()
    waits = []
    for _ in range(126):
        ms = idle_wait_ms(state)
        waits.append(ms)
        if ms:
            state[IS_COUNT] += 1
        else:
            idle_step(state, 0)
    assert waits[:125] == [0] * 125  # 100 spins, 20 yields, sleeps of 50..800 us
    assert waits[125] == 1 and state[IS_SLEEP_NS] == 1_000_000
    idle_step(state, 1)  # work resets the back-off
    assert idle_wait_ms(state) == 0


def test_sleep_polls_its_whole_sleep_and_other_kinds_never_poll():
    assert idle_wait_ms(loop_idle("sleep").state()) == 1
    for kind in ("spin", "yield"):
        state = loop_idle(kind).state()
        state[IS_COUNT] = 10_000
        assert idle_wait_ms(state) == 0
    assert isinstance(idle_wait_ms(np.asarray(loop_idle("backoff").state())), int)
