"""Invariant: whatever the route, lender, flags or hostile substitution, a trade run by the owner
never lowers a balance the contract holds; only a measured profit leaves it, to the recipient.

Hypothesis draws cyclic routes of 2 to 4 hops over the devnet's genuine pools, a lender of every
kind, random factory indexes, and replaces a pool or the lender with a hostile one (armed in a random
mode), or flips a byte of the encoded trade. It runs each against the real deployment and against one
that trusts a hostile factory and Aave pool (tests/contracts/hostile.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contracts.arbitrage import BadTrade, Hop, Trade, arbitrage_events, with_v2_amounts
from mesh.protocol.constants import FlashSource, PoolKind
from tests.contracts import hostile as h

pytestmark = pytest.mark.chain

V2, V3 = PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3
USD = {"WETH": 3000, "USDC": 1, "DAI": 1, "WBTC": 60000}
DECIMALS = {"WETH": 18, "USDC": 6, "DAI": 18, "WBTC": 8}


def _pools(net) -> list[tuple[str, PoolKind, str, str, int, int]]:
    """(address, kind, token a, token b, fee, factory index) of every genuine pool."""
    out = []
    for index, venue in enumerate(("uniswap_v2", "uniswap_v2_fork")):
        for p in net.manifest[venue]["pairs"]:
            a, b = p["pair"].split("/")
            out.append((p["address"], V2, a, b, 30, index))
    for p in net.manifest["uniswap_v3"]["pools"]:
        a, b = p["pair"].split("/")
        out.append((p["address"], V3, a, b, p["fee"], 0))
    return out


@st.composite
def scenarios(draw, pools):
    n = draw(st.integers(2, 4))
    start = draw(st.sampled_from(sorted(USD)))
    hops, token = [], start
    for i in range(n):
        last = i == n - 1
        choices = [p for p in pools if token in p[2:4] and (not last or start in p[2:4])
                   and (last or {token, start} != set(p[2:4]) or n == 2)]
        assume(choices)
        pool = draw(st.sampled_from(choices))
        out = pool[3] if pool[2] == token else pool[2]
        assume(not last or out == start)
        hops.append((pool, token, out))
        token = out
    source = draw(st.sampled_from(["aave", "v2", "v3", "fused"]))
    lenders = [p for p in pools if start in p[2:4] and p[1] == (V3 if source == "v3" else V2)]
    lender = draw(st.sampled_from(lenders)) if source in ("v2", "v3") else None
    usd = draw(st.sampled_from([1, 300, 10_000, 100_000]))
    return {
        "hops": hops, "start": start, "source": source, "lender": lender,
        "amount": usd * 10 ** DECIMALS[start] // USD[start], "min_profit": draw(st.integers(1, 10**6)),
        "precompute": draw(st.booleans()), "compromised": draw(st.booleans()),
        "attack": draw(st.sampled_from(["none", "hop", "lender", "factory", "lender_token", "flip"])),
        "at": draw(st.integers(0, 3)), "mode": draw(st.integers(0, 14)),
        "index": draw(st.integers(0, 3)), "byte": draw(st.integers(0, 92 + 4 * 56 - 1)),
        "token": draw(st.sampled_from(sorted(USD))),
    }


def _build(net, evil, s) -> bytes:
    shift = 1 if s["compromised"] else 0  # the real V2 factories are 1 and 2 in the compromised one
    hops = tuple(Hop(p[0], p[1], net.token(a), net.token(b), 0, p[4], p[5] + shift if p[1] == V2 else 0)
                 for p, a, b in s["hops"])
    source = {"aave": FlashSource.AAVE_V3, "v2": FlashSource.UNISWAP_V2, "v3": FlashSource.UNISWAP_V3,
              "fused": FlashSource.UNISWAP_V2}[s["source"]]
    aave = evil.aave.address if s["compromised"] else net.manifest["aave_v3"]["pool"]
    trade = Trade(hops, s["amount"], aave, FlashSource.AAVE_V3, s["min_profit"], net.recipient, lender_fee=5)
    if s["source"] in ("v2", "v3"):
        p = s["lender"]
        tokens = tuple(sorted((net.token(p[2]), net.token(p[3])), key=lambda t: int(t, 16)))
        trade = replace(trade, lender=p[0], source=source, lender_tokens=tokens, lender_fee=p[4],
                        lender_factory=p[5] + shift if p[1] == V2 else 0)
    elif s["source"] == "fused" and hops[-1].kind == V2:
        trade = replace(trade, lender=hops[-1].pool, source=source)
    if s["precompute"] or trade.fused:
        trade = with_v2_amounts(net.chain, trade)
        if trade.fused and trade.hops[-1].amount_out == 0:
            trade = with_v2_amounts(net.chain, trade, last_out=s["amount"] * 101 // 100)
    at = s["at"] % len(hops)
    if s["attack"] in ("hop", "lender"):
        hop = hops[at]
        fee = hop.fee if hop.kind == V3 else 0
        pool = (evil.pool(net, _symbol(net, hop.token_in), _symbol(net, hop.token_out), fee, hop.kind == V3)
                if s["compromised"] else h.hostile_pool(net, hop.token_in, hop.token_out, fee))
        net.chain.transact(pool, "arm", s["mode"], 10**18)
        if s["attack"] == "hop":
            trade = replace(trade, hops=tuple(replace(x, pool=pool.address, factory=0) if i == at else x
                                              for i, x in enumerate(trade.hops)))
        else:
            trade = replace(trade, lender=pool.address)
    elif s["attack"] == "factory":
        trade = replace(trade, hops=tuple(replace(x, factory=s["index"]) if i == at and x.kind == V2 else x
                                          for i, x in enumerate(trade.hops)))
    elif s["attack"] == "lender_token" and trade.lender_tokens:
        trade = replace(trade, lender_tokens=(trade.profit_token, net.token(s["token"])))
    try:
        raw = bytearray(trade.encode())
    except BadTrade:
        assume(False)
    if s["attack"] == "flip":
        raw[s["byte"] % len(raw)] ^= 0xFF
    return bytes(raw)


def _symbol(net, token: str) -> str:
    return next(s for s in USD if net.token(s).lower() == token.lower())


def _balances(net, who: str) -> dict[str, int]:
    return {s: net.balance(s, who) for s in USD}


def test_no_route_lowers_a_held_balance_and_only_measured_profit_leaves(net):
    pools = _pools(net)
    evil = h.compromised(net)
    h.fund(net, net.arb.address)
    outcomes = {"ok": 0, "reverted": 0}

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much,
                                     HealthCheck.too_slow])
    @given(scenarios(pools))
    def run(s):
        snap = net.chain.snapshot()
        try:
            arb = evil.arb if s["compromised"] else net.arb
            route = _build(net, evil, s)
            held, paid = _balances(net, arb.address), _balances(net, net.recipient)
            receipt = net.chain.send(arb.address, arb.encode_abi("execute", args=[route]), gas=5_000_000,
                                     check=False)
            assert _balances(net, arb.address) == held
            gained = {k: v - paid[k] for k, v in _balances(net, net.recipient).items()}
            if receipt["status"] == 1:
                (event,) = arbitrage_events(receipt, arb.address)
                symbol = _symbol(net, event.token)
                assert event.profit > 0 and gained == {k: event.profit if k == symbol else 0 for k in gained}
                outcomes["ok"] += 1
            else:
                assert not any(gained.values())
                outcomes["reverted"] += 1
        finally:
            net.chain.revert_to(snap)

    run()
    assert outcomes["ok"] > 0 and outcomes["reverted"] > 0, outcomes
