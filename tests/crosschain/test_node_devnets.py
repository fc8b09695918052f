"""The crosschain node on the two devnets' real collector frames: silent while the chains agree,
then the exact trade once chain B's price parts, both legs computed here from the chains' pools.

Each chain's collector follower runs in process (as the strategy's and cexdex's devnet tests
take it); its frames go to the node's rings: chain A's into the node's own ring namespace,
chain B's into the extra one. (tests/crosschain/test_two_devnets.py runs the collectors as
processes, end to end.)
"""

from __future__ import annotations

import pytest

from contracts.pools import read_v2
from contracts.simulator.state import to_model
from contracts.swapmath.crosschain import Bridge, Leg, Route, optimise
from mesh.protocol import decode_frame
from mesh.protocol.messages import BlockEnd, CrossChainArbitrageSignal, CrossChainLegs
from nodes.runtime.testing import HarnessError, NodeHarness
from nodes.strategy.prices import convert_at
from tests.nodes.strategy.pipeline import Stream

from .conftest import CHAIN_A, CHAIN_B, TwoDevnets, part_prices

pytestmark = [pytest.mark.chain]

KIND = "nodes.crosschain:CrossChainNode"
BRIDGE = {"bridge_fee_ppm": 500, "bridge_latency_s": 600, "latency_haircut_ppm_per_min": 50}
GAS_V2 = 110_000


def _gas_price(frames: list[bytes]) -> int:
    ends = [t for raw in frames for t in decode_frame(raw).tlvs if isinstance(t, BlockEnd)]
    return ends[-1].next_base_fee_wei + ends[-1].priority_fee_wei


def _wait_metric(h: NodeHarness, name: str, at_least: float, timeout: float = 60.0, **labels: str) -> None:
    h.collect(lambda _: h.metric(name, **labels) >= at_least, timeout=timeout)
    if h.metric(name, **labels) < at_least:
        raise HarnessError(f"{name}{labels} below {at_least} after {timeout} s\n{h.log()[-3000:]}")


def test_signals_appear_when_prices_part_with_the_exact_trade(two_devnets: TwoDevnets, unique_name):
    a, b = two_devnets.chains
    ns_b = f"{unique_name}b"
    streams = Stream(a), Stream(b)
    for s in streams:
        s.follower.start()
    settings = {"manifest_a": str(a.manifest_path), "manifest_b": str(b.manifest_path), "ring_namespaces": [ns_b],
                "assets": "WETH/USDC", "pairing": "same_address", "min_profit_usd": 1.0, "stale_s": 3600.0,
                **BRIDGE}
    with NodeHarness(KIND, settings=settings, mesh={"deadline_ms": 0}, start_timeout=60) as h:
        first_a, first_b = streams[0].new_frames(), streams[1].new_frames()
        for raw in first_a:
            h.feed_ring_raw(raw)
        for raw in first_b:
            h.feed_ring_raw(raw, namespace=ns_b)
        # Equal markets: every WETH/USDC pool against its twin, both ways, sized and silent.
        twins = len([p for sec in ("uniswap_v2", "uniswap_v2_fork") for p in a.manifest.get(sec, {}).get("pairs", [])
                     if p["pair"] == "WETH/USDC"]) + len([p for p in a.manifest["uniswap_v3"]["pools"]
                                                          if p["pair"] == "WETH/USDC"])
        _wait_metric(h, "alphapulse_crosschain_evaluations_total", 2 * twins)
        assert h.produced(CrossChainArbitrageSignal) == []

        pool = part_prices(b, amount=90_000 * 10**6)  # WETH dearer on B's V2 pair
        streams[1].follower.catch_up()
        moved = streams[1].new_frames()
        for raw in moved:
            h.feed_ring_raw(raw, namespace=ns_b)
        sig = h.wait_for(CrossChainArbitrageSignal, timeout=60)[0]
        record = h.wait_for(CrossChainLegs, timeout=10)[0]
        h.collect(timeout=1.0)
        assert len(h.produced(CrossChainArbitrageSignal)) == 1  # only the parted pair, one way
        h.assert_contract()
    assert isinstance(sig, CrossChainArbitrageSignal) and isinstance(record, CrossChainLegs)

    raw = bytes.fromhex(pool[2:])
    assert (sig.source_chain_id, sig.dest_chain_id) == (CHAIN_A, CHAIN_B)
    assert sig.source_pool == sig.dest_pool == raw
    # The same trade from the pools read on the chains now (nothing moved since) and the BlockEnds' gas.
    src, dst = to_model(read_v2(a.chain, pool)), to_model(read_v2(b.chain, pool))
    weth, usdc = a.token("WETH").lower(), a.token("USDC").lower()
    gas_a = convert_at(src, GAS_V2 * _gas_price(first_a), weth, up=True)
    gas_b = convert_at(dst, GAS_V2 * _gas_price(moved), weth, up=True)
    assert gas_a is not None and gas_b is not None
    buys = src.token0.lower() == usdc
    route = Route(Leg(src, buys, 18, 6), Leg(dst, buys, 18, 6), Bridge(0, 500, 600, 50), gas_a, gas_b)
    legs = optimise(route)
    assert legs is not None
    assert (sig.amount_in, sig.expected_out) == (legs.amount_in, legs.expected_out)
    assert sig.net_profit_usd_q8 == legs.profit * 100 > 10**8
    assert (record.x_bought, record.x_arrived, record.dest_amount_out) == (legs.x_bought, legs.x_arrived, legs.q_out)
    assert record.gas_cost == gas_a + gas_b and record.opportunity_id == sig.opportunity_id
