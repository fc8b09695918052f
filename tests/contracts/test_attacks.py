"""Attacks on the real deployment that must fail: strangers, forged callbacks, look-alike pools and
lenders, re-entry, ownership, pause, malformed trades, and the encoder's own refusals."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_abi import encode as abi_encode

from contracts.arbitrage import BadTrade, Hop, execute
from contracts.deploy import deploy_arbitrage
from contracts.npm import AAVE, npm_artifact
from contracts.pools import erc20, v2_pair
from contracts.reverts import Reverted
from mesh.protocol.constants import FlashSource, PoolKind
from tests.contracts import hostile, routes

pytestmark = pytest.mark.chain

ZERO = "0x" + "00" * 20


def _fails_with(fn, error: str) -> tuple:
    with pytest.raises(Reverted) as info:
        fn()
    assert info.value.error == error, str(info.value)
    return info.value.error_args


def _send_raw(net, route: bytes, sender=None):
    chain = sender or net.chain
    return chain.send(net.arb.address, net.arb.encode_abi("execute", args=[route]))


def test_stranger_cannot_execute(net):
    trade = routes.aave(net, 2)
    args = _fails_with(lambda: execute(net.stranger, net.arb, trade), "NotOwner")
    assert args == (net.stranger.address,)


@pytest.mark.parametrize(("fn", "args"), [
    ("executeOperation", lambda n: [n.token("USDC"), 10**6, 0, n.arb.address, b""]),
    ("uniswapV2Call", lambda n: [n.arb.address, 10**6, 0, b""]),
    ("uniswapV3FlashCallback", lambda n: [0, 0, b""]),
    ("uniswapV3SwapCallback", lambda n: [10**6, 0, abi_encode(["address"], [n.token("USDC")])]),
])
def test_stranger_cannot_call_callbacks(net, fn, args):
    data = net.arb.encode_abi(fn, args=args(net))
    assert _fails_with(lambda: net.stranger.send(net.arb.address, data), "UnexpectedCaller") == (
        net.stranger.address,)


def test_stranger_naming_itself_lender_in_callback_data_is_refused_outside_a_trade(net):
    route = replace(routes.aave(net, 2), lender=net.stranger.address).encode()
    data = net.arb.encode_abi("executeOperation", args=[net.token("USDC"), 10**6, 0, net.arb.address, route])
    _fails_with(lambda: net.stranger.send(net.arb.address, data), "ForeignData")


def test_real_aave_pool_cannot_call_back_for_a_strangers_loan(net):
    aave = net.stranger.contract(net.manifest["aave_v3"]["pool"], npm_artifact(AAVE, "Pool")["abi"])
    for params, error in ((b"", "UnexpectedCaller"), (routes.aave(net, 2).encode(), "ForeignData")):
        fn = lambda p=params: net.stranger.transact(aave, "flashLoanSimple", net.arb.address,  # noqa: E731
                                                    net.token("USDC"), 10**9, p, 0)
        _fails_with(fn, error)


def test_real_v2_pair_cannot_call_back_for_a_strangers_flash_swap(net):
    pair = v2_pair(net.stranger, net.pool("uniswap_v2", "USDC/DAI"))
    fn = lambda: net.stranger.transact(pair, "swap", 10**6, 0, net.arb.address, b"x")  # noqa: E731
    assert _fails_with(fn, "UnexpectedCaller") == (pair.address,)


# UniswapV3Pool.flash and .swap call back msg.sender, never a third party, so a stranger cannot make
# a real V3 pool call FlashArbitrage; the direct-call tests above cover a forged V3 callback.


def _with_hop(trade, index: int, **change):
    hops = list(trade.hops)
    hops[index] = replace(hops[index], **change)
    return replace(trade, hops=tuple(hops))


@pytest.mark.parametrize("position", ["v3_hop", "v2_hop", "aave", "v2_lender", "v3_lender"])
def test_look_alike_pools_and_lenders_are_refused_before_any_call(net, position):
    hostile.fund(net, net.arb.address)
    held = hostile.balances(net, net.arb.address)
    usdc, weth = net.token("USDC"), net.token("WETH")
    fake = hostile.hostile_pool(net, usdc, weth, 500)
    trade = routes.aave(net, 2)  # hop 0: V3 WETH/USDC 500, hop 1: V2 WETH/USDC
    if position == "v3_hop":
        trade, error = _with_hop(trade, 0, pool=fake.address), "UnknownPool"
    elif position == "v2_hop":
        trade, error = _with_hop(trade, 1, pool=fake.address), "UnknownPool"
    elif position == "aave":
        trade, error = replace(trade, lender=fake.address), "UnknownLender"
    else:
        source = FlashSource.UNISWAP_V2 if position == "v2_lender" else FlashSource.UNISWAP_V3
        trade = replace(trade, lender=fake.address, source=source, lender_tokens=(usdc, weth), lender_fee=500)
        error = "UnknownLender"
    assert _fails_with(lambda: execute(net.chain, net.arb, trade), error) == (fake.address,)
    assert hostile.balances(net, net.arb.address) == held


def test_a_pair_named_under_another_factory_or_an_unset_one_is_refused(net):
    trade = routes.v2_fused(net, 2)
    for factory in (1, 3):  # the pair is factory 0's; 3 is not configured
        bad = _with_hop(trade, 0, factory=factory)
        assert _fails_with(lambda b=bad: execute(net.chain, net.arb, b), "UnknownPool") == (trade.hops[0].pool,)


def test_lender_token_that_does_not_match_the_lender_is_refused(net):
    trade = routes.v2_pair(net, 2)
    wrong = replace(trade, lender_tokens=(net.token("USDC"), net.token("WETH")))
    with pytest.raises(BadTrade, match=r"holds"):
        net.book.check(wrong)
    assert _fails_with(lambda: execute(net.chain, net.arb, wrong), "UnknownLender") == (trade.lender,)


def test_encoder_and_book_refuse_a_lender_flag_that_does_not_match_the_lenders_tokens(net):
    trade = routes.v2_pair(net, 2)
    is_token1 = trade.lender_tokens[1].lower() == trade.profit_token.lower()
    assert trade.encode() == replace(trade, borrow_token1=is_token1).encode()
    with pytest.raises(BadTrade, match="lender flag"):
        replace(trade, borrow_token1=not is_token1).encode()
    with pytest.raises(BadTrade, match="does not hold the profit token"):
        replace(trade, lender_tokens=(net.token("WETH"), net.token("WBTC"))).encode()
    with pytest.raises(BadTrade, match="needs lender_tokens"):
        replace(trade, lender_tokens=None).encode()


def test_a_v2_flash_from_the_routes_last_pool_needs_that_pool_to_be_a_v2_pair(net):
    trade = routes.aave(net, 2, profitable=False)  # hop 1 is the V3 WETH/USDC 500 pool
    v3_pool = bytes.fromhex(trade.hops[1].pool[2:])
    bad = _raw(trade, 20, v3_pool + bytes([int(FlashSource.UNISWAP_V2)]))
    assert _fails_with(lambda: _send_raw(net, bad), "UnknownLender") == (trade.hops[1].pool,)


def test_reentry_and_rescue_during_a_trade_are_refused(net):
    evil = hostile.compromised(net)
    pool = evil.pool(net, "USDC", "WETH", 0, v3=False)  # a V2 hop of the hostile factory (index 0)
    net.chain.transact(evil.arb, "transferOwnership", pool.address)
    net.chain.transact(pool, "forward", evil.arb.address, evil.arb.encode_abi("acceptOwnership", args=[]))
    assert evil.arb.functions.owner().call() == pool.address
    usdc, weth = net.token("USDC"), net.token("WETH")
    trade = replace(routes.v2_pair_v2v2(net), recipient=net.recipient)
    trade = _with_hop(_with_hop(trade, 0, pool=pool.address, factory=0, amount_out=10**15), 1, factory=1)
    trade = replace(trade, lender_factory=1)  # the real factories are indexes 1 and 2 there
    call = evil.arb.encode_abi("execute", args=[trade.encode()])
    for payload in (call, evil.arb.encode_abi("rescue", args=[usdc, pool.address, 1])):
        net.chain.transact(pool, "setPayload", payload)
        net.chain.transact(pool, "arm", hostile.CALL_PAYLOAD, 10**18)
        _fails_with(lambda: net.chain.transact(pool, "forward", evil.arb.address, call), "Reentrancy")
    assert weth  # the route's intermediate token


def test_ownership_moves_in_two_steps(net):
    new = net.stranger
    _fails_with(lambda: new.transact(net.arb, "transferOwnership", new.address), "NotOwner")
    net.chain.transact(net.arb, "transferOwnership", new.address)
    assert net.arb.functions.owner().call() == net.chain.address  # nothing moved yet
    assert net.arb.functions.pendingOwner().call() == new.address
    outsider = net.chain.contract(net.arb.address, net.arb.abi)
    _fails_with(lambda: net.chain.transact(outsider, "acceptOwnership"), "NotPendingOwner")
    new.transact(new.contract(net.arb.address, net.arb.abi), "acceptOwnership")
    assert net.arb.functions.owner().call() == new.address
    assert net.arb.functions.pendingOwner().call() == ZERO
    _fails_with(lambda: execute(net.chain, net.arb, routes.aave(net, 2)), "NotOwner")


def test_paused_contract_refuses_trades_until_resumed(net):
    _fails_with(lambda: net.stranger.transact(net.arb, "setPaused", True), "NotOwner")
    net.chain.transact(net.arb, "setPaused", True)
    assert net.arb.functions.paused().call() is True
    _fails_with(lambda: execute(net.chain, net.arb, routes.aave(net, 2)), "TradingPaused")
    net.chain.transact(net.arb, "setPaused", False)
    assert execute(net.chain, net.arb, routes.aave(net, 2))["status"] == 1


def test_owner_rescues_stray_tokens_and_stranger_cannot(net):
    usdc = erc20(net.chain, net.token("USDC"))
    net.chain.transact(usdc, "transfer", net.arb.address, 1234)
    _fails_with(lambda: net.stranger.transact(net.arb, "rescue", usdc.address, net.stranger.address, 1234),
                "NotOwner")
    before = net.balance("USDC", net.recipient)
    net.chain.transact(net.arb, "rescue", usdc.address, net.recipient, 1234)
    assert net.balance("USDC", net.recipient) - before == 1234
    assert net.balance("USDC", net.arb.address) == 0
    _fails_with(lambda: net.chain.transact(net.arb, "rescue", usdc.address, ZERO, 1), "ZeroAddress")
    _fails_with(lambda: net.chain.transact(net.arb, "rescue", usdc.address, net.recipient, 1), "TransferFailed")


def _raw(trade, start: int, value: bytes) -> bytes:
    data = bytearray(trade.encode())
    data[start:start + len(value)] = value
    return bytes(data)


@pytest.mark.parametrize(("mangle", "error"), [
    (lambda t: t.encode()[:-1], "BadRouteLength"),
    (lambda t: t.encode()[:92 + 56], "BadRouteLength"),
    (lambda t: t.encode() + t.encode()[92:92 + 56] * 3, "BadRouteLength"),
    (lambda t: _raw(t, 44, bytes(14)), "ZeroAmount"),
    (lambda t: _raw(t, 58, bytes(14)), "ZeroMinProfit"),
    (lambda t: _raw(t, 0, bytes(20)), "ZeroAddress"),
    (lambda t: _raw(t, 40, b"\x00"), "UnknownFlashSource"),
    (lambda t: _raw(t, 40, b"\x07"), "UnknownFlashSource"),
    (lambda t: _raw(t, 92 + 20, b"\x00"), "UnknownHopKind"),
    (lambda t: _raw(t, 92 + 20, b"\x05"), "UnknownHopKind"),
], ids=["short", "one-hop", "five-hops", "zero-amount", "zero-min-profit", "zero-recipient", "source-none",
        "source-7", "kind-none", "kind-5"])
def test_malformed_trades_fail_with_named_errors(net, mangle, error):
    _fails_with(lambda: _send_raw(net, mangle(routes.aave(net, 2))), error)


def test_fused_route_whose_lender_pays_nothing_is_refused(net):
    raw = bytearray(routes.v2_fused(net, 2).encode())
    raw[-12:] = bytes(12)
    _fails_with(lambda: _send_raw(net, bytes(raw)), "ZeroAmount")


@pytest.mark.parametrize("change", [
    {"amount_in": 0}, {"min_profit": 0}, {"amount_in": 2**112}, {"recipient": "0x1234"}, {"lender_fee": 2**16},
    {"source": FlashSource.NONE}])
def test_encoder_refuses_what_the_contract_would_refuse_or_cannot_check(net, change):
    with pytest.raises(BadTrade):
        replace(routes.aave(net, 2), **change).encode()


def test_encoder_refuses_a_path_that_is_not_a_cycle(net):
    trade = routes.aave(net, 2)
    broken = (trade.hops[0], replace(trade.hops[1], token_out=net.token("DAI")))
    with pytest.raises(BadTrade, match="cycle"):
        replace(trade, hops=broken).encode()
    with pytest.raises(BadTrade, match="2 to 4"):
        replace(trade, hops=trade.hops[:1]).encode()
    with pytest.raises(BadTrade, match="V2 hops only"):
        Hop(trade.hops[0].pool, PoolKind.UNISWAP_V3, trade.hops[0].token_in, trade.hops[0].token_out, 5).encode()


def test_deployment_refuses_a_factory_list_without_its_hashes(net):
    with pytest.raises(Reverted) as info:
        deploy_arbitrage(net.chain, ZERO, ZERO, [ZERO] * 2, v2_hashes=[b"\x00" * 32])
    assert info.value.error == "BadFactoryList"
    with pytest.raises(Reverted) as info:
        deploy_arbitrage(net.chain, ZERO, ZERO, [ZERO] * 5)
    assert info.value.error == "BadFactoryList"


def test_every_named_error_of_the_contract_is_expected_by_a_test():
    from pathlib import Path

    from contracts.npm import own_artifact

    names = {e["name"] for e in own_artifact("FlashArbitrage")["abi"] if e["type"] == "error"}
    text = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    assert len(names) == 25
    assert sorted(n for n in names if f'"{n}"' not in text) == []
