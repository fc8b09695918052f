"""What a ring-fed node pays to consume market data, beside the raw ring and codec it stands on.

``python -m bench node [--json] [--frames N] [--rounds R]``

Each round writes ``--frames`` PoolSync frames (194 B) into a broadcast ring that a reader has
already joined (few enough that nothing is lapped), then times one consumer draining them all,
on a pinned CPU. The rows, all in one run:

* ``raw drain_into`` (baseline): the ring kernel in a Python loop, 256 frames a batch;
* ``runtime -> RING_KERNEL``: what a node's loop does for a numba node, :class:`mesh.rings.
  DomainReaders` batches handed to an ``@njit`` kernel that reads every frame's reserves;
* ``decode_frame loop`` (baseline): the Python codec over the same frames, already in bytes;
* ``runtime -> on_ring_batch + decoded()``: the Python path, decoding every frame.

``p50_us`` / ``max_us`` are per frame (round time / frames) over the rounds; ``per_s`` is the
median rate. Compare the rows of one run: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from numba import njit

from bench.pinning import cpus, pin, unpin
from bench.report import Row, per_op_row, us_per_op
from mesh.protocol import PoolSync, decode_frame, encode_frame
from mesh.protocol.constants import HEADER_SIZE, RelayDomain
from mesh.rings import DomainReaders, RingBatch
from mesh.stats import MeshStats
from nodes.runtime.rings import decoded
from shm import ring
from shm.reader import RingReader
from shm.segment import list_ring_names, unlink
from shm.writer import RingWriter

BENCH = "node"
#: PoolSync's reserve0 (low u64) after the 2-byte TLV header.
RESERVE_AT = HEADER_SIZE + 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark options."""
    parser.add_argument("--frames", type=int, default=40_000, help="frames per round")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per case")


@njit(cache=True)
def sum_reserves(data, offsets, count, ctx):
    """A node's kernel: add up every frame's reserve0 (low 64 bits); rejects nothing."""
    for i in range(count):
        at = offsets[i] + RESERVE_AT
        v = np.int64(0)
        for k in range(7):
            v |= np.int64(data[at + k]) << np.int64(8 * k)
        ctx[0] += v
        ctx[1] += 1
    return 0


def _frames(n: int) -> list[bytes]:
    return [encode_frame([PoolSync(reserve0=1_000 + i, reserve1=2_000,
                                   pool_address=b"\x11" * 20, block_number=i)],
                         source=4, sequence=i) for i in range(n)]


def _raw(reader: RingReader) -> int:
    out = np.empty(1 << 20, np.uint8)
    offsets = np.empty(257, np.int64)
    total = 0
    while (n := int(ring.drain_into(reader.words, reader.data, reader.state, out, offsets,
                                    256))):
        total += n
    return total


def run(args: argparse.Namespace) -> list[Row]:
    """Run every case on one pinned CPU; return the rows."""
    namespace = f"bench{os.getpid()}"
    allowed = cpus()
    pin(1)
    frames = _frames(args.frames)
    capacity = 1 << 24
    writer = RingWriter.create("market-data", "bench", namespace=namespace, capacity=capacity)
    raw_reader = RingReader.attach("market-data", "bench", namespace=namespace)
    readers = DomainReaders(namespace, RelayDomain.MARKET_DATA, start="latest")
    readers.discover()
    stats = MeshStats()
    ctx = np.zeros(2, np.int64)
    seen = [0]

    def to_kernel(batch: RingBatch) -> None:
        sum_reserves(batch.data, batch.offsets, batch.count, ctx)

    def to_python(batch: RingBatch) -> None:
        for _ in decoded(batch, stats):
            seen[0] += 1

    def fill() -> None:
        for f in frames:
            writer.write(f)

    def catch_up() -> None:  # the readers not timed this time skip what was written
        _raw(raw_reader)
        readers.drain(lambda batch: None, 1 << 30)

    def timed(consume) -> float:
        catch_up()
        fill()
        return us_per_op(consume, len(frames))

    def kernel() -> int:
        before = int(ctx[1])
        readers.drain(to_kernel, 1 << 30)
        return int(ctx[1]) - before

    def python() -> int:
        seen[0] = 0
        readers.drain(to_python, 1 << 30)
        return seen[0]

    def decode_only() -> float:
        return us_per_op(lambda: sum(1 for f in frames if decode_frame(f)), len(frames))

    cases: dict[str, list[float]] = {k: [] for k in ("raw", "kernel", "decode", "python")}
    try:
        sum_reserves(np.zeros(0, np.uint8), np.zeros(1, np.int64), 0, ctx)  # compile
        for _ in range(args.rounds):  # interleaved: each round measures every case once
            cases["raw"].append(timed(lambda: _raw(raw_reader)))
            cases["kernel"].append(timed(kernel))
            cases["decode"].append(decode_only())
            cases["python"].append(timed(python))
        lost = sum(c.frames_lost for c in readers.counters()) + raw_reader.frames_lost
    finally:
        readers.close()
        raw_reader.close()
        writer.close()
        for name in list_ring_names(namespace):
            unlink(name)
        unpin(allowed)
    n = len(frames)
    return [
        per_op_row(BENCH, "raw drain_into 194B (baseline)", cases["raw"], frames=n, lost=lost),
        per_op_row(BENCH, "runtime -> RING_KERNEL (numba)", cases["kernel"], frames=n,
             x_raw=round(float(np.median(cases["kernel"]) / np.median(cases["raw"])), 2)),
        per_op_row(BENCH, "decode_frame loop (baseline)", cases["decode"], frames=n),
        per_op_row(BENCH, "runtime -> on_ring_batch + decoded()", cases["python"], frames=n,
             x_decode=round(float(np.median(cases["python"]) / np.median(cases["decode"])), 2)),
    ]
