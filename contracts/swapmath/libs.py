"""The Uniswap V3 math libraries in exact Python integers, rounding as the Solidity does.

One function per library function of v3-core 1.0 (Solidity 0.7.6, so arithmetic wraps unless
the library checks it): ``FullMath.mulDiv``/``mulDivRoundingUp``, ``UnsafeMath.divRoundingUp``,
``TickMath.getTickAtSqrtRatio`` (``getSqrtRatioAtTick`` is :func:`contracts.v3math.sqrt_ratio_at_tick`),
the ``SqrtPriceMath`` functions and ``SwapMath.computeSwapStep``. Where the Solidity reverts, these
raise :class:`SwapReverted`; where it silently wraps or truncates (the overflow fallbacks of
``getNextSqrtPriceFromAmount0RoundingUp``), these take the same branch, so every result is the
pool's own to the last unit.
"""

from __future__ import annotations

import math

from alphapulse.errors import ChainError
from contracts.v3math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick

UINT256 = 2**256
MAX_UINT160 = 2**160 - 1
MAX_UINT128 = 2**128 - 1
Q96 = 2**96
#: Fees are in hundredths of a basis point (millionths): SwapMath's ``1e6``.
FEE_DENOMINATOR = 10**6


class SwapReverted(ChainError):
    """The Solidity library would revert on these arguments (overflow, zero liquidity, bad price)."""

    kind = "swap_math"


def mul_div(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDiv: floor(a * b / denominator), reverting when the result needs > 256 bits."""
    if denominator <= 0:
        raise SwapReverted("mulDiv by zero")
    result = a * b // denominator
    if result >= UINT256:
        raise SwapReverted("mulDiv overflow")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDivRoundingUp: ceil(a * b / denominator), reverting above 2**256 - 1."""
    result = mul_div(a, b, denominator)
    if a * b % denominator:
        if result >= UINT256 - 1:
            raise SwapReverted("mulDivRoundingUp overflow")
        result += 1
    return result


def div_rounding_up(x: int, y: int) -> int:
    """UnsafeMath.divRoundingUp: ceil(x / y) (0 when y is 0, as the EVM's DIV)."""
    if y == 0:
        return 0
    return -(-x // y)


def tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """TickMath.getTickAtSqrtRatio: the greatest tick whose sqrt ratio is at most the price.

    The Solidity approximates log2 and then picks between two candidates with
    ``getSqrtRatioAtTick``, so its answer is exactly this definition; here a float estimate is
    corrected with the same exact ``getSqrtRatioAtTick``.
    """
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise SwapReverted(f"sqrt price {sqrt_price_x96} outside TickMath's range")
    estimate = math.floor(2 * (math.log2(sqrt_price_x96) - 96) / math.log2(1.0001))
    tick = max(MIN_TICK, min(MAX_TICK - 1, estimate))
    while tick > MIN_TICK and sqrt_ratio_at_tick(tick) > sqrt_price_x96:
        tick -= 1
    while tick < MAX_TICK and sqrt_ratio_at_tick(tick + 1) <= sqrt_price_x96:
        tick += 1
    return tick


def _to_uint160(value: int) -> int:
    """SafeCast.toUint160."""
    if value > MAX_UINT160:
        raise SwapReverted("sqrt price exceeds uint160")
    return value


def next_sqrt_price_from_amount0_rounding_up(sqrt_px96: int, liquidity: int, amount: int, add: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromAmount0RoundingUp, overflow branches included."""
    if amount == 0:
        return sqrt_px96
    numerator1 = liquidity << 96
    product = amount * sqrt_px96
    if add:
        if product < UINT256 and numerator1 + product < UINT256:
            return mul_div_rounding_up(numerator1, sqrt_px96, numerator1 + product) & MAX_UINT160
        denominator = numerator1 // sqrt_px96 + amount
        if denominator >= UINT256:
            raise SwapReverted("getNextSqrtPriceFromAmount0RoundingUp: add overflow")
        return div_rounding_up(numerator1, denominator) & MAX_UINT160
    if product >= UINT256 or numerator1 <= product:
        raise SwapReverted("getNextSqrtPriceFromAmount0RoundingUp: output exceeds the reserve")
    return _to_uint160(mul_div_rounding_up(numerator1, sqrt_px96, numerator1 - product))


def next_sqrt_price_from_amount1_rounding_down(sqrt_px96: int, liquidity: int, amount: int, add: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromAmount1RoundingDown."""
    if add:
        quotient = (amount << 96) // liquidity if amount <= MAX_UINT160 else mul_div(amount, Q96, liquidity)
        total = sqrt_px96 + quotient
        if total >= UINT256:
            raise SwapReverted("getNextSqrtPriceFromAmount1RoundingDown: add overflow")
        return _to_uint160(total)
    quotient = (div_rounding_up(amount << 96, liquidity) if amount <= MAX_UINT160
                else mul_div_rounding_up(amount, Q96, liquidity))
    if sqrt_px96 <= quotient:
        raise SwapReverted("getNextSqrtPriceFromAmount1RoundingDown: output exceeds the reserve")
    return sqrt_px96 - quotient


def next_sqrt_price_from_input(sqrt_px96: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromInput."""
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise SwapReverted("getNextSqrtPriceFromInput: zero price or liquidity")
    if zero_for_one:
        return next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_in, True)
    return next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_in, True)


def next_sqrt_price_from_output(sqrt_px96: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromOutput."""
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise SwapReverted("getNextSqrtPriceFromOutput: zero price or liquidity")
    if zero_for_one:
        return next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_out, False)
    return next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_out, False)


def amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount0Delta (unsigned): token0 between two prices for ``liquidity``."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_a <= 0:
        raise SwapReverted("getAmount0Delta: zero price")
    numerator1, numerator2 = liquidity << 96, sqrt_b - sqrt_a
    if round_up:
        return div_rounding_up(mul_div_rounding_up(numerator1, numerator2, sqrt_b), sqrt_a)
    return mul_div(numerator1, numerator2, sqrt_b) // sqrt_a


def amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount1Delta (unsigned): token1 between two prices for ``liquidity``."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_b - sqrt_a, Q96)
    return mul_div(liquidity, sqrt_b - sqrt_a, Q96)


def amount0_delta_signed(sqrt_a: int, sqrt_b: int, liquidity_delta: int) -> int:
    """SqrtPriceMath.getAmount0Delta (signed): what a mint pays (> 0) or a burn frees (< 0)."""
    if liquidity_delta < 0:
        return -amount0_delta(sqrt_a, sqrt_b, -liquidity_delta, False)
    return amount0_delta(sqrt_a, sqrt_b, liquidity_delta, True)


def amount1_delta_signed(sqrt_a: int, sqrt_b: int, liquidity_delta: int) -> int:
    """SqrtPriceMath.getAmount1Delta (signed)."""
    if liquidity_delta < 0:
        return -amount1_delta(sqrt_a, sqrt_b, -liquidity_delta, False)
    return amount1_delta(sqrt_a, sqrt_b, liquidity_delta, True)


def compute_swap_step(sqrt_current: int, sqrt_target: int, liquidity: int, amount_remaining: int,
                      fee_pips: int) -> tuple[int, int, int, int]:
    """SwapMath.computeSwapStep: one step towards ``sqrt_target`` within constant liquidity.

    ``amount_remaining`` > 0 is an exact input left to spend (fee included), < 0 an exact output
    left to receive. Returns ``(sqrt_next, amount_in, amount_out, fee_amount)``.
    """
    zero_for_one = sqrt_current >= sqrt_target
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        less_fee = mul_div(amount_remaining, FEE_DENOMINATOR - fee_pips, FEE_DENOMINATOR)
        amount_in = (amount0_delta(sqrt_target, sqrt_current, liquidity, True) if zero_for_one
                     else amount1_delta(sqrt_current, sqrt_target, liquidity, True))
        if less_fee >= amount_in:
            sqrt_next = sqrt_target
        else:
            sqrt_next = next_sqrt_price_from_input(sqrt_current, liquidity, less_fee, zero_for_one)
    else:
        amount_out = (amount1_delta(sqrt_target, sqrt_current, liquidity, False) if zero_for_one
                      else amount0_delta(sqrt_current, sqrt_target, liquidity, False))
        if -amount_remaining >= amount_out:
            sqrt_next = sqrt_target
        else:
            sqrt_next = next_sqrt_price_from_output(sqrt_current, liquidity, -amount_remaining, zero_for_one)
    reached = sqrt_target == sqrt_next
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = amount0_delta(sqrt_next, sqrt_current, liquidity, True)
        if not (reached and not exact_in):
            amount_out = amount1_delta(sqrt_next, sqrt_current, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = amount1_delta(sqrt_current, sqrt_next, liquidity, True)
        if not (reached and not exact_in):
            amount_out = amount0_delta(sqrt_current, sqrt_next, liquidity, False)
    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining
    if exact_in and sqrt_next != sqrt_target:
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, FEE_DENOMINATOR - fee_pips)
    return sqrt_next, amount_in, amount_out, fee_amount
