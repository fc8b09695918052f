"""The collector-evm node end to end: websocket to the worker's anvil, frames in its ring."""

from __future__ import annotations

import json

import pytest

from mesh.protocol import decode_frame
from mesh.protocol.messages import BlockEnd, ChainEvent, GasPrice, PoolState
from nodes.collector_evm.replica import Replica
from nodes.runtime.testing import NodeHarness
from tests.nodes.collector_evm.activity import Activity
from tests.nodes.collector_evm.chainstate import ALL_WORDS, mismatches


@pytest.fixture
def manifest_file(net, tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(net.manifest))
    return path


def _replica(frames) -> Replica:
    replica = Replica()
    replica.apply_raw(raw for _, raw in frames)
    return replica


def _settings(manifest_file, **more):
    return {"manifest": str(manifest_file), "word_radius": ALL_WORDS, "backoff_min_ms": 50,
            "backoff_max_ms": 500, **more}


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_node_stream_rebuilds_every_pool_exactly_over_websocket_and_http(net, manifest_file, transport):
    registry_size = len(net.manifest["uniswap_v2"]["pairs"]) + len(net.manifest["uniswap_v2_fork"]["pairs"]) \
        + len(net.manifest["uniswap_v3"]["pools"])
    settings = _settings(manifest_file, **({"ws_url": "off", "poll_interval_ms": 100} if transport == "http" else {}))
    with NodeHarness("collector-evm", settings=settings) as h:
        h.wait_for_ring(PoolState, count=registry_size, timeout=30)
        activity = Activity(net.chain, net.manifest, seed=11)
        for _ in range(4):
            for _ in range(4):
                activity.step()
            activity.burst(6)
        last = net.chain.block_number()
        h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_number == last)
        replica = _replica(h.ring_frames)
        assert mismatches(net.chain, replica, {**_registry(net)}, last) == []
        # Every block closed once, in order, each followed by the gas of the next one.
        numbers = [m.block_number for m in replica.block_ends]
        assert numbers == sorted(set(numbers)) and numbers[-1] == last, h.log()
        gas = h.ring_produced(GasPrice)
        assert [g.block_number for g in gas] == numbers
        events = h.ring_produced(ChainEvent)
        assert events and all(e.chain_id == net.chain.chain_id and e.received_ns > 0 for e in events)
        assert sum(m.log_count for m in replica.block_ends) == len(events)
        assert h.metric("alphapulse_errors_total") == 0


def _registry(net):
    from contracts.events import registry_from_manifest
    return registry_from_manifest(net.manifest)


def test_frames_carry_block_number_log_index_and_timestamps(net, manifest_file):
    with NodeHarness("collector-evm", settings=_settings(manifest_file)) as h:
        h.wait_for_ring(BlockEnd, timeout=30)
        Activity(net.chain, net.manifest, seed=3).burst(5)
        last = net.chain.block_number()
        h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_number == last)
        block = net.chain.head(last)
        pool_frames = [decode_frame(raw) for _, raw in h.ring_frames
                       if any(isinstance(t, ChainEvent) for t in decode_frame(raw).tlvs)]
        mine = [fr for fr in pool_frames if fr.tlvs[1].block_number == last]
        assert mine
        indexes = [fr.tlvs[1].log_index for fr in mine]
        assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
        for fr in mine:
            event = fr.tlvs[1]
            assert event.block_timestamp_ns == block.timestamp * 10**9
            assert fr.header.timestamp_ns >= event.received_ns > 0
