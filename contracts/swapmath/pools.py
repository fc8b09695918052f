"""Pool states and exact swaps: UniswapV2Pair's ``getAmountOut`` and UniswapV3Pool's ``swap`` loop.

A :class:`V3Pool` holds what ``UniswapV3Pool.swap`` reads: price, tick, in-range liquidity, the
fee, the tick spacing and the initialized ticks with their ``liquidityNet``, known over a range of
tick-bitmap words. :func:`v3_swap` walks the pool exactly as the contract does: one step per
initialized tick *or bitmap word boundary* (``TickBitmap.nextInitializedTickWithinOneWord``; each
step rounds on its own, so the word boundaries matter to the last unit), crossing ticks with
their ``liquidityNet``. A swap that would need a bitmap word outside the known range raises
:class:`TicksUnknown` rather than guess.

States are immutable; ``apply_*`` functions return the state after a swap, mint or burn.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

from alphapulse.errors import ChainError
from contracts.swapmath.libs import (
    FEE_DENOMINATOR,
    MAX_UINT128,
    SwapReverted,
    amount0_delta_signed,
    amount1_delta_signed,
    compute_swap_step,
    tick_at_sqrt_ratio,
)
from contracts.v3math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick


class TicksUnknown(ChainError):
    """A V3 swap would step into a tick-bitmap word outside the range read from the chain."""

    kind = "ticks_unknown"


def v2_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """UniswapV2Library.getAmountOut: the most a pair pays for ``amount_in`` (0 for no input).

    Uniswap's 997/1000 is ``fee_bps`` 30 exactly (9970/10000 is the same fraction, so the floor is
    the same); forks that charge another fee keep the formula with their own.
    """
    if amount_in <= 0:
        return 0
    if reserve_in <= 0 or reserve_out <= 0:
        raise SwapReverted("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    with_fee = amount_in * (10_000 - fee_bps)
    return with_fee * reserve_out // (reserve_in * 10_000 + with_fee)


@dataclass(slots=True, frozen=True)
class V2Pool:
    """A UniswapV2Pair (or a fork's): reserves (raw units), LP total supply and its fee in bps.

    The model of a :class:`contracts.pools.V2State` read from the chain (which carries the
    pair's last timestamp instead of its supply); :func:`contracts.simulator.state.to_model`
    converts one.
    """

    address: str
    token0: str
    token1: str
    reserve0: int
    reserve1: int
    total_supply: int = 0
    fee_bps: int = 30

    def amount_out(self, zero_for_one: bool, amount_in: int) -> int:
        """Output of an exact-input swap of token0 (``zero_for_one``) or token1."""
        if zero_for_one:
            return v2_amount_out(amount_in, self.reserve0, self.reserve1, self.fee_bps)
        return v2_amount_out(amount_in, self.reserve1, self.reserve0, self.fee_bps)


@dataclass(slots=True, frozen=True)
class V3Pool:
    """A UniswapV3Pool's swap-relevant state.

    ``ticks`` are the initialized ticks in increasing order, ``net``/``gross`` their
    ``liquidityNet``/``liquidityGross``; every initialized tick whose bitmap word (compressed
    tick >> 8) lies in ``[word_lo, word_hi]`` is listed. Unlike a :class:`contracts.pools.V3State`
    (the record of a read, converted by :func:`contracts.simulator.state.to_model`), it knows
    which words its ticks cover and indexes them for the swap loop.
    """

    address: str
    token0: str
    token1: str
    fee: int
    tick_spacing: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks: tuple[int, ...]
    net: dict[int, int] = field(hash=False)
    gross: dict[int, int] = field(hash=False)
    word_lo: int
    word_hi: int

    def next_initialized_tick(self, tick: int, lte: bool) -> tuple[int, bool]:
        """TickBitmap.nextInitializedTickWithinOneWord over the known ticks."""
        spacing = self.tick_spacing
        compressed = tick // spacing  # floor: the Solidity rounds negative ticks down too
        if lte:
            word = compressed >> 8
            self._known(word)
            floor = word << 8
            i = bisect.bisect_right(self.ticks, compressed * spacing) - 1
            if i >= 0 and self.ticks[i] >= floor * spacing:
                return self.ticks[i], True
            return floor * spacing, False
        start = compressed + 1
        word = start >> 8
        self._known(word)
        ceiling = (word << 8) + 255
        i = bisect.bisect_left(self.ticks, start * spacing)
        if i < len(self.ticks) and self.ticks[i] <= ceiling * spacing:
            return self.ticks[i], True
        return ceiling * spacing, False

    def _known(self, word: int) -> None:
        if not self.word_lo <= word <= self.word_hi:
            raise TicksUnknown(f"pool {self.address}: bitmap word {word} outside the known "
                               f"[{self.word_lo}, {self.word_hi}]")


@dataclass(slots=True, frozen=True)
class SwapResult:
    """What ``UniswapV3Pool.swap`` returns and leaves: signed deltas (pool's view: > 0 paid in)
    and the price, tick and liquidity after."""

    amount0: int
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int

    def amount_out(self, zero_for_one: bool) -> int:
        """The output the swapper received (a positive number)."""
        return -(self.amount1 if zero_for_one else self.amount0)


def default_limit(zero_for_one: bool) -> int:
    """The loosest price limit the pool accepts (what FlashArbitrage passes)."""
    return MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1


def v3_swap(pool: V3Pool, zero_for_one: bool, amount_specified: int,
            sqrt_price_limit_x96: int | None = None) -> SwapResult:
    """UniswapV3Pool.swap: exact input when ``amount_specified`` > 0, exact output when < 0.

    Raises
    ------
    SwapReverted
        Where the pool reverts: zero amount (``AS``), a limit on the wrong side (``SPL``), math
        overflow, liquidity underflow.
    TicksUnknown
        The swap needs initialized ticks beyond the known bitmap words.
    """
    limit = default_limit(zero_for_one) if sqrt_price_limit_x96 is None else sqrt_price_limit_x96
    if amount_specified == 0:
        raise SwapReverted("AS")
    price = pool.sqrt_price_x96
    if (zero_for_one and not MIN_SQRT_RATIO < limit < price) or (
            not zero_for_one and not price < limit < MAX_SQRT_RATIO):
        raise SwapReverted("SPL")
    exact_in = amount_specified > 0
    remaining, calculated = amount_specified, 0
    tick, liquidity, fee = pool.tick, pool.liquidity, pool.fee
    while remaining != 0 and price != limit:
        start = price
        tick_next, initialized = pool.next_initialized_tick(tick, zero_for_one)
        tick_next = max(MIN_TICK, min(MAX_TICK, tick_next))
        price_next = sqrt_ratio_at_tick(tick_next)
        target = limit if (price_next < limit if zero_for_one else price_next > limit) else price_next
        price, amount_in, amount_out, fee_amount = compute_swap_step(price, target, liquidity, remaining, fee)
        if exact_in:
            remaining -= amount_in + fee_amount
            calculated -= amount_out
        else:
            remaining += amount_out
            calculated += amount_in + fee_amount
        if price == price_next:
            if initialized:
                net = pool.net[tick_next]
                liquidity = _add_delta(liquidity, -net if zero_for_one else net)
            tick = tick_next - 1 if zero_for_one else tick_next
        elif price != start:
            tick = tick_at_sqrt_ratio(price)
    specified = amount_specified - remaining
    if zero_for_one == exact_in:
        return SwapResult(specified, calculated, price, tick, liquidity)
    return SwapResult(calculated, specified, price, tick, liquidity)


def _add_delta(liquidity: int, delta: int) -> int:
    """LiquidityMath.addDelta: reverts on underflow (``LS``) or overflow (``LA``)."""
    result = liquidity + delta
    if result < 0:
        raise SwapReverted("LS")
    if result > MAX_UINT128:
        raise SwapReverted("LA")
    return result


def v3_amount_out(pool: V3Pool, zero_for_one: bool, amount_in: int) -> int:
    """Output of an exact-input swap with the loosest price limit (0 for no input)."""
    if amount_in <= 0:
        return 0
    return v3_swap(pool, zero_for_one, amount_in).amount_out(zero_for_one)


def amount_out(pool: V2Pool | V3Pool, zero_for_one: bool, amount_in: int) -> int:
    """Exact-input output of either kind of pool, as the pool pays it."""
    if isinstance(pool, V2Pool):
        return pool.amount_out(zero_for_one, amount_in)
    return v3_amount_out(pool, zero_for_one, amount_in)


def apply_v3_swap(pool: V3Pool, result: SwapResult) -> V3Pool:
    """The pool after ``result`` (a :func:`v3_swap` of this state)."""
    return replace(pool, sqrt_price_x96=result.sqrt_price_x96, tick=result.tick, liquidity=result.liquidity)


def apply_v2_swap(pool: V2Pool, zero_for_one: bool, amount_in: int, amount_out_: int) -> V2Pool:
    """The pair after an exact-input swap paid ``amount_out_``."""
    if zero_for_one:
        return replace(pool, reserve0=pool.reserve0 + amount_in, reserve1=pool.reserve1 - amount_out_)
    return replace(pool, reserve1=pool.reserve1 + amount_in, reserve0=pool.reserve0 - amount_out_)


def v3_position_amounts(pool: V3Pool, lower: int, upper: int, liquidity_delta: int) -> tuple[int, int]:
    """UniswapV3Pool._modifyPosition's token amounts: paid (> 0) by a mint, freed (< 0) by a burn."""
    sa, sb = sqrt_ratio_at_tick(lower), sqrt_ratio_at_tick(upper)
    if pool.tick < lower:
        return amount0_delta_signed(sa, sb, liquidity_delta), 0
    if pool.tick < upper:
        return (amount0_delta_signed(pool.sqrt_price_x96, sb, liquidity_delta),
                amount1_delta_signed(sa, pool.sqrt_price_x96, liquidity_delta))
    return 0, amount1_delta_signed(sa, sb, liquidity_delta)


def apply_v3_position(pool: V3Pool, lower: int, upper: int, liquidity_delta: int) -> V3Pool:
    """The pool after a mint (``liquidity_delta`` > 0) or burn (< 0) of ``[lower, upper)``.

    Ticks update as ``Tick.update`` does: gross and net change, a tick whose gross becomes zero is
    cleared, a new one is initialized.
    """
    if not (lower < upper and lower % pool.tick_spacing == 0 and upper % pool.tick_spacing == 0
            and lower >= MIN_TICK and upper <= MAX_TICK):
        raise SwapReverted(f"bad range [{lower}, {upper})")
    net, gross, ticks = dict(pool.net), dict(pool.gross), list(pool.ticks)
    for tick, sign in ((lower, 1), (upper, -1)):
        before = gross.get(tick, 0)
        after = _add_delta(before, liquidity_delta)
        if after == 0:
            gross.pop(tick, None)
            net.pop(tick, None)
            if before:
                ticks.remove(tick)
        else:
            if before == 0:
                bisect.insort(ticks, tick)
            gross[tick] = after
            net[tick] = net.get(tick, 0) + sign * liquidity_delta
    liquidity = pool.liquidity
    if lower <= pool.tick < upper:
        liquidity = _add_delta(liquidity, liquidity_delta)
    return replace(pool, ticks=tuple(ticks), net=net, gross=gross, liquidity=liquidity)


def spot_rate(pool: V2Pool | V3Pool, zero_for_one: bool) -> float:
    """Marginal output per unit of input at zero size, after the fee (a float, for screening)."""
    if isinstance(pool, V2Pool):
        r_in, r_out = (pool.reserve0, pool.reserve1) if zero_for_one else (pool.reserve1, pool.reserve0)
        return r_out / r_in * (10_000 - pool.fee_bps) / 10_000 if r_in else 0.0
    price = (pool.sqrt_price_x96 / 2**96) ** 2
    rate = price if zero_for_one else 1.0 / price
    return rate * (FEE_DENOMINATOR - pool.fee) / FEE_DENOMINATOR
