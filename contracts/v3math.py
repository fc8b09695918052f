"""Uniswap V2 and V3 price math in exact integers.

Ported from v2-core ``UniswapV2Library.getAmountOut`` (v2-periphery) and v3-core
``libraries/TickMath.sol`` (constants and ``getSqrtRatioAtTick``).
"""

from __future__ import annotations

import math
from fractions import Fraction

#: TickMath.MIN_TICK / MAX_TICK (v3-core libraries/TickMath.sol).
MIN_TICK = -887272
MAX_TICK = 887272
#: TickMath.MIN_SQRT_RATIO / MAX_SQRT_RATIO.
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342

_TICK_FACTORS = (
    0xFFF97272373D413259A46990580E213A, 0xFFF2E50F5F656932EF12357CF3C7FDCC, 0xFFE5CACA7E10E4E61C3624EAA0941CD0,
    0xFFCB9843D60F6159C9DB58835C926644, 0xFF973B41FA98C081472E6896DFB254C0, 0xFF2EA16466C96A3843EC78B326B52861,
    0xFE5DEE046A99A2A811C461F1969C3053, 0xFCBE86C7900A88AEDCFFC83B479AA3A4, 0xF987A7253AC413176F2B074CF7815E54,
    0xF3392B0822B70005940C7A398E4B70F3, 0xE7159475A2C29B7443B29C7FA6E889D9, 0xD097F3BDFD2022B8845AD8F792AA5825,
    0xA9F746462D870FDF8A65DC1F90E061E5, 0x70D869A156D2A1B890BB3DF62BAF32F7, 0x31BE135F97D08FD981231505542FCFA6,
    0x9AA508B5B7A84E1C677DE54F3E99BC9, 0x5D6AF8DEDB81196699C329225EE604, 0x2216E584F5FA1EA926041BEDFE98,
    0x48A170391F7DC42444E8FA2,
)


def sqrt_ratio_at_tick(tick: int) -> int:
    """TickMath.getSqrtRatioAtTick: sqrt(1.0001^tick) * 2^96, rounded up as the Solidity does."""
    if not MIN_TICK <= tick <= MAX_TICK:
        raise ValueError(f"tick {tick} outside [{MIN_TICK}, {MAX_TICK}]")
    abs_tick = abs(tick)
    ratio = 0xFFFCB933BD6FAD37AA2D162D1A594001 if abs_tick & 1 else 1 << 128
    for bit, factor in enumerate(_TICK_FACTORS, start=1):
        if abs_tick & (1 << bit):
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = (2**256 - 1) // ratio
    return (ratio >> 32) + (0 if ratio % (1 << 32) == 0 else 1)


def sqrt_price_x96(price: Fraction) -> int:
    """floor(sqrt(price) * 2^96) for a raw-unit price of token0 in token1."""
    return math.isqrt(price.numerator * 2**192 // price.denominator)


def tick_at_price(price: Fraction) -> int:
    """The greatest tick whose sqrt ratio does not exceed ``sqrt_price_x96(price)``."""
    target = sqrt_price_x96(price)
    tick = math.floor(math.log(price.numerator / price.denominator) / math.log(1.0001))
    while sqrt_ratio_at_tick(tick) > target:
        tick -= 1
    while sqrt_ratio_at_tick(tick + 1) <= target:
        tick += 1
    return tick


def v2_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """UniswapV2Library.getAmountOut with the fee in basis points (30 = Uniswap V2's 997/1000)."""
    if amount_in <= 0 or reserve_in <= 0 or reserve_out <= 0:
        raise ValueError("amount and reserves must be positive")
    in_with_fee = amount_in * (10000 - fee_bps)
    return in_with_fee * reserve_out // (reserve_in * 10000 + in_with_fee)
