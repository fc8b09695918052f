"""The exact Uniswap V3 swap as a numba kernel over plain arrays, and its Python facade.

:func:`swap_kernel` walks ``UniswapV3Pool.swap`` (v3-core ``contracts/UniswapV3Pool.sol``) step
by step, exactly as :func:`contracts.swapmath.pools.v3_swap` does (and the tests check it to the
unit): one step per initialized tick or tick-bitmap word edge
(``TickBitmap.nextInitializedTickWithinOneWord``), each step priced by
:func:`contracts.swapmath.compiled_libs.compute_swap_step`, ticks crossed with their
``liquidityNet``. A swap that needs a bitmap word outside ``[word_lo, word_hi]`` stops with
:data:`TICKS_UNKNOWN`: the kernel never guesses ticks it was not given.

Kernel arguments (the strategy node keeps its pools in exactly these arrays)
--------------------------------------------------------------------------------
``swap_kernel(sqrt_price, tick, liquidity, fee_pips, tick_spacing, ticks, net_lo, net_hi,
n_ticks, word_lo, word_hi, zero_for_one, amount_specified, sqrt_price_limit)``

- ``sqrt_price``, ``liquidity``, ``sqrt_price_limit``: ``U256`` limb tuples
  (``UniTuple(uint64, 4)``, little-endian, see :mod:`contracts.swapmath.u256`);
  ``amount_specified``: the same limbs holding an int256 in two's complement (> 0 exact input,
  < 0 exact output, as the pool's ``amountSpecified``).
- ``tick``, ``fee_pips`` (hundredths of a basis point, < 10**6), ``tick_spacing`` (>= 1),
  ``n_ticks``, ``word_lo``, ``word_hi``: int64; ``zero_for_one``: bool.
- ``ticks``: int32 1-D, the initialized ticks in increasing order (only ``ticks[:n_ticks]`` is
  read, so one array can hold spare room); ``net_lo`` (uint64) and ``net_hi`` (int64): each
  tick's ``liquidityNet`` (int128) as ``net_hi * 2**64 + net_lo``. Every initialized tick whose
  bitmap word (``floor(tick / tick_spacing) >> 8``) is in ``[word_lo, word_hi]`` must be listed.

It returns ``(status, amount0, amount1, sqrt_price, tick, liquidity, steps)``: ``status`` is
:data:`OK`, a revert reason code (an index of :data:`~contracts.swapmath.compiled_libs.REASONS`)
or :data:`TICKS_UNKNOWN`; ``amount0``/``amount1`` are the pool's int256 deltas in two's
complement limbs (> 0: paid into the pool); then the price, tick and liquidity after, and the
number of steps taken. When ``status`` is not OK the amounts are 0, ``sqrt_price`` is the price
reached (the one a tick-range revert names) and, for :data:`TICKS_UNKNOWN`, ``tick`` is the
bitmap word that was needed. The kernel assumes what a real pool guarantees: ``sqrt_price``
and the limit below 2**160, ``liquidity`` below 2**128, ``|tick| < 2**31``, ``tick_spacing <
2**23``, ticks that are multiples of the spacing inside [MIN_TICK, MAX_TICK]. A negative result
has ``limbs[3] >> 63`` set; ``u256.sub(ZERO, x)`` is its magnitude, :func:`u256.to_int`
(``signed=True``) its Python int. The loosest limit (what FlashArbitrage passes) is
``MIN_SQRT_RATIO + 1`` or ``MAX_SQRT_RATIO - 1``.

The facade :func:`swap` takes a :class:`~contracts.swapmath.pools.V3Pool` and raises as
:func:`~contracts.swapmath.pools.v3_swap` does. It keeps each pool's tick arrays in a small cache
keyed by the identity of the pool's ``ticks`` tuple and ``net`` dict (states are immutable;
:func:`~contracts.swapmath.pools.apply_v3_swap` keeps both), and hands values the kernel does
not model (amounts outside int256, prices or limits of 160 bits or more, a fee of 10**6 or
more, spacings or ticks far outside int24, nets outside int128) to the reference.
Thread safety: the kernel is pure; the facade's cache is a dict guarded by the GIL.
"""

from __future__ import annotations

import struct

import numpy as np
from numba import njit, uint64

from contracts.swapmath.compiled_libs import (
    LIQUIDITY_ADD,
    LIQUIDITY_SUB,
    MAX_SQRT,
    MIN_SQRT,
    PRICE_LIMIT,
    REASONS,
    TICK_RANGE,
    ZERO_AMOUNT,
    compute_swap_step,
    sqrt_ratio_at_tick,
    tick_at_sqrt_ratio,
)
from contracts.swapmath.libs import FEE_DENOMINATOR, SwapReverted
from contracts.swapmath.pools import SwapResult, TicksUnknown, V3Pool, default_limit, v3_swap
from contracts.swapmath.u256 import OK, add, is_zero, lt, sub
from contracts.v3math import MAX_TICK, MIN_TICK

__all__ = ["OK", "TICKS_UNKNOWN", "amount_out", "swap", "swap_kernel"]

#: Status of a swap that needs ticks beyond the known bitmap words.
TICKS_UNKNOWN = 100
_Z = uint64(0)
_ZERO = (_Z, _Z, _Z, _Z)


@njit(cache=True)
def _bisect_right(ticks, n, value):
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if value < ticks[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def _bisect_left(ticks, n, value):
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if ticks[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def next_initialized_tick(tick, lte, spacing, ticks, n_ticks, word_lo, word_hi):
    """TickBitmap.nextInitializedTickWithinOneWord over the known ticks (v3-core
    ``contracts/libraries/TickBitmap.sol``): ``(known, next_tick, index, word)``.

    ``index`` is the position of ``next_tick`` in ``ticks`` when it is initialized, else -1;
    ``known`` is False (and ``word`` the word needed) when the word is outside the known range.
    """
    compressed = tick // spacing  # floor, as the Solidity's "round towards negative infinity"
    if lte:
        word = compressed >> 8
        if word < word_lo or word > word_hi:
            return False, 0, -1, word
        i = _bisect_right(ticks, n_ticks, compressed * spacing) - 1
        if i >= 0 and ticks[i] >= (word << 8) * spacing:
            return True, np.int64(ticks[i]), i, word
        return True, (word << 8) * spacing, -1, word
    start = compressed + 1
    word = start >> 8
    if word < word_lo or word > word_hi:
        return False, 0, -1, word
    i = _bisect_left(ticks, n_ticks, start * spacing)
    if i < n_ticks and ticks[i] <= ((word << 8) + 255) * spacing:
        return True, np.int64(ticks[i]), i, word
    return True, ((word << 8) + 255) * spacing, -1, word


@njit(cache=True)
def _cross(liquidity, lo, hi, negate):
    """LiquidityMath.addDelta (v3-core ``contracts/libraries/LiquidityMath.sol``) of the
    int128 ``hi * 2**64 + lo`` (negated when ``negate``): ``(code, liquidity)``."""
    ext = uint64(0xFFFFFFFFFFFFFFFF) if hi < 0 else _Z
    delta = (lo, uint64(hi), ext, ext)
    total = sub(liquidity, delta) if negate else add(liquidity, delta)
    if total[3] >> uint64(63):
        return LIQUIDITY_SUB, liquidity
    if total[2] or total[3]:
        return LIQUIDITY_ADD, liquidity
    return OK, total


@njit(cache=True)
def swap_kernel(sqrt_price, tick, liquidity, fee_pips, tick_spacing, ticks, net_lo, net_hi,
                n_ticks, word_lo, word_hi, zero_for_one, amount_specified, sqrt_price_limit):
    """UniswapV3Pool.swap (v3-core ``contracts/UniswapV3Pool.sol``) over the arrays described
    in the module docstring: ``(status, amount0, amount1, sqrt_price, tick, liquidity, steps)``."""
    price = sqrt_price
    limit = sqrt_price_limit
    if is_zero(amount_specified):
        return ZERO_AMOUNT, _ZERO, _ZERO, price, tick, liquidity, 0
    if zero_for_one:
        bad_limit = not (lt(MIN_SQRT, limit) and lt(limit, price))
    else:
        bad_limit = not (lt(price, limit) and lt(limit, MAX_SQRT))
    if bad_limit:
        return PRICE_LIMIT, _ZERO, _ZERO, price, tick, liquidity, 0
    exact_in = amount_specified[3] >> uint64(63) == 0
    specified = amount_specified if exact_in else sub(_ZERO, amount_specified)  # magnitude
    remaining = specified
    calculated = _ZERO  # magnitude: paid out (exact input) or paid in (exact output)
    steps = 0
    while not is_zero(remaining) and price != limit:
        start = price
        known, tick_next, index, word = next_initialized_tick(
            tick, zero_for_one, tick_spacing, ticks, n_ticks, word_lo, word_hi)
        if not known:
            return TICKS_UNKNOWN, _ZERO, _ZERO, price, word, liquidity, steps
        tick_next = max(MIN_TICK, min(MAX_TICK, tick_next))
        price_next = sqrt_ratio_at_tick(tick_next)
        beyond = lt(price_next, limit) if zero_for_one else lt(limit, price_next)
        target = limit if beyond else price_next
        code, price, step_in, step_out, fee = compute_swap_step(
            price, target, liquidity, remaining, exact_in, fee_pips)
        steps += 1
        if code != OK:
            return code, _ZERO, _ZERO, price, tick, liquidity, steps
        if exact_in:
            remaining = sub(remaining, add(step_in, fee))
            calculated = add(calculated, step_out)
        else:
            remaining = sub(remaining, step_out)
            calculated = add(calculated, add(step_in, fee))
        if price == price_next:
            if index >= 0:
                code, liquidity = _cross(liquidity, net_lo[index], net_hi[index], zero_for_one)
                if code != OK:
                    return code, _ZERO, _ZERO, price, tick, liquidity, steps
            tick = tick_next - 1 if zero_for_one else tick_next
        elif price != start:
            code, tick = tick_at_sqrt_ratio(price)
            if code != OK:
                return code, _ZERO, _ZERO, price, tick, liquidity, steps
    used = sub(specified, remaining)
    if exact_in:
        calculated = sub(_ZERO, calculated)
    else:
        used = sub(_ZERO, used)
    if zero_for_one == exact_in:
        return OK, used, calculated, price, tick, liquidity, steps
    return OK, calculated, used, price, tick, liquidity, steps


# --- Python facade ------------------------------------------------------------------------------

_WORDS = struct.Struct("<6q")
#: The words ``_swap_packed`` writes back: four results' limbs, the tick (signed), the steps.
_OUT = struct.Struct("<16Qqq")
_PAD12, _PAD16 = bytes(12), bytes(16)
_CACHE_SIZE = 256
#: Bounds of the facade's kernel path (int24 spacings, ticks whose tick-bitmap arithmetic
#: stays far inside int64); anything else goes to the reference.
_MAX_SPACING, _TICK_BOUND = 2**23, 2**31
_cache: dict[int, tuple[object, object, tuple[np.ndarray, np.ndarray, np.ndarray] | None]] = {}


@njit(cache=True)
def _swap_packed(buf, ticks, net_lo, net_hi):
    """:func:`swap_kernel` with its scalars in one bytearray of uint64 words, for one cheap call
    from Python.

    In: price, liquidity, amount and limit limbs (words 0-15), then tick, fee, spacing,
    word_lo, word_hi and zero_for_one. Out, over the same words: amount0, amount1, price and
    liquidity limbs, then tick and steps. Returns the status.
    """
    w = np.frombuffer(buf, dtype=np.uint64)
    status, a0, a1, price, tick, liquidity, steps = swap_kernel(
        (w[0], w[1], w[2], w[3]), np.int64(w[16]), (w[4], w[5], w[6], w[7]), np.int64(w[17]),
        np.int64(w[18]), ticks, net_lo, net_hi, ticks.shape[0], np.int64(w[19]), np.int64(w[20]),
        w[21] != 0, (w[8], w[9], w[10], w[11]), (w[12], w[13], w[14], w[15]))
    for i in range(4):
        w[i] = a0[i]
        w[4 + i] = a1[i]
        w[8 + i] = price[i]
        w[12 + i] = liquidity[i]
    w[16] = uint64(tick)
    w[17] = uint64(steps)
    return status


def _arrays(pool: V3Pool) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The pool's ticks as kernel arrays (cached), or None when a value does not fit them."""
    entry = _cache.get(id(pool.ticks))
    if entry is not None and entry[0] is pool.ticks and entry[1] is pool.net:
        return entry[2]
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    nets = [pool.net[t] for t in pool.ticks]
    if all(-(2**31) <= t < 2**31 for t in pool.ticks) and all(-(2**127) <= v < 2**127 for v in nets):
        arrays = (np.array(pool.ticks, dtype=np.int32),
                  np.array([v & 0xFFFFFFFFFFFFFFFF for v in nets], dtype=np.uint64),
                  np.array([v >> 64 for v in nets], dtype=np.int64))
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[id(pool.ticks)] = (pool.ticks, pool.net, arrays)
    return arrays


def swap(pool: V3Pool, zero_for_one: bool, amount_specified: int,
         sqrt_price_limit_x96: int | None = None) -> SwapResult:
    """UniswapV3Pool.swap, compiled: the same result as
    :func:`contracts.swapmath.pools.v3_swap` (exact input when ``amount_specified`` > 0,
    exact output when < 0).

    Raises
    ------
    SwapReverted
        Where the pool reverts, with the reference's reason text.
    TicksUnknown
        The swap needs initialized ticks beyond the known bitmap words.
    """
    limit = default_limit(zero_for_one) if sqrt_price_limit_x96 is None else sqrt_price_limit_x96
    arrays = _arrays(pool)
    try:
        packed = bytearray().join((
            pool.sqrt_price_x96.to_bytes(20, "little"), _PAD12,
            pool.liquidity.to_bytes(16, "little"), _PAD16,
            amount_specified.to_bytes(32, "little", signed=True),
            limit.to_bytes(20, "little"), _PAD12,
            _WORDS.pack(pool.tick, pool.fee, pool.tick_spacing, pool.word_lo, pool.word_hi,
                        zero_for_one)))
    except (OverflowError, struct.error):
        packed = bytearray()
    if arrays is None or not packed or not (0 <= pool.fee < FEE_DENOMINATOR
                                            and 0 < pool.tick_spacing < _MAX_SPACING
                                            and -_TICK_BOUND < pool.tick < _TICK_BOUND):
        return v3_swap(pool, zero_for_one, amount_specified, sqrt_price_limit_x96)
    status = _swap_packed(packed, *arrays)
    w = _OUT.unpack_from(packed)
    tick = w[16]
    if status == OK:
        a0 = w[0] | w[1] << 64 | w[2] << 128 | w[3] << 192
        a1 = w[4] | w[5] << 64 | w[6] << 128 | w[7] << 192
        return SwapResult(a0 - (w[3] >> 63 << 256), a1 - (w[7] >> 63 << 256),
                          w[8] | w[9] << 64 | w[10] << 128, tick, w[12] | w[13] << 64)
    if status == TICKS_UNKNOWN:
        raise TicksUnknown(f"pool {pool.address}: bitmap word {tick} outside the known "
                           f"[{pool.word_lo}, {pool.word_hi}]")
    if status == TICK_RANGE:
        raise SwapReverted(REASONS[TICK_RANGE].format(w[8] | w[9] << 64 | w[10] << 128 | w[11] << 192))
    raise SwapReverted(REASONS[status])


def amount_out(pool: V3Pool, zero_for_one: bool, amount_in: int) -> int:
    """Output of an exact-input swap with the loosest price limit (0 for no input), as
    :func:`contracts.swapmath.pools.v3_amount_out`."""
    if amount_in <= 0:
        return 0
    return swap(pool, zero_for_one, amount_in).amount_out(zero_for_one)
