"""``alphapulse tap --ring``: a broadcast reader on every writer of a ring domain.

Accepted outcomes of the loss test: the writer never waits for the stopped tap (all its
writes succeed at once), the tap reports a loss on stderr, and for the ring read + lost
equals written.
"""

from __future__ import annotations

import mmap
import os
import signal
import subprocess
import sys
import time

import orjson
import posix_ipc
import pytest

from mesh.protocol import PoolSync, Trade, encode_frame
from nodes.runtime.testing import reader_ready
from shm.writer import RingWriter


def _tap(cli_env, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "mesh", "tap", "--ring", "market-data",
                             *args], env=cli_env.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _wait_attached(ring: RingWriter, pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not reader_ready(ring.name, pid):
        assert time.monotonic() < deadline, "tap never attached to the ring"
        time.sleep(0.01)


def _trade(asset: int, price: int) -> bytes:
    return encode_frame([Trade(asset_id=asset, price=price, volume=1)], source=1)


def _sync(reserve0: int) -> bytes:
    return encode_frame([PoolSync(reserve0=reserve0, reserve1=1, pool_address=b"\x02" * 20)],
                        source=4)


@pytest.fixture
def ring_factory(cli_env):
    made: list[RingWriter] = []

    def make(writer: str, capacity: int = 1 << 16) -> RingWriter:
        w = RingWriter.create("market-data", writer, namespace=cli_env.namespace,
                              capacity=capacity)
        made.append(w)
        return w

    yield make
    for w in made:
        w.unlink()
        w.close()


def test_tap_prints_only_frames_of_the_type_and_key_asked_for(cli_env, ring_factory):
    ring = ring_factory("collector-evm")
    tap = _tap(cli_env, "--type", "Trade", "--key", "7", "--count", "2")
    try:
        _wait_attached(ring, tap.pid)
        for frame in (_sync(1), _trade(8, 100), _trade(7, 101), _sync(2), _trade(7, 102)):
            assert ring.write(frame)
        out, err = tap.communicate(timeout=30)
    finally:
        tap.kill()
    assert tap.returncode == 0, err
    lines = [orjson.loads(x) for x in out.decode().splitlines()]
    assert [ln["tlvs"][0]["price"] for ln in lines] == [101, 102]
    assert all(ln["ring"].endswith(".market-data.collector-evm") for ln in lines)
    assert all(ln["lost_before"] == 0 for ln in lines)


def test_tap_finds_a_writer_that_starts_after_it(cli_env, ring_factory):
    early = ring_factory("early")
    tap = _tap(cli_env, "--count", "1")
    try:
        _wait_attached(early, tap.pid)  # the tap is running; the late writer is not there yet
        ring = ring_factory("late")
        _wait_attached(ring, tap.pid)
        assert ring.write(_sync(5))
        out, err = tap.communicate(timeout=30)
    finally:
        tap.kill()
    assert tap.returncode == 0, err
    assert int(orjson.loads(out)["tlvs"][0]["reserve0"]) == 5


def test_tap_that_falls_behind_never_slows_the_writer_and_says_what_it_lost(cli_env,
                                                                          ring_factory):
    ring = ring_factory("busy", capacity=4096)
    tap = _tap(cli_env, "--seconds", "3")
    try:
        _wait_attached(ring, tap.pid)
        os.kill(tap.pid, signal.SIGSTOP)
        written = 0
        for i in range(500):
            assert ring.write(_sync(i)), "the writer waited for a stopped tap"
            written += 1
        os.kill(tap.pid, signal.SIGCONT)
        out, err = tap.communicate(timeout=30)
    finally:
        tap.kill()
    text = err.decode()
    assert "fell behind" in text and "lost" in text
    summary = next(ln for ln in text.splitlines() if ln.startswith(f"tap: {ring.name}: read"))
    read = int(summary.split("read ")[1].split(",")[0])
    lost = int(summary.split("lost ")[1].split(",")[0])
    assert read + lost == written and lost > 0
    lines = [orjson.loads(x) for x in out.decode().splitlines()]
    assert len(lines) == read
    assert sum(ln["lost_before"] for ln in lines) == lost


@pytest.mark.parametrize("args,needle", [
    (["--ring", "nowhere"], "unknown ring domain"),
    (["--ring", "signal", "--type", "PoolSync"], "not in the signal domain"),
    (["--ring", "market-data", "--endpoint", "tcp://127.0.0.1:1"], "--endpoint"),
])
def test_bad_ring_tap_arguments_exit_2_with_one_line(cli_env, args, needle):
    proc = subprocess.run([sys.executable, "-m", "mesh", "tap", *args], env=cli_env.env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_a_foreign_segment_named_like_a_ring_is_reported_and_skipped(cli_env, ring_factory):
    shm = posix_ipc.SharedMemory(f"/ap.{cli_env.namespace}.market-data.evil", posix_ipc.O_CREX,
                                 size=4096)
    try:
        with mmap.mmap(shm.fd, 4096) as m:
            m[:8] = b"NOTARING"
        ring = ring_factory("good")
        tap = _tap(cli_env, "--count", "1")
        try:
            _wait_attached(ring, tap.pid)
            assert ring.write(_sync(9))
            out, err = tap.communicate(timeout=30)
        finally:
            tap.kill()
    finally:
        shm.close_fd()
        shm.unlink()
    assert tap.returncode == 0, err
    assert int(orjson.loads(out)["tlvs"][0]["reserve0"]) == 9
    skipped = [ln for ln in err.decode().splitlines() if ln.startswith("tap: skipped:")]
    assert len(skipped) == 1 and "evil" in skipped[0] and "not a ring" in skipped[0]
