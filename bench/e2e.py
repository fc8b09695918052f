"""``python -m bench e2e``: the whole deployment under supervisord, hop by hop.

``alphapulse run`` (the default deployment: every node, the local exchange and the simulator
injecting dislocations) runs on a private devnet, run directory and ring namespace
(:mod:`bench._e2e_mesh`). An observer reads collector-evm's market-data ring and subscribes to
every node's stream; once the first trade is included (the nodes are warm), it measures for
``--seconds`` and turns what it saw into one row per hop (:mod:`bench._e2e_hops`):

- the block's first price update written to the ring (its header timestamp) -> the
  ArbitrageOpportunity published (the opportunity frame's header timestamp): **detection**,
  beside the seeds' 50 ms;
- opportunity published -> transaction accepted by the node (``ExecutionDetail.sent_ns``, after
  ``eth_sendRawTransaction`` answered): **execution**, beside the seeds' 500 ms, and its parts
  (the ZeroMQ hop to the executor; the executor's batch window, checks, simulation, signature
  and send);
- transaction accepted -> included (the executor saw the receipt: mostly the block time);
- the whole path, price update in the ring -> included.

Every timestamp is CLOCK_REALTIME on one host. Baselines measured in the same run: one raw
pyzmq PUB/SUB hop over ipc, and one anvil ``eth_blockNumber`` round trip.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np
import zmq

from bench._e2e_hops import hop_rows
from bench._e2e_mesh import Observer, SupervisedMesh
from bench.report import Row, latency_row
from mesh.protocol import ExecutionResult
from mesh.protocol.constants import ExecutionStatus

BENCH = "e2e"
#: Samples of each baseline.
BASELINE_SAMPLES = 500


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seconds``: how long to measure; ``--ready-seconds``: how long the mesh may take to
    include its first trade (minutes on a loaded machine)."""
    parser.add_argument("--seconds", type=_positive, default=90.0, help="seconds measured (default 90)")
    parser.add_argument("--ready-seconds", type=_positive, default=600.0,
                        help="wait at most this long for the first included trade (default 600)")


def run(args: argparse.Namespace) -> list[Row]:
    """Bring the deployment up, wait for its first included trade, measure, tear it down."""
    with SupervisedMesh() as mesh:
        obs = Observer(mesh.cfg, ring_writers=frozenset({"collector-evm"}))
        obs.start()
        try:
            mesh.wait_running(args.ready_seconds)
            _wait_first_inclusion(obs, mesh, args.ready_seconds)
            start_ns = time.time_ns()
            time.sleep(args.seconds)
            end_ns = time.time_ns()
            baselines = [_zmq_baseline(), _rpc_baseline(mesh)]
        finally:
            obs.stop()
        return [*hop_rows(BENCH, obs.seen, start_ns, end_ns), *baselines]


def _wait_first_inclusion(obs: Observer, mesh: SupervisedMesh, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not any(tlvs[0].status == ExecutionStatus.INCLUDED for _, tlvs in obs.frames_with(ExecutionResult)):
        if time.monotonic() > deadline:
            raise SystemExit(f"python -m bench e2e: no trade included within {seconds:g} s; "
                             f"executor log: {mesh.log('executor', 800)}")
        if obs.error is not None or not obs.is_alive():
            raise SystemExit(f"python -m bench e2e: the observer failed: {obs.error!r}")
        time.sleep(0.5)


def _zmq_baseline() -> Row:
    """One raw pyzmq PUB -> SUB hop over ipc in this process: send a timestamp, receive it."""
    ctx: zmq.Context = zmq.Context()
    pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    path = f"/tmp/ap-e2e-baseline-{time.time_ns()}"
    endpoint = f"ipc://{path}"
    try:
        pub.bind(endpoint)
        sub.connect(endpoint)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        while not sub.poll(10):  # the subscription reaches the publisher
            pub.send(b"warm")
        while sub.poll(0):
            sub.recv()
        samples = np.empty(BASELINE_SAMPLES, np.int64)
        for i in range(BASELINE_SAMPLES):
            pub.send(time.time_ns().to_bytes(8, "little"))
            samples[i] = time.time_ns() - int.from_bytes(sub.recv(), "little")
    finally:
        pub.close(0)
        sub.close(0)
        ctx.term()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return latency_row(BENCH, "baseline: raw pyzmq PUB/SUB hop (ipc, one process)", samples)


def _rpc_baseline(mesh: SupervisedMesh) -> Row:
    """One ``eth_blockNumber`` round trip to the devnet's anvil (HTTP, the chain client)."""
    assert mesh.chain is not None
    samples = np.empty(BASELINE_SAMPLES // 5, np.int64)
    for i in range(samples.size):
        t0 = time.perf_counter_ns()
        mesh.chain.rpc("eth_blockNumber")
        samples[i] = time.perf_counter_ns() - t0
    return latency_row(BENCH, "baseline: anvil eth_blockNumber round trip", samples)
