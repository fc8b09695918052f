"""Ring behaviour in one process: delivery, wrap, laps, loss counting, back-pressure, epochs."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
from numba import njit

from shm import layout as L
from shm import ring
from shm.errors import FrameTooLarge, RingLapped, WriterAlive


def _frames(rng: random.Random, count: int, max_len: int) -> list[bytes]:
    return [rng.randbytes(rng.randint(1, max_len)) for _ in range(count)]


def test_reader_receives_frames_in_order_across_many_wraps(rings) -> None:
    w = rings("writer", capacity=1024)
    r = rings("reader")
    frames = _frames(random.Random(1), 500, w.max_frame)
    got = []
    for f in frames:
        assert w.write(f)
        got.append(r.read())
    assert got == frames
    assert r.read() is None
    assert (r.frames_read, r.frames_lost, r.laps) == (500, 0, 0)


def test_wrap_writes_a_padding_record_that_readers_skip(rings) -> None:
    w = rings("writer", capacity=512)
    r = rings("reader")
    sizes = [160, 160, 160]  # records of 176 bytes: the third no longer fits before the wrap
    got = []
    for n in sizes:
        w.write(bytes([n]) * n)
        got += r.drain()
    idx = 2 * L.align(L.RECORD_HEADER + 160)
    header = int(w.words[(int(w.words[L.W_DATA_OFFSET]) + idx) // 8])
    assert header >> 32 == L.TYPE_PAD and header & 0xFFFFFFFF == 512 - idx
    assert [len(f) for f in got] == sizes
    assert r.frames_lost == 0


def test_reader_counts_frames_lost_when_lapped_and_resumes_at_oldest_intact(rings) -> None:
    w = rings("writer", capacity=1024)
    r = rings("reader")
    for i in range(100):
        w.write(i.to_bytes(8, "little") * 4)  # 32-byte frames, 48-byte records
    got = r.drain()
    first = int.from_bytes(got[0][:8], "little")
    assert r.laps >= 1
    assert r.frames_lost == first, "frames lost must be exactly the frames before the first read"
    assert [int.from_bytes(f[:8], "little") for f in got] == list(range(first, 100))
    # intact: records above TAIL_INTENT - capacity, where TAIL_INTENT <= tail + header + step
    intact = (1024 - L.intent_step(1024) - L.RECORD_HEADER - 48) // 48
    assert 100 - first >= intact, "did not resume at the oldest intact frame"
    assert r.frames_read + r.frames_lost == w.frames_written == 100


def test_start_oldest_reads_what_is_still_in_the_ring(rings) -> None:
    w = rings("writer", capacity=1024)
    for i in range(5):
        w.write(bytes([i]) * 10)
    late = rings("reader")
    early = rings("reader", start="oldest")
    assert late.read() is None
    assert [f[0] for f in early.drain()] == [0, 1, 2, 3, 4]


def test_frame_longer_than_ring_raises_naming_the_sizes(rings) -> None:
    w = rings("writer", capacity=1024)
    with pytest.raises(FrameTooLarge, match=rf"{w.max_frame + 1} bytes.*1\.\.{w.max_frame}"):
        w.write(b"x" * (w.max_frame + 1))
    with pytest.raises(FrameTooLarge):
        w.write(b"")
    assert w.write(b"x" * w.max_frame)


def test_kernel_returns_misuse_and_writes_nothing_for_bad_length(rings) -> None:
    w = rings("writer", capacity=1024)
    r = rings("reader")
    frame = np.zeros(w.max_frame + 8, np.uint8)
    for bad in (0, w.max_frame + 1, w.max_frame + 8 + 1):
        assert ring.write_frame(w.words, w.data, w.state, frame, bad) == ring.MISUSE
    assert w.frames_written == 0 and r.read() is None


def test_reader_refuses_an_out_buffer_smaller_than_the_max_frame(rings) -> None:
    w = rings("writer", capacity=1024)
    r = rings("reader")
    w.write(b"x" * 100)
    with pytest.raises(ValueError, match="smaller than"):
        r.read_into(np.zeros(10, np.uint8))
    small = np.zeros(10, np.uint8)
    assert ring.read_one(r.words, r.data, r.state, small) == ring.NO_ROOM
    assert r.read() == b"x" * 100


def test_lossless_ring_returns_backpressure_and_never_loses(rings) -> None:
    w = rings("writer", capacity=1024, lossless=True)
    r = rings("reader", lossless=True)
    written = 0
    while w.write(written.to_bytes(4, "little") * 10):
        written += 1
    assert 0 < written < 1024 // 48 + 1
    assert not w.write(b"more"), "a full lossless ring must keep refusing"
    got = r.drain()
    assert [int.from_bytes(f[:4], "little") for f in got] == list(range(written))
    assert w.write(b"more") and r.read() == b"more"
    assert r.frames_lost == 0


def test_lossless_reader_publishes_gate_per_step_and_when_caught_up(rings) -> None:
    w = rings("writer", capacity=1024, lossless=True)
    r = rings("reader", lossless=True)
    start = int(r.words[L.W_GATE])
    while w.write(b"g" * 40):  # 56-byte records; the publish step is 1024 / 8 = 128 bytes
        pass
    assert r.read() == b"g" * 40
    assert int(r.words[L.W_GATE]) == start, "GATE must not be stored per frame"
    assert not w.write(b"g" * 40), "the writer only sees the published GATE"
    r.read()
    r.read()  # 168 bytes read: a step crossed
    assert int(r.words[L.W_GATE]) == start + 3 * 56 == r.state[ring.RS_CURSOR]
    assert w.write(b"g" * 40)
    r.drain()
    assert r.read() is None
    assert int(r.words[L.W_GATE]) == r.state[ring.RS_CURSOR], "caught up: GATE published"


def test_lossless_writer_rereads_gate_only_when_its_cached_view_is_full(rings) -> None:
    w = rings("writer", capacity=1024, lossless=True)
    r = rings("reader", lossless=True)
    cached = int(w.state[ring.WS_GATE])
    for _ in range(4):
        assert w.write(b"c" * 40)
    assert len(r.drain()) == 4 and int(r.words[L.W_GATE]) == cached + 4 * 56
    assert w.write(b"c" * 40) and int(w.state[ring.WS_GATE]) == cached, "re-read while not full"
    while w.write(b"c" * 40):
        pass
    assert int(w.state[ring.WS_GATE]) == int(w.words[L.W_GATE]), "full: GATE re-read (acquire)"
    assert r.frames_lost == 0


def test_writer_restart_bumps_epoch_and_reader_resyncs(rings, namespace) -> None:
    w = rings("writer", capacity=1024)
    r = rings("reader")
    w.write(b"a" * 40)
    assert r.read() == b"a" * 40
    w.write(b"b" * 40)  # written but not yet read when the writer goes away
    w.close()
    w2 = rings("writer", capacity=1024)
    assert w2.epoch == 2
    w2.write(b"c" * 40)
    assert r.drain() == [b"c" * 40]
    assert r.epoch == 2 and r.resyncs == 1
    assert (r.frames_read, r.frames_lost) == (2, 1)
    assert r.frames_read + r.frames_lost == w2.frames_written


def test_second_live_writer_is_refused(rings) -> None:
    w = rings("writer", capacity=1024)
    w.words[L.W_WRITER_PID] = os.getppid()  # pretend another live process owns the ring
    w.words[L.W_WRITER_START] = 0
    with pytest.raises(WriterAlive, match=str(os.getppid())):
        rings("writer", capacity=1024)


def test_strict_reader_raises_ring_lapped_after_counting(rings) -> None:
    w = rings("writer", capacity=256)
    r = rings("reader", strict=True)
    for _ in range(20):
        w.write(b"z" * 40)
    with pytest.raises(RingLapped, match="lost"):
        r.drain()
    assert r.frames_lost > 0


@njit(cache=True)
def _collect(frame, ctx):
    ctx[0] += 1
    ctx[1] += frame.shape[0]
    return False


@njit  # a function naming a callback dispatcher as a global cannot be cached (numba)
def _node_loop(words, data, rs, scratch, ctx, want):
    """A numba 'node' draining through a callback without returning to Python."""
    got = 0
    for _ in range(1000):
        got += ring.drain_cb(words, data, rs, scratch, _collect, ctx, 1 << 20)
        if got >= want:
            break
    return got


def test_drain_kernels_are_callable_from_njit_code(rings) -> None:
    w = rings("writer", capacity=1 << 16)
    r = rings("reader")
    r2 = rings("reader")
    sizes = [random.Random(3).randint(1, 300) for _ in range(50)]
    for n in sizes:
        w.write(b"q" * n)
    ctx = np.zeros(2, np.int64)
    assert _node_loop(r.words, r.data, r.state, r.buffer, ctx, 50) == 50
    assert ctx.tolist() == [50, sum(sizes)]
    out = np.zeros(4096, np.uint8)
    offsets = np.zeros(101, np.int64)
    total = 0
    while (n := ring.drain_into(r2.words, r2.data, r2.state, out, offsets, 100)) > 0:
        assert np.diff(offsets[:n + 1]).tolist() == sizes[total:total + n]
        total += n
    assert total == 50, "drain_into must stop when out is full and resume next call"


def test_writer_dead_mid_write_never_wedges_readers_and_restart_recovers(rings) -> None:
    w = rings("writer", capacity=1024)
    r = rings("reader")
    w.write(b"a" * 40)
    # Simulate a writer killed in write_frame after step 4: intent published, the record
    # half written, TAIL never advanced.
    tail = int(w.words[L.W_TAIL])
    idx = int(w.words[L.W_DATA_OFFSET]) + (tail & 1023)
    w.words[L.W_TAIL_INTENT] = tail + 200
    w.words[idx // 8] = 100 | (L.TYPE_DATA << 32)
    w.data[idx + 16:idx + 60] = 0xEE
    assert r.read() == b"a" * 40
    assert r.read() is None and r.read() is None, "a dead writer must read as 'no frames'"
    w.close()
    w2 = rings("writer", capacity=1024)
    w2.write(b"b" * 40)
    assert r.drain() == [b"b" * 40]
    assert (r.frames_read, r.frames_lost, r.anomalies) == (2, 0, 0)
