"""Named memory-ordering helpers and the clock intrinsic, compiled and as Python."""

from __future__ import annotations

import threading
import time

import numpy as np
from numba import njit

from shm.atomics import compare_and_set, fence_acquire, fence_release, load_acquire, store_release
from shm.clock import monotonic_ns, sleep_ns, yield_cpu


@njit(cache=True)
def _ops(a):
    store_release(a, 0, 5)
    fence_release()
    fence_acquire()
    first = compare_and_set(a, 1, 0, 9)
    second = compare_and_set(a, 1, 0, 10)
    return load_acquire(a, 0), first, second, a[1]


@njit(cache=True, nogil=True)
def _spin_until(a, want, limit):
    n = 0
    while load_acquire(a, 0) != want:
        n += 1
        if n > limit:
            return -1
    return n


@njit(cache=True)
def _clock():
    t0 = monotonic_ns()
    yield_cpu()
    sleep_ns(200_000)
    return t0, monotonic_ns()


def test_helpers_give_same_results_compiled_and_in_python() -> None:
    compiled, plain = np.zeros(2, np.int64), np.zeros(2, np.int64)
    assert _ops(compiled) == _ops.py_func(plain) == (5, True, False, 9)
    assert compiled.tolist() == plain.tolist()


def test_spin_loop_on_load_acquire_sees_a_store_from_another_thread() -> None:
    a = np.zeros(1, np.int64)
    _spin_until(a, 0, 1)  # compile outside the timed part
    t = threading.Timer(0.05, lambda: a.__setitem__(0, 7))
    t.start()
    n = _spin_until(a, 7, 10**11)
    t.join()
    assert n > 0, "the loop never observed the store (load hoisted out of the loop?)"


def test_clock_intrinsic_is_clock_monotonic_and_sleep_sleeps() -> None:
    before = time.monotonic_ns()
    t0, t1 = _clock()
    after = time.monotonic_ns()
    assert before <= t0 <= t1 <= after
    assert t1 - t0 >= 200_000
