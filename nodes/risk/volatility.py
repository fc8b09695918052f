"""The market-volatility breaker: a pool's price moving more than a threshold within N blocks.

Prices are exact fractions (token1 per token0, raw units): ``reserve1 / reserve0`` from a V2
``PoolSync`` (or a ``PoolState`` without a square-root price), ``sqrtPriceX96² / 2¹⁹²`` from a
V3 ``PoolSwap`` or ``PoolState``. A price seen in a block counts at that block's ``BlockEnd``
(docs/market-data.md, rule 7). The move within the window is ``max / min - 1`` over the
prices in force during the last ``blocks`` blocks: the same whichever way the price is quoted.
One alert per crossing and pool; a pool re-arms once its window is calm again.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

from contracts.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from mesh.protocol import PoolState, PoolSwap, PoolSync
from nodes.risk.breakers import Edge
from nodes.risk.errors import BadRiskInput
from nodes.risk.rules import RiskRule, Trip
from nodes.risk.settings import VolatilitySettings

_Q192 = 1 << 192


def v3_price(sqrt_price_x96: int) -> Fraction:
    """token1 per token0 at a V3 square-root price; raises :class:`BadRiskInput` out of range."""
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise BadRiskInput(f"sqrt price {sqrt_price_x96} outside the V3 range", "bad_price")
    return Fraction(sqrt_price_x96 * sqrt_price_x96, _Q192)


def price_of(msg: PoolSync | PoolSwap | PoolState) -> Fraction | None:
    """The pool price a market-data message sets, or None if it sets none (a V2 swap, an
    empty pair, a V3 pool not initialized yet)."""
    if isinstance(msg, PoolSwap):
        return v3_price(msg.sqrt_price_x96_after) if msg.sqrt_price_x96_after else None
    if isinstance(msg, PoolState) and msg.sqrt_price_x96:
        return v3_price(msg.sqrt_price_x96)
    if msg.reserve0 and msg.reserve1:
        return Fraction(msg.reserve1, msg.reserve0)
    return None


def move_bps(prices: deque[tuple[int, Fraction]]) -> Fraction:
    """``(max / min - 1) x 10 000`` over the prices of a window (exact)."""
    values = [p for _, p in prices]
    return (max(values) / min(values) - 1) * 10_000


class Volatility:
    """Per pool: the prices of the last ``blocks`` blocks and an alert edge."""

    rule = RiskRule.VOLATILITY

    def __init__(self, settings: VolatilitySettings) -> None:
        self.settings = settings
        #: pool -> (block, price) changes, oldest first; the first is the price in force at
        #: the start of the window.
        self.history: dict[bytes, deque[tuple[int, Fraction]]] = {}
        self.pending: dict[bytes, Fraction] = {}
        self.edges: dict[bytes, Edge] = {}
        self.last_block = -1

    @property
    def tripped(self) -> bool:
        """True while any pool's move is beyond the limit."""
        return any(e.tripped for e in list(self.edges.values()))

    def rearm(self) -> None:
        """After an operator's resume: every pool trips again on its next wide move."""
        for edge in self.edges.values():
            edge.rearm()

    def on_price(self, pool: bytes, price: Fraction, restated: bool = False) -> None:
        """A price seen for ``pool`` in the block being read; ``restated`` (a ``PoolState``)
        starts its history afresh."""
        if restated:
            self.forget(pool)
        self.pending[pool] = price

    def forget(self, pool: bytes) -> None:
        """Drop everything about ``pool`` (``PoolInvalidation``: its state is unknown)."""
        self.history.pop(pool, None)
        self.pending.pop(pool, None)
        self.edges.pop(pool, None)

    def on_block_end(self, block: int) -> list[Trip]:
        """Close ``block``: record its prices, judge every pool it touched or that is tripped."""
        if block < self.last_block:  # a reorg: forget the abandoned branch's prices
            for prices in self.history.values():
                while prices and prices[-1][0] > block:
                    prices.pop()
        self.last_block = block
        for pool, price in self.pending.items():
            prices = self.history.setdefault(pool, deque())
            if prices and prices[-1][0] == block:
                prices.pop()
            prices.append((block, price))
        judged = set(self.pending) | {p for p, e in self.edges.items() if e.tripped}
        self.pending.clear()
        trips: list[Trip] = []
        for pool in judged:
            trip = self._judge(pool, block)
            if trip is not None:
                trips.append(trip)
        return trips

    def _judge(self, pool: bytes, block: int) -> Trip | None:
        prices = self.history.get(pool)
        if not prices:
            return None
        start = block - self.settings.blocks
        while len(prices) > 1 and prices[1][0] <= start:
            prices.popleft()
        s = self.settings
        move = move_bps(prices)
        edge = self.edges.setdefault(pool, Edge())
        if not edge.update(move > s.max_move_bps):
            return None
        return Trip(self.rule, s.action, int(move), s.max_move_bps,
                    f"pool 0x{pool[:4].hex()} moved {float(move):.0f} bps in {s.blocks} blocks")
