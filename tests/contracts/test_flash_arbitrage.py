"""FlashArbitrage against real Uniswap V2/V3 and Aave V3 bytecode, for every flash source."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.arbitrage import BadTrade, arbitrage_events, execute
from contracts.pools import erc20, read_v2, read_v3
from contracts.reverts import Reverted
from mesh.protocol.constants import PoolKind
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
        pools[hop.pool] = read_v3(net.chain, hop.pool, 1) if hop.kind == PoolKind.UNISWAP_V3 else read_v2(net.chain, hop.pool)
    return {
        "pools": pools,
        "recipient": [net.balance(s, net.recipient) for s in SYMBOLS],
        "arb": [net.balance(s, net.arb.address) for s in SYMBOLS],
        "lender": [net.balance(s, trade.lender) for s in SYMBOLS],
    }


@pytest.mark.parametrize("source", sorted(routes.BUILDERS))
@pytest.mark.parametrize("hops", [2, 3])
def test_profitable_route_pays_recipient_what_the_event_reports(net, source, hops):
    trade = routes.BUILDERS[source](net, hops)
    symbol = "WETH" if source == "v2_fused" else "USDC"
    # Aave keeps repayments in the reserve's aToken; other lenders hold them.
    vault = net.manifest["aave_v3"]["reserves"]["USDC"]["a_token"] if source == "aave" else trade.lender
    before, vault_before = net.balance(symbol, net.recipient), net.balance(symbol, vault)
    receipt = execute(net.chain, net.arb, trade, book=net.book)
    (event,) = arbitrage_events(receipt, net.arb.address)
    paid = net.balance(symbol, net.recipient) - before
    assert event.profit > 0
    assert paid == event.profit
    if source != "v2_fused":  # the fused lender is paid in the other token, its fee inside the price
        assert net.balance(symbol, vault) - vault_before == expected_fee(source, trade.amount_in, net)
    assert event.route == trade.route_hash
    assert (event.token, event.recipient, event.lender) == (trade.profit_token, trade.recipient, trade.lender)
    # Nothing stays behind: no tokens, no allowances.
    lender = trade.lender
    for s in SYMBOLS:
        assert net.balance(s, net.arb.address) == 0
        assert erc20(net.chain, net.token(s)).functions.allowance(net.arb.address, lender).call() == 0


@pytest.mark.parametrize("source", sorted(routes.BUILDERS))
def test_unprofitable_route_reverts_with_named_error_and_changes_nothing(net, source):
    trade = routes.BUILDERS[source](net, 2, profitable=False)
    with pytest.raises(Reverted) as info:
        net.chain.call(net.arb.address, net.arb.encode_abi("execute", args=[trade.encode()]))
    assert info.value.error == "ProfitBelowMinimum"
    out, owed, min_profit = info.value.error_args
    assert out < owed and min_profit == 1
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


def _bump(trade, index: int, delta: int):
    hops = list(trade.hops)
    hops[index] = replace(hops[index], amount_out=hops[index].amount_out + delta)
    return replace(trade, hops=tuple(hops))


@pytest.mark.parametrize(("source", "index"), [("v2_fused", 0), ("v2_fused", -1), ("v2_pair_v2v2", 1)],
                         ids=["fused-first-hop", "fused-lender", "other-pair-last-hop"])
def test_precomputed_amount_one_unit_too_high_makes_the_pair_revert_and_changes_nothing(net, source, index):
    trade = routes.v2_pair_v2v2(net) if source == "v2_pair_v2v2" else routes.BUILDERS[source](net, 2)
    assert trade.hops[index].amount_out > 0
    greedy = _bump(trade, index, 1)
    with pytest.raises(Reverted) as info:
        net.chain.call(net.arb.address, net.arb.encode_abi("execute", args=[greedy.encode()]))
    assert info.value.error_args == ("UniswapV2: K",)
    before = _state(net, trade)
    assert execute(net.chain, net.arb, greedy, gas=3_000_000, check=False)["status"] == 0
    assert _state(net, trade) == before
    assert execute(net.chain, net.arb, trade)["status"] == 1  # the exact amounts still trade


def test_fused_flash_swap_profit_is_the_lenders_output_less_the_input(net):
    trade = routes.v2_fused(net, 2)
    lender_before = read_v2(net.chain, trade.lender)
    (event,) = arbitrage_events(execute(net.chain, net.arb, trade), net.arb.address)
    assert event.profit == trade.hops[-1].amount_out - trade.amount_in
    # The lender was paid in the other token, by the first pair directly.
    lender_after = read_v2(net.chain, trade.lender)
    assert (lender_after.reserve0 * lender_after.reserve1) >= lender_before.reserve0 * lender_before.reserve1


def test_fused_flash_swap_needs_the_lenders_amount(net):
    trade = _bump(routes.v2_fused(net, 2), -1, -routes.v2_fused(net, 2).hops[-1].amount_out)
    with pytest.raises(BadTrade, match="amount_out"):
        trade.encode()
    raw = bytearray(routes.v2_fused(net, 2).encode())
    raw[-12:] = bytes(12)
    with pytest.raises(Reverted) as info:
        net.chain.call(net.arb.address, net.arb.encode_abi("execute", args=[bytes(raw)]))
    assert info.value.error == "ZeroAmount"


def test_v2_hops_priced_from_reserves_trade_like_precomputed_ones(net):
    trade = routes.v2_pair_v2v2(net)
    unpriced = replace(trade, hops=tuple(replace(h, amount_out=0) for h in trade.hops))
    snap = net.chain.snapshot()
    (a,) = arbitrage_events(execute(net.chain, net.arb, unpriced), net.arb.address)
    net.chain.revert_to(snap)
    (b,) = arbitrage_events(execute(net.chain, net.arb, trade), net.arb.address)
    assert a.profit == b.profit
    assert a.profit > 0 and a.route != b.route


def test_profit_kept_in_the_contract_when_it_is_the_recipient(net):
    trade = replace(routes.v2_fused(net, 2), recipient=net.arb.address)
    (event,) = arbitrage_events(execute(net.chain, net.arb, trade), net.arb.address)
    assert event.recipient == net.arb.address
    assert net.balance("WETH", net.arb.address) == event.profit > 0
