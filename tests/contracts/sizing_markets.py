"""Random markets for the sizing tests: a cycle of tokens with random USD prices and decimals,
one pool per leg (V2 pairs or V3 pools with random initialized ticks), one leg mispriced."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from contracts.swapmath.cycles import Cycle, Hop
from contracts.swapmath.pools import V2Pool, V3Pool, apply_v3_position
from contracts.v3math import MAX_TICK, MIN_TICK, sqrt_ratio_at_tick

#: Uniswap V3's fee tiers and their tick spacings.
SPACING = {100: 1, 500: 10, 3000: 60, 10000: 200}
#: Bitmap words known each side of the price's word.
WORDS = 40


def token(i: int) -> str:
    """Token addresses sort by index, so token0 of a pair is the lower index."""
    return "0x" + f"{i + 1:040x}"


def v3_pool(rng: random.Random, address: str, t0: str, t1: str, price: float, depth0: float) -> V3Pool:
    """A pool at ``price`` (raw token1 per raw token0) with about ``depth0`` virtual token0 in range:
    up to 30 random positions (1 to 1000 spacings wide) around the price and a thin full range."""
    fee = rng.choice(list(SPACING))
    spacing = SPACING[fee]
    tick = math.floor(math.log(price) / math.log(1.0001))
    tick = max(MIN_TICK + 1000 * spacing, min(MAX_TICK - 1000 * spacing, tick))
    sqrt = rng.randrange(sqrt_ratio_at_tick(tick), sqrt_ratio_at_tick(tick + 1))
    liquidity = max(1, int(depth0 * sqrt / 2**96))
    word = tick // spacing >> 8
    pool = V3Pool(address, t0, t1, fee, spacing, sqrt, tick, 0, (), {}, {}, word - WORDS, word + WORDS)
    for _ in range(rng.randrange(1, 30)):
        width = rng.choice([1, 2, 5, 20, 100, 1000]) * spacing
        lower = (tick - rng.randrange(0, 3 * width + 1)) // spacing * spacing
        pool = apply_v3_position(pool, lower, lower + width, max(1, int(liquidity * rng.uniform(0.05, 1.0))))
    full = (MAX_TICK // spacing) * spacing
    return apply_v3_position(pool, -full, full, max(1, int(liquidity * rng.uniform(0.0, 0.3))))


@dataclass(frozen=True)
class Market:
    """Pools keyed by address, the cycle through them and each token's raw unit in USD."""

    pools: dict[str, V2Pool | V3Pool]
    cycle: Cycle
    unit_usd: dict[str, float]

    def coarse(self, cycle: Cycle, profit: int, ratio: float = 1e4) -> bool:
        """True when ``profit`` (raw units of the cycle's start) is worth less than ``ratio`` raw
        units of the dearest-unit token on the route."""
        return profit * self.unit_usd[cycle.start] < ratio * max(self.unit_usd.values())


def market(rng: random.Random, hops: int, v3_share: float = 0.6) -> Market:
    """A cycle through ``hops`` tokens (token 0 -> 1 -> ... -> 0) and its pools; the first leg is
    mispriced by 0.1 % to 5 % either way, so the cycle or its reverse may profit."""
    tokens = [token(i) for i in range(hops)]
    usd = [10 ** rng.uniform(-1, 4.5) for _ in tokens]
    decimals = [rng.choice([6, 8, 18]) for _ in tokens]
    skew = rng.uniform(0.001, 0.05) * rng.choice([1, -1])
    pools: dict[str, V2Pool | V3Pool] = {}
    route = []
    for i in range(hops):
        a, b = i, (i + 1) % hops
        i0, i1 = min(a, b), max(a, b)
        price = usd[i0] / usd[i1] * 10 ** (decimals[i1] - decimals[i0]) * (1 + skew if i == 0 else 1)
        depth0 = 10 ** rng.uniform(3, 7) / usd[i0] * 10 ** decimals[i0]
        address = "0x" + f"{0xA000 + i:040x}"
        if rng.random() < v3_share:
            pools[address] = v3_pool(rng, address, tokens[i0], tokens[i1], price, depth0)
        else:
            pools[address] = V2Pool(address, tokens[i0], tokens[i1], max(1, int(depth0)), max(1, int(depth0 * price)))
        route.append(Hop(address, tokens[a], tokens[b]))
    units = {t: usd[i] / 10 ** decimals[i] for i, t in enumerate(tokens)}
    return Market(pools, Cycle(tuple(route)), units)


def reverse(cycle: Cycle) -> Cycle:
    """The same pools the other way round."""
    return Cycle(tuple(Hop(h.pool, h.token_out, h.token_in) for h in reversed(cycle.hops)))
