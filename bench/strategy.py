"""The strategy node's hot path: one pool update, exact sizing, ring -> opportunity subscriber.

``python -m bench strategy [--json] [--pools 100,1000,10000] [--hops 3,4] [--updates N]``

Synthetic V2 markets (:mod:`bench.strategy_market`: WETH/USDC/DAI hubs in most pools, a long
tail of tokens of degree 1-3, reserves at fair prices within a noise far below the fee, so no
cycle passes the screen unless a frame dislocates a pool). The rows, all in one run:

* ``update`` (per market size and ``max_hops``): one uniformly chosen pool gets a PoolSync,
  then a BlockEnd: :meth:`PoolBook.apply` of the two frames, :meth:`PoolBook.take_dirty` and
  :meth:`Screen.run` of the pool's cycles, called from Python as the engine calls them;
  ``cycles`` is the market's cycle count, ``cyc/upd`` the cycles screened per update (p50 and
  max). ``in njit`` is the same work in one compiled loop (the floor without Python's calls).
  ``engine`` is the same update through :meth:`Engine.evaluate` (nothing passes the screen).
* ``pure Python`` (baseline): the same update in plain Python, ``struct`` decode of the frame,
  a dict of pools, the log rates and a loop over the same cycles (lists), on the first
  ``--python-updates`` updates; ``x_python`` on the update rows is its p50 over theirs on those
  same updates (below 1: plain Python is faster). ``struct.unpack PoolSync`` is the decode alone.
* ``evaluate``: :meth:`Evaluator.evaluate` of one profitable V2 cycle of 2 and of 3 hops (every
  flash source, exact sizing, gas, the trade), a fresh pass each time.
* ``ring -> subscriber`` (:mod:`bench.strategy_node`): the strategy node in its own process
  (hand-built deployment), a tail V2 route; beside raw pyzmq PUB -> SUB of the same size.
  No V3 route yet: the synthetic market has V2 pairs only.
* ``v3 swap`` (:mod:`bench.strategy_v3`): the exact V3 swap per step class.

The measuring process is pinned to one CPU. The 10 k pool 4-hop graph has millions of cycles
and takes a minute or two to build (``--pools`` / ``--hops`` choose fewer cases).
"""

from __future__ import annotations

import argparse
import math
import random
import time

import numpy as np
from numba import njit

from bench import strategy_market as sm
from bench.pinning import cpus, pin, unpin
from bench.report import Row, latency_row
from mesh.protocol.constants import HEADER_SIZE
from mesh.protocol.messages import PoolSync
from nodes.strategy.apply import apply_frames
from nodes.strategy.engine import Engine
from nodes.strategy.screen import screen
from shm.clock import monotonic_ns

BENCH = "strategy"
SYNC = PoolSync.LAYOUT.struct
TLV_AT = HEADER_SIZE + 2  # PoolSync's value, after the frame header and the 2-byte TLV header


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark options."""
    parser.add_argument("--pools", default="100,1000,10000", help="market sizes (pools)")
    parser.add_argument("--hops", default="3,4", help="max_hops values")
    parser.add_argument("--updates", type=int, default=3000, help="timed updates per case")
    parser.add_argument("--python-updates", type=int, default=300,
                        help="updates of the pure-Python baseline per case")
    parser.add_argument("--evaluations", type=int, default=200, help="timed exact sizings")
    parser.add_argument("--node-samples", type=int, default=400,
                        help="dislocations sent to the strategy node (0: skip those rows)")
    parser.add_argument("--node-pools", type=int, default=1000, help="pools of the node's market")
    parser.add_argument("--v3-per-class", type=int, default=100, help="V3 swaps per step class")


# -- one update -----------------------------------------------------------------------------------

def _updates(m: sm.Market, n: int, seed: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[bytes], list[int]]:
    """``n`` batches [PoolSync of a uniformly chosen pool, BlockEnd]; the syncs; the pools."""
    rng = random.Random(seed)
    end = m.block_end()
    out, syncs, chosen = [], [], []
    for _ in range(n):
        i = rng.randrange(len(m.pairs))
        frame = m.sync(i, rng)
        out.append(sm.batch([frame, end]))
        syncs.append(frame)
        chosen.append(i)
    return out, syncs, chosen


def _python_update(engine: Engine, batches: list) -> tuple[np.ndarray, np.ndarray]:
    """Each batch through apply + take_dirty + Screen.run; (ns per update, cycles screened)."""
    book, graph, scr = engine.book, engine.graph, engine.screen
    samples = np.zeros(len(batches), np.int64)
    seen = np.zeros(len(batches), np.int64)
    clock = time.perf_counter_ns
    for k, (data, offsets) in enumerate(batches):
        t0 = clock()
        book.apply(data, offsets, 0, 2)
        dirty = book.take_dirty()
        cycles, _, seen[k] = scr.run(dirty, graph, book.rate, book.pools)
        samples[k] = clock() - t0
        assert len(cycles) == 0, "an update of the fair market passed the screen"
    return samples, seen


@njit(cache=True)
def _compiled_updates(data, offsets, b, ptr, idx, pool, zero, hops, rate, stamp, epoch0,
                      threshold, out_cycle, out_score, samples):
    """Update ``k`` is frames ``2k, 2k + 1``: apply them, screen the dirty slots, clear them;
    each update's ns into ``samples[k]``. Returns the candidates found (0 on a fair market)."""
    dirty, mark = b[17], b[18]
    found = 0
    last = dirty.shape[0] - 1
    for k in range(samples.shape[0]):
        t0 = monotonic_ns()
        apply_frames(data, offsets, 2 * k, 2 * k + 2, b)
        n = dirty[last]
        got, _seen = screen(dirty, n, ptr, idx, pool, zero, hops, rate, stamp, epoch0 + k,
                            threshold, out_cycle, out_score)
        for j in range(n):
            mark[dirty[j]] = 0
        dirty[last] = 0
        samples[k] = monotonic_ns() - t0
        found += got
    return found


def _in_njit(engine: Engine, syncs: list[bytes], end: bytes) -> np.ndarray:
    book, graph, scr = engine.book, engine.graph, engine.screen
    frames = [f for s in syncs for f in (s, end)]
    data, offsets = sm.batch(frames)
    ptr, idx = graph.index(book.pools)
    if len(scr.stamp) < graph.count:
        scr.stamp = np.zeros(graph.count, np.int64)
    samples = np.zeros(len(syncs), np.int64)
    scr.epoch += 1
    found = _compiled_updates(data, offsets, book.arrays, ptr, idx, graph.pool, graph.zero,
                              graph.hops, book.rate, scr.stamp, scr.epoch, scr.threshold,
                              scr.out_cycle, scr.out_score, samples)
    scr.epoch += len(syncs)
    assert found == 0, "an update of the fair market passed the screen"
    return samples


def _engine_update(engine: Engine, batches: list) -> np.ndarray:
    book = engine.book
    samples = np.zeros(len(batches), np.int64)
    clock = time.perf_counter_ns
    for k, (data, offsets) in enumerate(batches):
        t0 = clock()
        book.apply(data, offsets, 0, 2)
        engine.block_ended()
        found = engine.evaluate(0)
        samples[k] = clock() - t0
        assert not found and engine.last.candidates == 0
    return samples


class PurePython:
    """The same update in plain Python: pools in a dict, cycles as lists (the baseline)."""

    def __init__(self, engine: Engine, slots: set[int]) -> None:
        book, graph = engine.book, engine.graph
        ptr, idx = graph.index(book.pools)
        self.slot_of = {bytes.fromhex(book.address(s)[2:]): s for s in range(book.pools)}
        self.keep = {s: math.log(1.0 - int(book.fee[s]) / 10000.0) for s in range(book.pools)}
        self.rates = {s: (float(book.rate[s, 0]), float(book.rate[s, 1])) for s in range(book.pools)}
        self.through: dict[int, list[int]] = {s: [int(c) for c in idx[ptr[s]:ptr[s + 1]]] for s in slots}
        wanted = {c for cs in self.through.values() for c in cs}
        self.cycles = {c: [(int(graph.pool[c, h]), 0 if graph.zero[c, h] else 1)
                           for h in range(int(graph.hops[c]))] for c in wanted}
        self.threshold = engine.screen.threshold

    def update(self, frame: bytes) -> int:
        """Decode the PoolSync, set the pool's rates, screen its cycles; the candidates."""
        r0lo, r0hi, r1lo, r1hi, _ts, _block, _venue, _d0, _d1, pool, _t0, _t1 = SYNC.unpack_from(frame, TLV_AT)
        s = self.slot_of[pool]
        d = math.log(r1lo + (r1hi << 64)) - math.log(r0lo + (r0hi << 64))
        keep = self.keep[s]
        self.rates[s] = (d + keep, -d + keep)
        rates, found = self.rates, 0
        for c in self.through[s]:
            total = 0.0
            for p, side in self.cycles[c]:
                total += rates[p][side]
            if total > self.threshold:
                found += 1
        return found


def _pure_python(engine: Engine, syncs: list[bytes], chosen: list[int], m: sm.Market) -> np.ndarray:
    slots = {engine.book.slot(sm.hex_of(m.pairs[i].address)) for i in chosen}
    base = PurePython(engine, slots)
    samples = np.zeros(len(syncs), np.int64)
    clock = time.perf_counter_ns
    for k, frame in enumerate(syncs):
        t0 = clock()
        found = base.update(frame)
        samples[k] = clock() - t0
        assert found == 0
    return samples


def _decode_baseline(syncs: list[bytes]) -> np.ndarray:
    samples = np.zeros(len(syncs), np.int64)
    clock, unpack = time.perf_counter_ns, SYNC.unpack_from
    for k, frame in enumerate(syncs):
        t0 = clock()
        unpack(frame, TLV_AT)
        samples[k] = clock() - t0
    return samples


def update_rows(pools: int, max_hops: int, args: argparse.Namespace) -> list[Row]:
    """The update rows of one market size and ``max_hops``."""
    t0 = time.monotonic()
    m = sm.market(pools)
    engine = sm.engine(m, max_hops)
    built_s = round(time.monotonic() - t0, 1)
    n = args.updates
    batches, syncs, chosen = _updates(m, n + 200, seed=pools + max_hops)
    _python_update(engine, batches[:200])  # warm-up
    batches, syncs, chosen = batches[200:], syncs[200:], chosen[200:]
    label = f"{pools} pools {max_hops} hops"
    common = {"cycles": engine.graph.count, "dropped": engine.graph.dropped}
    py_samples, seen = _python_update(engine, batches)
    njit_samples = _in_njit(engine, syncs, m.block_end())
    eng_samples = _engine_update(engine, batches)
    k = min(args.python_updates, n)
    base = _pure_python(engine, syncs[:k], chosen[:k], m)
    base_p50 = float(np.median(base))
    seen_txt = f"{int(np.median(seen))}/{int(seen.max())}"
    rows = []
    for case, samples in ((f"update {label}: apply+screen", py_samples),
                          (f"update {label}: apply+screen in njit", njit_samples),
                          (f"update {label}: Engine.evaluate", eng_samples)):
        rows.append(latency_row(BENCH, case, samples, **common, **{"cyc/upd": seen_txt},
                                x_python=round(base_p50 / float(np.median(samples[:k])), 1)))
    rows.append(latency_row(BENCH, f"update {label}: pure Python (baseline)", base,
                            **common, build_s=built_s))
    return rows


# -- exact sizing -----------------------------------------------------------------------------------

def evaluate_rows(args: argparse.Namespace) -> list[Row]:
    """Exact sizing of one profitable V2 cycle of 2 and of 3 hops (1 k pools, 3 hops)."""
    m = sm.market(1000)
    engine = sm.engine(m, 3)
    rng = random.Random(3)
    frame = m.sync(0, rng, skew=0.02)  # a WETH/USDC pool 2 % off
    engine.book.apply(*sm.batch([frame, m.block_end()]), 0, 2)
    engine.block_ended()
    engine.join_new_pools()
    dirty = engine.book.take_dirty()
    cycles, scores, _ = engine.screen.run(dirty, engine.graph, engine.book.rate, engine.book.pools)
    ev = engine.evaluator
    rows = []
    for hops in (2, 3):
        pick = [(int(c), float(s)) for c, s in zip(cycles, scores, strict=True)
                if engine.graph.hops[c] == hops]
        paying = []
        for c, score in pick:  # the best screened cycle that pays after gas
            ev.begin()
            if (opp := ev.evaluate(c, score, 0)) is not None:
                paying.append((c, score, opp))
                break
        assert paying, f"no {hops}-hop candidate pays"
        c, score, opp = paying[0]
        samples = np.zeros(args.evaluations, np.int64)
        clock = time.perf_counter_ns
        for k in range(args.evaluations):
            t0 = clock()
            ev.begin()
            ev.evaluate(c, score, 0)
            samples[k] = clock() - t0
        rows.append(latency_row(BENCH, f"evaluate V2 {hops}-hop (exact, all sources)", samples,
                                lenders=len(ev.lenders(engine.graph.route(c), engine.graph.start_token(c))),
                                lender=opp.lender.source.name))
    return rows


def run(args: argparse.Namespace) -> list[Row]:
    """Run every case; return the rows."""
    allowed = cpus()
    rows: list[Row] = []
    pin(1)
    try:
        syncs = _updates(sm.market(1000), 2000, 1)[1]
        rows.append(latency_row(BENCH, "struct.unpack PoolSync (decode baseline)",
                                _decode_baseline(syncs)))
        for pools in (int(x) for x in args.pools.split(",")):
            for hops in (int(x) for x in args.hops.split(",")):
                rows += update_rows(pools, hops, args)
        rows += evaluate_rows(args)
    finally:
        unpin(allowed)
    if args.node_samples:
        from bench.strategy_node import node_rows

        rows += node_rows(args)
    try:
        from bench.strategy_v3 import v3_swap_rows
    except ModuleNotFoundError as exc:
        if exc.name != "bench.strategy_v3":
            raise
    else:
        rows += v3_swap_rows(args.v3_per_class)
    return rows
