"""The frames of the EVM market-data stream, built from decoded logs, snapshots and heads.

What a consumer sees, in ring order (docs/market-data.md has the rules for applying them):

=====================================  ===========================================================
frame                                  when
=====================================  ===========================================================
``[PoolState, PoolTickLiquidity...]``  a pool bootstrapped at a block (more ticks in further
                                       ``[PoolTickLiquidity...]`` frames); replaces its state
``[<pool message>, ChainEvent]``       one pool log, in chain order
``[PoolTickLiquidity...]``             V3 ticks a block's Mint/Burn touched, their exact values
                                       after the block
``[BlockEnd, GasPrice, TraceContext]`` the block is complete; gas for the next one; the root
                                       span of the block's trace (docs/tracing.md)
``[PoolInvalidation, StateInv...]``    forget a pool's state until its next PoolState (with
                                       upstream's StateInvalidationReason for its readers)
=====================================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Iterable

from contracts.answers import Head, Log
from contracts.events import Decoded, PoolInfo
from contracts.fees import next_base_fee_of
from contracts.pools import V2State, V3State, V3Tick
from mesh.protocol import Message
from mesh.protocol.constants import DEXProtocol, InvalidationReason, PoolKind, SourceType
from mesh.protocol.messages import (
    BlockEnd,
    ChainEvent,
    GasPrice,
    PoolInvalidation,
    PoolState,
    PoolTickLiquidity,
    StateInvalidationReason,
)
from nodes.tracing.spans import COLLECTED, root

__all__ = ["TICKS_PER_FRAME", "block_end", "invalidation", "log_frame", "snapshot_frames", "tick_frames"]

#: PoolTickLiquidity TLVs per frame (98 bytes each on the wire).
TICKS_PER_FRAME = 64
_GWEI = 10**9
_U32 = 2**32 - 1


def _address(checksummed: str) -> bytes:
    return bytes.fromhex(checksummed[2:])


def log_frame(decoded: Decoded, log: Log, block_timestamp_ns: int, received_ns: int,
              chain_id: int) -> list[Message]:
    """One pool log: its message, then where it comes from."""
    return [decoded.message, ChainEvent(
        block_number=decoded.block_number, block_timestamp_ns=block_timestamp_ns,
        received_ns=received_ns, chain_id=chain_id, log_index=decoded.log_index,
        transaction_index=log["transactionIndex"], transaction_hash=decoded.transaction_hash)]


def tick_frames(pool: str, info: PoolInfo, ticks: Iterable[V3Tick], block: int,
                timestamp_ns: int) -> list[list[Message]]:
    """V3 ticks with their exact liquidity, :data:`TICKS_PER_FRAME` to a frame."""
    address = _address(pool)
    messages: list[Message] = [
        PoolTickLiquidity(liquidity_net=t.liquidity_net, liquidity_gross=t.liquidity_gross,
                          block_number=block, timestamp_ns=timestamp_ns, tick=t.tick,
                          venue=info.venue, pool_address=address)
        for t in ticks]
    return [messages[i:i + TICKS_PER_FRAME] for i in range(0, len(messages), TICKS_PER_FRAME)]


def snapshot_frames(pool: str, info: PoolInfo, state: V2State | V3State, block: int,
                    timestamp_ns: int) -> list[list[Message]]:
    """A pool's whole state at ``block``: PoolState first, then every tick read (V3)."""
    v3 = isinstance(state, V3State)
    reserves = (0, 0) if isinstance(state, V3State) else (state.reserve0, state.reserve1)
    price = (state.sqrt_price_x96, state.liquidity, state.tick) if isinstance(state, V3State) else (0, 0, 0)
    head = PoolState(
        reserve0=reserves[0], reserve1=reserves[1], sqrt_price_x96=price[0], liquidity=price[1],
        block_number=block, timestamp_ns=timestamp_ns, tick=price[2],
        fee_rate=info.fee // 100 if info.kind == PoolKind.UNISWAP_V3 else info.fee,
        venue=info.venue, pool_type=int(DEXProtocol.UNISWAP_V3 if v3 else DEXProtocol.UNISWAP_V2),
        token0_decimals=info.decimals0, token1_decimals=info.decimals1, pool_address=_address(pool),
        token0_addr=info.token0, token1_addr=info.token1)
    if not isinstance(state, V3State):
        return [[head]]
    frames = tick_frames(pool, info, state.ticks, block, timestamp_ns) or [[]]
    frames[0].insert(0, head)
    return frames


def block_end(head: Head, timestamp_ns: int, priority_fee: int, log_count: int, received_ns: int,
              chain_id: int, venue: int, head_received_ns: int | None = None) -> list[Message]:
    """The block is complete: BlockEnd (exact wei), upstream's GasPrice (whole gwei), and the
    root span of the block's trace: started when the head came in (``head_received_ns``,
    default ``received_ns``), produced at ``received_ns``."""
    base = next_base_fee_of(head)
    base_gwei = min(-(-base // _GWEI), _U32)  # rounded up: never under-quote the base fee
    tip_gwei = min(-(-priority_fee // _GWEI), _U32)
    return [
        BlockEnd(next_base_fee_wei=base, priority_fee_wei=priority_fee, block_number=head.number,
                 block_timestamp_ns=timestamp_ns, received_ns=received_ns, chain_id=chain_id,
                 gas_used=head.gas_used, gas_limit=head.gas_limit, log_count=log_count,
                 block_hash=head.hash, parent_hash=head.parent_hash),
        GasPrice(block_number=head.number, timestamp_ns=timestamp_ns,
                 gas_price_gwei=min(base_gwei + tip_gwei, _U32), base_fee_gwei=base_gwei,
                 priority_fee_gwei=tip_gwei, venue=venue & 0xFFFF),
        root(SourceType.POLYGON_COLLECTOR, received_ns if head_received_ns is None else head_received_ns,
             received_ns, COLLECTED),
    ]


def invalidation(pool: str, info: PoolInfo, block: int, reason: InvalidationReason,
                 chain_id: int, timestamp_ns: int) -> list[Message]:
    """Forget ``pool``'s state: it was consistent up to ``block``.

    PoolInvalidation names the pool; upstream's market-data StateInvalidationReason after it
    carries the same reason for readers that know only upstream types. (Upstream's
    StateInvalidation is a system-domain type, which a market-data ring does not carry, and
    its pool InstrumentId cannot tell two pools of one pair and venue apart.)
    """
    return [PoolInvalidation(block_number=block, timestamp_ns=timestamp_ns, chain_id=chain_id,
                             venue=info.venue, reason=int(reason), pool_address=_address(pool)),
            StateInvalidationReason(reason=int(reason))]
