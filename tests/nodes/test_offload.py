"""A node waiting on a slow JSON-RPC call keeps its heartbeats and halts on time.

The JSON-RPC server answers each call after ``DELAY_S``. Accepted outcomes (busy 2-core
machine): with the call offloaded, no heartbeat gap over 0.6 s (interval 0.1 s) and a halt
seen within 0.5 s of the kill flag; with the call on the loop thread (the contrast that shows
the check can fail), gaps of at least most of ``DELAY_S``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mesh.protocol import Heartbeat, StrategyPerformance
from mesh.protocol.constants import NodeState
from nodes.runtime.testing import NodeHarness
from shm.kill_flag import KillFlag

SLOW = "tests.nodes.ring_nodes:SlowRpc"
DELAY_S = 1.5


class _SlowHandler(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls += 1
        time.sleep(DELAY_S)
        out = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x10"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def slow_rpc() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _max_heartbeat_gap_s(h: NodeHarness, seconds: float) -> float:
    """Longest time without a heartbeat over a window of ``seconds`` (window edges count)."""
    start = len(h.produced(Heartbeat))
    opened = time.time_ns()
    h.collect(timeout=seconds)
    closed = time.time_ns()
    stamps = [opened, *(hb.timestamp_ns for hb in h.produced(Heartbeat)[start:]), closed]
    return max(b - a for a, b in itertools.pairwise(stamps)) / 1e9


def test_offloaded_slow_rpc_keeps_heartbeats_and_halts_on_the_kill_flag(slow_rpc):
    with NodeHarness(SLOW, settings={"rpc_url": slow_rpc}, mesh={"deadline_ms": 0}) as h:
        h.wait_for(StrategyPerformance, where=lambda p: p.submitted >= 1, timeout=10)
        assert _max_heartbeat_gap_s(h, 2 * DELAY_S) < 0.6
        flag = KillFlag(h.cfg.kill_flag_name)
        try:
            set_at = time.time_ns()
            flag.set(77)
            halted = h.wait_for(Heartbeat, where=lambda hb: hb.state == NodeState.HALTED)[0]
            assert (halted.timestamp_ns - set_at) / 1e9 < 0.5
        finally:
            flag.close()
        assert h.produced(StrategyPerformance)[-1].submitted >= 1


def test_contrast_slow_rpc_on_the_loop_thread_stalls_heartbeats(slow_rpc):
    with NodeHarness(SLOW, settings={"rpc_url": slow_rpc, "blocking": True},
                     mesh={"deadline_ms": 0}) as h:
        assert _max_heartbeat_gap_s(h, 2.5 * DELAY_S) >= 0.8 * DELAY_S
