"""Exact Uniswap V3 swap simulation: the compiled kernel against the pure-Python reference.

A helper of ``bench/strategy.py`` (:func:`v3_swap_rows`), not a benchmark of its own. Swaps on
seeded random pools (fees 100/500/3000/10000, positions around the price) are sorted by the
number of steps the pool takes (a step ends at an initialized tick or a bitmap word's edge)
into three classes: 1-2, 3-20 and 50+ steps. For every swap the compiled facade's result is
first asserted equal to :func:`contracts.swapmath.pools.v3_swap`'s; then, per class:

* ``kernel``: :func:`contracts.swapmath.compiled.swap_kernel` called from ``@njit`` code over
  the pool's arrays (as the strategy node calls it), each call timed with ``CLOCK_MONOTONIC``
  inside the kernel loop (a clock read is about 0.03 us, included);
* ``facade``: :func:`contracts.swapmath.compiled.swap` from Python on a ``V3Pool`` (packing,
  the dispatcher and the result object included);
* ``reference``: :func:`contracts.swapmath.pools.v3_swap`, the baseline of the same run.

Latencies are per swap (p50..max over every call); ``speedup`` is the reference's median over
the row's. The process is pinned to one CPU while timing.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
from numba import njit

from bench.pinning import cpus, pin, unpin
from bench.report import Row, latency_row
from contracts.swapmath import compiled, u256
from contracts.swapmath.pools import V3Pool, default_limit, v3_swap
from contracts.v3math import MAX_TICK, MIN_TICK, sqrt_ratio_at_tick
from shm.clock import monotonic_ns

BENCH = "strategy"
SPACINGS = {100: 1, 500: 10, 3000: 60, 10000: 200}
CLASSES = (("1-2 steps", 1, 2), ("3-20 steps", 3, 20), ("50+ steps", 50, 10**9))

Case = tuple[V3Pool, bool, int, tuple[Any, ...]]


@njit(cache=True)
def _time_kernel(price, tick, liquidity, fee, spacing, ticks, net_lo, net_hi, word_lo, word_hi,
                 zero_for_one, amount, limit, samples, start):
    """Run one swap ``samples.size - start`` times, each call's ns into ``samples[start:]``;
    returns the swap's status and steps."""
    status = steps = 0
    for i in range(start, samples.shape[0]):
        t0 = monotonic_ns()
        result = compiled.swap_kernel(price, tick, liquidity, fee, spacing, ticks, net_lo,
                                      net_hi, ticks.shape[0], word_lo, word_hi, zero_for_one,
                                      amount, limit)
        samples[i] = monotonic_ns() - t0
        status, steps = result[0], result[6]
    return status, steps


def _pool(rng: random.Random) -> V3Pool:
    fee = rng.choice(tuple(SPACINGS))
    spacing = SPACINGS[fee]
    tick = rng.randint(-100_000, 100_000)
    radius = spacing * rng.choice((20, 200, 2000))
    net: dict[int, int] = {}
    liquidity = 0
    for _ in range(rng.randint(5, 120)):
        lower = (tick + rng.randint(-radius, radius)) // spacing * spacing
        upper = lower + spacing * rng.randint(1, max(1, 2 * radius // spacing))
        size = rng.getrandbits(rng.randint(60, 100))
        net[lower] = net.get(lower, 0) + size
        net[upper] = net.get(upper, 0) - size
        liquidity += size if lower <= tick < upper else 0
    net = {t: v for t, v in net.items() if v}
    low, high = sqrt_ratio_at_tick(tick), sqrt_ratio_at_tick(tick + 1)
    return V3Pool("0x" + "ab" * 20, "0x" + "01" * 20, "0x" + "02" * 20, fee, spacing,
                  rng.randrange(low, high), tick, liquidity, tuple(sorted(net)), net,
                  {t: abs(v) for t, v in net.items()}, MIN_TICK // spacing >> 8,
                  MAX_TICK // spacing >> 8)


def _kernel_args(pool: V3Pool, zero_for_one: bool, amount: int) -> tuple[Any, ...]:
    nets = [pool.net[t] for t in pool.ticks]
    return (u256.from_int(pool.sqrt_price_x96), pool.tick, u256.from_int(pool.liquidity),
            pool.fee, pool.tick_spacing, np.array(pool.ticks, dtype=np.int32),
            np.array([v & (2**64 - 1) for v in nets], dtype=np.uint64),
            np.array([v >> 64 for v in nets], dtype=np.int64), pool.word_lo, pool.word_hi,
            zero_for_one, u256.from_int(amount), u256.from_int(default_limit(zero_for_one)))


def cases(per_class: int, seed: int = 1) -> dict[str, list[Case]]:
    """``per_class`` swaps of each step class, their results checked against the reference."""
    rng = random.Random(seed)
    out: dict[str, list[Case]] = {name: [] for name, _, _ in CLASSES}
    probe = np.zeros(1, dtype=np.int64)
    for _ in range(200 * per_class):
        if all(len(v) >= per_class for v in out.values()):
            break
        pool = _pool(rng)
        if pool.liquidity == 0 or pool.tick > MAX_TICK:
            continue
        zero_for_one = rng.random() < 0.5
        depth = (pool.liquidity * 2**96 // pool.sqrt_price_x96 if zero_for_one
                 else pool.liquidity * pool.sqrt_price_x96 // 2**96)
        amount = max(1, int(depth * 10 ** rng.uniform(-7, 1)))
        amount = amount if rng.random() < 0.7 else -amount
        args = _kernel_args(pool, zero_for_one, amount)
        status, steps = _time_kernel(*args, probe, 0)
        if status != compiled.OK:
            continue
        for name, lo, hi in CLASSES:
            if lo <= steps <= hi and len(out[name]) < per_class:
                assert compiled.swap(pool, zero_for_one, amount) == v3_swap(pool, zero_for_one, amount)
                out[name].append((pool, zero_for_one, amount, args))
    return out


def _python_ns(fn: Any, case: Case, reps: int) -> list[int]:
    pool, zero_for_one, amount, _ = case
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn(pool, zero_for_one, amount)
        samples.append(time.perf_counter_ns() - t0)
    return samples


def v3_swap_rows(per_class: int = 50, reps: int = 10) -> list[Row]:
    """Rows of the exact V3 swap: kernel, facade and reference per step class (see the module
    docstring); ``reps`` calls of each swap (the reference: a quarter as many, at least 2)."""
    by_class = cases(per_class)
    allowed = cpus()
    pin(0)
    rows: list[Row] = []
    try:
        for name, found in by_class.items():
            if not found:
                continue
            kernel = np.zeros(len(found) * reps, dtype=np.int64)
            steps = [_time_kernel(*case[3], kernel, i * reps)[1] for i, case in enumerate(found)]
            facade = [ns for case in found for ns in _python_ns(compiled.swap, case, reps)]
            reference = [ns for case in found for ns in _python_ns(v3_swap, case, max(2, reps // 4))]
            ref_p50 = float(np.median(reference))
            extra = {"swaps": len(found), "steps_p50": int(np.median(steps))}
            for label, samples in (("kernel", kernel), ("facade", facade), ("reference", reference)):
                arr = np.asarray(samples, dtype=np.int64)
                rows.append(latency_row(BENCH, f"v3 swap {name}: {label}", arr, **extra,
                                        speedup=round(ref_p50 / float(np.median(arr)), 1)))
    finally:
        unpin(allowed)
    return rows
