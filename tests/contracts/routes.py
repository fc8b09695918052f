"""Routes over the test devnet (after the conftest's mispricing), one builder per flash source.

V2 hops carry outputs precomputed from the pairs' reserves, as an executor sends them."""

from __future__ import annotations

from dataclasses import replace

from contracts.arbitrage import FlashSource, HopKind, Trade, hops_along, quote, with_v2_amounts
from contracts.pools import read_v2, v3_pool

USDC_IN = 10_000 * 10**6
WETH_IN = 3 * 10**18


def _pool(net, venue: str, pair: str, fee: int | None = None) -> tuple[str, HopKind]:
    kind = HopKind.V3 if venue == "uniswap_v3" else HopKind.V2
    return net.pool(venue, pair, fee), kind


def _trade(net, pools, symbols, amount, lender, source, min_profit=0, token1=False) -> Trade:
    hops = hops_along(tuple(net.token(s) for s in symbols), pools)
    return Trade(hops, amount, lender, source, min_profit, net.recipient, token1)


def _is_token1(net, lender: str, symbol: str, v3: bool) -> bool:
    token0 = v3_pool(net.chain, lender).functions.token0().call() if v3 else read_v2(net.chain, lender).token0
    return token0.lower() != net.token(symbol).lower()


# Cheap WETH: V3 pools and the V2 fork. Dear WETH: uniswap_v2 WETH/USDC and WETH/DAI.
def aave(net, hops: int, profitable: bool = True, min_profit: int = 0) -> Trade:
    """USDC borrowed from Aave V3."""
    lender = net.manifest["aave_v3"]["pool"]
    if hops == 2:
        route = [_pool(net, "uniswap_v3", "WETH/USDC", 500), _pool(net, "uniswap_v2", "WETH/USDC")]
        if not profitable:
            route.reverse()
        trade = _trade(net, route, ["USDC", "WETH", "USDC"], USDC_IN, lender, FlashSource.AAVE, min_profit)
    else:
        route = [_pool(net, "uniswap_v3", "WETH/USDC", 3000), _pool(net, "uniswap_v2", "WETH/DAI"),
                 _pool(net, "uniswap_v3", "USDC/DAI", 100)]
        trade = _trade(net, route, ["USDC", "WETH", "DAI", "USDC"], USDC_IN, lender, FlashSource.AAVE, min_profit)
    return with_v2_amounts(net.chain, trade)


def v2_fused(net, hops: int, profitable: bool = True, min_profit: int = 0) -> Trade:
    """WETH flash-swapped out of the route's last V2 pair, which the rest of the route pays."""
    if hops == 2:
        route = [_pool(net, "uniswap_v2", "WETH/USDC"), _pool(net, "uniswap_v2_fork", "WETH/USDC")]
        if not profitable:
            route.reverse()
        symbols = ["WETH", "USDC", "WETH"]
    else:
        route = [_pool(net, "uniswap_v2", "WETH/DAI"), _pool(net, "uniswap_v3", "USDC/DAI", 100),
                 _pool(net, "uniswap_v2_fork", "WETH/USDC")]
        symbols = ["WETH", "DAI", "USDC", "WETH"]
    trade = _trade(net, route, symbols, WETH_IN, route[-1][0], FlashSource.V2, min_profit)
    if hops == 2:
        return with_v2_amounts(net.chain, trade)
    # A V3 hop precedes the lender: quote the last output through the contract, funded by Aave.
    probe = replace(trade, lender=net.manifest["aave_v3"]["pool"], source=FlashSource.AAVE)
    return with_v2_amounts(net.chain, trade, last_out=quote(net.chain, net.arb, probe))


def v2_pair(net, hops: int, profitable: bool = True, min_profit: int = 0) -> Trade:
    """USDC borrowed from a V2 pair that is not on the route (repaid with the 0.3 % fee)."""
    lender = net.pool("uniswap_v2", "USDC/DAI")
    trade = aave(net, hops, profitable, min_profit)
    return replace(trade, lender=lender, source=FlashSource.V2,
                   borrow_token1=_is_token1(net, lender, "USDC", v3=False))


def v3(net, hops: int, profitable: bool = True, min_profit: int = 0) -> Trade:
    """USDC borrowed from a V3 pool's flash (not on the route)."""
    lender = net.pool("uniswap_v3", "WBTC/USDC", 500)
    trade = aave(net, hops, profitable, min_profit)
    return replace(trade, lender=lender, source=FlashSource.V3,
                   borrow_token1=_is_token1(net, lender, "USDC", v3=True))


BUILDERS = {"aave": aave, "v2_fused": v2_fused, "v2_pair": v2_pair, "v3": v3}


def v2_pair_v2v2(net) -> Trade:
    """USDC from a V2 lender not on the route, through two V2 pairs (every output precomputed)."""
    pools = [_pool(net, "uniswap_v2_fork", "WETH/USDC"), _pool(net, "uniswap_v2", "WETH/USDC")]
    hops = hops_along(tuple(net.token(s) for s in ("USDC", "WETH", "USDC")), pools)
    return with_v2_amounts(net.chain, replace(v2_pair(net, 2), hops=hops))
