"""The v3-core math libraries as numba kernels over :mod:`contracts.swapmath.u256` values.

The compiled twin of :mod:`contracts.swapmath.libs`: ``TickMath``, ``SqrtPriceMath`` and
``SwapMath.computeSwapStep`` of v3-core 1.0 (Solidity 0.7.6), taking the same branches and
rounding the same way, so both give the pool's own results to the last unit (the tests compare
them on random inputs). Prices, liquidity and amounts are ``U256`` limb tuples.

Where the Solidity reverts, a function returns a non-zero code instead of a value: the codes are
the indexes of :data:`REASONS`, the texts :mod:`contracts.swapmath.libs` raises
:class:`~contracts.swapmath.libs.SwapReverted` with (the tick-range text takes the price:
``REASONS[TICK_RANGE].format(price)``). Thread safety: pure functions.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types, uint64

from contracts.swapmath.u256 import (
    MULDIV_OVERFLOW,
    MULDIV_UP_OVERFLOW,
    OK,
    U256,
    add,
    add_carry,
    clz,
    div_floor,
    div_rounding_up,
    is_zero,
    le,
    lt,
    mul,
    mul_128,
    mul_div,
    mul_div_rounding_up,
    mul_full,
    sar,
    shl,
    shr,
    sub,
)
from contracts.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

#: Revert reasons by code; 1-3 are :mod:`contracts.swapmath.u256`'s FullMath codes.
REASONS = (
    "",
    "mulDiv by zero",
    "mulDiv overflow",
    "mulDivRoundingUp overflow",
    "getNextSqrtPriceFromAmount0RoundingUp: add overflow",
    "getNextSqrtPriceFromAmount0RoundingUp: output exceeds the reserve",
    "getNextSqrtPriceFromAmount1RoundingDown: add overflow",
    "getNextSqrtPriceFromAmount1RoundingDown: output exceeds the reserve",
    "getNextSqrtPriceFromInput: zero price or liquidity",
    "getNextSqrtPriceFromOutput: zero price or liquidity",
    "getAmount0Delta: zero price",
    "sqrt price exceeds uint160",
    "sqrt price {} outside TickMath's range",
    "AS",
    "SPL",
    "LS",
    "LA",
)
(AMOUNT0_ADD_OVERFLOW, AMOUNT0_RESERVE, AMOUNT1_ADD_OVERFLOW, AMOUNT1_RESERVE, INPUT_ZERO,
 OUTPUT_ZERO, AMOUNT0_ZERO_PRICE, UINT160, TICK_RANGE, ZERO_AMOUNT, PRICE_LIMIT,
 LIQUIDITY_SUB, LIQUIDITY_ADD) = range(4, len(REASONS))

#: The argument types of the SqrtPriceMath functions: explicit, so that calls with a literal
#: ``True``/``False`` do not compile one more specialization each.
_PRICE_SIG = (U256, U256, U256, types.boolean)
_Z = uint64(0)
_ONES = uint64(0xFFFFFFFFFFFFFFFF)
MAX_UINT160 = (_ONES, _ONES, uint64(0xFFFFFFFF), _Z)
MAX_UINT256 = (_ONES, _ONES, _ONES, _ONES)
MIN_SQRT = (uint64(MIN_SQRT_RATIO), _Z, _Z, _Z)
MAX_SQRT = (uint64(MAX_SQRT_RATIO & 0xFFFFFFFFFFFFFFFF), uint64((MAX_SQRT_RATIO >> 64) & 0xFFFFFFFFFFFFFFFF),
            uint64(MAX_SQRT_RATIO >> 128), _Z)
Q96 = (_Z, uint64(1 << 32), _Z, _Z)
FEE_DENOMINATOR = 10**6
#: TickMath.getSqrtRatioAtTick's factors for bits 0..19 of |tick| as (low, high) u64 halves.
_FACTORS = np.array([[f & 0xFFFFFFFFFFFFFFFF, f >> 64] for f in (
    0xFFFCB933BD6FAD37AA2D162D1A594001, 0xFFF97272373D413259A46990580E213A,
    0xFFF2E50F5F656932EF12357CF3C7FDCC, 0xFFE5CACA7E10E4E61C3624EAA0941CD0,
    0xFFCB9843D60F6159C9DB58835C926644, 0xFF973B41FA98C081472E6896DFB254C0,
    0xFF2EA16466C96A3843EC78B326B52861, 0xFE5DEE046A99A2A811C461F1969C3053,
    0xFCBE86C7900A88AEDCFFC83B479AA3A4, 0xF987A7253AC413176F2B074CF7815E54,
    0xF3392B0822B70005940C7A398E4B70F3, 0xE7159475A2C29B7443B29C7FA6E889D9,
    0xD097F3BDFD2022B8845AD8F792AA5825, 0xA9F746462D870FDF8A65DC1F90E061E5,
    0x70D869A156D2A1B890BB3DF62BAF32F7, 0x31BE135F97D08FD981231505542FCFA6,
    0x9AA508B5B7A84E1C677DE54F3E99BC9, 0x5D6AF8DEDB81196699C329225EE604,
    0x2216E584F5FA1EA926041BEDFE98, 0x48A170391F7DC42444E8FA2)], dtype=np.uint64)
#: TickMath.getTickAtSqrtRatio's constants: log_sqrt(1.0001)(2) * 2**64 and the error bounds.
_LOG_SQRT10001 = (uint64(255738958999603826347141 & 0xFFFFFFFFFFFFFFFF),
                  uint64(255738958999603826347141 >> 64), _Z, _Z)
_TICK_LOW_ERR = (uint64(3402992956809132418596140100660247210 & 0xFFFFFFFFFFFFFFFF),
                 uint64(3402992956809132418596140100660247210 >> 64), _Z, _Z)
_TICK_HI_ERR = (uint64(291339464771989622907027621153398088495 & 0xFFFFFFFFFFFFFFFF),
                uint64(291339464771989622907027621153398088495 >> 64), _Z, _Z)


@njit(cache=True)
def sqrt_ratio_at_tick(tick):
    """TickMath.getSqrtRatioAtTick for a tick in [MIN_TICK, MAX_TICK] (v3-core
    ``contracts/libraries/TickMath.sol``): sqrt(1.0001**tick) * 2**96, rounded up."""
    abs_tick = tick if tick >= 0 else -tick
    # ratio = 2**128 (129 bits) until the first factor: (2**128 * f) >> 128 is f itself, and
    # every later ratio fits 128 bits, so the products need only mul_128
    one = (abs_tick & 1) == 0
    ratio = (_FACTORS[0, 0], _FACTORS[0, 1], _Z, _Z)
    for bit in range(1, 20):
        if abs_tick & (1 << bit):
            factor = (_FACTORS[bit, 0], _FACTORS[bit, 1], _Z, _Z)
            ratio = factor if one else shr(mul_128(ratio, factor), 128)
            one = False
    if one:
        ratio = (_Z, _Z, uint64(1), _Z)
    if tick > 0:
        ratio = div_floor(MAX_UINT256, ratio)
    return add(shr(ratio, 32), (uint64((ratio[0] & uint64(0xFFFFFFFF)) != 0), _Z, _Z, _Z))


@njit(cache=True)
def tick_at_sqrt_ratio(price):
    """TickMath.getTickAtSqrtRatio (v3-core ``contracts/libraries/TickMath.sol``): ``(code,
    tick)``, the greatest tick whose ratio is at most ``price``; :data:`TICK_RANGE` outside
    [MIN_SQRT_RATIO, MAX_SQRT_RATIO)."""
    if lt(price, MIN_SQRT) or not lt(price, MAX_SQRT):
        return TICK_RANGE, 0
    ratio = shl(price, 32)
    msb = 255 - clz(ratio)
    r = shr(ratio, msb - 127) if msb >= 128 else shl(ratio, 127 - msb)
    # log_2 = (msb - 128) << 64 as an int256; its fraction bits are ORed in below
    whole = msb - 128
    ext = _ONES if whole < 0 else _Z
    frac = _Z
    for bit in range(63, 49, -1):
        r = shr(mul_128(r, r), 127)  # r < 2**128 here
        f = r[2] & uint64(1)  # r >> 128
        frac |= f << uint64(bit)
        r = shr(r, f)
    log_2 = (frac, uint64(whole), ext, ext)
    log_sqrt10001 = mul(log_2, _LOG_SQRT10001)  # wraps as int256 does; the product fits
    tick_low = np.int64(sar(sub(log_sqrt10001, _TICK_LOW_ERR), 128)[0])
    tick_hi = np.int64(sar(add(log_sqrt10001, _TICK_HI_ERR), 128)[0])
    if tick_low == tick_hi or not le(sqrt_ratio_at_tick(tick_hi), price):
        return OK, tick_low
    return OK, tick_hi


@njit(cache=True, inline="always")
def _uint160(value):
    """The low 160 bits (Solidity's ``uint160(...)`` cast)."""
    return (value[0], value[1], value[2] & uint64(0xFFFFFFFF), _Z)


@njit(_PRICE_SIG, cache=True)
def next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount, add_):
    """SqrtPriceMath.getNextSqrtPriceFromAmount0RoundingUp with its overflow fallbacks (v3-core
    ``contracts/libraries/SqrtPriceMath.sol``): ``(code, price)``."""
    if is_zero(amount):
        return OK, sqrt_px96
    numerator1 = shl(liquidity, 96)
    product, product_hi = mul_full(amount, sqrt_px96)
    fits = is_zero(product_hi)
    if add_:
        if fits:
            denominator, carry = add_carry(numerator1, product)
            if not carry:
                code, price = mul_div_rounding_up(numerator1, sqrt_px96, denominator)
                return code, _uint160(price)
        denominator, carry = add_carry(div_floor(numerator1, sqrt_px96), amount)
        if carry:
            return AMOUNT0_ADD_OVERFLOW, denominator
        return OK, _uint160(div_rounding_up(numerator1, denominator))
    if not fits or not lt(product, numerator1):
        return AMOUNT0_RESERVE, product
    code, price = mul_div_rounding_up(numerator1, sqrt_px96, sub(numerator1, product))
    if code == OK and lt(MAX_UINT160, price):
        return UINT160, price
    return code, price


@njit(_PRICE_SIG, cache=True)
def next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount, add_):
    """SqrtPriceMath.getNextSqrtPriceFromAmount1RoundingDown (v3-core
    ``contracts/libraries/SqrtPriceMath.sol``): ``(code, price)``; ``liquidity`` is non-zero."""
    small = le(amount, MAX_UINT160)
    if add_:
        if small:
            code, quotient = OK, div_floor(shl(amount, 96), liquidity)
        else:
            code, quotient = mul_div(amount, Q96, liquidity)
        if code != OK:
            return code, quotient
        total, carry = add_carry(sqrt_px96, quotient)
        if carry:
            return AMOUNT1_ADD_OVERFLOW, total
        if lt(MAX_UINT160, total):
            return UINT160, total
        return OK, total
    if small:
        code, quotient = OK, div_rounding_up(shl(amount, 96), liquidity)
    else:
        code, quotient = mul_div_rounding_up(amount, Q96, liquidity)
    if code != OK:
        return code, quotient
    if le(sqrt_px96, quotient):
        return AMOUNT1_RESERVE, quotient
    return OK, sub(sqrt_px96, quotient)


@njit(_PRICE_SIG, cache=True)
def next_sqrt_price_from_input(sqrt_px96, liquidity, amount_in, zero_for_one):
    """SqrtPriceMath.getNextSqrtPriceFromInput (v3-core ``contracts/libraries/SqrtPriceMath.sol``)."""
    if is_zero(sqrt_px96) or is_zero(liquidity):
        return INPUT_ZERO, sqrt_px96
    if zero_for_one:
        return next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_in, True)
    return next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_in, True)


@njit(_PRICE_SIG, cache=True)
def next_sqrt_price_from_output(sqrt_px96, liquidity, amount_out, zero_for_one):
    """SqrtPriceMath.getNextSqrtPriceFromOutput (v3-core ``contracts/libraries/SqrtPriceMath.sol``)."""
    if is_zero(sqrt_px96) or is_zero(liquidity):
        return OUTPUT_ZERO, sqrt_px96
    if zero_for_one:
        return next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_out, False)
    return next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_out, False)


@njit(_PRICE_SIG, cache=True)
def amount0_delta(sqrt_a, sqrt_b, liquidity, round_up):
    """SqrtPriceMath.getAmount0Delta, unsigned (v3-core ``contracts/libraries/SqrtPriceMath.sol``):
    ``(code, amount)`` of token0 between two prices for ``liquidity``."""
    if lt(sqrt_b, sqrt_a):
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if is_zero(sqrt_a):
        return AMOUNT0_ZERO_PRICE, sqrt_a
    numerator1 = shl(liquidity, 96)
    numerator2 = sub(sqrt_b, sqrt_a)
    if round_up:
        code, x = mul_div_rounding_up(numerator1, numerator2, sqrt_b)
        return code, div_rounding_up(x, sqrt_a)
    code, x = mul_div(numerator1, numerator2, sqrt_b)
    return code, div_floor(x, sqrt_a)


@njit(_PRICE_SIG, cache=True)
def amount1_delta(sqrt_a, sqrt_b, liquidity, round_up):
    """SqrtPriceMath.getAmount1Delta, unsigned (v3-core ``contracts/libraries/SqrtPriceMath.sol``):
    ``mulDiv(liquidity, |b - a|, Q96)``, rounded up or down; the division by 2**96 is a shift."""
    if lt(sqrt_b, sqrt_a):
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    lo, hi = mul_full(liquidity, sub(sqrt_b, sqrt_a))
    if hi[1] >> uint64(32) or hi[2] or hi[3]:  # quotient >= 2**256
        return MULDIV_OVERFLOW, lo
    q = (lo[1] >> uint64(32) | lo[2] << uint64(32), lo[2] >> uint64(32) | lo[3] << uint64(32),
         lo[3] >> uint64(32) | hi[0] << uint64(32), hi[0] >> uint64(32) | hi[1] << uint64(32))
    if round_up and (lo[0] or lo[1] & uint64(0xFFFFFFFF)):
        if q == MAX_UINT256:
            return MULDIV_UP_OVERFLOW, q
        q = add(q, (uint64(1), _Z, _Z, _Z))
    return OK, q


@njit((U256, U256, U256, U256, types.boolean, types.int64), cache=True)
def compute_swap_step(current, target, liquidity, remaining, exact_in, fee_pips):
    """SwapMath.computeSwapStep (v3-core ``contracts/libraries/SwapMath.sol``).

    ``remaining`` is the magnitude of ``amountRemaining`` (an input left to spend, fee included,
    when ``exact_in``; an output left to receive otherwise). Returns ``(code, sqrt_next,
    amount_in, amount_out, fee_amount)``.
    """
    zero = (_Z, _Z, _Z, _Z)
    zero_for_one = le(target, current)
    amount_in = zero
    amount_out = zero
    if exact_in:
        code, less_fee = mul_div(remaining, (uint64(FEE_DENOMINATOR - fee_pips), _Z, _Z, _Z),
                                 (uint64(FEE_DENOMINATOR), _Z, _Z, _Z))
        if code != OK:
            return code, current, zero, zero, zero
        if zero_for_one:
            code, amount_in = amount0_delta(target, current, liquidity, True)
        else:
            code, amount_in = amount1_delta(current, target, liquidity, True)
        if code != OK:
            return code, current, zero, zero, zero
        if le(amount_in, less_fee):
            code, nxt = OK, target
        else:
            code, nxt = next_sqrt_price_from_input(current, liquidity, less_fee, zero_for_one)
    else:
        if zero_for_one:
            code, amount_out = amount1_delta(target, current, liquidity, False)
        else:
            code, amount_out = amount0_delta(current, target, liquidity, False)
        if code != OK:
            return code, current, zero, zero, zero
        if le(amount_out, remaining):
            code, nxt = OK, target
        else:
            code, nxt = next_sqrt_price_from_output(current, liquidity, remaining, zero_for_one)
    if code != OK:
        return code, current, zero, zero, zero
    reached = nxt == target
    if not (reached and exact_in):
        if zero_for_one:
            code, amount_in = amount0_delta(nxt, current, liquidity, True)
        else:
            code, amount_in = amount1_delta(current, nxt, liquidity, True)
        if code != OK:
            return code, current, zero, zero, zero
    if not (reached and not exact_in):
        if zero_for_one:
            code, amount_out = amount1_delta(nxt, current, liquidity, False)
        else:
            code, amount_out = amount0_delta(current, nxt, liquidity, False)
        if code != OK:
            return code, current, zero, zero, zero
    if not exact_in and lt(remaining, amount_out):
        amount_out = remaining
    if exact_in and not reached:
        fee_amount = sub(remaining, amount_in)
    else:
        code, fee_amount = mul_div_rounding_up(amount_in, (uint64(fee_pips), _Z, _Z, _Z),
                                               (uint64(FEE_DENOMINATOR - fee_pips), _Z, _Z, _Z))
    return code, nxt, amount_in, amount_out, fee_amount
