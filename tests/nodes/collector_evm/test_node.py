"""The collector-evm node end to end: websocket to the worker's anvil, frames in its ring."""

from __future__ import annotations

import json

import pytest

from contracts.events import registry_from_manifest
from mesh.protocol import decode_frame
from mesh.protocol.messages import (
    BlockEnd,
    ChainEvent,
    GasPrice,
    PoolState,
    StateInvalidationReason,
)
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
        assert mismatches(net.chain, replica, _registry(net), last) == []
        # Every block closed once, in order, each followed by the gas of the next one.
        numbers = [m.block_number for m in replica.block_ends]
        assert numbers == sorted(set(numbers)) and numbers[-1] == last, h.log()
        gas = h.ring_produced(GasPrice)
        assert [g.block_number for g in gas] == numbers
        events = h.ring_produced(ChainEvent)
        assert events and all(e.chain_id == net.chain.chain_id and e.received_ns > 0 for e in events)
        assert sum(m.log_count for m in replica.block_ends) == len(events)
        assert h.metric("alphapulse_errors_total") == 0
        h.assert_contract()


def _registry(net):
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


def test_dropped_connection_invalidates_every_pool_then_resyncs_and_backfills(net, manifest_file):
    from mesh.protocol.constants import InvalidationReason
    from mesh.protocol.messages import PoolInvalidation
    from tests.nodes.collector_evm.proxy import TcpProxy

    proxy = TcpProxy(int(net.chain.url.rsplit(":", 1)[1]))
    try:
        settings = _settings(manifest_file, rpc_url=proxy.url)
        with NodeHarness("collector-evm", settings=settings) as h:
            first = h.wait_for_ring(BlockEnd, timeout=30)[0].block_number
            activity = Activity(net.chain, net.manifest, seed=41)
            activity.burst(4)
            h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_number == first + 1)
            proxy.cut()
            stale = h.wait_for_ring(PoolInvalidation, count=len(_registry(net)), timeout=30)
            assert {m.reason for m in stale} == {InvalidationReason.DISCONNECTION}
            upstream = h.ring_produced(StateInvalidationReason)
            assert len(upstream) == len(stale) and {m.reason for m in upstream} == {InvalidationReason.DISCONNECTION}
            for _ in range(3):  # blocks the collector cannot see
                activity.burst(4)
            missed = net.chain.block_number()
            proxy.restore()
            h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_number == missed)
            activity.burst(4)  # and the websocket follows again
            last = net.chain.block_number()
            h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_number == last)
            replica = _replica(h.ring_frames)
            assert replica.invalidated == set()
            assert mismatches(net.chain, replica, _registry(net), last) == []
            # The missed blocks were back-filled log by log, not only re-read.
            closed = [m.block_number for m in replica.block_ends]
            assert set(range(first + 2, last + 1)) <= set(closed)
            assert h.metric("alphapulse_errors_total") >= 1
            h.assert_contract()
    finally:
        proxy.close()


def test_reorg_seen_on_the_websocket_is_undone_exactly(net, manifest_file):
    with NodeHarness("collector-evm", settings=_settings(manifest_file)) as h:
        h.wait_for_ring(BlockEnd, timeout=30)
        fork = net.chain.snapshot()
        old = Activity(net.chain, net.manifest, seed=51)
        for _ in range(3):
            old.burst(4)
        top = net.chain.block_number()
        h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_number == top)
        net.chain.revert_to(fork)
        new = Activity(net.chain, net.manifest, seed=52)
        for _ in range(2):
            new.burst(4)
        head = net.chain.head("latest")
        h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_hash == head.hash)
        replica = _replica(h.ring_frames)
        assert replica.block_ends[-1].block_hash == head.hash
        assert mismatches(net.chain, replica, _registry(net), head.number) == []
        assert h.metric("alphapulse_errors_total", kind="reorg") >= 1


def test_a_pool_that_cannot_be_read_is_counted_every_block_logged_once_and_others_flow(net, tmp_path):
    manifest = json.loads(json.dumps(net.manifest))
    ghost = dict(manifest["uniswap_v2"]["pairs"][0], address="0x" + "5a" * 20)  # no code there
    manifest["uniswap_v2"]["pairs"].append(ghost)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    with NodeHarness("collector-evm", settings=_settings(path)) as h:
        h.wait_for_ring(BlockEnd, timeout=30)
        activity = Activity(net.chain, net.manifest, seed=71)
        for _ in range(3):
            activity.burst(3)
        last = net.chain.block_number()
        h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_number == last)
        assert h.metric("alphapulse_errors_total", kind="no_code") >= 4  # at start, then every block
        assert h.log().count("collector-evm: no_code") == 1
        replica = _replica(h.ring_frames)
        assert bytes.fromhex(ghost["address"][2:]) not in replica.pools
        assert mismatches(net.chain, replica, _registry(net), last) == []


def test_stream_stays_exact_under_the_market_simulator(net, manifest_file, tmp_path):
    from contracts.simulator.runner import Options, Simulator

    with NodeHarness("collector-evm", settings=_settings(manifest_file)) as h:
        h.wait_for_ring(BlockEnd, timeout=30)
        options = Options(out=tmp_path / "truth.jsonl", seed=5, rate=60.0, inject_rate=120.0, block_time=0.25,
                          blocks=30)
        counts = Simulator(net.chain, net.manifest, options).run()
        assert counts.swaps >= 100 and counts.mints and counts.burns and counts.injections
        last = net.chain.block_number()
        h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_number == last)
        replica = _replica(h.ring_frames)
        assert mismatches(net.chain, replica, _registry(net), last) == []
        busy = [m for m in replica.block_ends if m.log_count >= 6]
        assert len(busy) >= 10  # several transactions per block, as on a real chain


def test_without_a_websocket_it_falls_back_to_http_polling_without_invalidating(net, manifest_file):
    from mesh.protocol.messages import PoolInvalidation
    from nodes.runtime.testing import free_port

    settings = _settings(manifest_file, ws_url=f"ws://127.0.0.1:{free_port()}", poll_interval_ms=100)
    with NodeHarness("collector-evm", settings=settings) as h:
        h.wait_for_ring(BlockEnd, timeout=30)
        activity = Activity(net.chain, net.manifest, seed=91)
        for _ in range(3):
            activity.burst(3)
        last = net.chain.block_number()
        h.wait_for_ring(BlockEnd, timeout=30, where=lambda m: m.block_number == last)
        assert h.ring_produced(PoolInvalidation) == []
        assert h.metric("alphapulse_errors_total", kind="subscription_lost") >= 1
        assert mismatches(net.chain, _replica(h.ring_frames), _registry(net), last) == []


def test_without_its_manifest_the_node_runs_counts_and_starts_once_it_appears(net, tmp_path):
    path = tmp_path / "later" / "manifest.json"
    with NodeHarness("collector-evm", settings=_settings(path)) as h:
        h.collect(until=lambda _: h.metric("alphapulse_errors_total", kind="config") >= 1, timeout=15)
        assert h.metric("alphapulse_errors_total", kind="config") >= 1
        assert h.ring_produced(BlockEnd) == []
        path.parent.mkdir()
        path.write_text(json.dumps(net.manifest))
        assert h.wait_for_ring(BlockEnd, timeout=30)
