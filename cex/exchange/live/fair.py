"""The exchange's fair price: an exponential average of the pool price over blocks, plus noise.

All integer: ``fair += (pool - fair) * alpha_bps // 10_000`` once per new block (the first
block sets it), then ``mid = fair * (1_000_000 + n) // 1_000_000`` with ``n`` drawn uniformly
in ``[-100 * noise_bps, 100 * noise_bps]`` (hundredths of a basis point) from a seeded RNG. A
sudden move of the pool therefore reaches the exchange over a few blocks: a transient CEX-DEX
spread.
"""

from __future__ import annotations

import random


class FairPrice:
    """One symbol's average and noisy mid.

    Parameters
    ----------
    alpha_bps : int
        Weight of each new pool price, in basis points (1..10_000).
    noise_bps : int
        Largest noise in basis points (0: none).
    rng : random.Random
        The seeded generator.
    """

    def __init__(self, alpha_bps: int, noise_bps: int, rng: random.Random) -> None:
        if not 1 <= alpha_bps <= 10_000:
            raise ValueError(f"alpha_bps must be 1..10000, not {alpha_bps}")
        self.alpha_bps = alpha_bps
        self.noise_bps = noise_bps
        self.rng = rng
        self.fair = 0
        self.mid = 0

    def block(self, pool_price: int) -> int:
        """Take a new block's pool price; the new mid."""
        if pool_price <= 0:
            return self.mid
        if self.fair == 0:
            self.fair = pool_price
        else:
            self.fair += (pool_price - self.fair) * self.alpha_bps // 10_000
        span = 100 * self.noise_bps
        n = self.rng.randint(-span, span) if span else 0
        self.mid = self.fair * (1_000_000 + n) // 1_000_000
        return self.mid
