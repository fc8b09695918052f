"""Binance combined-stream JSON to frames in a shared-memory ring, beside json/orjson parsing.

``python -m bench cex [--json] [--messages N] [--trades N] [--depth L] [--rounds R]``

Every row runs in the same process on the same pre-generated, seeded messages
(:mod:`bench._cex_stream`: a few symbols, books of ``--depth`` levels a side synced from a
REST snapshot, ``depthUpdate`` events with a handful of changed levels each and continuous
ids, and ``trade`` events), on one pinned CPU:

- baselines: ``json.loads`` and ``orjson.loads`` of the messages (parsing only);
- ``BinanceFeed``: the Python path as collector-cex runs it, message -> frames ->
  ``encode_frame`` (receive time in the header, sequence per frame) -> ``RingWriter.write``
  into a real ring (the node runtime's writer class, its default capacity);
- ``FastBinanceFeed``: the same with the compiled depth path
  (:mod:`cex.binance.fastdepth`), as a drop-in feed (its OrderBook as an encoded TLV, then
  ``encode_frame`` and the writer), with the whole frame built and written into the ring
  in compiled code per message (:mod:`nodes.collector_cex.fastring`), and per websocket read burst of
  ``--burst`` messages (one compiled call for a run of depth updates; its latency columns
  are the burst's time divided by its messages).

Each round starts from freshly synced feeds (snapshot, then the first event). ``per_s`` is
the median over ``--rounds`` of an untimed pass over all messages; ``p50_us`` .. ``max_us``
are per message, from a separate timed pass per round (time.perf_counter_ns around each
message). Before measuring, every frame of the fast paths is checked byte for byte against
the Python path's. Target (issue 13): at least 200 k depth updates/s into the ring.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import fields
from functools import partial
from typing import Any

import numpy as np
import orjson

from bench._cex_stream import MIDS, Traffic, generate
from bench.pinning import cpus, pin, unpin
from bench.report import Row, latency_row, us_per_op
from cex.binance import fastkernels as K
from cex.binance.fastdepth import FastBinanceFeed
from cex.binance.feed import BinanceFeed
from cex.feed import FeedOutput, RestReply, VenueFeed
from mesh.config import MeshConfig
from mesh.protocol import encode_frame
from mesh.protocol.constants import RelayDomain, SourceType
from nodes.collector_cex.fastring import depth_burst_to_ring, depth_to_ring
from shm.segment import list_ring_names, unlink
from shm.writer import RingWriter

BENCH = "cex"
MD = int(RelayDomain.MARKET_DATA)
SOURCE = int(SourceType.BINANCE_COLLECTOR)

Step = Callable[[bytes], None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark options."""
    parser.add_argument("--symbols", default=",".join(MIDS), help="Binance symbols")
    parser.add_argument("--messages", type=int, default=20_000, help="depth updates per pass")
    parser.add_argument("--trades", type=int, default=20_000, help="trades per pass")
    parser.add_argument("--depth", type=int, default=1000, help="snapshot levels a side")
    parser.add_argument("--rounds", type=int, default=5, help="passes per case")
    parser.add_argument("--burst", type=int, default=16,
                        help="messages per websocket read burst (the burst row)")
    parser.add_argument("--seed", type=int, default=13)


def synced(traffic: Traffic, symbols: list[str], fast: bool) -> VenueFeed:
    """A feed connected and synchronised: first events buffered, snapshots answered."""
    feed: VenueFeed = BinanceFeed(symbols=symbols)
    if fast:
        feed = FastBinanceFeed(feed, capacity=4096)  # type: ignore[arg-type]
    feed.on_connect(0)
    requests = [r for raw in traffic.first for r in feed.on_message(raw, 0).requests]
    for request in requests:
        feed.on_snapshot(RestReply(request, 200, traffic.snapshots[request.key]), 0)
    books = feed.inner.books if isinstance(feed, FastBinanceFeed) else feed.books  # type: ignore[attr-defined]
    assert all(sync.live for sync in books.values()), "the bench's feeds did not sync"
    return feed


class Cases:
    """Per-message steps of every case, each over a freshly synced feed and one ring."""

    def __init__(self, traffic: Traffic, symbols: list[str], writer: RingWriter) -> None:
        self.traffic = traffic
        self.symbols = symbols
        self.writer = writer
        self.seq = 0
        self.written = 0

    def python(self, fast: bool = False) -> Step:
        """BinanceFeed (or FastBinanceFeed as a drop-in feed) -> encode_frame -> ring."""
        feed = synced(self.traffic, self.symbols, fast)
        write = self.writer.write

        def step(raw: bytes) -> None:
            recv = time.time_ns()
            for frame in feed.on_message(raw, recv).frames:
                write(encode_frame(frame, source=SOURCE, sequence=self.seq, timestamp_ns=recv,
                                   domain=MD))
                self.seq += 1
                self.written += 1
        return step

    def burst(self) -> Callable[[list[bytes]], None]:
        """FastBinanceFeed.write_burst: one compiled call per run of depth updates."""
        feed = synced(self.traffic, self.symbols, True)
        assert isinstance(feed, FastBinanceFeed)
        w = self.writer
        words, data, state, write = w.words, w.data, w.state, w.write

        def emit(out: FeedOutput, recv: int, seq: int) -> int:
            for frame in out.frames:
                write(encode_frame(frame, source=SOURCE, sequence=seq, timestamp_ns=recv,
                                   domain=MD))
                seq += 1
            return seq

        def step(burst: list[bytes]) -> None:
            recv = time.time_ns()
            seq = feed.write_burst(burst, [recv] * len(burst), self.seq, emit,
                                   depth_burst_to_ring, words, data, state)
            self.written += seq - self.seq
            self.seq = seq
        return step

    def compiled(self) -> Step:
        """FastBinanceFeed.write_message: the frame built and written in compiled code."""
        feed = synced(self.traffic, self.symbols, True)
        assert isinstance(feed, FastBinanceFeed)
        w = self.writer
        words, data, state, write = w.words, w.data, w.state, w.write

        def step(raw: bytes) -> None:
            recv = time.time_ns()
            status, out = feed.write_message(raw, recv, self.seq, depth_to_ring, words, data,
                                             state)
            if status == K.APPLIED:
                self.seq += 1
                self.written += 1
            for frame in out.frames:
                write(encode_frame(frame, source=SOURCE, sequence=self.seq, timestamp_ns=recv,
                                   domain=MD))
                self.seq += 1
                self.written += 1
        return step


def verify(traffic: Traffic, symbols: list[str]) -> int:
    """Frames of the fast paths compared byte for byte with the Python path's; returns how
    many were compared (raises AssertionError on the first difference)."""
    py = synced(traffic, symbols, False)
    fast = synced(traffic, symbols, True)
    assert isinstance(fast, FastBinanceFeed)
    compared = 0
    for i, raw in enumerate(traffic.depth + traffic.trades):
        recv = 1_700_000_000_000_000_000 + i
        want = [encode_frame(f, source=SOURCE, sequence=i, timestamp_ns=recv, domain=MD)
                for f in py.on_message(raw, recv).frames]
        status, out = fast.write_message(raw, recv, i, K.depth_frame)
        got = [fast.frame.tobytes()] if status == K.APPLIED else [
            encode_frame(f, source=SOURCE, sequence=i, timestamp_ns=recv, domain=MD)
            for f in out.frames]
        assert got == want, f"message {i}: the compiled frame differs from the Python path's"
        compared += len(want)
    assert not py.errors and not fast.errors, f"input errors: {py.errors}"
    assert fast.fast == len(traffic.depth), f"declined: {fast.fallbacks}"
    return compared


def _pass(step: Callable[[Any], None], items: list[Any]) -> int:
    for item in items:
        step(item)
    return len(items)


def _timed(step: Callable[[Any], None], items: list[Any], out: np.ndarray) -> None:
    clock = time.perf_counter_ns
    for i, item in enumerate(items):
        t0 = clock()
        step(item)
        out[i] = clock() - t0


def _parse(loads: Callable[[bytes], object]) -> Callable[[], Step]:
    def make() -> Step:
        def step(raw: bytes) -> None:
            loads(raw)
        return step
    return make


def run(args: argparse.Namespace) -> list[Row]:
    """Generate the traffic, verify the fast paths, run every case pinned; return the rows."""
    symbols = [s for s in args.symbols.replace(",", " ").split() if s]
    traffic = generate(symbols, args.messages, args.trades, args.depth, args.seed)
    compared = verify(traffic, symbols)
    namespace = f"bench{os.getpid()}"
    allowed = cpus()
    pin(1)
    capacity = next(f.default for f in fields(MeshConfig) if f.name == "ring_capacity")
    writer = RingWriter.create("market-data", "bench-cex", namespace=namespace,
                               capacity=int(capacity))  # type: ignore[arg-type]
    cases = Cases(traffic, symbols, writer)
    b = max(1, args.burst)
    bursts = [traffic.depth[i:i + b] for i in range(0, len(traffic.depth), b)]
    plan: list[tuple[str, str, Callable[[], Any], list[Any], int]] = [
        ("depth", "json.loads (baseline)", _parse(json.loads), traffic.depth, 0),
        ("depth", "orjson.loads (baseline)", _parse(orjson.loads), traffic.depth, 0),
        ("depth", "BinanceFeed -> encode_frame -> ring", cases.python, traffic.depth, 1),
        ("depth", "FastBinanceFeed -> encode_frame -> ring",
         lambda: cases.python(fast=True), traffic.depth, 1),
        ("depth", "FastBinanceFeed compiled frame -> ring", cases.compiled, traffic.depth, 1),
        ("depth", f"FastBinanceFeed compiled, bursts of {b} -> ring", cases.burst, bursts, 1),
        ("trade", "json.loads (baseline)", _parse(json.loads), traffic.trades, 0),
        ("trade", "orjson.loads (baseline)", _parse(orjson.loads), traffic.trades, 0),
        ("trade", "BinanceFeed -> encode_frame -> ring", cases.python, traffic.trades, 1),
        ("trade", "FastBinanceFeed -> encode_frame -> ring",
         lambda: cases.python(fast=True), traffic.trades, 1),
    ]
    rates: dict[int, list[float]] = {i: [] for i in range(len(plan))}
    samples: dict[int, list[np.ndarray]] = {i: [] for i in range(len(plan))}
    try:
        for _, _, make, messages, _ in plan:  # warm-up (compiles, caches)
            _pass(make(), messages[:2000])
        for _ in range(args.rounds):
            for i, (_, _, make, items, frames_per) in enumerate(plan):
                per = len(items[0]) if type(items[0]) is list else 1  # messages per item
                count = sum(len(x) for x in items) if per > 1 else len(items)
                before = cases.written
                step = make()
                rates[i].append(us_per_op(partial(_pass, step, items), len(items)) / per)
                buf = np.empty(len(items), np.int64)
                _timed(make(), items, buf)
                samples[i].append(buf // per)
                assert cases.written - before == 2 * frames_per * count, \
                    f"{plan[i][1]}: {cases.written - before} frames"
    finally:
        writer.close()
        for name in list_ring_names(namespace):
            unlink(name)
        unpin(allowed)
    rows = []
    for i, (kind, label, _, items, _) in enumerate(plan):
        count = sum(len(x) for x in items) if type(items[0]) is list else len(items)
        row = latency_row(BENCH, f"{kind}: {label}", np.concatenate(samples[i]),
                          messages=count)
        row.per_s = 1e6 / float(np.median(rates[i]))
        if kind == "depth" and "ring" in label:
            row.extra["depth_levels"] = args.depth
            row.extra["verified_frames"] = compared
        rows.append(row)
    return rows
