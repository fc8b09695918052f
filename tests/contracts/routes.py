"""Routes over the test devnet (after the conftest's mispricing), one builder per flash source.

V2 hops carry outputs precomputed from the pairs' reserves, as an executor sends them; lenders'
tokens, fees and factories come from the chain through the devnet's :class:`PoolBook`."""

from __future__ import annotations

from dataclasses import replace

from contracts.arbitrage import Trade, quote, with_v2_amounts
from mesh.protocol.constants import FlashSource, PoolKind

USDC_IN = 10_000 * 10**6
WETH_IN = 3 * 10**18
V2, V3 = PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3


def _pool(net, venue: str, pair: str, fee: int | None = None) -> tuple[str, PoolKind]:
    return net.pool(venue, pair, fee), V3 if venue == "uniswap_v3" else V2


def trade(net, pools, symbol: str, amount: int, lender: str, source: FlashSource, min_profit: int = 1) -> Trade:
    """A trade from ``symbol`` through ``pools`` with its lender's fields read from the chain."""
    hops = net.book.hops_along(net.token(symbol), pools)
    return net.book.lender(Trade(hops, amount, lender, source, min_profit, net.recipient))


# Cheap WETH: V3 pools and the V2 fork. Dear WETH: uniswap_v2 WETH/USDC and WETH/DAI.
def aave(net, hops: int, profitable: bool = True, min_profit: int = 1) -> Trade:
    """USDC borrowed from Aave V3."""
    lender = net.manifest["aave_v3"]["pool"]
    if hops == 2:
        route = [_pool(net, "uniswap_v3", "WETH/USDC", 500), _pool(net, "uniswap_v2", "WETH/USDC")]
        if not profitable:
            route.reverse()
    else:
        route = [_pool(net, "uniswap_v3", "WETH/USDC", 3000), _pool(net, "uniswap_v2", "WETH/DAI"),
                 _pool(net, "uniswap_v3", "USDC/DAI", 100)]
    return with_v2_amounts(net.chain, trade(net, route, "USDC", USDC_IN, lender, FlashSource.AAVE_V3, min_profit))


def v2_fused(net, hops: int, profitable: bool = True, min_profit: int = 1) -> Trade:
    """WETH flash-swapped out of the route's last V2 pair, which the rest of the route pays."""
    if hops == 2:
        route = [_pool(net, "uniswap_v2", "WETH/USDC"), _pool(net, "uniswap_v2_fork", "WETH/USDC")]
        if not profitable:
            route.reverse()
    else:
        route = [_pool(net, "uniswap_v2", "WETH/DAI"), _pool(net, "uniswap_v3", "USDC/DAI", 100),
                 _pool(net, "uniswap_v2_fork", "WETH/USDC")]
    fused = trade(net, route, "WETH", WETH_IN, route[-1][0], FlashSource.UNISWAP_V2, min_profit)
    if hops == 2:
        return with_v2_amounts(net.chain, fused)
    # A V3 hop precedes the lender: quote the last output through the contract, funded by Aave.
    probe = net.book.lender(replace(fused, lender=net.manifest["aave_v3"]["pool"], source=FlashSource.AAVE_V3))
    return with_v2_amounts(net.chain, fused, last_out=quote(net.chain, net.arb, probe))


def v2_pair(net, hops: int, profitable: bool = True, min_profit: int = 1) -> Trade:
    """USDC borrowed from a V2 pair that is not on the route (repaid with the 0.3 % fee)."""
    lender = net.pool("uniswap_v2", "USDC/DAI")
    return net.book.lender(replace(aave(net, hops, profitable, min_profit), lender=lender,
                                   source=FlashSource.UNISWAP_V2))


def v3(net, hops: int, profitable: bool = True, min_profit: int = 1) -> Trade:
    """USDC borrowed from a V3 pool's flash (not on the route)."""
    lender = net.pool("uniswap_v3", "WBTC/USDC", 500)
    return net.book.lender(replace(aave(net, hops, profitable, min_profit), lender=lender,
                                   source=FlashSource.UNISWAP_V3))


BUILDERS = {"aave": aave, "v2_fused": v2_fused, "v2_pair": v2_pair, "v3": v3}


def v2_pair_v2v2(net) -> Trade:
    """USDC from a V2 lender not on the route, through two V2 pairs (every output precomputed)."""
    pools = [_pool(net, "uniswap_v2_fork", "WETH/USDC"), _pool(net, "uniswap_v2", "WETH/USDC")]
    return with_v2_amounts(net.chain, replace(v2_pair(net, 2), hops=net.book.hops_along(net.token("USDC"), pools)))
