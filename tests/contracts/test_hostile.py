"""Hostile pools and lenders that pass the genuineness checks (a deployment trusting a hostile
factory and a hostile Aave pool): every one of them makes the trade revert or leaves the contract's
balances whole, while the contract holds balances of every token."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.arbitrage import Hop, Trade, arbitrage_events, execute, with_v2_amounts
from contracts.reverts import Reverted
from mesh.protocol.constants import FlashSource, PoolKind
from tests.contracts import hostile as h
from tests.contracts import routes

pytestmark = pytest.mark.chain

V2, V3 = PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3
CHEAP, DEAR = 2900, 3100  # USDC per WETH quoted by the hostile pools
UNI, FORK = 1, 2  # the real V2 factories' indexes in the compromised deployment


@pytest.fixture(scope="module")
def compromised_module(devnet):
    """One compromised deployment per module (and worker), removed at the module's end."""
    snap = devnet.chain.snapshot()
    try:
        yield h.compromised(devnet)
    finally:
        devnet.chain.revert_to(snap)


@pytest.fixture
def evil(compromised_module, net):
    """The compromised deployment; each test's changes are reverted with ``net``'s snapshot."""
    return compromised_module


def _rate(net, token_in: str, usd_per_weth: int) -> int:
    """HostilePool rate (output per input, 1e18 fixed point, raw units) at ``usd_per_weth``."""
    if token_in == "USDC":
        return 10**18 * 10**12 // usd_per_weth
    return usd_per_weth * 10**18 // 10**12


def _hop(net, pool: str, kind: PoolKind, a: str, b: str, fee: int, factory: int = 0) -> Hop:
    return Hop(pool, kind, net.token(a), net.token(b), 0, fee, factory)


def _real(net, venue: str, a: str, b: str) -> Hop:
    pool = net.pool(venue, "WETH/USDC")
    return _hop(net, pool, V2, a, b, 30, UNI if venue == "uniswap_v2" else FORK)


def _lender_route(net, evil, source: FlashSource, mode: int):
    """USDC cheap WETH on the fork, dear on Uniswap V2 (real pairs), lent by a hostile lender."""
    hops = (_real(net, "uniswap_v2_fork", "USDC", "WETH"), _real(net, "uniswap_v2", "WETH", "USDC"))
    usdc = net.token("USDC")
    if source == FlashSource.AAVE_V3:
        lender, fields = evil.aave, {"lender_fee": 5}
    else:
        v3 = source == FlashSource.UNISWAP_V3
        other = "WBTC" if v3 else "DAI"
        lender = evil.pool(net, "USDC", other, 500 if v3 else 0, v3)
        tokens = tuple(sorted((usdc, net.token(other)), key=lambda t: int(t, 16)))
        fields = {"lender_tokens": tokens, "lender_fee": 500 if v3 else 30}
    net.chain.transact(lender, "arm", mode, 10**18)
    trade = Trade(hops, routes.USDC_IN, lender.address, source, 1, net.recipient, **fields)
    return with_v2_amounts(net.chain, trade)


def _real_lender(net, hops) -> Trade:
    lender = net.pool("uniswap_v2", "USDC/DAI")
    tokens = net.book.lender(Trade(hops, 1, lender, FlashSource.UNISWAP_V2, 1, net.recipient)).lender_tokens
    return Trade(hops, routes.USDC_IN, lender, FlashSource.UNISWAP_V2, 1, net.recipient, tokens,
                 lender_factory=UNI)


def _hop_route(net, evil, position: str, mode: int) -> Trade:
    """A route through a hostile hop, lent by the real Uniswap V2 USDC/DAI pair."""
    if position == "v3_first":
        pool = evil.pool(net, "USDC", "WETH", 500, v3=True)
        net.chain.transact(pool, "arm", mode, _rate(net, "USDC", CHEAP))
        hops = (_hop(net, pool.address, V3, "USDC", "WETH", 500), _real(net, "uniswap_v2", "WETH", "USDC"))
    elif position == "v3_last":
        pool = evil.pool(net, "USDC", "WETH", 3000, v3=True)
        net.chain.transact(pool, "arm", mode, _rate(net, "WETH", DEAR))
        hops = (_real(net, "uniswap_v2_fork", "USDC", "WETH"), _hop(net, pool.address, V3, "WETH", "USDC", 3000))
    elif position == "v3_then_v3":
        first, second = evil.pool(net, "USDC", "WETH", 500, v3=True), evil.pool(net, "USDC", "WETH", 3000, v3=True)
        net.chain.transact(first, "arm", mode, _rate(net, "USDC", CHEAP))
        net.chain.transact(second, "arm", h.HONEST, _rate(net, "WETH", DEAR))
        hops = (_hop(net, first.address, V3, "USDC", "WETH", 500),
                _hop(net, second.address, V3, "WETH", "USDC", 3000))
    else:  # v2_first: a hostile pair of the hostile factory, index 0
        pool = evil.pool(net, "USDC", "WETH", 0, v3=False)
        net.chain.transact(pool, "arm", mode, 10**18)
        out = routes.USDC_IN * _rate(net, "USDC", CHEAP) // 10**18
        hops = (replace(_hop(net, pool.address, V2, "USDC", "WETH", 30), amount_out=out),
                _real(net, "uniswap_v2", "WETH", "USDC"))
    return _real_lender(net, hops)


def _outcome(net, evil, trade: Trade, expected: str) -> None:
    held = h.balances(net, evil.arb.address)
    if expected == "ok":
        got = net.balance("USDC", net.recipient)
        (event,) = arbitrage_events(execute(net.chain, evil.arb, trade), evil.arb.address)
        assert event.profit > 0 and net.balance("USDC", net.recipient) - got == event.profit
    else:
        with pytest.raises(Reverted) as info:
            execute(net.chain, evil.arb, trade)
        if expected != "revert":
            assert info.value.error == expected, str(info.value)
        assert execute(net.chain, evil.arb, trade, gas=3_000_000, check=False)["status"] == 0
    assert h.balances(net, evil.arb.address) == held


LENDER_CASES = [
    (FlashSource.AAVE_V3, h.HONEST, "ok"),
    (FlashSource.AAVE_V3, h.FORGE_AMOUNT, "UnexpectedLoan"),
    (FlashSource.AAVE_V3, h.FORGE_FEE, "UnexpectedFee"),
    (FlashSource.AAVE_V3, h.FORGE_TOKEN, "UnexpectedLoanToken"),
    (FlashSource.AAVE_V3, h.FORGE_DATA, "ForeignData"),
    (FlashSource.AAVE_V3, h.FORGE_INITIATOR, "ForeignInitiator"),
    (FlashSource.AAVE_V3, h.NO_LOAN, "BalanceBelowRequired"),
    (FlashSource.AAVE_V3, h.SKIP_CALLBACK, "BalanceBelowRequired"),
    (FlashSource.AAVE_V3, h.REENTER, "ForeignData"),
    (FlashSource.AAVE_V3, h.PULL_MORE, "revert"),
    (FlashSource.UNISWAP_V2, h.HONEST, "ok"),
    (FlashSource.UNISWAP_V2, h.FORGE_AMOUNT, "UnexpectedLoan"),
    (FlashSource.UNISWAP_V2, h.FORGE_TOKEN, "UnexpectedLoan"),
    (FlashSource.UNISWAP_V2, h.FORGE_DATA, "ForeignData"),
    (FlashSource.UNISWAP_V2, h.FORGE_INITIATOR, "ForeignInitiator"),
    (FlashSource.UNISWAP_V2, h.NO_LOAN, "BalanceBelowRequired"),
    (FlashSource.UNISWAP_V2, h.SKIP_CALLBACK, "BalanceBelowRequired"),
    (FlashSource.UNISWAP_V2, h.REENTER, "ForeignData"),
    (FlashSource.UNISWAP_V3, h.HONEST, "ok"),
    (FlashSource.UNISWAP_V3, h.FORGE_FEE, "UnexpectedFee"),
    (FlashSource.UNISWAP_V3, h.FORGE_TOKEN, "UnexpectedFee"),
    (FlashSource.UNISWAP_V3, h.FORGE_DATA, "ForeignData"),
    (FlashSource.UNISWAP_V3, h.NO_LOAN, "BalanceBelowRequired"),
    (FlashSource.UNISWAP_V3, h.SKIP_CALLBACK, "BalanceBelowRequired"),
    (FlashSource.UNISWAP_V3, h.REENTER, "ForeignData"),
]


@pytest.mark.parametrize(("source", "mode", "expected"), LENDER_CASES,
                         ids=[f"{s.name}-{m}-{e}" for s, m, e in LENDER_CASES])
def test_hostile_lender_reverts_or_leaves_balances_whole(net, evil, source, mode, expected):
    _outcome(net, evil, _lender_route(net, evil, source, mode), expected)


HOP_CASES = [
    ("v3_first", h.HONEST, "ok"),
    ("v3_first", h.ASK_MORE, "UnexpectedPayment"),
    ("v3_first", h.ASK_OUTPUT_SIDE, "ok"),  # it is paid the hop's token, the hop's amount: no more
    ("v3_first", h.PARTIAL, "V3PartialFill"),
    ("v3_first", h.REENTER, "UnexpectedCaller"),
    ("v3_first", h.SKIP_CALLBACK, "revert"),  # the next pair is not paid: UniswapV2: K
    ("v3_first", h.SHORT_OUTPUT, "revert"),
    ("v3_last", h.HONEST, "ok"),
    ("v3_last", h.SKIP_CALLBACK, "BalanceBelowRequired"),  # reports an output it never sends
    ("v3_last", h.SHORT_OUTPUT, "BalanceBelowRequired"),
    ("v3_then_v3", h.HONEST, "ok"),
    ("v3_then_v3", h.SHORT_OUTPUT, "BalanceBelowRequired"),  # the next hop would be paid from held WETH
    ("v2_first", h.HONEST, "ok"),
    ("v2_first", h.SHORT_OUTPUT, "revert"),
    ("v2_first", h.SKIP_CALLBACK, "revert"),
    ("v2_first", h.REENTER, "UnexpectedCaller"),
]


@pytest.mark.parametrize(("position", "mode", "expected"), HOP_CASES,
                         ids=[f"{p}-{m}-{e}" for p, m, e in HOP_CASES])
def test_hostile_hop_reverts_or_leaves_balances_whole(net, evil, position, mode, expected):
    _outcome(net, evil, _hop_route(net, evil, position, mode), expected)


def test_a_token_that_cannot_report_a_balance_is_refused(net, evil):
    nobody = "0x" + "00" * 19 + "42"
    usdc = net.token("USDC")
    pools = []
    for fee in (500, 3000):
        receipt = net.chain.transact(evil.factory, "create", usdc, nobody, fee, True)
        pools.append("0x" + bytes(receipt["logs"][-1]["data"])[12:32].hex())
    hops = (Hop(pools[0], V3, usdc, nobody, 0, 500), Hop(pools[1], V3, nobody, usdc, 0, 3000))
    with pytest.raises(Reverted) as info:
        execute(net.chain, evil.arb, _real_lender(net, hops))
    assert info.value.error == "BadToken"
