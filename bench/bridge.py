"""The ring bridge: a frame written into host A's ring, readable in host B's ring.

Two "hosts" on this machine (two ring namespaces, two mesh configs: :mod:`nodes.bridge.testing`)
with ``bridge-out`` and ``bridge-in`` as real node processes over tcp loopback with CURVE. The
frame is a 90-byte ``[Quote]``. Beside it, in the same run, the baselines:

* ``local ring hop``: the same frame written to a ring and read back by a reader of it (what a
  consumer on host A pays: the floor of any ring hop);
* ``raw pyzmq tcp hop`` (with and without CURVE): ``send`` on a PUB, ``poll`` + ``recv`` on a
  SUB over tcp loopback, no checks, no rings (the floor of the network part).

Latency: one frame in flight; this process writes (or sends) it and waits until it is readable
at the far end (B's ring: a reader polled with short sleeps; a SUB: ``poll``). The bridge's
added latency is its row minus the local ring row; the bridge nodes wait between passes with
their idle strategy (``--idle``, default ``backoff``: sleeps up to 1 ms), which dominates it.

Throughput: ``--count`` frames written as fast as this process can into A's ring (drained from
B's ring in between); ``per_s`` is frames read on B per second, ``lost`` what B never got
(counted by the bridge as gaps, never silent).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import zmq

from bench.report import Row, latency_row, rate_row
from mesh.protocol import Quote, encode_frame
from nodes.bridge.testing import SOURCE, Bridge
from nodes.runtime.testing import short_dir
from shm.reader import RingReader
from shm.writer import RingWriter

NAME = "bridge"
FRAME = encode_frame([Quote(asset_id=1, bid_price=1, bid_size=1, ask_price=2, ask_size=1,
                            venue=3)], source=1)
_SLEEP = 20e-6


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Benchmark options."""
    p.add_argument("--hops", type=int, default=2000, help="frames per latency case")
    p.add_argument("--count", type=int, default=50_000, help="frames per throughput case")
    p.add_argument("--idle", default="backoff", help="the bridge nodes' idle strategy")


def _wait_read(reader: RingReader) -> bytes:
    spins = 0
    while True:
        got = reader.read()
        if got is not None:
            return got
        spins += 1
        if spins > 50:
            time.sleep(_SLEEP)


def _ring_latency(writer: RingWriter, reader: RingReader, hops: int) -> np.ndarray:
    out = np.empty(hops, np.int64)
    for i in range(hops):
        t0 = time.perf_counter_ns()
        writer.write(FRAME)
        _wait_read(reader)
        out[i] = time.perf_counter_ns() - t0
    return out


def _ring_rate(writer: RingWriter, reader: RingReader, count: int) -> tuple[int, float]:
    """Write ``count`` frames in bursts, draining the reader between; (frames read, seconds
    from the first write to the last frame read)."""
    got = sent = 0
    t0 = last = time.perf_counter()
    while sent < count:
        burst = min(1000, count - sent)
        for _ in range(burst):
            writer.write(FRAME)
        sent += burst
        got += len(reader.drain(4096))
        last = time.perf_counter()
    while got < count and time.perf_counter() - last < 2:  # 2 s without a frame: lost
        n = len(reader.drain(4096))
        if n:
            got += n
            last = time.perf_counter()
        else:
            time.sleep(0.0005)
    return got, last - t0


def _local(hops: int, count: int, namespace: str) -> list[Row]:
    w = RingWriter.create("market-data", "local", namespace=namespace, capacity=1 << 24)
    try:
        r = RingReader.attach("market-data", "local", namespace=namespace, start="latest")
        try:
            rows = [latency_row(NAME, "local ring hop", _ring_latency(w, r, hops))]
            got, secs = _ring_rate(w, r, count)
            rows.append(rate_row(NAME, "local ring hop (throughput)", got, secs,
                                 lost=count - got))
        finally:
            r.close()
    finally:
        w.unlink()
        w.close()
    return rows


def _zmq_pair(curve: bool) -> tuple[zmq.Context, zmq.Socket, zmq.Socket]:
    ctx = zmq.Context()
    pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    pub.sndhwm = sub.rcvhwm = 1_000_000
    pub.linger = sub.linger = 0
    if curve:
        spub, ssec = zmq.curve_keypair()
        cpub, csec = zmq.curve_keypair()
        pub.curve_secretkey, pub.curve_publickey, pub.curve_server = ssec, spub, True
        sub.curve_secretkey, sub.curve_publickey, sub.curve_serverkey = csec, cpub, spub
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(f"tcp://127.0.0.1:{port}")
    while True:  # the slow joiner: send until one arrives, then empty the queue
        pub.send_multipart([b"t", FRAME])
        if sub.poll(50):
            break
    while sub.poll(100):
        sub.recv_multipart()
    return ctx, pub, sub


def _zmq(hops: int, count: int, curve: bool) -> list[Row]:
    label = f"raw pyzmq tcp hop ({'CURVE' if curve else 'no CURVE'})"
    ctx, pub, sub = _zmq_pair(curve)
    try:
        out = np.empty(hops, np.int64)
        for i in range(hops):
            t0 = time.perf_counter_ns()
            pub.send(b"1/000/x:1", zmq.SNDMORE)
            pub.send(FRAME)
            sub.poll(-1)
            sub.recv()
            sub.recv()
            out[i] = time.perf_counter_ns() - t0
        rows = [latency_row(NAME, label, out)]
        got, start = 0, time.perf_counter()
        for _ in range(count):
            pub.send(b"1/000/x:1", zmq.SNDMORE)
            pub.send(FRAME)
            while sub.poll(0):
                sub.recv()
                sub.recv()
                got += 1
        while got < count and sub.poll(2000):
            sub.recv()
            sub.recv()
            got += 1
        rows.append(rate_row(NAME, f"{label} (throughput)", got, time.perf_counter() - start,
                             lost=count - got))
        return rows
    finally:
        pub.close(0)
        sub.close(0)
        ctx.term()


def _bridge(root: Path, hops: int, count: int, idle: str) -> list[Row]:
    b = Bridge(root, feeder_capacity=1 << 24, mesh={"idle": idle, "ring_capacity": 1 << 24})
    try:
        for h in (b.a, b.b):
            h.launch()
        for h in (b.a, b.b):
            h.wait_up()
        b.link_up()
        r = RingReader.attach("market-data", SOURCE, namespace=b.b.namespace, start="latest")
        try:
            while r.read() is not None:
                pass
            rows = [latency_row(NAME, f"bridge hop (A ring -> B ring, idle {idle})",
                                _ring_latency(b.feeder, r, hops))]
            got, secs = _ring_rate(b.feeder, r, count)
            rows.append(rate_row(NAME, "bridge hop (throughput)", got, secs, lost=count - got))
        finally:
            r.close()
        return rows
    finally:
        b.close()


def run(args: argparse.Namespace) -> list[Row]:
    """All cases in one run: the bridge, then the baselines."""
    with short_dir() as root:
        rows = _bridge(root, args.hops, args.count, args.idle)
        rows += _local(args.hops, args.count, f"ap{root.name[3:].replace('_', '')}l")
    rows += _zmq(args.hops, args.count, curve=True)
    rows += _zmq(args.hops, args.count, curve=False)
    return rows
