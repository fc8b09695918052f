"""Read every devnet pool's exact state at one block, in three batched JSON-RPC round trips.

The pools and their constant fields (tokens, fee, tick spacing) come from the devnet manifest;
what changes is read with ``eth_call`` at the block: V2 ``getReserves`` and ``totalSupply``; V3
``slot0``, ``liquidity``, the ``tickBitmap`` words within ``tick_radius`` ticks of the price
(or all of them) and ``ticks(t)`` of every initialized tick found; the Aave flash-loan premium.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak

from contracts.answers import BadRpcAnswer, data
from contracts.client import Chain
from contracts.swapmath.pools import V2Pool, V3Pool
from contracts.v3math import MAX_TICK, MIN_TICK

#: Ticks on each side of the price whose bitmap words are read (1.0001**30000 is about 20x).
TICK_RADIUS = 30_000
#: Venues of the manifest holding V2 pairs and V3 pools.
V2_VENUES = ("uniswap_v2", "uniswap_v2_fork")
V3_VENUE = "uniswap_v3"


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


GET_RESERVES = _selector("getReserves()")
TOTAL_SUPPLY = _selector("totalSupply()")
SLOT0 = _selector("slot0()")
LIQUIDITY = _selector("liquidity()")
TICK_BITMAP = _selector("tickBitmap(int16)")
TICKS = _selector("ticks(int24)")
PREMIUM = _selector("FLASHLOAN_PREMIUM_TOTAL()")


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


def _call(to: str, payload: bytes, block: int) -> tuple[str, list[Any]]:
    return "eth_call", [{"to": to, "data": "0x" + payload.hex()}, hex(block)]


def _batch(chain: Chain, calls: Sequence[tuple[str, list[Any]]], what: str) -> list[bytes]:
    return [data(r, what) for r in chain.rpc_batch(calls)]


def _words(meta: PoolMeta, tick: int, tick_radius: int | None) -> range:
    spacing = meta.tick_spacing
    if tick_radius is None:
        lo, hi = MIN_TICK // spacing, MAX_TICK // spacing
    else:
        lo, hi = (tick - tick_radius) // spacing, (tick + tick_radius) // spacing
    return range(lo >> 8, (hi >> 8) + 1)


def read_market(chain: Chain, manifest: dict[str, Any], block: int | None = None, *,
                tick_radius: int | None = TICK_RADIUS, pools: Sequence[PoolMeta] | None = None) -> MarketState:
    """Exact state of ``pools`` (default: every manifest pool) at ``block`` (default: latest).

    ``tick_radius`` None reads every bitmap word of the V3 pools (all ticks known).

    Raises
    ------
    BadRpcAnswer
        An answer that does not decode.
    ChainUnreachable, RpcError
        As for :meth:`Chain.rpc_batch`.
    """
    metas = list(pools) if pools is not None else manifest_pools(manifest)
    number = chain.block_number() if block is None else block
    first: list[tuple[str, list[Any]]] = [_call(manifest["aave_v3"]["pool"], PREMIUM, number)]
    for m in metas:
        if m.is_v3:
            first += [_call(m.address, SLOT0, number), _call(m.address, LIQUIDITY, number)]
        else:
            first += [_call(m.address, GET_RESERVES, number), _call(m.address, TOTAL_SUPPLY, number)]
    answers = iter(_batch(chain, first, "state call"))
    try:
        premium = abi_decode(["uint256"], next(answers))[0]
        heads: dict[str, tuple[int, int, int]] = {}
        result: dict[str, V2Pool | V3Pool] = {}
        for m in metas:
            a, b = next(answers), next(answers)
            if m.is_v3:
                sqrt_price, tick = abi_decode(["uint160", "int24"], a[:64])
                heads[m.address] = (sqrt_price, tick, abi_decode(["uint128"], b)[0])
            else:
                r0, r1, _ = abi_decode(["uint112", "uint112", "uint32"], a)
                result[m.address] = V2Pool(m.address, m.token0, m.token1, r0, r1, abi_decode(["uint256"], b)[0])
        v3 = [m for m in metas if m.is_v3]
        words = {m.address: _words(m, heads[m.address][1], tick_radius) for m in v3}
        bitmap_calls = [_call(m.address, TICK_BITMAP + abi_encode(["int16"], [w]), number)
                        for m in v3 for w in words[m.address]]
        bitmaps = iter(_batch(chain, bitmap_calls, "tickBitmap"))
        initialized: dict[str, list[int]] = {}
        for m in v3:
            found = initialized.setdefault(m.address, [])
            for w in words[m.address]:
                bits = int.from_bytes(next(bitmaps), "big")
                found += [((w << 8) + bit) * m.tick_spacing for bit in range(256) if bits >> bit & 1]
        tick_calls = [_call(m.address, TICKS + abi_encode(["int24"], [t]), number)
                      for m in v3 for t in initialized[m.address]]
        infos = iter(_batch(chain, tick_calls, "ticks"))
        for m in v3:
            net: dict[int, int] = {}
            gross: dict[int, int] = {}
            for t in initialized[m.address]:
                gross[t], net[t] = abi_decode(["uint128", "int128"], next(infos)[:64])
            sqrt_price, tick, liquidity = heads[m.address]
            span = words[m.address]
            result[m.address] = V3Pool(m.address, m.token0, m.token1, m.fee, m.tick_spacing, sqrt_price, tick,
                                       liquidity, tuple(initialized[m.address]), net, gross, span.start, span.stop - 1)
    except (StopIteration, DecodingError, ValueError) as exc:  # a short or malformed answer
        raise BadRpcAnswer(f"pool state at block {number} does not decode: {exc}") from exc
    return MarketState(number, {m.address: result[m.address] for m in metas}, premium)
