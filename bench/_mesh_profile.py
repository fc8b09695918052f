"""Where a mesh hop's extra time goes: per-call CPU of each step, in one process (``bench mesh``).

Each step of :meth:`mesh.pubsub.Publisher.publish_frame` and of a lazy
:meth:`mesh.pubsub.Subscriber.recv` is timed alone over batches of calls (ZeroMQ over
``inproc``, so no I/O thread runs while a batch is timed), beside what lean raw pyzmq does
for the same frame. Each row's p50 is the median over batches of the mean ns per call (shown
in µs like every other row); ``ns`` repeats it in nanoseconds. The sum of the mesh steps
minus the raw ones is the CPU the layer adds per hop (one publish plus one receive), the
part of the hop overhead no poll timeout or scheduling choice can remove.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import numpy as np
import zmq

from bench.report import Row, latency_row
from mesh.delivery import Delivery
from mesh.protocol import check_frame
from mesh.pubsub import _checked_header, _restamp  # the layer's own steps, timed alone
from mesh.recovery import Journal
from mesh.sequence import SequenceTracker, Verdict
from mesh.topics import run_prefix, split_topic, stream_prefix

NAME = "mesh"
BATCH = 2000
BATCHES = 15


def _time(step: Callable[[int], None], refill: Callable[[], None] | None = None) -> np.ndarray:
    """Mean ns per call of ``step(i)`` over each of :data:`BATCHES` batches."""
    out = np.empty(BATCHES, dtype=np.int64)
    clock = time.perf_counter_ns
    for b in range(BATCHES):
        if refill is not None:
            refill()
        t0 = clock()
        for i in range(BATCH):
            step(i)
        out[b] = (clock() - t0) // BATCH
    return out


def bench_profile(frame: bytes, topic: bytes) -> list[Row]:
    """One row per step: the mesh layer's publish and receive steps, and raw pyzmq's."""
    ctx = zmq.Context()
    pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    pub.sndhwm = sub.rcvhwm = 0
    pub.bind("inproc://profile")
    sub.subscribe(b"")
    sub.connect("inproc://profile")
    time.sleep(0.05)
    send = zmq.backend.Socket.send
    nb, more = zmq.NOBLOCK, zmq.SNDMORE
    prefix_ = run_prefix(stream_prefix(3, 50, 1, "ping1"), time.time_ns())
    streams = {(3, 50, 1): [prefix_, 0]}
    journal = Journal(10_000, 1)
    tracker = SequenceTracker()
    parsed, stream = split_topic(prefix_ + b"1")
    header = check_frame(frame)

    def drain() -> None:
        while sub.poll(0):
            sub.recv()

    def fill() -> None:
        drain()
        for _ in range(BATCH):
            pub.send(topic, more)
            pub.send(frame)

    def numbering(i: int) -> None:
        s = streams[(3, 50, 1)]
        s[1] = n = s[1] + 1
        b"%s%x" % (s[0], n)

    def mesh_send(i: int) -> None:
        send(pub, topic, more)
        send(pub, frame, 0, True)

    def raw_send(i: int) -> None:
        pub.send(topic, more)
        pub.send(frame)

    def mesh_recv(i: int) -> None:
        h = sub.recv(nb, False)
        b = sub.recv(nb, False)
        h.more and not b.more and (h.bytes, b.bytes)  # noqa: B018

    def raw_recv(i: int) -> None:
        sub.recv(nb)
        sub.recv(nb)

    steps: list[tuple[str, Callable[[int], None], Callable[[], None] | None]] = [
        ("pub: restamp (sequence, time, CRC32)", lambda i: _restamp(frame, i, i), None),
        ("pub: stream numbering (topic tail)", numbering, None),
        ("pub: journal append", lambda i: journal.append(i, topic, frame, prefix_), None),
        ("pub: two sends (compiled, copying)", mesh_send, drain),
        ("raw: two sends (pyzmq wrapper)", raw_send, drain),
        ("sub: two non-copying recvs, more flags, bytes", mesh_recv, fill),
        ("raw: two copying recvs", raw_recv, fill),
        ("sub: topic split (cached per stream)", lambda i: split_topic(topic), None),
        ("sub: header + size + CRC32 check", lambda i: _checked_header(frame), None),
        ("sub: sequence tracker", lambda i: tracker.observe(stream, i + 1, i + 1, 1), None),
        ("sub: Delivery", lambda i: Delivery(parsed, frame, Verdict.NEXT, header), None),
    ]
    rows = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for label, step, refill in steps:
            got = _time(step, refill)
            rows.append(latency_row(NAME, f"per call: {label}", got,
                                    ns=int(np.median(got))))
    finally:
        if enabled:
            gc.enable()
        pub.close(0)
        sub.close(0)
        ctx.destroy(0)
    by = {r.case.split(": ", 1)[1]: r.extra["ns"] for r in rows}
    mesh_ns = sum(v for k, v in by.items() if k.startswith(("pub:", "sub:")))
    raw_ns = sum(v for k, v in by.items() if k.startswith("raw:"))
    rows.append(Row(NAME, "per hop: CPU the mesh layer adds (mesh steps - raw steps)",
                    p50_us=(mesh_ns - raw_ns) / 1000, extra={"ns": mesh_ns - raw_ns}))
    return rows
