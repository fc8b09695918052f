"""Shared-memory ring vs pyzmq PUB/SUB (ipc) vs multiprocessing.Pipe, in one run.

``python -m bench ring [--json] [--samples N] [--seconds S]``

* latency (paced): the writer stamps ``CLOCK_MONOTONIC`` into each frame, one frame every
  ``--gap-us``; readers report ``now - stamp`` on receipt: one-way latency, p50..max.
* throughput (unpaced): the writer writes as fast as it can; a reader drains batches of up to
  ``--batch`` frames with ``ring.drain_into`` (one clock read per batch) and reports frames
  *delivered* per second (``per_s``) between its first and last batch. Broadcast rows also
  give ``lapped_pct`` (frames the writer overwrote before the reader got to them, counted
  exactly) and ``written_per_s`` (delivered + lapped over the same window); lossless rows
  have back-pressure, nothing lapped. One row reads frame by frame (``ring.read_one``).

Frames of 64, 194 and 512 bytes; one and three readers. The numba writer is pinned to one CPU
and the numba readers to another (three readers share theirs, idling with ``yield``). pyzmq's
I/O threads stay unpinned (only the hot loop's thread is pinned, after the socket exists).
Children run under the "spawn" context and every wait is bounded.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import numpy as np
from numba import njit

from bench.pinning import cpus
from bench.report import Row, latency_row, rate_row
from shm import ring
from shm.clock import monotonic_ns
from shm.idle import IdleStrategy, idle_step
from shm.reader import RingReader
from shm.segment import unlink
from shm.writer import RingWriter

BENCH = "ring"
CTX = mp.get_context("spawn")
SIZES = (64, 194, 512)
WAIT_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark options."""
    parser.add_argument("--samples", type=int, default=50_000, help="paced frames per ring case")
    parser.add_argument("--baseline-samples", type=int, default=5_000,
                        help="paced frames per zmq/Pipe case")
    parser.add_argument("--gap-us", type=float, default=5.0, help="pacing of ring frames")
    parser.add_argument("--seconds", type=float, default=0.5, help="length of throughput runs")
    parser.add_argument("--batch", type=int, default=1024, help="drain_into batch (frames)")


def _pin_thread(index: int) -> None:
    allowed = cpus()
    if len(allowed) >= 2:
        os.sched_setaffinity(0, {allowed[index % len(allowed)]})  # this thread only


# --- numba hot loops ---------------------------------------------------------------------------

@njit(cache=True)
def _paced_writer(words, data, ws, frame, n, count, gap_ns):
    next_t = monotonic_ns()
    for _ in range(count):
        while monotonic_ns() < next_t:
            pass
        now = monotonic_ns()
        for i in range(8):
            frame[8 + i] = (now >> (8 * i)) & 0xFF
        ring.write_frame(words, data, ws, frame, n)
        next_t = now + gap_ns


@njit(cache=True)
def _flood_writer(words, data, ws, frame, n, seconds_ns):
    start = monotonic_ns()
    sent = 0
    while True:
        for _ in range(1024):
            while ring.write_frame(words, data, ws, frame, n) == 0:
                pass  # lossless back-pressure
        sent += 1024
        if monotonic_ns() - start > seconds_ns:
            return sent


@njit(cache=True)
def _latency_reader(words, data, rs, buf, samples, idle, deadline_ns):
    got = 0
    while got < samples.shape[0]:
        n = ring.read_one(words, data, rs, buf)
        if n == 0:
            idle_step(idle, 0)
            if monotonic_ns() > deadline_ns:
                break
            continue
        now = monotonic_ns()
        stamp = 0
        for i in range(8):
            stamp |= np.int64(buf[8 + i]) << (8 * i)
        samples[got] = now - stamp
        got += 1
        if rs[ring.RS_READ] + rs[ring.RS_LOST] >= samples.shape[0]:
            break
    return got


@njit(cache=True)
def _rate_reader(words, data, rs, buf, idle, deadline_ns, quiet_ns):
    """Frame by frame (read_one); returns (frames after the first, lapped after it, t0, t1)."""
    first = 0
    last = 0
    got = -1
    lost0 = 0
    last_seen = monotonic_ns()
    while True:
        n = ring.read_one(words, data, rs, buf)
        if n > 0:
            last = monotonic_ns()
            if got < 0:
                first = last
                lost0 = rs[ring.RS_LOST]
            got += 1
            last_seen = last
            continue
        idle_step(idle, 0)
        now = monotonic_ns()
        if now > deadline_ns or (got >= 0 and now - last_seen > quiet_ns):
            break
    return max(got, 0), rs[ring.RS_LOST] - lost0, first, last


@njit(cache=True)
def _drain_reader(words, data, rs, out, offsets, batch, idle, deadline_ns, quiet_ns):
    """Batches (drain_into), one clock read per batch; same returns as ``_rate_reader``.

    Frames of the first batch are not counted: the window opens when it ends.
    """
    first = 0
    last = 0
    got = -1
    lost0 = 0
    last_seen = monotonic_ns()
    while True:
        n = ring.drain_into(words, data, rs, out, offsets, batch)
        if n > 0:
            last = monotonic_ns()
            if got < 0:
                first = last
                lost0 = rs[ring.RS_LOST]
                got = 0
            else:
                got += n
            last_seen = last
            continue
        idle_step(idle, 0)
        now = monotonic_ns()
        if now > deadline_ns or (got >= 0 and now - last_seen > quiet_ns):
            break
    return max(got, 0), rs[ring.RS_LOST] - lost0, first, last


# --- ring children -----------------------------------------------------------------------------

def _ring_writer(ns: str, size: int, mode: str, count: int, gap_ns: int, seconds: float,
                 lossless: bool, ready, go, done) -> None:
    _pin_thread(0)
    w = RingWriter.create("bench", "w", namespace=ns, capacity=1 << 20, lossless=lossless)
    frame = np.zeros(size, np.uint8)
    frame[:4] = (0xEF, 0xBE, 0xAD, 0xDE)
    frame[24:28] = np.frombuffer((size - 32).to_bytes(4, "little"), np.uint8)
    ready.set()
    if go.wait(WAIT_S):
        if mode == "latency":
            _paced_writer(w.words, w.data, w.state, frame, size, count, gap_ns)
        else:
            _flood_writer(w.words, w.data, w.state, frame, size, int(seconds * 1e9))
    done.set()
    w.close()


def _ring_reader(ns: str, size: int, mode: str, count: int, idle_kind: str, lossless: bool,
                 batch: int, ready, results) -> None:
    _pin_thread(1)
    r = RingReader.attach("bench", "w", namespace=ns, lossless=lossless)
    idle = IdleStrategy(idle_kind).state()
    deadline = monotonic_ns() + int(WAIT_S * 1e9)
    ready.set()
    if mode == "latency":
        samples = np.zeros(count, np.int64)
        got = _latency_reader(r.words, r.data, r.state, r.buffer, samples, idle, deadline)
        results.put(("latency", samples[:got], r.frames_lost))
    elif batch > 0:
        out = np.empty(max(batch * size, r.max_frame), np.uint8)
        offsets = np.empty(batch + 1, np.int64)
        got, lost, first, last = _drain_reader(r.words, r.data, r.state, out, offsets, batch,
                                               idle, deadline, 200_000_000)
        results.put(("rate", got, (last - first) / 1e9, lost))
    else:
        got, lost, first, last = _rate_reader(r.words, r.data, r.state, r.buffer, idle,
                                              deadline, 200_000_000)
        results.put(("rate", got, (last - first) / 1e9, lost))
    r.close()


def _warm_up() -> None:
    """Compile (or load from cache) every kernel in this process before spawning children."""
    ns = f"bw{os.getpid()}"
    w = RingWriter.create("bench", "w", namespace=ns, capacity=1 << 12)
    r = RingReader.attach("bench", "w", namespace=ns)
    frame = np.zeros(64, np.uint8)
    idle = IdleStrategy("spin").state()
    _paced_writer(w.words, w.data, w.state, frame, 64, 1, 0)
    _latency_reader(r.words, r.data, r.state, r.buffer, np.zeros(1, np.int64), idle, 0)
    _flood_writer(w.words, w.data, w.state, frame, 64, 0)
    _rate_reader(r.words, r.data, r.state, r.buffer, idle, 0, 0)
    out = np.empty(1 << 12, np.uint8)
    _drain_reader(r.words, r.data, r.state, out, np.empty(9, np.int64), 8, idle, 0, 0)
    r.close()
    w.close()
    w.unlink()


def _run_ring(size: int, readers: int, mode: str, args, lossless: bool = False,
              batch: int = 0) -> list:
    ns = f"bench{os.getpid()}{size}{readers}{mode[0]}"
    ready_w, go, done = CTX.Event(), CTX.Event(), CTX.Event()
    results = CTX.Queue()
    gap_ns = int(args.gap_us * 1000)
    procs = [CTX.Process(target=_ring_writer, daemon=True, args=(
        ns, size, mode, args.samples, gap_ns, args.seconds, lossless, ready_w, go, done))]
    try:
        procs[0].start()
        _wait_ready(ready_w, procs[0], "ring writer")
        idle_kind = "spin" if readers == 1 else "yield"
        for _ in range(readers):
            ready = CTX.Event()
            p = CTX.Process(target=_ring_reader, daemon=True, args=(
                ns, size, mode, args.samples, idle_kind, lossless, batch, ready, results))
            p.start()
            procs.append(p)
            _wait_ready(ready, p, "ring reader")
        go.set()
        return [results.get(timeout=WAIT_S + 10) for _ in range(readers)]
    finally:
        _stop(procs)
        unlink(f"/ap.{ns}.bench.w")


# --- baselines ---------------------------------------------------------------------------------

def _zmq_pub(endpoint: str, size: int, count: int, gap_ns: int, ready, go) -> None:
    import zmq

    ctx = zmq.Context()
    for cpu in cpus():
        ctx.set(zmq.THREAD_AFFINITY_CPU_ADD, cpu)
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.bind(endpoint)
    _pin_thread(0)  # the hot loop's thread only: the I/O thread exists already, unpinned
    ready.set()
    go.wait(WAIT_S)
    time.sleep(0.3)  # slow joiner
    payload = bytearray(size)
    for _ in range(count):
        if gap_ns:
            t_next = time.monotonic_ns() + gap_ns
        payload[8:16] = time.monotonic_ns().to_bytes(8, "little")
        sock.send(payload, copy=True)
        if gap_ns:
            while time.monotonic_ns() < t_next:
                pass
    for _ in range(100):
        sock.send(b"E")
        time.sleep(0.001)
    sock.close(linger=1000)
    ctx.term()


def _zmq_sub(endpoint: str, count: int, ready, results) -> None:
    import zmq

    ctx = zmq.Context()
    for cpu in cpus():
        ctx.set(zmq.THREAD_AFFINITY_CPU_ADD, cpu)
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.RCVTIMEO, int(WAIT_S * 1000))
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    _pin_thread(1)
    ready.set()
    samples = np.zeros(count, np.int64)
    got = 0
    first = last = 0
    try:
        while got < count:
            msg = sock.recv(copy=True)
            now = time.monotonic_ns()
            if msg == b"E":
                break
            samples[got] = now - int.from_bytes(msg[8:16], "little")
            first = first or now
            last = now
            got += 1
    except zmq.Again:
        pass
    results.put((samples[:got], got, (last - first) / 1e9))
    sock.close(linger=0)
    ctx.term()


def _pipe_send(conn, size: int, count: int, gap_ns: int, ready, go) -> None:
    _pin_thread(0)
    ready.set()
    go.wait(WAIT_S)
    payload = bytearray(size)
    for _ in range(count):
        t_next = time.monotonic_ns() + gap_ns
        payload[8:16] = time.monotonic_ns().to_bytes(8, "little")
        conn.send_bytes(payload)
        while gap_ns and time.monotonic_ns() < t_next:
            pass
    conn.send_bytes(b"E")


def _pipe_recv(conn, count: int, ready, results) -> None:
    _pin_thread(1)
    ready.set()
    samples = np.zeros(count, np.int64)
    got = 0
    first = last = 0
    while got < count and conn.poll(WAIT_S):
        msg = conn.recv_bytes()
        now = time.monotonic_ns()
        if msg == b"E":
            break
        samples[got] = now - int.from_bytes(msg[8:16], "little")
        first = first or now
        last = now
        got += 1
    results.put((samples[:got], got, (last - first) / 1e9))


def _wait_ready(event, proc, what: str) -> None:
    """Wait for a child's ready event; fail fast if it died first."""
    deadline = time.monotonic() + WAIT_S
    while not event.wait(0.1):
        if not proc.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exit code {proc.exitcode})")


def _stop(procs) -> None:
    for p in procs:
        if p.pid is None:
            continue
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)


def _run_pair(sender, sender_args, receiver, receiver_args) -> tuple:
    results = CTX.Queue()
    ready_s, ready_r, go = CTX.Event(), CTX.Event(), CTX.Event()
    rp = CTX.Process(target=receiver, args=(*receiver_args, ready_r, results), daemon=True)
    sp = CTX.Process(target=sender, args=(*sender_args, ready_s, go), daemon=True)
    try:
        sp.start()
        _wait_ready(ready_s, sp, "sender")
        rp.start()
        _wait_ready(ready_r, rp, "receiver")
        go.set()
        return results.get(timeout=WAIT_S + 10)
    finally:
        _stop((sp, rp))


def _zmq(size: int, count: int, gap_ns: int) -> tuple:
    endpoint = f"ipc:///tmp/apbench-{os.getpid()}-{size}-{gap_ns}.ipc"
    try:
        return _run_pair(_zmq_pub, (endpoint, size, count, gap_ns), _zmq_sub, (endpoint, count))
    finally:
        if os.path.exists(endpoint[6:]):
            os.unlink(endpoint[6:])


def _pipe(size: int, count: int, gap_ns: int) -> tuple:
    recv_end, send_end = CTX.Pipe(duplex=False)
    return _run_pair(_pipe_send, (send_end, size, count, gap_ns), _pipe_recv, (recv_end, count))


# --- the table ---------------------------------------------------------------------------------

def _rate_row(case: str, res: list) -> Row:
    """Delivered frames/s per reader, beside the lapped share and the writer's rate seen."""
    got = sum(r[1] for r in res) // len(res)
    lost = sum(r[3] for r in res) // len(res)
    secs = max(r[2] for r in res)
    row = rate_row(BENCH, case, got, secs, lapped_pct=round(100 * lost / max(got + lost, 1), 1))
    if secs > 0:
        row.extra["written_per_s"] = f"{(got + lost) / secs / 1e6:.2f}M"
    return row


def run(args: argparse.Namespace) -> list[Row]:
    """Run every case; return the rows (ring rows carry ``x_zmq_p50``: zmq p50 / ring p50)."""
    _warm_up()
    rows: list[Row] = []
    zmq_p50: dict[int, float] = {}
    base_gap = 50_000
    for size in SIZES:
        samples, _, _ = _zmq(size, args.baseline_samples, base_gap)
        row = latency_row(BENCH, f"zmq pub/sub ipc latency {size}B", samples)
        zmq_p50[size] = row.p50_us or 0.0
        rows.append(row)
        samples, _, _ = _pipe(size, args.baseline_samples, base_gap)
        rows.append(latency_row(BENCH, f"mp.Pipe latency {size}B", samples))
    for size in SIZES:
        for readers in (1, 3):
            res = _run_ring(size, readers, "latency", args)
            samples = np.concatenate([r[1] for r in res])
            row = latency_row(BENCH, f"ring latency {size}B {readers}r", samples,
                              lost=sum(r[2] for r in res))
            if row.p50_us:
                row.extra["x_zmq_p50"] = round(zmq_p50[size] / row.p50_us, 1)
            rows.append(row)
    for size in SIZES:
        for readers in (1, 3):
            res = _run_ring(size, readers, "rate", args, batch=args.batch)
            rows.append(_rate_row(f"ring delivered {size}B {readers}r broadcast", res))
    for batch, how in ((args.batch, "drain_into"), (0, "read_one")):
        res = _run_ring(64, 1, "rate", args, lossless=True, batch=batch)
        rows.append(_rate_row(f"ring delivered 64B 1r lossless {how}", res))
    flood = 200_000
    _, got, secs = _zmq(64, flood, 0)
    rows.append(rate_row(BENCH, "zmq pub/sub ipc throughput 64B", got, secs))
    _, got, secs = _pipe(64, flood // 2, 0)
    rows.append(rate_row(BENCH, "mp.Pipe throughput 64B", got, secs))
    return rows

