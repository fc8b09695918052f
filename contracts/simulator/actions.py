"""What the noise traders and the injector do, as a seeded sequence over an exact model of the market.

:class:`Market` is the simulator's own view of every pool: the chain's state when the run began
(or was last resynchronised) with each of its own actions applied by the exact math, in the order
they are sent, so it holds what the chain will hold once they are mined. That makes V2 swaps exact
(the pair is asked for exactly ``getAmountOut``) however the actions are packed into blocks, and
makes the action sequence a function of the seed and the starting state only: block timing never
changes what is done.

:class:`Trader` draws the next action from its ``random.Random``: a swap on any pool (direction
leaning back towards the deployment's reference price, size heavy-tailed: Pareto scaled to the
pool's depth), a V3 mint or burn of a range around the price, a V2 mint or burn, or, at the
injection rate, one large swap moving a pool's price by several percent.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from eth_abi import encode as abi_encode

from contracts.simulator.state import MarketState, PoolMeta
from contracts.snapshot import selector
from contracts.swapmath.pools import (
    V2Pool,
    V3Pool,
    apply_v2_swap,
    apply_v3_position,
    apply_v3_swap,
    v3_swap,
)
from contracts.v3math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK

TRANSFER = selector("transfer(address,uint256)")
V2_SWAP = selector("swap(uint256,uint256,address,bytes)")
V2_MINT = selector("mint(address)")
V2_BURN = selector("burn(address)")
V3_SWAP = selector("swapV3(address,bool,int256,uint160,address)")
V3_MINT = selector("mintV3(address,int24,int24,uint128)")
V3_BURN = selector("burn(int24,int24,uint128)")
#: Gas limits per call (generous: unused gas is not paid, but counts against the block's limit).
GAS = {"transfer": 80_000, "v2_swap": 150_000, "v2_mint": 250_000, "v2_burn": 250_000,
       "v3_swap": 1_000_000, "v3_mint": 600_000, "v3_burn": 400_000}


@dataclass(slots=True, frozen=True)
class Tx:
    """One transaction to send: target, calldata, gas limit."""

    to: str
    data: bytes
    gas: int


@dataclass(slots=True, frozen=True)
class Action:
    """One simulated action: ``kind`` is ``swap``, ``inject``, ``mint`` or ``burn``.

    ``detail`` holds the kind's integers (amounts, ticks, liquidity), exactly as sent; ``txs`` the
    transactions that carry it out, in order.
    """

    kind: str
    pool: str
    detail: tuple[tuple[str, Any], ...]
    txs: tuple[Tx, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for logs and reproducibility checks)."""
        return {"kind": self.kind, "pool": self.pool, **dict(self.detail)}


@dataclass(slots=True, frozen=True)
class Settings:
    """Noise-trader parameters.

    ``tail`` is the Pareto index of swap sizes (smaller: heavier tail), ``size`` the typical swap
    as a fraction of the pool's depth, ``cap`` the largest; ``revert`` how hard directions lean
    back to the reference price (per unit of log-price deviation); ``move`` the range of an
    injection's price move.
    """

    tail: float = 1.3
    size: float = 2e-5
    cap: float = 0.02
    revert: float = 20.0
    move: tuple[float, float] = (0.02, 0.06)
    mint_share: float = 0.06
    burn_share: float = 0.05


class Market:
    """The simulator's exact model of the pools, its V2 LP balances and its own V3 positions."""

    def __init__(self, state: MarketState, lp: dict[str, int], deployer: str, periphery: str):
        self.pools: dict[str, V2Pool | V3Pool] = dict(state.pools)
        self.lp = dict(lp)
        self.deployer = deployer
        self.periphery = periphery
        self.positions: dict[str, dict[tuple[int, int], int]] = {a: {} for a in self.pools}

    def reset(self, state: MarketState, lp: dict[str, int]) -> None:
        """Take the chain's state again (positions of this run are kept: they are on chain)."""
        self.pools = dict(state.pools)
        self.lp = dict(lp)

    # -- actions: each updates the model and returns the transactions --------------------------

    def swap(self, address: str, zero_for_one: bool, amount_in: int, limit: int | None = None) -> tuple[Tx, ...]:
        """Exact-input swap; a V2 pair is asked for exactly what it pays."""
        pool = self.pools[address]
        if isinstance(pool, V2Pool):
            out = pool.amount_out(zero_for_one, amount_in)
            if out == 0:
                return ()
            self.pools[address] = apply_v2_swap(pool, zero_for_one, amount_in, out)
            token_in = pool.token0 if zero_for_one else pool.token1
            outs = (0, out) if zero_for_one else (out, 0)
            return (Tx(token_in, TRANSFER + abi_encode(["address", "uint256"], [address, amount_in]), GAS["transfer"]),
                    Tx(address, V2_SWAP + abi_encode(["uint256", "uint256", "address", "bytes"],
                                                     [*outs, self.deployer, b""]), GAS["v2_swap"]))
        if limit is None:
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        result = v3_swap(pool, zero_for_one, amount_in, limit)
        self.pools[address] = apply_v3_swap(pool, result)
        return (Tx(self.periphery, V3_SWAP + abi_encode(
            ["address", "bool", "int256", "uint160", "address"],
            [address, zero_for_one, amount_in, limit, self.deployer]), GAS["v3_swap"]),)

    def v3_position(self, address: str, lower: int, upper: int, delta: int) -> tuple[Tx, ...]:
        """Mint (``delta`` > 0, through the periphery) or burn (directly on the pool)."""
        pool = self.pools[address]
        assert isinstance(pool, V3Pool)
        self.pools[address] = apply_v3_position(pool, lower, upper, delta)
        held = self.positions[address]
        held[(lower, upper)] = held.get((lower, upper), 0) + delta
        if not held[(lower, upper)]:
            del held[(lower, upper)]
        if delta > 0:
            return (Tx(self.periphery, V3_MINT + abi_encode(
                ["address", "int24", "int24", "uint128"], [address, lower, upper, delta]), GAS["v3_mint"]),)
        return (Tx(address, V3_BURN + abi_encode(["int24", "int24", "uint128"], [lower, upper, -delta]),
                   GAS["v3_burn"]),)

    def v2_mint(self, address: str, amount0: int, amount1: int) -> tuple[Tx, ...]:
        """Add both tokens to a pair and mint LP tokens (UniswapV2Pair.mint)."""
        pool = self.pools[address]
        assert isinstance(pool, V2Pool)
        liquidity = min(amount0 * pool.total_supply // pool.reserve0, amount1 * pool.total_supply // pool.reserve1)
        self.pools[address] = replace(pool, reserve0=pool.reserve0 + amount0, reserve1=pool.reserve1 + amount1,
                                      total_supply=pool.total_supply + liquidity)
        self.lp[address] = self.lp.get(address, 0) + liquidity
        return (Tx(pool.token0, TRANSFER + abi_encode(["address", "uint256"], [address, amount0]), GAS["transfer"]),
                Tx(pool.token1, TRANSFER + abi_encode(["address", "uint256"], [address, amount1]), GAS["transfer"]),
                Tx(address, V2_MINT + abi_encode(["address"], [self.deployer]), GAS["v2_mint"]))

    def v2_burn(self, address: str, liquidity: int) -> tuple[Tx, ...]:
        """Return LP tokens to a pair and burn them (UniswapV2Pair.burn)."""
        pool = self.pools[address]
        assert isinstance(pool, V2Pool)
        out0 = liquidity * pool.reserve0 // pool.total_supply
        out1 = liquidity * pool.reserve1 // pool.total_supply
        self.pools[address] = replace(pool, reserve0=pool.reserve0 - out0, reserve1=pool.reserve1 - out1,
                                      total_supply=pool.total_supply - liquidity)
        self.lp[address] -= liquidity
        return (Tx(address, TRANSFER + abi_encode(["address", "uint256"], [address, liquidity]), GAS["transfer"]),
                Tx(address, V2_BURN + abi_encode(["address"], [self.deployer]), GAS["v2_burn"]))


def reference_price(meta: PoolMeta, tokens: dict[str, dict[str, Any]]) -> float:
    """The deployment's raw-unit price of token0 in token1 (USD prices and decimals)."""
    by_address = {t["address"].lower(): t for t in tokens.values()}
    t0, t1 = by_address[meta.token0.lower()], by_address[meta.token1.lower()]
    return float(Fraction(t0["usd"], t1["usd"]) * Fraction(10 ** t1["decimals"], 10 ** t0["decimals"]))


def _price(pool: V2Pool | V3Pool) -> float:
    if isinstance(pool, V2Pool):
        return pool.reserve1 / pool.reserve0
    return (pool.sqrt_price_x96 / 2**96) ** 2


def _depth(pool: V2Pool | V3Pool, zero_for_one: bool) -> int:
    """The input token's reserve (V2) or virtual reserve at the price (V3)."""
    if isinstance(pool, V2Pool):
        return pool.reserve0 if zero_for_one else pool.reserve1
    if zero_for_one:
        return pool.liquidity * 2**96 // pool.sqrt_price_x96
    return pool.liquidity * pool.sqrt_price_x96 // 2**96


class Trader:
    """Draws actions from a seeded generator over a :class:`Market`.

    Parameters
    ----------
    rng
        The run's generator (``random.Random(seed)``).
    metas
        The pools, in manifest order.
    refs
        Reference price of each pool (:func:`reference_price`), by address.
    inject_share
        Probability that an action is an injection.
    """

    def __init__(self, rng: random.Random, metas: list[PoolMeta], refs: dict[str, float],
                 inject_share: float, settings: Settings | None = None):
        self.rng = rng
        self.metas = metas
        self.refs = refs
        self.inject_share = inject_share
        self.settings = settings or Settings()

    def next(self, market: Market, inject: bool = False) -> Action:
        """The next action, applied to ``market`` (an injection when ``inject``)."""
        rng, s = self.rng, self.settings
        meta = self.metas[rng.randrange(len(self.metas))]
        roll = rng.random()
        if inject or roll < self.inject_share:
            action = self._inject(market, meta)
        elif roll < self.inject_share + s.mint_share:
            action = self._mint(market, meta)
        elif roll < self.inject_share + s.mint_share + s.burn_share:
            action = self._burn(market, meta)
        else:
            action = self._swap(market, meta)
        return action

    def _direction(self, market: Market, meta: PoolMeta) -> bool:
        deviation = math.log(_price(market.pools[meta.address]) / self.refs[meta.address])
        sell0 = min(0.9, max(0.1, 0.5 + self.settings.revert * deviation))
        return self.rng.random() < sell0

    def _swap(self, market: Market, meta: PoolMeta) -> Action:
        s = self.settings
        zero_for_one = self._direction(market, meta)
        share = min(s.cap, s.size * (1.0 - self.rng.random()) ** (-1.0 / s.tail))
        amount = max(1, int(_depth(market.pools[meta.address], zero_for_one) * share))
        txs = market.swap(meta.address, zero_for_one, amount)
        return Action("swap", meta.address, (("zero_for_one", zero_for_one), ("amount_in", amount)), txs)

    def _inject(self, market: Market, meta: PoolMeta) -> Action:
        pool = market.pools[meta.address]
        zero_for_one = self.rng.random() < 0.5
        move = self.rng.uniform(*self.settings.move)
        limit: int | None = None
        if isinstance(pool, V2Pool):
            amount = max(1, int(_depth(pool, zero_for_one) * move))
        else:
            factor = math.sqrt(1 - move) if zero_for_one else math.sqrt(1 + move)
            limit = min(MAX_SQRT_RATIO - 1, max(MIN_SQRT_RATIO + 1, int(pool.sqrt_price_x96 * factor)))
            amount = max(1, _depth(pool, zero_for_one))  # more than the move needs: the limit stops it
        txs = market.swap(meta.address, zero_for_one, amount, limit)
        return Action("inject", meta.address, (("zero_for_one", zero_for_one), ("amount_in", amount),
                                               ("sqrt_price_limit_x96", limit)), txs)

    def _mint(self, market: Market, meta: PoolMeta) -> Action:
        rng = self.rng
        pool = market.pools[meta.address]
        if isinstance(pool, V2Pool):
            amount0 = max(1, int(pool.reserve0 * rng.uniform(0.001, 0.01)))
            amount1 = amount0 * pool.reserve1 // pool.reserve0 + 1
            return Action("mint", meta.address, (("amount0", amount0), ("amount1", amount1)),
                          market.v2_mint(meta.address, amount0, amount1))
        spacing = pool.tick_spacing
        width = rng.choice((1, 3, 10, 40, 150)) * spacing
        lower = (pool.tick - rng.randrange(width + 1)) // spacing * spacing
        upper = lower + max(spacing, width // spacing * spacing)
        lower = max(lower, -(-MIN_TICK // spacing) * spacing)
        upper = min(upper, MAX_TICK // spacing * spacing)
        liquidity = max(1, int(pool.liquidity * rng.uniform(0.01, 0.05)))
        return Action("mint", meta.address, (("tick_lower", lower), ("tick_upper", upper), ("liquidity", liquidity)),
                      market.v3_position(meta.address, lower, upper, liquidity))

    def _burn(self, market: Market, meta: PoolMeta) -> Action:
        rng = self.rng
        pool = market.pools[meta.address]
        if isinstance(pool, V2Pool):
            liquidity = int(market.lp.get(meta.address, 0) * rng.uniform(0.001, 0.01))
            if liquidity <= 0:
                return self._swap(market, meta)
            return Action("burn", meta.address, (("liquidity", liquidity),), market.v2_burn(meta.address, liquidity))
        held = sorted(market.positions[meta.address].items())
        if not held:
            return self._mint(market, meta)
        (lower, upper), amount = held[rng.randrange(len(held))]
        liquidity = max(1, int(amount * rng.uniform(0.3, 1.0)))
        return Action("burn", meta.address, (("tick_lower", lower), ("tick_upper", upper), ("liquidity", liquidity)),
                      market.v3_position(meta.address, lower, upper, -liquidity))
