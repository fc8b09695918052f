"""Child-process bodies for the ring stress tests (run under the "spawn" context).

Frames imitate AlphaPulse frames: a 32-byte header (magic 0xDEADBEEF at 0, the ring seq of the
frame as u64 at 8, payload size u32 at 24, crc32 of bytes[0:28] + bytes[32:] at 28) and a
pseudo-random payload. A reader checks each frame's crc (torn frames) and that its seq is the
ring seq of the record it came from (exact loss accounting, no reordering or duplicates).
Every loop is bounded in time so that an orphaned child exits on its own.
"""

from __future__ import annotations

import os
import time
import zlib

import numpy as np
from numba import njit

from shm import layout as L
from shm import ring
from shm.clock import monotonic_ns, sleep_ns
from shm.idle import IdleStrategy, idle_step
from shm.reader import RingReader
from shm.writer import RingWriter

HEADER = 32
MAGIC = 0xDEADBEEF
CHILD_LIMIT_S = 60.0


def crc_table() -> np.ndarray:
    """The crc32 (IEEE, reflected) lookup table."""
    table = np.zeros(256, np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else c >> 1
        table[i] = c
    return table


@njit(cache=True)
def crc32_frame(frame, n, table):
    """crc32 of ``frame[0:28] + frame[32:n]`` (equals ``zlib.crc32`` of those bytes)."""
    c = np.uint32(0xFFFFFFFF)
    for i in range(n):
        if 28 <= i < 32:
            continue
        c = table[(c ^ frame[i]) & 0xFF] ^ (c >> np.uint32(8))
    return c ^ np.uint32(0xFFFFFFFF)


def crc32_frame_py(frame: bytes) -> int:
    """Reference: zlib's crc32 over the same bytes."""
    return zlib.crc32(frame[:28] + frame[32:])


@njit(cache=True)
def make_frame(buf, seq, rnd, max_payload, table):
    """Fill ``buf`` with a frame for ring seq ``seq``; return (length, next random state)."""
    rnd ^= (rnd << 13) & 0xFFFFFFFFFFFF
    rnd ^= rnd >> 7
    rnd ^= (rnd << 17) & 0xFFFFFFFFFFFF
    payload = rnd % (max_payload + 1)
    n = HEADER + payload
    for i in range(4):
        buf[i] = (MAGIC >> (8 * i)) & 0xFF
    for i in range(8):
        buf[8 + i] = (seq >> (8 * i)) & 0xFF
    for i in range(4):
        buf[24 + i] = (payload >> (8 * i)) & 0xFF
    x = rnd
    for i in range(HEADER, n):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
        buf[i] = (x >> 33) & 0xFF
    c = crc32_frame(buf, n, table)
    for i in range(4):
        buf[28 + i] = (c >> (8 * i)) & 0xFF
    return n, rnd


@njit(cache=True)
def write_loop(words, data, ws, buf, count, max_payload, table, seed, pace_ns, limit_ns):
    """Write ``count`` frames (pausing ``pace_ns`` every 64 frames); stop at ``limit_ns``."""
    rnd = seed | 1
    deadline = monotonic_ns() + limit_ns
    for i in range(count):
        n, rnd = make_frame(buf, ws[ring.WS_SEQ], rnd, max_payload, table)
        ring.write_frame(words, data, ws, buf, n)
        if i % 64 == 63:
            if pace_ns > 0:
                sleep_ns(pace_ns)
            if monotonic_ns() > deadline:
                return i + 1
    return count


@njit(cache=True)
def read_loop(words, data, rs, buf, table, stats, idle, slow_ns, slow_every, max_idle):
    """Read and check frames until ``max_idle`` idle steps in a row; update ``stats``.

    ``stats``: [torn, wrong seq, frames checked].
    """
    idle_count = 0
    while idle_count < max_idle:
        n = ring.read_one(words, data, rs, buf)
        if n == 0:
            ring.heartbeat(words, rs)
            idle_step(idle, 0)
            idle_count += 1
            continue
        idle_step(idle, 1)
        idle_count = 0
        stats[2] += 1
        ok = n >= HEADER and buf[0] == 0xEF and buf[1] == 0xBE and buf[2] == 0xAD and buf[3] == 0xDE
        payload = 0
        seq = 0
        stored = 0
        if ok:
            for i in range(4):
                payload |= np.int64(buf[24 + i]) << (8 * i)
                stored |= np.int64(buf[28 + i]) << (8 * i)
            for i in range(8):
                seq |= np.int64(buf[8 + i]) << (8 * i)
            ok = payload + HEADER == n and np.int64(crc32_frame(buf, n, table)) == stored
        if not ok:
            stats[0] += 1
        elif seq != rs[ring.RS_EXPECTED] - 1:
            stats[1] += 1
        if slow_ns > 0 and stats[2] % slow_every == 0:
            sleep_ns(slow_ns)


def writer_main(ns: str, capacity: int, count: int, seed: int, pace_ns: int, ready, go,
                done) -> None:
    """Create (or take over) the ring, wait for ``go``, write ``count`` frames, set ``done``."""
    w = RingWriter.create("md", "w", namespace=ns, capacity=capacity)
    buf = np.zeros(w.max_frame, np.uint8)
    max_payload = w.max_frame - HEADER
    table = crc_table()
    write_loop(w.words, w.data, w.state, buf, 0, max_payload, table, seed, 0, 10**9)  # compile
    ready.set()
    if not go.wait(CHILD_LIMIT_S):
        return
    write_loop(w.words, w.data, w.state, buf, count, max_payload, table, seed, pace_ns,
               int(CHILD_LIMIT_S * 1e9))
    done.set()
    w.close()


def reader_main(ns: str, slow_ns: int, slow_every: int, ready, done, results) -> None:
    """Attach, read and check until the writer is done and this reader caught up; report."""
    r = RingReader.attach("md", "w", namespace=ns, idle="backoff")
    table = crc_table()
    stats = np.zeros(3, np.int64)
    idle = IdleStrategy("backoff", spins=50, yields=20, min_sleep_ns=10_000,
                        max_sleep_ns=200_000).state()
    read_loop(r.words, r.data, r.state, r.buffer, table, stats, idle, 0, 1, 1)  # compile
    ready.set()
    deadline = time.monotonic() + CHILD_LIMIT_S
    while time.monotonic() < deadline:
        finished = done.is_set()
        read_loop(r.words, r.data, r.state, r.buffer, table, stats, idle, slow_ns, slow_every, 200)
        written = int(r.words[L.W_FRAMES_WRITTEN])
        if finished and r.frames_read + r.frames_lost == written:
            break
    results.put({
        "pid": os.getpid(), "slow": slow_ns > 0, "read": r.frames_read, "lost": r.frames_lost,
        "laps": r.laps, "epoch": r.epoch, "resyncs": r.resyncs, "anomalies": r.anomalies,
        "torn": int(stats[0]), "wrong_seq": int(stats[1]), "checked": int(stats[2]),
        "written": int(r.words[L.W_FRAMES_WRITTEN]),
    })
    r.close()
