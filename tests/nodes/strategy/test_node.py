"""The strategy node as a process: ring frames in, [ArbitrageOpportunity, ArbitrageRoute] out."""

from __future__ import annotations

import json
import time

import pytest

from contracts.arbitrage import MAX_AMOUNT
from contracts.reverts import Reverted
from mesh.protocol import ArbitrageOpportunity
from mesh.protocol.constants import FlashSource, RelayDomain
from mesh.protocol.messages import ArbitrageRoute
from nodes.runtime.testing import NodeHarness
from tests.nodes.strategy.pipeline import Stream

pytestmark = pytest.mark.chain


def test_node_publishes_what_the_chain_pays_and_survives_garbage(net, tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(net.manifest))
    stream = Stream(net)
    stream.follower.start()
    # start_timeout: on a fresh checkout the node compiles its kernels (cold numba cache) at start
    with NodeHarness("strategy", settings={"manifest": str(path), "recipient": net.recipient},
                     mesh={"deadline_ms": 0}, start_timeout=180) as h:  # no risk node: no dead man's switch
        for bad in (b"\x00" * 40, b"garbage", stream.rec.frames[0][:50]):
            h.feed_ring_raw(bad, RelayDomain.MARKET_DATA)
        for frame in stream.new_frames():
            h.feed_ring_raw(frame, RelayDomain.MARKET_DATA)
        opps = h.wait_for(ArbitrageOpportunity, timeout=120)
        h.collect(lambda d: len(h.produced(ArbitrageRoute)) >= len(h.produced(ArbitrageOpportunity)), 5)
        h.assert_contract()
        deadline = time.monotonic() + 30
        while h.metric("alphapulse_errors_total", kind="ring_frame_rejected") < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert h.metric("alphapulse_errors_total", kind="ring_frame_rejected") == 3
    routes = {r.opportunity_id: r for r in h.produced(ArbitrageRoute)}
    for d in h.deliveries:
        tlvs = d.frame.tlvs
        if not tlvs or type(tlvs[0]) is not ArbitrageOpportunity:
            continue
        opp, route = tlvs[0], tlvs[1]
        assert type(route) is ArbitrageRoute and route.opportunity_id == opp.opportunity_id
        assert opp.expected_profit == opp.expected_out - opp.amount_in - opp.flash_fee - route.gas_cost > 0
        assert route.amounts_out[-1] == opp.expected_out and opp.chain_id == net.manifest["chain_id"]
        assert opp.valid_until_block > opp.detected_block
    assert len(routes) == len(opps)
    # The packed trade is what FlashArbitrage quotes: probe the non-fused ones.
    probed = 0
    for opp in opps:
        if opp.flash_source != FlashSource.UNISWAP_V2:
            trade = routes[opp.opportunity_id].trade
            out = _quote_raw(net, trade)
            assert out == opp.expected_out
            probed += 1
    assert probed >= 1


def _quote_raw(net, trade: bytes) -> int:
    """FlashArbitrage's output for packed ``trade`` (min_profit raised so it reverts with it)."""
    probe = trade[:58] + MAX_AMOUNT.to_bytes(14, "big") + trade[72:]
    try:
        net.chain.call(net.arb.address, net.arb.encode_abi("execute", args=[probe]))
    except Reverted as exc:
        assert exc.error == "ProfitBelowMinimum", exc
        return exc.error_args[0]
    raise AssertionError("the probe did not revert")
