"""Prices between two tokens at one pool, exactly: what gas and USD conversions use."""

from __future__ import annotations

from contracts.swapmath.pools import V2Pool, V3Pool

Pool = V2Pool | V3Pool
Q192 = 2**192


def convert_at(pool: Pool, amount: int, src: str, *, up: bool) -> int | None:
    """``amount`` of ``src`` (one of the pool's tokens, lower case) in the other token at the
    pool's price (reserves for V2, sqrtPriceX96 for V3), rounded up (costs) or down (values);
    None when the pool has no price."""
    if isinstance(pool, V2Pool):
        r_src, r_dst = ((pool.reserve0, pool.reserve1) if pool.token0.lower() == src
                        else (pool.reserve1, pool.reserve0))
        num, den = amount * r_dst, r_src
    else:
        p2 = pool.sqrt_price_x96 ** 2
        num, den = (amount * p2, Q192) if pool.token0.lower() == src else (amount * Q192, p2)
    if den == 0:
        return None
    return -(-num // den) if up else num // den


def depth(pool: Pool, token: str) -> float:
    """How much of ``token`` the pool holds near its price (float: only to pick the deepest)."""
    if isinstance(pool, V2Pool):
        return float(pool.reserve0 if pool.token0.lower() == token else pool.reserve1)
    if pool.sqrt_price_x96 == 0:
        return 0.0
    if pool.token0.lower() == token:
        return pool.liquidity * 2**96 / pool.sqrt_price_x96
    return pool.liquidity * pool.sqrt_price_x96 / 2**96
