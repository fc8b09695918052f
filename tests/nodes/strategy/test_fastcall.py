"""A kernel bound at its first call gives what numba's dispatcher gives."""

from __future__ import annotations

import numpy as np
from numba import njit

from nodes.strategy.fastcall import Kernel


@njit(cache=True)
def _weighted(a, b, k):
    total = 0.0
    for i in range(a.shape[0]):
        a[i] += k
        total += a[i] * b[i]
    return total


def test_bound_kernel_returns_and_writes_what_the_dispatcher_does():
    rng = np.random.default_rng(3)
    a1, b = rng.random(50), rng.random(50)
    a2 = a1.copy()
    kernel = Kernel(_weighted)
    for k in range(5):
        assert kernel(a1, b, k) == _weighted(a2, b, k)
    assert np.array_equal(a1, a2)


def test_check_tells_the_types_the_kernel_is_bound_to():
    kernel = Kernel(_weighted)
    a = np.zeros(3)
    assert kernel.check(a, a, 1)  # not bound yet: anything goes through the dispatcher
    kernel(a, a, 1)
    assert kernel.check(np.ones(4), np.ones(4), 7)
    assert not kernel.check(np.ones(4, np.float32), np.ones(4), 7)
