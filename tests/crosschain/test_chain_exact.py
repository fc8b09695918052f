"""The cross-chain math against the two devnets' contracts: each leg's amounts are what the pools pay.

Prices part on chain B; the best trade is sized from the pools read on both chains
(:func:`contracts.swapmath.crosschain.optimise`), then both legs are swapped for real: the
source pool pays exactly ``x_bought`` for ``amount_in`` and the destination pool exactly
``q_out`` for ``x_arrived`` (the bridge is the arithmetic in between).
"""

from __future__ import annotations

import pytest

from contracts.pools import erc20, read_v2, read_v3, swap_v2, swap_v3
from contracts.simulator.state import to_model
from contracts.swapmath.crosschain import Bridge, Leg, Route, optimise
from contracts.swapmath.pools import V2Pool, V3Pool

from .conftest import TwoDevnets, part_prices

pytestmark = [pytest.mark.chain]

RADIUS = 4


def _model(net, venue: str, fee: int | None) -> V2Pool | V3Pool:
    address = net.pool(venue, "WETH/USDC", fee)
    if venue == "uniswap_v3":
        state = read_v3(net.chain, address, RADIUS)
        word = (state.tick // state.tick_spacing) >> 8
        return to_model(state, words=range(word - RADIUS, word + RADIUS + 1))
    return to_model(read_v2(net.chain, address))


def _swap(net, pool: V2Pool | V3Pool, token: str, amount: int, out_token: str) -> int:
    """Swap for real; the output measured as the account's balance change."""
    before = erc20(net.chain, out_token).functions.balanceOf(net.chain.address).call()
    if isinstance(pool, V2Pool):
        swap_v2(net.chain, pool.address, token, amount)
    else:
        swap_v3(net.chain, net.manifest["periphery"], pool.address, token, amount)
    return erc20(net.chain, out_token).functions.balanceOf(net.chain.address).call() - before


@pytest.mark.parametrize(("venue", "fee"), [("uniswap_v2", None), ("uniswap_v3", 500)])
def test_both_legs_pay_exactly_what_the_math_says(two_devnets: TwoDevnets, venue, fee):
    a, b = two_devnets.chains
    part_prices(b, amount=90_000 * 10**6)  # WETH dearer on chain B's V2 pair
    weth, usdc = a.token("WETH"), a.token("USDC")
    source, dest = _model(a, venue, fee), _model(b, "uniswap_v2", None)
    buy_a = source.token0.lower() == usdc.lower()
    buy_b = dest.token0.lower() == usdc.lower()
    route = Route(Leg(source, buy_a, 18, 6), Leg(dest, buy_b, 18, 6), Bridge(10**15, 500, 600, 50),
                  2 * 10**6, 2 * 10**6)
    legs = optimise(route)
    assert legs is not None and legs.profit > 0
    assert optimise(route.reverse()) is None  # WETH is cheap on A: selling it there cannot pay
    assert _swap(a, source, usdc, legs.amount_in, weth) == legs.x_bought
    assert legs.x_arrived == legs.x_bought - legs.bridge_fee
    assert _swap(b, dest, weth, legs.x_arrived, usdc) == legs.q_out
    assert legs.profit == legs.q_out - legs.haircut - legs.amount_in - 4 * 10**6
