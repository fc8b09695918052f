"""Multi-process ring stress: tiny ring, checksummed frames of random lengths, several readers.

Accepted outcomes, per reader, in every test:
  * zero torn frames (bad magic, length or crc32) and zero frames whose embedded seq differs
    from the ring seq of their record (no duplicate, reordered or mis-counted frame);
  * frames read + frames counted lost == frames written (exact loss accounting);
  * any split between read and lost, except where a test says otherwise (the slow reader must
    lose frames; the lossless reader must lose none).
Children run under the "spawn" context; every wait is bounded; the fixture kills leftover
children and unlinks the namespace's segments, also on failure.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
import zlib
from collections.abc import Iterator

import numpy as np
import pytest

from shm import layout as L
from shm.inspect import ring_info
from shm.reader import RingReader
from shm.segment import list_ring_names, unlink
from tests.stress import workers

CTX = mp.get_context("spawn")
WAIT_S = 60.0


class Harness:
    """Starts children, collects their reports, and cleans everything up."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace
        self.procs: list[mp.process.BaseProcess] = []
        self.results = CTX.Queue()

    def start(self, target, *args) -> tuple[mp.process.BaseProcess, object]:
        ready = CTX.Event()
        proc = CTX.Process(target=target, args=(*args[:-1], ready, *args[-1]), daemon=True)
        proc.start()
        self.procs.append(proc)
        assert ready.wait(WAIT_S), f"{target.__name__} child did not get ready"
        return proc, ready

    def writer(self, capacity: int, count: int, go, done, pace_ns: int = 0, seed: int = 1):
        args = (self.ns, capacity, count, seed, pace_ns, (go, done))
        return self.start(workers.writer_main, *args)[0]

    def reader(self, done, slow_ns: int = 0, slow_every: int = 1):
        return self.start(workers.reader_main, self.ns, slow_ns, slow_every,
                          (done, self.results))[0]

    def collect(self, n: int) -> list[dict]:
        out = []
        for _ in range(n):
            try:
                out.append(self.results.get(timeout=WAIT_S))
            except queue.Empty:
                pytest.fail(f"only {len(out)} of {n} readers reported within {WAIT_S}s")
        return out

    def close(self) -> None:
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for name in list_ring_names(self.ns):
            unlink(name)


@pytest.fixture
def harness(unique_name: str) -> Iterator[Harness]:
    h = Harness(unique_name)
    yield h
    h.close()


def _assert_exact(report: dict) -> None:
    assert report["torn"] == 0, report
    assert report["wrong_seq"] == 0, report
    assert report["anomalies"] == 0, report
    assert report["read"] + report["lost"] == report["written"], report
    assert report["checked"] == report["read"], report


def test_tiny_ring_many_readers_one_slow_no_torn_frames_and_exact_losses(harness) -> None:
    go, done = CTX.Event(), CTX.Event()
    count = 200_000
    harness.writer(1024, count, go, done, pace_ns=0)
    for _ in range(2):
        harness.reader(done)
    harness.reader(done, slow_ns=200_000, slow_every=16)
    go.set()
    reports = harness.collect(3)
    print(reports)
    for report in reports:
        _assert_exact(report)
        assert report["written"] == count
        assert report["read"] > 0
    slow = [r for r in reports if r["slow"]]
    assert slow[0]["lost"] > 0 and slow[0]["laps"] > 0, "the slow reader was never lapped"


def test_writer_killed_mid_stream_readers_continue_and_follow_restart(harness) -> None:
    go, done = CTX.Event(), CTX.Event()
    first = harness.writer(1024, 10**9, go, CTX.Event(), pace_ns=20_000)
    harness.reader(done)
    harness.reader(done, slow_ns=100_000, slow_every=8)
    go.set()
    name = list_ring_names(harness.ns)[0]
    deadline = time.monotonic() + WAIT_S
    while ring_info(name).frames_written < 20_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    first.join(timeout=10)
    assert first.exitcode == -signal.SIGKILL
    time.sleep(0.1)  # readers keep polling a dead writer: they must neither fail nor hang
    go2 = CTX.Event()
    harness.writer(1024, 30_000, go2, done, seed=2)
    go2.set()
    reports = harness.collect(2)
    print(reports)
    for report in reports:
        _assert_exact(report)
        assert report["epoch"] == 2 and report["resyncs"] >= 1, report
    info = ring_info(name)
    assert info.epoch == 2 and info.frames_written >= 50_000


def test_reader_killed_does_not_affect_writer_or_other_readers(harness) -> None:
    go, done = CTX.Event(), CTX.Event()
    harness.writer(4096, 60_000, go, done, pace_ns=20_000)
    victim = harness.reader(CTX.Event())
    harness.reader(done)
    go.set()
    time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(timeout=10)
    (report,) = harness.collect(1)
    _assert_exact(report)
    assert report["written"] == 60_000
    name = list_ring_names(harness.ns)[0]
    dead = [r for r in ring_info(name).readers if not r.alive]
    assert [r.pid for r in dead] == [victim.pid]
    with RingReader.attach("md", "w", namespace=harness.ns) as fresh:
        assert fresh.slot == dead[0].slot, "the dead reader's slot was not reclaimed first"


def test_lossless_ring_archiver_sees_every_frame(harness, unique_name) -> None:
    from shm.writer import RingWriter

    w = RingWriter.create("md", "w", namespace=harness.ns, capacity=1024, lossless=True)
    try:
        table = workers.crc_table()
        reader = RingReader.attach("md", "w", namespace=harness.ns, lossless=True)
        buf = np.zeros(w.max_frame, np.uint8)
        got = 0
        rnd = 5
        for seq in range(3000):
            n, rnd = workers.make_frame(buf, seq, rnd, w.max_frame - 32, table)
            while not w.write(buf[:n]):
                for frame in reader.drain():
                    assert workers.crc32_frame_py(frame) == int.from_bytes(frame[28:32], "little")
                    assert int.from_bytes(frame[8:16], "little") == got
                    got += 1
        got += len(reader.drain())
        assert got == 3000 and reader.frames_lost == 0
        reader.close()
    finally:
        w.close()
        w.unlink()


def test_crc_of_stress_frames_matches_zlib() -> None:
    table = workers.crc_table()
    buf = np.zeros(512, np.uint8)
    n, _ = workers.make_frame(buf, 42, 12345, 400, table)
    frame = bytes(buf[:n])
    assert int.from_bytes(frame[28:32], "little") == zlib.crc32(frame[:28] + frame[32:])
    assert frame[:4] == bytes.fromhex("efbeadde") and int.from_bytes(frame[24:28], "little") == n - 32
    assert L.RECORD_HEADER == 16
