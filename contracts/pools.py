"""Read Uniswap V2/V3 pool state exactly, and send swaps that move prices.

Reads go through the pools' own view functions (UniswapV2Pair.getReserves; UniswapV3Pool.slot0,
liquidity, tickBitmap, ticks) and return raw integers. Swaps are signed by the chain's account,
which must hold the input token (on the devnet the deployer can mint any test token).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alphapulse.errors import ChainError
from contracts.client import Chain
from contracts.npm import V2, V3, npm_artifact, own_artifact
from contracts.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, v2_amount_out


class PoolError(ChainError):
    """A pool address or token that does not fit the request."""


@dataclass(slots=True, frozen=True)
class V2State:
    """UniswapV2Pair reserves (raw units) and tokens."""

    address: str
    token0: str
    token1: str
    reserve0: int
    reserve1: int
    block_timestamp_last: int


@dataclass(slots=True, frozen=True)
class V3Tick:
    """One initialized tick of a V3 pool (UniswapV3Pool.ticks)."""

    tick: int
    liquidity_gross: int
    liquidity_net: int


@dataclass(slots=True, frozen=True)
class V3State:
    """UniswapV3Pool price, in-range liquidity and the initialized ticks read."""

    address: str
    token0: str
    token1: str
    fee: int
    tick_spacing: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks: tuple[V3Tick, ...]


def v2_pair(chain: Chain, address: str) -> Any:
    """A web3 contract for a UniswapV2Pair."""
    return chain.contract(address, npm_artifact(V2, "UniswapV2Pair")["abi"])


def v3_pool(chain: Chain, address: str) -> Any:
    """A web3 contract for a UniswapV3Pool."""
    return chain.contract(address, npm_artifact(V3, "UniswapV3Pool")["abi"])


def erc20(chain: Chain, address: str) -> Any:
    """A web3 contract for a test token (any ERC-20 for the standard functions)."""
    return chain.contract(address, own_artifact("TestERC20")["abi"])


def read_v2(chain: Chain, address: str) -> V2State:
    """Reserves and tokens of a V2 pair."""
    pair = v2_pair(chain, address)
    r0, r1, ts = pair.functions.getReserves().call()
    return V2State(pair.address, pair.functions.token0().call(), pair.functions.token1().call(), r0, r1, ts)


def read_v3(chain: Chain, address: str, word_radius: int = 4) -> V3State:
    """Price, liquidity and the initialized ticks within ``word_radius`` bitmap words of the price.

    Each bitmap word covers 256 tick spacings (UniswapV3Pool.tickBitmap, TickBitmap.sol).
    """
    pool = v3_pool(chain, address)
    f = pool.functions
    slot0 = f.slot0().call()
    spacing = f.tickSpacing().call()
    compressed = slot0[1] // spacing
    ticks = []
    for word in range((compressed >> 8) - word_radius, (compressed >> 8) + word_radius + 1):
        bits = f.tickBitmap(word).call()
        for bit in range(256):
            if bits >> bit & 1:
                tick = (word * 256 + bit) * spacing
                info = f.ticks(tick).call()
                ticks.append(V3Tick(tick, info[0], info[1]))
    return V3State(pool.address, f.token0().call(), f.token1().call(), f.fee().call(), spacing,
                   slot0[0], slot0[1], f.liquidity().call(), tuple(ticks))


def swap_v2(chain: Chain, pair_address: str, token_in: str, amount_in: int, recipient: str | None = None) -> int:
    """Swap ``amount_in`` of ``token_in`` on a V2 pair (exact input); returns the amount out.

    The output is computed from the exact reserves with UniswapV2Library.getAmountOut.
    """
    state = read_v2(chain, pair_address)
    if token_in.lower() not in (state.token0.lower(), state.token1.lower()):
        raise PoolError(f"{token_in} is not a token of pair {pair_address}")
    zero_in = token_in.lower() == state.token0.lower()
    r_in, r_out = (state.reserve0, state.reserve1) if zero_in else (state.reserve1, state.reserve0)
    out = v2_amount_out(amount_in, r_in, r_out)
    chain.transact(erc20(chain, token_in), "transfer", state.address, amount_in)
    amounts = (0, out) if zero_in else (out, 0)
    chain.transact(v2_pair(chain, state.address), "swap", *amounts, recipient or chain.address, b"")
    return out


def swap_v3(chain: Chain, periphery: str, pool_address: str, token_in: str, amount_in: int,
            sqrt_price_limit_x96: int | None = None, recipient: str | None = None) -> tuple[int, int]:
    """Swap up to ``amount_in`` of ``token_in`` on a V3 pool via DevnetPeriphery; returns the deltas.

    The periphery pulls the input from the chain's account, which must have approved it. With a
    price limit the swap stops there (the way to move a pool to an exact price).
    """
    pool = v3_pool(chain, pool_address)
    token0 = pool.functions.token0().call()
    zero_for_one = token_in.lower() == token0.lower()
    if not zero_for_one and token_in.lower() != pool.functions.token1().call().lower():
        raise PoolError(f"{token_in} is not a token of pool {pool_address}")
    if sqrt_price_limit_x96 is None:
        sqrt_price_limit_x96 = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    per = chain.contract(periphery, own_artifact("DevnetPeriphery")["abi"])
    args = (pool.address, zero_for_one, amount_in, sqrt_price_limit_x96, recipient or chain.address)
    deltas = per.functions.swapV3(*args).call({"from": chain.address})
    chain.transact(per, "swapV3", *args)
    return int(deltas[0]), int(deltas[1])
