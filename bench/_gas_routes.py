"""A profitable devnet route for each route shape of :mod:`contracts.gas_table`, priced exactly.

The devnet's pools form cycles over WETH, USDC, DAI and WBTC: every token pair but DAI/WBTC has a
V2 pair and a V3 pool, so every sequence of 2 to 4 V2/V3 hops exists as a cycle. A shape's route is
the cycle of those kinds (distinct pools, distinct tokens, from any start token the lender can
lend) that earns the most at a fixed input worth :data:`INPUT_USD`, among those whose V3 hops cross
no initialized tick. Every hop is priced from the exact pool states (:mod:`contracts.swapmath`), so
every V2 hop carries its precomputed output, as an executor sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alphapulse.errors import ChainError
from contracts.arbitrage import PoolBook, Trade
from contracts.gas_table import RouteShape
from contracts.simulator.state import MarketState, PoolMeta, manifest_pools
from contracts.swapmath import Cycle, enumerate_cycles
from contracts.swapmath.cycles import route_outputs
from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import TicksUnknown, V2Pool, V3Pool
from mesh.protocol.constants import FlashSource, PoolKind

#: Each route's input, in USD of its start token.
INPUT_USD = 3_000
#: The fee (bps) FlashArbitrage repays a V2 lender off the route.
V2_LENDER_FEE_BPS = 30


class NoRoute(ChainError):
    """The devnet has no profitable route of a shape (or not with the ticks asked)."""


@dataclass(slots=True, frozen=True)
class Planned:
    """A route of one shape: the trade, its exact profit (raw units of the start token) and the
    initialized V3 ticks its hops cross."""

    shape: RouteShape
    trade: Trade
    profit: int
    crossings: int


def _kind(pool: V2Pool | V3Pool) -> PoolKind:
    return PoolKind.UNISWAP_V3 if isinstance(pool, V3Pool) else PoolKind.UNISWAP_V2


def walk(pools: dict[str, V2Pool | V3Pool], cycle: Cycle, amount: int) -> tuple[list[int], int] | None:
    """Every hop's exact output along ``cycle`` and the ticks crossed; None when a V3 hop cannot
    take the whole input (FlashArbitrage refuses a partial fill) or its ticks are not known."""
    try:
        outs, crossings = route_outputs(pools, cycle, amount)
    except (SwapReverted, TicksUnknown):
        return None
    if any(out <= 0 for out in outs):
        return None
    return list(outs), crossings


def owed(shape: RouteShape, amount: int, premium_bps: int, lender_fee: int) -> int:
    """What the lender takes back for ``amount`` (a fused pair: the hop input, its fee is in the price)."""
    if shape.source == FlashSource.AAVE_V3:
        return amount + (amount * premium_bps + 5000) // 10000
    if shape.source == FlashSource.UNISWAP_V3:
        return amount + -(-amount * lender_fee // 10**6)
    if shape.fused:
        return amount
    return -(-amount * 10000 // (10000 - V2_LENDER_FEE_BPS))


def _lender(shape: RouteShape, cycle: Cycle, metas: list[PoolMeta], manifest: dict[str, Any]) -> PoolMeta | str | None:
    """The lender of ``shape`` for ``cycle``: the Aave pool, the last pair (fused) or the first
    pool of the right kind holding the start token and not on the route."""
    if shape.source == FlashSource.AAVE_V3:
        return str(manifest["aave_v3"]["pool"])
    if shape.fused:
        return cycle.hops[-1].pool
    on_route = {p.lower() for p in cycle.pools}
    start = cycle.start.lower()
    want_v3 = shape.source == FlashSource.UNISWAP_V3
    for meta in metas:
        if meta.is_v3 == want_v3 and meta.address.lower() not in on_route and start in (
                meta.token0.lower(), meta.token1.lower()):
            return meta
    return None


def amount_of(manifest: dict[str, Any], token: str, usd: int = INPUT_USD) -> int:
    """Raw units of ``token`` worth ``usd`` at the devnet's prices."""
    info = next(t for t in manifest["tokens"].values() if t["address"].lower() == token.lower())
    return usd * 10 ** info["decimals"] // info["usd"]


def plan(shape: RouteShape, market: MarketState, manifest: dict[str, Any], book: PoolBook, recipient: str,
         crossings: int = 0, cycles: list[Cycle] | None = None) -> Planned:
    """The most profitable route of ``shape`` whose V3 hops cross exactly ``crossings`` ticks.

    Raises
    ------
    NoRoute
        No cycle of the shape earns anything (with that many ticks crossed).
    """
    metas = manifest_pools(manifest)
    usd = {t["address"].lower(): t["usd"] * 10**18 // 10 ** t["decimals"] for t in manifest["tokens"].values()}
    best: tuple[int, Cycle, Any, list[int], int] | None = None
    for cycle in cycles if cycles is not None else enumerate_cycles(market.pools.values(), max_hops=4):
        if tuple(_kind(market.pools[h.pool]) for h in cycle.hops) != shape.kinds:
            continue
        lender = _lender(shape, cycle, metas, manifest)
        if lender is None:
            continue
        amount = amount_of(manifest, cycle.start)
        walked = walk(market.pools, cycle, amount)
        if walked is None or walked[1] != crossings:
            continue
        fee = lender.fee if isinstance(lender, PoolMeta) else 0
        profit = walked[0][-1] - owed(shape, amount, market.premium_bps, fee)
        value = profit * usd[cycle.start.lower()]
        if profit > 0 and (best is None or value > best[0]):
            best = (value, cycle, lender, walked[0], profit)
    if best is None:
        raise NoRoute(f"no profitable devnet route of shape {shape.name} crossing {crossings} ticks")
    _, cycle, lender, outs, profit = best
    hops = tuple(book.hop(h.pool, _kind(market.pools[h.pool]), h.token_in,
                          out if _kind(market.pools[h.pool]) == PoolKind.UNISWAP_V2 else 0)
                 for h, out in zip(cycle.hops, outs, strict=True))
    address = lender.address if isinstance(lender, PoolMeta) else lender
    trade = book.lender(Trade(hops, amount_of(manifest, cycle.start), address, shape.source, 1, recipient))
    return Planned(shape, trade, profit, crossings)
