"""Ring-fed nodes under the contract harness: fed through a ring, read from their rings."""

from __future__ import annotations

import json
import subprocess
import sys

import posix_ipc
import pytest

from mesh.protocol import PoolSync, StrategyPerformance, Trade, encode_frame
from mesh.protocol.constants import SourceType
from nodes.runtime.testing import HarnessError, NodeHarness

RELAY = "tests.nodes.ring_nodes:TradeRelay"
COUNTER = "tests.nodes.ring_nodes:TradeCounter"


def _trade(i: int) -> Trade:
    return Trade(asset_id=7, price=1_000 + i, volume=i, venue=1)


def test_python_hook_node_relays_every_frame_from_ring_to_ring_in_order():
    with NodeHarness(RELAY) as h:
        for i in range(200):
            h.feed_ring(_trade(i))
        relayed = h.wait_for_ring(Trade, count=200)
        assert [(t.price, t.volume) for t in relayed] == [(1_000 + i, i + 1) for i in range(200)]
        h.assert_contract()
        feeder = str(h.ring_feeder().name)
        assert h.metric("alphapulse_ring_frames_read_total", ring=feeder) == 200
        assert h.metric("alphapulse_ring_frames_lost_total", ring=feeder) == 0
        assert h.metric("alphapulse_ring_frames_written_total") == 200


def test_node_reads_writers_that_appear_later_and_rings_that_are_recreated():
    with NodeHarness(RELAY) as h:
        h.feed_ring(_trade(1))
        h.wait_for_ring(Trade, count=1)
        h.feed_ring(_trade(2), writer="late-writer")  # a second writer, started afterwards
        h.wait_for_ring(Trade, count=2)
        h.drop_ring_feeder()  # the writer leaves; a new one takes the same name (new segment)
        h.feed_ring(_trade(3))
        relayed = h.wait_for_ring(Trade, count=3)
        assert sorted(t.price for t in relayed) == [1_001, 1_002, 1_003]


def test_malformed_ring_frames_are_counted_and_the_node_keeps_relaying():
    with NodeHarness(RELAY) as h:
        good = encode_frame([_trade(1)], source=int(SourceType.DASHBOARD))
        h.feed_ring_raw(good[:-3] + b"\xff\xff\xff")  # checksum broken
        h.feed_ring_raw(b"\x00" * 40)  # no magic
        h.feed_ring(_trade(2))
        assert [t.price for t in h.wait_for_ring(Trade)] == [1_002]
        assert h.metric("alphapulse_errors_total", kind="bad_checksum") == 1
        assert h.metric("alphapulse_errors_total", kind="bad_magic") == 1


def test_numba_kernel_node_consumes_batches_and_rejects_frames_without_magic():
    with NodeHarness(COUNTER) as h:
        for i in range(50):
            h.feed_ring(_trade(i))
        h.feed_ring(PoolSync(pool_address=b"\x01" * 20, reserve0=1, reserve1=2))
        h.feed_ring_raw(b"\x00" * 64)
        perf = h.wait_for(StrategyPerformance, where=lambda p: p.opportunities == 50)[-1]
        assert perf.realized_profit == sum(1_000 + i for i in range(50))
        h.collect(lambda _: h.metric("alphapulse_errors_total", kind="ring_frame_rejected") == 1)
        assert h.metric("alphapulse_errors_total", kind="ring_frame_rejected") == 1
        h.assert_contract()


def test_harness_refuses_a_node_that_writes_outside_its_contract():
    with NodeHarness(RELAY) as h:
        h.feed_ring(_trade(1))
        h.wait_for_ring(Trade)
        h.contract = type(h.contract)("x", "y", SourceType.MARKET_DATA_RELAY, produces=(Trade,))
        with pytest.raises(HarnessError, match="not in its contract"):
            h.assert_contract()


def test_status_shows_each_nodes_ring_counters():
    with NodeHarness(RELAY) as h:
        for i in range(10):
            h.feed_ring(_trade(i))
        h.wait_for_ring(Trade, count=10)
        out = subprocess.run([sys.executable, "-m", "mesh", "status", "--json",
                              "--config", str(h.config_path)], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        rows = {r["node"]: r for r in map(json.loads, out.splitlines())}
        relay = rows[h.name]
        assert relay["state"] == "RUNNING"
        assert (relay["ring_written"], relay["ring_read"], relay["ring_lost"]) == (10, 10, 0)
        assert {x["role"] for x in relay["rings"]} == {"writer", "reader"}
        assert rows["feeder"]["ring_written"] == 10


def test_a_foreign_segment_in_the_namespace_is_counted_once_and_reading_goes_on():
    with NodeHarness(RELAY) as h:
        h.feed_ring(_trade(1))
        h.wait_for_ring(Trade)
        shm = posix_ipc.SharedMemory(f"/ap.{h.cfg.ring_namespace}.market-data.evil",
                                     posix_ipc.O_CREX, size=4096)
        shm.close_fd()
        h.feed_ring(_trade(2), writer="after-evil")  # read only after a discovery saw both
        h.wait_for_ring(Trade, count=2)
        h.feed_ring(_trade(3), writer="later-still")  # one more discovery at least
        h.wait_for_ring(Trade, count=3)
        assert h.metric("alphapulse_errors_total", kind="ring_not_a_ring") == 1
