"""Attacks on FlashArbitrage that must fail: strangers, forged callbacks, re-entry, pause."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_abi import encode as abi_encode

from contracts.arbitrage import BadTrade, FlashSource, HopKind, Trade, execute, hops_along
from contracts.npm import AAVE, npm_artifact, own_artifact
from contracts.pools import erc20, v2_pair
from contracts.reverts import Reverted
from tests.contracts import routes

pytestmark = pytest.mark.chain

ZERO = "0x" + "00" * 20


def _fails_with(fn, error: str) -> tuple:
    with pytest.raises(Reverted) as info:
        fn()
    assert info.value.error == error, str(info.value)
    return info.value.error_args


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


def test_real_aave_pool_cannot_call_back_for_a_strangers_loan(net):
    aave = net.stranger.contract(net.manifest["aave_v3"]["pool"], npm_artifact(AAVE, "Pool")["abi"])
    fn = lambda: net.stranger.transact(aave, "flashLoanSimple", net.arb.address, net.token("USDC"),  # noqa: E731
                                       10**9, b"", 0)
    assert _fails_with(fn, "UnexpectedCaller") == (aave.address,)


def test_real_v2_pair_cannot_call_back_for_a_strangers_flash_swap(net):
    pair = v2_pair(net.stranger, net.pool("uniswap_v2", "USDC/DAI"))
    fn = lambda: net.stranger.transact(pair, "swap", 10**6, 0, net.arb.address, b"x")  # noqa: E731
    assert _fails_with(fn, "UnexpectedCaller") == (pair.address,)


# UniswapV3Pool.flash and .swap call back msg.sender, never a third party, so a stranger cannot make
# a real V3 pool call FlashArbitrage; the direct-call tests above cover a forged V3 callback.


def _evil(net):
    art = own_artifact("EvilPool")
    return net.chain.contract(net.chain.deploy(art["abi"], art["bytecode"]), art["abi"])


def _evil_trade(net, evil) -> Trade:
    """Aave-funded USDC route whose first hop is the attacker posing as a V2 pair."""
    path = (net.token("USDC"), net.token("WETH"), net.token("USDC"))
    hops = hops_along(path, [(evil.address, HopKind.V2), (net.pool("uniswap_v2", "WETH/USDC"), HopKind.V2)])
    return Trade(hops, 10**9, net.manifest["aave_v3"]["pool"], FlashSource.AAVE, 0, net.recipient)


@pytest.mark.parametrize("mode", [2, 3, 4, 5], ids=["v2call", "v3swap", "aave", "v3flash"])
def test_callback_from_a_contract_not_lending_or_swapping_now_fails(net, mode):
    evil = _evil(net)
    net.chain.transact(evil, "arm", mode, b"")
    args = _fails_with(lambda: execute(net.chain, net.arb, _evil_trade(net, evil)), "UnexpectedCaller")
    assert args == (evil.address,)


def test_reentry_is_refused(net):
    evil = _evil(net)
    net.chain.transact(net.arb, "transferOwnership", evil.address)  # the guard sits behind the owner check
    call = net.arb.encode_abi("execute", args=[_evil_trade(net, evil).encode()])
    net.chain.transact(evil, "arm", 1, call)
    _fails_with(lambda: net.chain.transact(evil, "forward", net.arb.address, call), "Reentrancy")


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


def _raw(trade: Trade, start: int, value: bytes) -> bytes:
    data = bytearray(trade.encode())
    data[start:start + len(value)] = value
    return bytes(data)


@pytest.mark.parametrize(("mangle", "error"), [
    (lambda t: t.encode()[:-1], "BadRouteLength"),
    (lambda t: t.encode()[:72 + 56], "BadRouteLength"),
    (lambda t: t.encode() + t.encode()[72:72 + 56] * 3, "BadRouteLength"),
    (lambda t: _raw(t, 44, bytes(14)), "ZeroAmount"),
    (lambda t: _raw(t, 0, bytes(20)), "ZeroAddress"),
    (lambda t: _raw(t, 40, b"\x07"), "UnknownFlashSource"),
    (lambda t: _raw(t, 72 + 20, b"\x05"), "UnknownHopKind"),
])
def test_malformed_trades_fail_with_named_errors(net, mangle, error):
    data = net.arb.encode_abi("execute", args=[mangle(routes.aave(net, 2))])
    _fails_with(lambda: net.chain.send(net.arb.address, data), error)


@pytest.mark.parametrize("change", [
    {"amount_in": 0}, {"amount_in": 2**112}, {"recipient": "0x1234"}, {"lender_fee_bps": 10000}])
def test_encoder_refuses_what_the_contract_cannot_check(net, change):
    trade = replace(routes.aave(net, 2), **change)
    if change.get("amount_in") == 0:  # the contract checks this one itself
        _fails_with(lambda: execute(net.chain, net.arb, trade), "ZeroAmount")
        return
    with pytest.raises(BadTrade):
        trade.encode()


def test_encoder_refuses_a_path_that_is_not_a_cycle(net):
    trade = routes.aave(net, 2)
    broken = (trade.hops[0], replace(trade.hops[1], token_out=net.token("DAI")))
    with pytest.raises(BadTrade, match="cycle"):
        replace(trade, hops=broken).encode()
    with pytest.raises(BadTrade, match="2 to 4"):
        replace(trade, hops=trade.hops[:1]).encode()
