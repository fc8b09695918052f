"""A synthetic book around a mid price: levels on the tick grid, sizes on the step grid."""

from __future__ import annotations

import random

from cex.book import Level
from cex.exchange.symbols import SymbolSpec
from cex.fixed import SCALE


def size_factors(rng: random.Random, levels: int) -> list[int]:
    """Per-level size factors in percent (50..150), one list per side."""
    return [rng.randint(50, 150) for _ in range(2 * levels)]


def book_around(mid: int, spec: SymbolSpec, levels: int, half_spread_bps: int, gap_bps: int,
                notional: int, factors: list[int]) -> tuple[list[Level], list[Level]]:
    """Bids (best first) and asks (best first) around ``mid`` (x 1e8).

    The best bid is ``mid`` less ``half_spread_bps`` rounded down to the tick, the best ask
    rounded up; further levels are ``gap_bps`` of the mid apart (at least one tick). A level's
    size is ``notional / price`` times its factor, rounded down to the step (at least one step).
    """
    tick, step = spec.tick_size, spec.step_size
    bid0 = mid * (10_000 - half_spread_bps) // 10_000
    bid0 -= bid0 % tick
    ask0 = -(-mid * (10_000 + half_spread_bps) // 10_000)
    ask0 += -ask0 % tick
    if ask0 <= bid0:
        ask0 = bid0 + tick
    gap = max(tick, (mid * gap_bps // 10_000) // tick * tick)

    def size(price: int, factor: int) -> int:
        raw = notional * SCALE // price * factor // 100
        return max(step, raw - raw % step)

    bids = [(bid0 - i * gap, size(bid0 - i * gap, factors[i])) for i in range(levels)
            if bid0 - i * gap > 0]
    asks = [(ask0 + i * gap, size(ask0 + i * gap, factors[levels + i])) for i in range(levels)]
    return bids, asks
