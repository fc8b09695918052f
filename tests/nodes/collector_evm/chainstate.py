"""What the chain holds, for comparing a :class:`~nodes.collector_evm.replica.Replica` with it."""

from __future__ import annotations

from contracts.client import Chain
from contracts.events import PoolInfo
from contracts.pools import V3State
from contracts.snapshot import snapshot_pools
from nodes.collector_evm.replica import Replica

#: Wider than any tick spacing's span of bitmap words: every initialized tick is read.
ALL_WORDS = 10_000


def mismatches(chain: Chain, replica: Replica, registry: dict[str, PoolInfo], block: int) -> list[str]:
    """Every difference between the replica and the chain at ``block`` (empty when exact)."""
    snap = snapshot_pools(chain, registry, block, word_radius=ALL_WORDS)
    assert not snap.failed, snap.failed
    out = []
    for address, state in snap.states.items():
        pool = replica.pools.get(bytes.fromhex(address[2:]))
        if pool is None:
            out.append(f"{address}: not in the replica")
            continue
        if isinstance(state, V3State):
            chain_ticks = {t.tick: (t.liquidity_gross, t.liquidity_net) for t in state.ticks}
            got = (pool.sqrt_price_x96, pool.tick, pool.liquidity)
            want = (state.sqrt_price_x96, state.tick, state.liquidity)
            if got != want:
                out.append(f"{address}: price/tick/liquidity {got} != chain {want}")
            if pool.ticks != chain_ticks:
                diff = {t for t in set(pool.ticks) | set(chain_ticks) if pool.ticks.get(t) != chain_ticks.get(t)}
                out.append(f"{address}: ticks differ at {sorted(diff)[:8]}")
        elif (pool.reserve0, pool.reserve1) != (state.reserve0, state.reserve1):
            out.append(f"{address}: reserves {(pool.reserve0, pool.reserve1)} != chain "
                       f"{(state.reserve0, state.reserve1)}")
    return out
