"""Non-standard tokens on real Uniswap V2 pairs: each kind trades correctly or reverts cleanly, and the
contract never loses what it holds (of the odd token or of any other)."""

from __future__ import annotations

import pytest

from contracts.arbitrage import Trade, arbitrage_events, execute, with_v2_amounts
from contracts.reverts import Reverted
from mesh.protocol.constants import FlashSource, PoolKind
from tests.contracts import hostile as h

pytestmark = pytest.mark.chain

FEE_ON_TRANSFER, NO_RETURN, RETURNS_FALSE, REVERTS_ON_ZERO, REBASING = 1, 2, 3, 4, 5
LIQUIDITY = 1_000_000
ODD_IN = 1_000 * 10**18


def _market(net, kind: int):
    """An odd token with a USDC pair on each V2 factory, 3 % dearer on the fork; the contract holds some."""
    odd = h.deploy(net, "OddERC20", "ODD", 18, kind)
    net.chain.transact(odd, "mint", net.chain.address, 10 * LIQUIDITY * 10**18)
    pairs = []
    for venue, usd in (("uniswap_v2", LIQUIDITY), ("uniswap_v2_fork", LIQUIDITY * 103 // 100)):
        factory = net.chain.contract(net.manifest[venue]["factory"], _factory_abi())
        net.chain.transact(factory, "createPair", odd.address, net.token("USDC"))
        pair = factory.functions.getPair(odd.address, net.token("USDC")).call()
        net.chain.transact(odd, "transfer", pair, LIQUIDITY * 10**18)
        h.fund(net, pair, {"USDC": usd * 10**6})
        net.chain.transact(net.chain.contract(pair, _pair_abi()), "mint", net.chain.address)
        pairs.append(pair)
    h.fund(net, net.arb.address)
    net.chain.transact(odd, "transfer", net.arb.address, 10 * ODD_IN)
    if kind == REBASING:  # every transfer from now on shrinks every balance by 0.1 %
        net.chain.transact(odd, "setRebase", 10**18, -(10**15))
    return odd, pairs


def _factory_abi():
    from contracts.npm import V2, npm_artifact
    return npm_artifact(V2, "UniswapV2Factory")["abi"]


def _pair_abi():
    from contracts.npm import V2, npm_artifact
    return npm_artifact(V2, "UniswapV2Pair")["abi"]


def _held(net, odd) -> dict:
    return {**h.balances(net, net.arb.address), "ODD": odd.functions.balanceOf(net.arb.address).call()}


def _run(net, odd, trade: Trade, profit_token: str) -> str:
    """Execute; return "ok" or the revert's reason, after checking the contract lost nothing."""
    held = _held(net, odd)
    who = net.recipient
    balance = (lambda: odd.functions.balanceOf(who).call()) if profit_token == "ODD" else (
        lambda: net.balance("USDC", who))
    got = balance()
    try:
        receipt = execute(net.chain, net.arb, trade, book=net.book)
    except Reverted as exc:
        outcome = exc.error_args[0] if exc.error == "Error" else exc.error  # Error(string): the pair's
    else:
        (event,) = arbitrage_events(receipt, net.arb.address)
        assert event.profit > 0 and balance() - got == event.profit
        outcome = "ok"
    assert _held(net, odd) == held
    return outcome


# (kind, odd token in the middle of a USDC route, odd token as the profit of a fused flash swap)
CASES = [
    (FEE_ON_TRANSFER, "UniswapV2: K", "UniswapV2: K"),  # a pair short of its input fails its K check
    (NO_RETURN, "ok", "ok"),
    (RETURNS_FALSE, "ok", "ok"),
    (REVERTS_ON_ZERO, "ok", "ok"),
    (REBASING, "UniswapV2: K", "UniswapV2: INSUFFICIENT_INPUT_AMOUNT"),  # the lender's balance shrank
]


@pytest.mark.parametrize(("kind", "middle", "profit"), CASES, ids=["fee", "no-return", "false", "zero", "rebase"])
def test_odd_token_trades_correctly_or_reverts_and_nothing_held_is_lost(net, kind, middle, profit):
    odd, (uni, fork) = _market(net, kind)
    usdc = net.token("USDC")
    v2 = PoolKind.UNISWAP_V2
    through = net.book.hops_along(usdc, [(uni, v2), (fork, v2)])
    aave = Trade(through, 1_000 * 10**6, net.manifest["aave_v3"]["pool"], FlashSource.AAVE_V3, 1, net.recipient)
    assert _run(net, odd, with_v2_amounts(net.chain, net.book.lender(aave)), "USDC") == middle
    around = net.book.hops_along(odd.address, [(fork, v2), (uni, v2)])
    fused = Trade(around, ODD_IN, uni, FlashSource.UNISWAP_V2, 1, net.recipient)
    assert _run(net, odd, with_v2_amounts(net.chain, net.book.lender(fused)), "ODD") == profit


def test_a_token_returning_false_makes_a_transfer_fail_by_name(net):
    odd, _ = _market(net, RETURNS_FALSE)
    held = odd.functions.balanceOf(net.arb.address).call()
    with pytest.raises(Reverted) as info:
        net.chain.transact(net.arb, "rescue", odd.address, net.recipient, held + 1)
    assert info.value.error == "TransferFailed"
    net.chain.transact(net.arb, "rescue", odd.address, net.recipient, held)
    assert odd.functions.balanceOf(net.recipient).call() == held
