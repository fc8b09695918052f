"""Routes over the test devnet (after the conftest's mispricing), one builder per flash source."""

from __future__ import annotations

from contracts.arbitrage import FlashSource, HopKind, Trade, flash_word, hop_word, word_address
from contracts.pools import read_v2, v3_pool

USDC_IN = 10_000 * 10**6
WETH_IN = 3 * 10**18


def _hop(net, venue: str, pair: str, fee: int | None = None) -> int:
    kind = HopKind.V3 if venue == "uniswap_v3" else HopKind.V2
    return hop_word(net.pool(venue, pair, fee), kind)


def _trade(net, hops, symbols, amount, flash, min_profit=0) -> Trade:
    path = tuple(net.token(s) for s in symbols)
    return Trade(tuple(hops), path, amount, flash, min_profit, path[0], net.recipient)


def _is_token1(net, lender: str, symbol: str, v3: bool) -> bool:
    token0 = v3_pool(net.chain, lender).functions.token0().call() if v3 else read_v2(net.chain, lender).token0
    return token0.lower() != net.token(symbol).lower()


# Cheap WETH: V3 pools and the V2 fork. Dear WETH: uniswap_v2 WETH/USDC and WETH/DAI.
def aave(net, hops: int, profitable: bool = True, min_profit: int = 0) -> Trade:
    """USDC borrowed from Aave V3."""
    flash = flash_word(net.manifest["aave_v3"]["pool"], FlashSource.AAVE)
    if hops == 2:
        route = [_hop(net, "uniswap_v3", "WETH/USDC", 500), _hop(net, "uniswap_v2", "WETH/USDC")]
        if not profitable:
            route.reverse()
        return _trade(net, route, ["USDC", "WETH", "USDC"], USDC_IN, flash, min_profit)
    route = [_hop(net, "uniswap_v3", "WETH/USDC", 3000), _hop(net, "uniswap_v2", "WETH/DAI"),
             _hop(net, "uniswap_v3", "USDC/DAI", 100)]
    return _trade(net, route, ["USDC", "WETH", "DAI", "USDC"], USDC_IN, flash, min_profit)


def v2_fused(net, hops: int, profitable: bool = True, min_profit: int = 0) -> Trade:
    """WETH flash-swapped out of the route's first V2 pair."""
    if hops == 2:
        route = [_hop(net, "uniswap_v2", "WETH/USDC"), _hop(net, "uniswap_v2_fork", "WETH/USDC")]
        if not profitable:
            route.reverse()
        symbols = ["WETH", "USDC", "WETH"]
    else:
        route = [_hop(net, "uniswap_v2", "WETH/DAI"), _hop(net, "uniswap_v3", "USDC/DAI", 100),
                 _hop(net, "uniswap_v2_fork", "WETH/USDC")]
        symbols = ["WETH", "DAI", "USDC", "WETH"]
    flash = flash_word(word_address(route[0]), FlashSource.V2)
    return _trade(net, route, symbols, WETH_IN, flash, min_profit)


def v2_pair(net, hops: int, profitable: bool = True, min_profit: int = 0) -> Trade:
    """USDC borrowed from a V2 pair that is not on the route (repaid with the 0.3 % fee)."""
    lender = net.pool("uniswap_v2", "USDC/DAI")
    flash = flash_word(lender, FlashSource.V2, _is_token1(net, lender, "USDC", v3=False))
    trade = aave(net, hops, profitable, min_profit)
    return Trade(trade.hops, trade.path, trade.amount_in, flash, min_profit, trade.profit_token, trade.recipient)


def v3(net, hops: int, profitable: bool = True, min_profit: int = 0) -> Trade:
    """USDC borrowed from a V3 pool's flash (not on the route)."""
    lender = net.pool("uniswap_v3", "WBTC/USDC", 500)
    flash = flash_word(lender, FlashSource.V3, _is_token1(net, lender, "USDC", v3=True))
    trade = aave(net, hops, profitable, min_profit)
    return Trade(trade.hops, trade.path, trade.amount_in, flash, min_profit, trade.profit_token, trade.recipient)


BUILDERS = {"aave": aave, "v2_fused": v2_fused, "v2_pair": v2_pair, "v3": v3}
