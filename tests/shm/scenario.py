"""A deterministic ring scenario for parity tests: ``python -m tests.shm.scenario`` prints JSON.

Run once compiled and once with ``NUMBA_DISABLE_JIT=1`` (the plain-Python reference path of
every kernel); the outputs must be identical. Uses plain numpy arrays as the segment.
"""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np
from numba import njit

from shm import layout as L
from shm import ring
from shm.idle import IdleStrategy, idle_step
from shm.segment import format_header

CAPACITY = 512
MAX_READERS = 3
_CLOCK_WORDS = [L.W_CREATED, L.W_WRITER_SEEN] + [
    L.W_SLOTS + i * L.SLOT_WORDS + L.SW_LAST_SEEN for i in range(MAX_READERS)]


@njit(cache=True)
def checksum_cb(frame, ctx):
    """drain_cb callback: count bytes and fold them into a checksum; stop at a 0xFF first byte."""
    ctx[0] += frame.shape[0]
    for b in frame:
        ctx[1] = (ctx[1] * 31 + b) % 1_000_000_007
    return frame[0] == 0xFF


def run(seed: int = 7, frames: int = 400) -> dict:
    """Write frames of random lengths, read them three ways, restart the writer; summarize."""
    buf = np.zeros(L.segment_size(CAPACITY, MAX_READERS), np.uint8)
    words = buf.view(np.int64)
    format_header(words, CAPACITY, MAX_READERS, False)
    ws = ring.new_writer_state()
    ring.begin_epoch(words, buf, ws, 111, 222)
    readers = [ring.new_reader_state() for _ in range(3)]
    for i, rs in enumerate(readers):
        ring.claim_slot(words, i, i, 0, 0)
        assert ring.init_reader(words, rs, i, i == 2, False)
    rng = random.Random(seed)
    out = np.zeros(L.max_frame_length(CAPACITY), np.uint8)
    big = np.zeros(4096, np.uint8)
    offsets = np.zeros(65, np.int64)
    ctx = np.zeros(2, np.int64)
    digest = hashlib.sha256()
    results = []
    for i in range(frames):
        n = rng.randint(1, L.max_frame_length(CAPACITY))
        frame = np.frombuffer(rng.randbytes(n), np.uint8)
        results.append(int(ring.write_frame(words, buf, ws, frame, n)))
        if i == frames // 2:
            ring.begin_epoch(words, buf, ws, 333, 444)  # a writer restart
        got = ring.read_one(words, buf, readers[0], out)
        digest.update(out[:got].tobytes())
        if i % 5 == 0:
            k = ring.drain_into(words, buf, readers[1], big, offsets, 64)
            digest.update(big[:offsets[k]].tobytes())
        if i % 7 == 0:
            results.append(int(ring.drain_cb(words, buf, readers[2], out, checksum_cb, ctx, 64)))
    slots = [bool(ring.claim_slot(words, 2, 555, 666, 0)),  # taken by reader 2: refused
             bool(ring.release_slot(words, 2, 2)), bool(ring.claim_slot(words, 2, 555, 666, 2)),
             bool(ring.claim_word(words, L.W_GATE_PID, 0, 777))]
    snap = np.zeros(L.data_offset(MAX_READERS) // 8, np.int64)
    ring.snapshot(words, snap)
    idle = IdleStrategy("backoff", spins=3, yields=2, min_sleep_ns=1, max_sleep_ns=4).state()
    trace = []
    for work in (0, 0, 0, 0, 0, 0, 0, 0, 1, 0):
        idle_step(idle, work)
        trace.append(idle.tolist())
    masked = words.copy()
    masked[_CLOCK_WORDS] = 0
    snap[_CLOCK_WORDS] = 0
    return {
        "slots": slots,
        "snapshot": hashlib.sha256(snap.tobytes()).hexdigest(),
        "idle": trace,
        "results": hashlib.sha256(bytes(results)).hexdigest(),
        "frames": digest.hexdigest(),
        "ctx": ctx.tolist(),
        "writer": ws.tolist(),
        "readers": [rs.tolist() for rs in readers],
        "segment": hashlib.sha256(masked.tobytes()).hexdigest(),
    }


if __name__ == "__main__":
    print(json.dumps(run()))
