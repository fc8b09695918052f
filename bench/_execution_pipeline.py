"""The whole pipeline in one process, for ``python -m bench execution``: a price update written to a
shared-memory ring -> the strategy engine -> the published opportunity frame -> the executor ->
a transaction accepted by anvil.

A helper of ``bench/execution.py``, not a benchmark of its own. :class:`Pipeline` holds a real
market-data ring (:class:`~shm.writer.RingWriter`, the collector's side) and a
:class:`~mesh.rings.DomainReaders` on it (the strategy node's side), a strategy
:class:`~nodes.strategy.engine.Engine` and an :class:`~nodes.executor.engine.Executor`, wired as
the nodes wire them (:mod:`bench._execution_devnet`).

One sample (:func:`pipeline_rows`): the devnet's two frames of its dislocated block, the pair's
``PoolSync`` and the block's ``[BlockEnd, GasPrice]`` (as the collector wrote them), are written
to the ring and drained at once; the engine applies them and sizes the candidates; the first
opportunity sized is, inside the engine's ``on_found`` callback as in the strategy node,
turned into its frame (:func:`~nodes.strategy.publish.opportunity_frame`, ``encode_frame``),
decoded (``decode_frame``, the executor's side), admitted and executed until anvil answered the
transaction's hash. Not included: the ZeroMQ hop between the strategy and the executor nodes
(the baseline row shows what a raw one costs), a node loop's idle wait before it drains the ring,
and the offload thread hand-over. The candidates after the first are not sized at all (the
callback ends the engine's pass: in the deployment the strategy sizes them in its own process
while the executor works). Before each sample, untimed: the pair's ``PoolSync`` from before the
swap and the ``BlockEnd`` through the same ring, pending transactions dropped, the nonce re-read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import zmq

from bench._execution_devnet import Devnet, forget
from bench.report import Row, latency_row
from mesh.protocol import ArbitrageOpportunity, decode_frame, encode_frame
from mesh.protocol.constants import RelayDomain, SourceType
from mesh.protocol.messages import ArbitrageRoute
from mesh.rings import DomainReaders, RingBatch
from nodes.executor.engine import Executor
from nodes.strategy import StrategyNode
from nodes.strategy.publish import opportunity_frame
from nodes.strategy.values import Opportunity
from shm.writer import RingWriter

BENCH = "execution"
WARMUP = 20
RING_BYTES = 1 << 22
STRATEGY = int(SourceType.ARBITRAGE_STRATEGY)
_STRATEGY_ID = int(StrategyNode.CONTRACT.config["strategy_id"].default)
_VALID_BLOCKS = int(StrategyNode.CONTRACT.config["valid_blocks"].default)
_VALID_MS = int(StrategyNode.CONTRACT.config["valid_ms"].default)


class _Done(Exception):
    """Ends the engine's pass from ``on_found``: the candidates after the first are not sized."""


def _stop(opp: Opportunity) -> None:
    raise _Done


class Pipeline:
    """A market-data ring, its reader, a strategy engine and an executor on one devnet.

    Call :meth:`close` (removes the ring and closes the journal).
    """

    def __init__(self, net: Devnet) -> None:
        self.net = net
        self.namespace = f"benchexec{os.getpid()}"
        self.writer = RingWriter.create("market-data", "bench-collector", namespace=self.namespace,
                                        capacity=RING_BYTES)
        self.readers = DomainReaders(self.namespace, RelayDomain.MARKET_DATA)
        self.readers.discover()
        self.engine = net.engine()
        self.ex: Executor = net.executor("pipeline.journal")
        self.id_base = time.time_ns() // 1_000_000
        self.sequence = 0
        self.frame_size = 0
        self.accepted_ns = 0
        self.found_ns = 0

    def published(self, opp: Opportunity, valid_ms: int = _VALID_MS) -> tuple[ArbitrageOpportunity, ArbitrageRoute]:
        """The two TLVs the strategy node publishes for ``opp`` (a fresh id)."""
        tlvs = opportunity_frame(opp, self.engine.evaluator, self.id_base, _STRATEGY_ID,
                                 opp.block + _VALID_BLOCKS, time.time_ns() + valid_ms * 1_000_000)
        o, r = tlvs
        assert isinstance(o, ArbitrageOpportunity) and isinstance(r, ArbitrageRoute)
        return o, r

    def feed(self, frames: list[bytes], on_found: Callable[[Opportunity], None] | None = None) -> list[Opportunity]:
        """Write ``frames`` to the ring, drain it into the engine; the opportunities found."""
        for frame in frames:
            if not self.writer.write(frame):
                raise RuntimeError("the market-data ring refused a frame")
        found: list[Opportunity] = []

        def deliver(batch: RingBatch) -> None:
            found.extend(self.engine.feed(batch.data, batch.offsets, batch.count, time.time_ns(), on_found))

        while self.readers.drain(deliver):
            pass
        return found

    def start(self) -> list[Opportunity]:
        """The collector's frames so far (the deployed market, then the dislocation) through the
        ring; what the strategy found in the dislocated block, first sized first."""
        found = self.feed(self.net.bootstrap)
        last = max((o.block for o in found), default=-1)
        return [o for o in found if o.block == last]

    def execute_first(self, opp: Opportunity) -> None:
        """The engine's ``on_found``: publish, receive, admit and execute the first opportunity
        sized, then end the engine's pass (:class:`_Done`)."""
        self.found_ns = time.perf_counter_ns()
        raw = encode_frame(list(self.published(opp)), source=STRATEGY, sequence=self.sequence)
        self.sequence += 1
        self.frame_size = len(raw)
        now = time.time_ns()
        frame = decode_frame(raw)
        o, r = frame.first(ArbitrageOpportunity), frame.first(ArbitrageRoute)
        assert isinstance(o, ArbitrageOpportunity) and isinstance(r, ArbitrageRoute)
        job = self.ex.admit(o, r, raw, now, frame.header.timestamp_ns)
        self.ex.execute(job)
        self.accepted_ns = time.perf_counter_ns()
        forget(self.ex, job)
        raise _Done

    def _first_only(self, frames: list[bytes], on_found: Callable[[Opportunity], None]) -> bool:
        """:meth:`feed` ended by ``on_found`` at the first opportunity; False when none was found."""
        try:
            self.feed(frames, on_found)
        except _Done:
            return True
        return False

    def sample(self) -> tuple[int, int]:
        """One dislocation through the whole pipeline: (ns to the accepted transaction, ns to the
        first opportunity sized)."""
        self.accepted_ns = self.found_ns = 0
        t0 = time.perf_counter_ns()
        if not self._first_only([self.net.dislocation, self.net.block_end], self.execute_first):
            raise RuntimeError("the strategy found nothing in the dislocation")
        return self.accepted_ns - t0, self.found_ns - t0

    def undo(self) -> None:
        """Put the pair back at its price before the swap in the engine's book (the deployed
        market's small residual opportunities there are not sized past the first)."""
        self._first_only([self.net.fair, self.net.block_end], _stop)

    def close(self) -> None:
        """Close the reader and the journal; unlink the ring."""
        self.readers.close()
        self.writer.close()
        self.writer.unlink()
        self.ex.journal.close()


def zmq_baseline(size: int, count: int, ipc_dir: str) -> np.ndarray:
    """ns of one raw pyzmq PUB -> SUB (ipc) of ``size`` bytes, sent and received by this thread."""
    ctx = zmq.Context()
    pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    try:
        endpoint = f"ipc://{ipc_dir}/raw.pub"
        pub.bind(endpoint)
        sub.subscribe(b"")
        sub.connect(endpoint)
        payload = bytes(size)
        deadline = time.monotonic() + 10
        while not sub.poll(10):  # the slow joiner: until the subscription has arrived
            if time.monotonic() > deadline:
                raise RuntimeError("the raw SUB socket never joined")
            pub.send(payload)
        while sub.poll(50):
            sub.recv()
        out = np.zeros(count, np.int64)
        clock = time.perf_counter_ns
        for k in range(-WARMUP, count):
            t0 = clock()
            pub.send(payload)
            sub.recv()
            if k >= 0:
                out[k] = clock() - t0
        return out
    finally:
        pub.close(0)
        sub.close(0)
        ctx.term()


def pipeline_rows(p: Pipeline, n: int, reset: Callable[[Executor], None]) -> list[Row]:
    """The whole-pipeline row and its raw pyzmq baseline (``reset`` empties anvil's pool)."""
    total = np.zeros(n, np.int64)
    found = np.zeros(n, np.int64)
    for k in range(-WARMUP, n):
        p.undo()
        reset(p.ex)
        t, f = p.sample()
        if k >= 0:
            total[k], found[k] = t, f
    raw = zmq_baseline(p.frame_size, n, str(p.net.tmp))
    row = latency_row(BENCH, "ring -> accepted by anvil, whole pipeline (one process)", total,
                      frame_b=p.frame_size, candidates=p.engine.last.candidates,
                      found_p50_us=round(float(np.median(found)) / 1000, 1))
    return [latency_row(BENCH, f"raw pyzmq PUB->SUB {p.frame_size} B, one thread (baseline)", raw), row]
