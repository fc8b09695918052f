"""A reference consumer of the EVM market-data stream: pool state rebuilt from frames alone.

It applies the rules of docs/market-data.md, and nothing else: the collector's tests hold it
against ``eth_call`` (every reserve, price, tick, liquidity and initialized tick equal at every
BlockEnd), and a strategy can take it as the specification of its own, faster state keeping.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mesh.protocol import Frame, decode_frame
from mesh.protocol.constants import DEXProtocol
from mesh.protocol.messages import (
    BlockEnd,
    PoolBurn,
    PoolInvalidation,
    PoolMint,
    PoolState,
    PoolSwap,
    PoolSync,
    PoolTickLiquidity,
)

__all__ = ["PoolReplica", "Replica"]


@dataclass(slots=True)
class PoolReplica:
    """One pool as the stream says it is (raw integers)."""

    v3: bool
    reserve0: int = 0
    reserve1: int = 0
    sqrt_price_x96: int = 0
    tick: int = 0
    liquidity: int = 0
    #: Initialized ticks: tick -> (liquidity_gross, liquidity_net).
    ticks: dict[int, tuple[int, int]] = field(default_factory=dict)
    block: int = 0


class Replica:
    """Every pool of a stream, and the last complete block."""

    def __init__(self, keep_block_ends: int = 4096) -> None:
        self.pools: dict[bytes, PoolReplica] = {}
        #: Number of the last BlockEnd applied (0 before the first).
        self.block = 0
        #: Pools forgotten by a PoolInvalidation and not yet restated.
        self.invalidated: set[bytes] = set()
        #: The last ``keep_block_ends`` BlockEnds, oldest first (bounded: consumers run for days).
        self.block_ends: deque[BlockEnd] = deque(maxlen=keep_block_ends)

    def apply_raw(self, frames: Iterable[bytes]) -> None:
        """Decode and apply encoded frames, in order."""
        for raw in frames:
            self.apply(decode_frame(raw))

    def apply(self, frame: Frame) -> None:
        """Apply one frame's messages."""
        for tlv in frame.tlvs:
            handler = _HANDLERS.get(type(tlv))
            if handler is not None:
                handler(self, tlv)

    def _state(self, m: PoolState) -> None:
        v3 = m.pool_type == DEXProtocol.UNISWAP_V3
        self.pools[m.pool_address] = PoolReplica(v3, m.reserve0, m.reserve1, m.sqrt_price_x96, m.tick,
                                                 m.liquidity, {}, m.block_number)
        self.invalidated.discard(m.pool_address)

    def _tick(self, m: PoolTickLiquidity) -> None:
        pool = self.pools.get(m.pool_address)
        if pool is None:
            return
        if m.liquidity_gross:
            pool.ticks[m.tick] = (m.liquidity_gross, m.liquidity_net)
        else:
            pool.ticks.pop(m.tick, None)

    def _sync(self, m: PoolSync) -> None:
        pool = self.pools.get(m.pool_address)
        if pool is not None:
            pool.reserve0, pool.reserve1, pool.block = m.reserve0, m.reserve1, m.block_number

    def _swap(self, m: PoolSwap) -> None:
        pool = self.pools.get(m.pool_address)
        if pool is not None and pool.v3:
            pool.sqrt_price_x96, pool.tick, pool.liquidity = m.sqrt_price_x96_after, m.tick_after, m.liquidity_after
            pool.block = m.block_number

    def _liquidity(self, m: PoolMint | PoolBurn) -> None:
        pool = self.pools.get(m.pool_address)
        if pool is not None and pool.v3 and m.tick_lower <= pool.tick < m.tick_upper:
            pool.liquidity += m.liquidity_delta if isinstance(m, PoolMint) else -m.liquidity_delta

    def _invalidate(self, m: PoolInvalidation) -> None:
        self.pools.pop(m.pool_address, None)
        self.invalidated.add(m.pool_address)

    def _block_end(self, m: BlockEnd) -> None:
        self.block = m.block_number
        self.block_ends.append(m)


_HANDLERS: dict[type, Callable[[Replica, Any], None]] = {
    PoolState: Replica._state, PoolTickLiquidity: Replica._tick, PoolSync: Replica._sync,
    PoolSwap: Replica._swap, PoolMint: Replica._liquidity, PoolBurn: Replica._liquidity,
    PoolInvalidation: Replica._invalidate, BlockEnd: Replica._block_end,
}
