"""Read every devnet pool's exact state at one block, as the swap-math models.

The pools and their constant fields (tokens, fee, tick spacing) come from the devnet manifest.
Their state is read by :func:`contracts.snapshot.snapshot_pools` (the collector's batched
bootstrap: strict decoding, every call pinned to one block): V2 reserves; V3 price, tick,
liquidity and every initialized tick of the bitmap words within ``tick_radius`` ticks of the
price (or of all words). One more batch, pinned to the same block by its hash, reads what the
bootstrap does not: the V2 pairs' ``totalSupply`` and the Aave flash-loan premium.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from contracts.answers import BadRpcAnswer
from contracts.client import Chain
from contracts.events import registry_from_manifest
from contracts.pools import V2State, V3State
from contracts.snapshot import PoolReadError, eth_calls, selector, snapshot_pools, word_range
from contracts.swapmath.pools import V2Pool, V3Pool

#: Ticks on each side of the price whose bitmap words are read (1.0001**30000 is about 20x).
TICK_RADIUS = 30_000
#: A word radius that reads every bitmap word of any pool (snapshot clamps it to the usable ones).
ALL_WORDS = 1 << 24
#: Venues of the manifest holding V2 pairs and V3 pools.
V2_VENUES = ("uniswap_v2", "uniswap_v2_fork")
V3_VENUE = "uniswap_v3"

TOTAL_SUPPLY = selector("totalSupply()")
PREMIUM = selector("FLASHLOAN_PREMIUM_TOTAL()")


@dataclass(slots=True, frozen=True)
class PoolMeta:
    """A manifest pool: venue (``uniswap_v2``, ``uniswap_v2_fork``, ``uniswap_v3``) and constants."""

    venue: str
    address: str
    pair: str
    token0: str
    token1: str
    fee: int = 0
    tick_spacing: int = 0

    @property
    def is_v3(self) -> bool:
        """True for a Uniswap V3 pool."""
        return self.venue == V3_VENUE


@dataclass(slots=True, frozen=True)
class MarketState:
    """Every pool's state at ``block``, keyed by address, and the Aave premium (bps)."""

    block: int
    pools: dict[str, V2Pool | V3Pool]
    premium_bps: int


def manifest_pools(manifest: dict[str, Any]) -> list[PoolMeta]:
    """The manifest's pools, V2 venues first, in manifest order."""
    pools = [PoolMeta(venue, p["address"], p["pair"], p["token0"], p["token1"])
             for venue in V2_VENUES for p in manifest.get(venue, {}).get("pairs", [])]
    pools += [PoolMeta(V3_VENUE, p["address"], p["pair"], p["token0"], p["token1"], p["fee"], p["tick_spacing"])
              for p in manifest.get(V3_VENUE, {}).get("pools", [])]
    return pools


def word_radius(tick_radius: int | None, tick_spacing: int) -> int:
    """Bitmap words each side of the price's word that cover ``tick_radius`` ticks each side of it.

    A word holds 256 tick spacings, so ``tick ± tick_radius`` lies within
    ``ceil(ceil(tick_radius / tick_spacing) / 256)`` words of the price's word, whatever the tick.
    None reads every word.
    """
    if tick_radius is None:
        return ALL_WORDS
    spacings = -(-tick_radius // tick_spacing)  # ceiling divisions
    return -(-spacings // 256)


def to_model(state: V2State | V3State, total_supply: int = 0, words: range = range(0)) -> V2Pool | V3Pool:
    """The swap-math model of a pool state read by :mod:`contracts.snapshot`.

    ``total_supply`` is a V2 pair's LP supply; ``words`` the V3 bitmap words read (every
    initialized tick in them is among ``state.ticks``), empty when none was.
    """
    if isinstance(state, V2State):
        return V2Pool(state.address, state.token0, state.token1, state.reserve0, state.reserve1, total_supply)
    return V3Pool(state.address, state.token0, state.token1, state.fee, state.tick_spacing, state.sqrt_price_x96,
                  state.tick, state.liquidity, tuple(t.tick for t in state.ticks),
                  {t.tick: t.liquidity_net for t in state.ticks}, {t.tick: t.liquidity_gross for t in state.ticks},
                  words.start, words.stop - 1)


def _uint(answer: bytes | PoolReadError, what: str) -> int:
    if isinstance(answer, PoolReadError):
        raise answer
    if len(answer) != 32:
        raise BadRpcAnswer(f"{what}: {len(answer)} bytes, expected 32")
    return int.from_bytes(answer, "big")


def read_market(chain: Chain, manifest: dict[str, Any], block: int | None = None, *,
                tick_radius: int | None = TICK_RADIUS, pools: Sequence[PoolMeta] | None = None) -> MarketState:
    """Exact state of ``pools`` (default: every manifest pool) at ``block`` (default: latest).

    ``tick_radius`` None reads every bitmap word of the V3 pools (all ticks known).

    Raises
    ------
    PoolReadError
        A pool (or the Aave pool) could not be read: every pool is needed.
    BadRpcAnswer
        An answer that does not decode.
    NoSuchBlock, ChainUnreachable, RpcError
        As for :func:`contracts.snapshot.snapshot_pools`.
    """
    metas = list(pools) if pools is not None else manifest_pools(manifest)
    number = chain.block_number() if block is None else block
    registry = registry_from_manifest(manifest)
    keys: dict[str, str] = {m.address: to_checksum_address(m.address) for m in metas}
    chosen = {keys[m.address]: registry[keys[m.address]] for m in metas}
    radii = {keys[m.address]: word_radius(tick_radius, m.tick_spacing) for m in metas if m.is_v3}
    snap = snapshot_pools(chain, chosen, number, word_radii=radii)
    if snap.failed:
        address, failure = next(iter(snap.failed.items()))
        raise PoolReadError(failure.kind, f"pool {address} at block {number}: {failure}") from failure
    v2 = [m for m in metas if not m.is_v3]
    extra = [(manifest["aave_v3"]["pool"], PREMIUM)] + [(m.address, TOTAL_SUPPLY) for m in v2]
    answers = eth_calls(chain, extra, number, block_hash=None if snap.head is None else snap.head.hash)
    premium = _uint(answers[0], "FLASHLOAN_PREMIUM_TOTAL")
    supply = {m.address: _uint(a, f"totalSupply of {m.address}") for m, a in zip(v2, answers[1:], strict=True)}
    result: dict[str, V2Pool | V3Pool] = {}
    for m in metas:
        address = keys[m.address]
        state = snap.states[address]
        if isinstance(state, V2State):
            result[m.address] = to_model(state, supply[m.address])
        else:
            read = state.sqrt_price_x96 != 0  # no word is read before initialization
            words = word_range(state.tick, m.tick_spacing, radii[address]) if read else range(0)
            result[m.address] = to_model(state, words=words)
    return MarketState(number, result, premium)
