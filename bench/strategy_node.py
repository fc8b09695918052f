"""Frame committed to the ring -> ArbitrageOpportunity at a ZeroMQ subscriber, through the
strategy node running in its own process.

A helper of ``bench/strategy.py`` (:func:`node_rows`), not a benchmark of its own. The node is
:class:`BenchStrategyNode`: the real :class:`~nodes.strategy.StrategyNode` (runtime loop, ring
readers, engine, publisher) except that its :class:`Deployment` is built by hand for the
synthetic market (:func:`bench.strategy_market.deployment`) instead of read from a manifest and
a chain. :class:`~nodes.runtime.testing.NodeHarness` launches it against a private mesh with
the dead man's switch off (no risk node here). This process writes the market's PoolState
frames to a ring the node reads, then, per sample, one frame [PoolSync, BlockEnd] dislocating
a tail V2 pair by 5 % (alternately up and down) and blocks on a lazy mesh
:class:`~mesh.pubsub.Subscriber` until the ArbitrageOpportunity of that block arrives: latency
= receipt - the commit's ``CLOCK_MONOTONIC`` stamp (taken just before the ring write).

Baseline in the same run: raw pyzmq PUB -> SUB (ipc) of a frame the size of the published one,
from a process pinned like the node, one frame every 2 ms, stamped just before ``send``.
The node's threads are pinned to one CPU, this process to the other; the node idles with the
mesh's default ``backoff``, this process blocks in ``poll``.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import time
from dataclasses import replace

import numpy as np
import zmq

from bench import strategy_market as sm
from bench.pinning import cpus
from bench.report import Row, latency_row
from mesh.protocol import ArbitrageOpportunity
from mesh.protocol.constants import FlashSource, RelayDomain
from mesh.pubsub import Subscriber
from mesh.topics import prefix
from nodes.runtime import ConfigKey
from nodes.strategy import StrategyNode
from nodes.strategy.engine import Engine
from nodes.strategy.evaluate import Evaluator
from nodes.strategy.graph import CycleGraph

BENCH = "strategy"
SKEW = 0.05
CTX = mp.get_context("spawn")


class BenchStrategyNode(StrategyNode):
    """The strategy node with a hand-built deployment for :func:`bench.strategy_market.market`."""

    CONTRACT = replace(StrategyNode.CONTRACT, config={
        **StrategyNode.CONTRACT.config,
        "bench_pools": ConfigKey(1000, "pools of the synthetic market (its deployment and hubs)"),
    })

    def _try_load(self) -> None:
        s = self.rt.settings
        m = sm.market(int(s["bench_pools"]))
        graph = CycleGraph(m.profit_tokens, int(s["max_hops"]), int(s["max_cycles_per_pool"]))
        sources = frozenset(FlashSource) - {FlashSource.NONE}
        evaluator = Evaluator(self.book, graph, sm.deployment(m), sources=sources,
                              valid_ns=int(s["valid_ms"]) * 1_000_000)
        self.engine = Engine(self.book, graph, evaluator, self.screen)


def pick_pair(m: sm.Market, max_hops: int) -> tuple[int, int, int]:
    """A tail pair whose dislocation either way pays after gas, with few cycles through it:
    ``(pair index, its cycles, candidates sized per block)``."""
    engine = sm.engine(m, max_hops, max_candidates=64)
    ptr, _ = engine.graph.index(engine.book.pools)
    for i, p in enumerate(m.pairs):
        s = engine.book.slot(sm.hex_of(p.address))
        if (p.token0 < len(sm.HUBS) and p.token1 < len(sm.HUBS)) or not 2 <= ptr[s + 1] - ptr[s] <= 8:
            continue
        paid = []
        for k, skew in enumerate((SKEW, -SKEW)):
            engine.book.apply(*sm.batch([m.dislocation(i, skew, 2 + k)]), 0, 1)
            engine.block_ended()
            paid.append(bool(engine.evaluate(0)))
        if all(paid):
            return i, int(ptr[s + 1] - ptr[s]), engine.last.candidates
    raise RuntimeError("no tail pair of the market pays when dislocated")


def _pin_process(pid: int, cpu: int) -> None:
    """Pin every thread of ``pid`` to ``cpu``."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(tid), {cpu})


def _raw_sender(endpoint: str, size: int, count: int, cpu: int, ready, go) -> None:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.sndhwm = 0
    pub.bind(endpoint)
    _pin_process(os.getpid(), cpu)
    ready.set()
    go.wait(60)
    payload = bytearray(size)
    for i in range(count + 1):
        time.sleep(0.002)
        payload[:8] = time.monotonic_ns().to_bytes(8, "little")
        pub.send_multipart((b"3/x", payload if i < count else b"E"))
    time.sleep(0.2)
    pub.close(0)
    ctx.term()


def _raw_baseline(run_dir: str, size: int, count: int, cpu: int) -> np.ndarray:
    endpoint = f"ipc://{run_dir}/raw.pub"
    ready, go = CTX.Event(), CTX.Event()
    proc = CTX.Process(target=_raw_sender, args=(endpoint, size, count, cpu, ready, go), daemon=True)
    proc.start()
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.connect(endpoint)
    samples: list[int] = []
    try:
        if not ready.wait(30):
            raise RuntimeError("raw pyzmq sender did not start")
        time.sleep(0.3)  # slow joiner: the first frames would be dropped before the join
        go.set()
        while sub.poll(5000):
            _, data = sub.recv_multipart()
            now = time.monotonic_ns()
            if data == b"E":
                break
            samples.append(now - int.from_bytes(data[:8], "little"))
    finally:
        sub.close(0)
        ctx.term()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    return np.asarray(samples, np.int64)


def node_rows(args: argparse.Namespace) -> list[Row]:
    """The ring -> subscriber rows (V2 route) and the raw pyzmq baseline."""
    from nodes.runtime.testing import NodeHarness

    hops = 3
    m = sm.market(args.node_pools)
    pair, cycles, candidates = pick_pair(m, hops)
    m = sm.market(args.node_pools)  # the node's book starts from the same fair state
    allowed = cpus()
    node_cpu, my_cpu = allowed[0], allowed[-1]
    settings = {"bench_pools": args.node_pools, "max_hops": hops, "max_candidates": 64}
    samples = np.zeros(args.node_samples, np.int64)
    size = 0
    with NodeHarness(f"{__name__}:BenchStrategyNode", settings=settings,
                     mesh={"deadline_ms": 0}, start_timeout=60) as h:
        assert h.proc is not None
        _pin_process(h.proc.pid, node_cpu)
        os.sched_setaffinity(0, {my_cpu})
        ctx = zmq.Context()
        sub = Subscriber(ctx, h.cfg, [h.name], [prefix(int(RelayDomain.SIGNAL))],
                         recover_types=(), lazy=True)
        try:
            ring = h.ring_feeder(capacity=1 << 24)
            h.wait_ring_reader(ring)
            for frame in m.state_frames():
                assert ring.write(frame)
            block = 2
            for k in range(-20, args.node_samples):  # 20 warm-up dislocations
                block += 1
                frame = m.dislocation(pair, SKEW if k % 2 else -SKEW, block)
                # the first waits for the node to join the pools (at the bootstrap's BlockEnd)
                wait_ms = 120_000 if k == -20 else 5_000
                t0 = time.monotonic_ns()
                assert ring.write(frame)
                while True:
                    d = sub.recv(wait_ms)
                    now = time.monotonic_ns()
                    if d is None:
                        raise RuntimeError(f"no opportunity for block {block}\n{h.log()[-3000:]}")
                    opp = d.frame.tlvs[0]  # decoded after the clock read
                    if isinstance(opp, ArbitrageOpportunity) and opp.detected_block == block:
                        break  # the rest of the block's opportunities are skipped next time
                if k >= 0:
                    samples[k] = now - t0
                    size = len(d.raw)
        finally:
            sub.close()
            ctx.destroy(0)
            os.sched_setaffinity(0, set(allowed))
        raw = _raw_baseline(str(h.run_dir), size, args.node_samples, node_cpu)
    raw_row = latency_row(BENCH, f"raw pyzmq PUB->SUB {size} B (baseline)", raw)
    row = latency_row(BENCH, f"ring -> subscriber, V2 tail route ({args.node_pools} pools, {hops} hops)",
                      samples, cycles=cycles, candidates=candidates, frame_b=size)
    if raw_row.p50_us and row.p50_us:
        row.extra["x_raw"] = round(row.p50_us / raw_row.p50_us, 1)
    return [raw_row, row]
