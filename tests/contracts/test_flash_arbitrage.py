"""FlashArbitrage against real Uniswap V2/V3 and Aave V3 bytecode, for every flash source."""

from __future__ import annotations

import pytest

from contracts.arbitrage import arbitrage_events, execute, word_address
from contracts.chain import Reverted
from contracts.pools import erc20, read_v2, read_v3
from tests.contracts import routes

pytestmark = pytest.mark.chain

SYMBOLS = ("WETH", "USDC", "DAI", "WBTC")


def expected_fee(source: str, amount: int, net) -> int:
    """The flash fee each lender charges, from its own rules."""
    if source == "aave":  # FlashLoanLogic: amount.percentMul(premium), rounded half up
        return (amount * net.manifest["aave_v3"]["flashloan_premium_bps"] + 5000) // 10000
    if source == "v3":  # UniswapV3Pool.flash: mulDivRoundingUp(amount, fee, 1e6)
        return -(-amount * 500 // 10**6)
    if source == "v2_pair":  # K check with 0.3 % on the repaid input
        return -(-amount * 10000 // 9970) - amount
    return 0  # fused flash swap: the pair's fee is inside the hop's price


def _state(net, trade) -> dict:
    """Everything a failed trade must leave unchanged."""
    pools = {}
    for hop in trade.hops:
        address = word_address(hop)
        pools[address] = read_v3(net.chain, address, 1) if hop >> 160 & 0xFF else read_v2(net.chain, address)
    return {
        "pools": pools,
        "recipient": [net.balance(s, net.recipient) for s in SYMBOLS],
        "arb": [net.balance(s, net.arb.address) for s in SYMBOLS],
        "lender": [net.balance(s, word_address(trade.flash)) for s in SYMBOLS],
    }


@pytest.mark.parametrize("source", sorted(routes.BUILDERS))
@pytest.mark.parametrize("hops", [2, 3])
def test_profitable_route_pays_recipient_what_the_event_reports(net, source, hops):
    trade = routes.BUILDERS[source](net, hops)
    symbol = "WETH" if source == "v2_fused" else "USDC"
    before = net.balance(symbol, net.recipient)
    receipt = execute(net.chain, net.arb, trade)
    (event,) = arbitrage_events(receipt, net.arb.address)
    paid = net.balance(symbol, net.recipient) - before
    assert event.profit > 0
    assert paid == event.profit
    assert event.amount_in == trade.amount_in
    assert event.fee == expected_fee(source, trade.amount_in, net)
    assert event.amount_out - event.profit == trade.amount_in + event.fee
    assert event.hops == trade.hops
    # Nothing stays behind: no tokens, no allowances.
    lender = word_address(trade.flash)
    for s in SYMBOLS:
        assert net.balance(s, net.arb.address) == 0
        assert erc20(net.chain, net.token(s)).functions.allowance(net.arb.address, lender).call() == 0


@pytest.mark.parametrize("source", sorted(routes.BUILDERS))
def test_unprofitable_route_reverts_with_named_error_and_changes_nothing(net, source):
    trade = routes.BUILDERS[source](net, 2, profitable=False)
    with pytest.raises(Reverted) as info:
        net.chain.call(net.arb.address, net.arb.encode_abi("execute", args=[trade.as_tuple()]))
    assert info.value.error == "ProfitBelowMinimum"
    out, owed, min_profit = info.value.error_args
    assert out < owed and min_profit == 0
    before = _state(net, trade)
    receipt = execute(net.chain, net.arb, trade, gas=3_000_000, check=False)
    assert receipt["status"] == 0
    assert _state(net, trade) == before


@pytest.mark.parametrize("source", ["aave", "v2_fused"])
def test_profit_below_minimum_reverts_even_when_route_profits(net, source):
    greedy = routes.BUILDERS[source](net, 2, min_profit=10**30)
    with pytest.raises(Reverted) as info:
        execute(net.chain, net.arb, greedy)
    assert info.value.error == "ProfitBelowMinimum"
    out, owed, min_profit = info.value.error_args
    assert out > owed  # the route itself was profitable
    assert min_profit == 10**30
