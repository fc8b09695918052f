"""On the simulator's market, the strategy finds every injected dislocation that pays after gas,
with exactly the ground truth's profit, and publishes nothing that does not pay."""

from __future__ import annotations

import pytest

from contracts.simulator.runner import Options, Simulator, set_automine
from contracts.simulator.truth import read_lines
from mesh.protocol.constants import FlashSource
from nodes.strategy.values import Opportunity
from tests.nodes.collector_evm.chainstate import ALL_WORDS
from tests.nodes.strategy.pipeline import Stream, engine_for

pytestmark = pytest.mark.chain


def _key(start: str, pools) -> tuple[str, tuple[str, ...]]:
    return start.lower(), tuple(p.lower() for p in pools)


def _opp_key(opp: Opportunity) -> tuple[str, tuple[str, ...]]:
    return _key(opp.hops[0].token_in, (h.pool for h in opp.hops))


def test_every_paying_injection_is_found_with_the_ground_truth_profit(net, tmp_path):
    stream = Stream(net, word_radius=ALL_WORDS)
    stream.follower.start()
    # Aave only: the ground truth's net profit is the Aave-funded one; 3 hops: its cycles.
    engine = engine_for(net, tmp_path, max_hops=3, word_radius=ALL_WORDS,
                        sources=frozenset({FlashSource.AAVE_V3}))
    engine.feed_frames(stream.new_frames())  # the bootstrap state (the devnet starts mispriced)
    options = Options(out=tmp_path / "truth.jsonl", block_time=0.2, rate=20.0, inject_rate=30.0, seed=5, blocks=10)
    try:
        Simulator(net.chain, net.manifest, options).run()
    finally:
        set_automine(net.chain, True)
    stream.follower.catch_up()
    by_block: dict[int, dict] = {}
    unpaid: dict[int, dict] = {}
    block = None
    for frame in stream.new_frames():
        for opp in engine.feed_frames([frame]):
            by_block.setdefault(opp.block, {})[_opp_key(opp)] = opp
            block = opp.block
        for opp in engine.evaluator.unpaid:
            unpaid.setdefault(opp.block, {})[_opp_key(opp)] = opp
    assert block is not None, "the strategy found nothing on the simulated market"

    profit_tokens = {net.token(s).lower() for s in ("WETH", "USDC", "DAI")}
    checked = paying = 0
    for line in read_lines(tmp_path / "truth.jsonl"):
        published = by_block.get(line["block"], {})
        for cycle in line["cycles"]:
            if cycle["start"].lower() not in profit_tokens:
                continue
            key = _key(cycle["start"], (h["pool"] for h in cycle["hops"]))
            net_truth = cycle["net"]
            opp = published.get(key)
            checked += 1
            if net_truth is None:
                assert opp is None, f"published a cycle that does not pay Aave's premium: {key}"
                continue
            if opp is None:  # not published: sized exactly as the truth, it must not pay its gas
                unpaid_opp = unpaid.get(line["block"], {}).get(key)
                assert unpaid_opp is not None, f"missed {key} at block {line['block']}: {net_truth}"
                assert unpaid_opp.gross == net_truth["profit"] and unpaid_opp.profit <= 0
                continue
            paying += 1
            assert opp.gross == net_truth["profit"], (key, opp.gross, net_truth)
            assert opp.amount_in == net_truth["amount_in"] and opp.amounts_out[-1] == net_truth["amount_out"]
            assert opp.flash_fee == net_truth["premium"]
            assert opp.profit == opp.gross - opp.gas_cost > 0
    assert checked >= 1 and paying >= 1, (checked, paying)
    for opps in by_block.values():
        for opp in opps.values():
            assert opp.profit > 0 and opp.profit == opp.gross - opp.gas_cost
