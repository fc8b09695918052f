"""Idle strategies: back-off phases, resets on work, bad configurations refused."""

from __future__ import annotations

import pytest

from shm.idle import IS_COUNT, IS_SLEEP_NS, IdleStrategy, idle_step


def test_backoff_spins_then_yields_then_sleeps_doubling_up_to_the_cap() -> None:
    state = IdleStrategy("backoff", spins=2, yields=1, min_sleep_ns=1_000,
                         max_sleep_ns=4_000).state()
    sleeps = []
    for _ in range(7):
        idle_step(state, 0)
        sleeps.append(int(state[IS_SLEEP_NS]))
    # 2 spins and 1 yield leave the sleep untouched; then 1, 2, 4, 4 us
    assert sleeps == [1_000, 1_000, 1_000, 2_000, 4_000, 4_000, 4_000]
    idle_step(state, 5)
    assert state[IS_COUNT] == 0 and state[IS_SLEEP_NS] == 1_000


@pytest.mark.parametrize("kind", ["spin", "yield", "sleep"])
def test_simple_strategies_keep_no_backoff_state(kind: str) -> None:
    state = IdleStrategy(kind, max_sleep_ns=1_000).state()
    for _ in range(3):
        idle_step(state, 0)
    assert state[IS_COUNT] == 0


def test_bad_strategies_are_refused_naming_the_problem() -> None:
    with pytest.raises(ValueError, match="'nap'"):
        IdleStrategy("nap")
    with pytest.raises(ValueError, match="min_sleep_ns"):
        IdleStrategy(min_sleep_ns=10, max_sleep_ns=5)
    assert IdleStrategy.parse("yield").kind == "yield"
    assert IdleStrategy.parse(None).kind == "backoff"
