"""The archiver node in a subprocess: a broadcast ring, a lossless ring it gates, ZeroMQ frames;
SIGTERM leaves only valid Parquet parts holding every frame."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pyarrow.parquet as pq

from mesh.protocol import encode_frame
from mesh.protocol.messages.market import PoolSync, Trade
from nodes.archiver.read import iter_archive
from nodes.runtime.testing import NodeHarness
from shm.inspect import ring_info
from shm.writer import RingWriter

POOL = bytes(range(20))


def sync(n: int) -> PoolSync:
    """A PoolSync numbered by its block."""
    return PoolSync(reserve0=10**20 + n, reserve1=n, timestamp_ns=1, block_number=n, venue=1,
                    token0_decimals=18, token1_decimals=6, pool_address=POOL,
                    token0_addr=b"\2" * 20, token1_addr=b"\3" * 20)


def wait(cond, timeout: float = 30.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    """Wait (generously: a busy 2-core machine) until ``cond()`` holds."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, \
            f"timed out waiting for {what() if callable(what) else what}"
        time.sleep(0.02)


def test_archives_rings_and_streams_and_closes_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    h = NodeHarness("archiver", settings={"path": str(root), "batch_ms": 50,
                                          "batch_frames": 256})
    with h:
        # a lossless ring of 4 KiB: 2000 frames of 192 bytes only pass if the archiver gates it
        lossless = RingWriter.create("market-data", "gated", namespace=h.cfg.ring_namespace,
                                     capacity=1 << 12, lossless=True)
        try:
            pid = h.proc.pid if h.proc else -1
            wait(lambda: ring_info(lossless.name).gate_pid == pid, timeout=60,
                 what=lambda: "the gate: " + " ".join(  # type: ignore[arg-type]
                     x for x in h.metrics().splitlines() if x.startswith("alphapulse_errors")))
            for n in range(2000):
                frame = encode_frame([sync(n)], source=3, sequence=n)
                assert lossless.write_wait(frame, timeout=30.0), f"frame {n} refused"
            for n in range(300):
                h.feed_ring(sync(n))
            for n in range(50):
                h.feed(Trade(asset_id=7, price=n, volume=1, execution_timestamp_ns=1, venue=2,
                             asset_type=1, reserved=0, side=0))
            assert h.metric("alphapulse_archiver_gated_rings") == 1
            wait(lambda: h.metric("alphapulse_archiver_frames_archived_total",
                                  domain="market-data") >= 2350, what="frames archived")
            assert h.stop() == 0
        finally:
            lossless.unlink()
            lossless.close()
    assert not list(root.rglob("*.journal")) and not list(root.rglob("*.tmp"))
    for part in root.rglob("*.parquet"):
        pq.ParquetFile(part)  # every part is a whole Parquet file
    frames = list(iter_archive(root, domains=["market-data"]))
    by_source: dict[str, list[int]] = {}
    for f in frames:
        by_source.setdefault(f.source, []).append(f.sequence)
    gated = next(v for k, v in by_source.items() if k.endswith(".gated"))
    assert gated == list(range(2000))
    fed = next(v for k, v in by_source.items() if k.endswith(".feeder"))
    assert fed == list(range(300))
    zmq = [f for f in frames if f.source.startswith("zmq:")]
    assert [f.msg_type for f in zmq] == [Trade.TLV_TYPE] * 50
    assert all(a.recv_ns <= b.recv_ns for a, b in itertools.pairwise(frames))


def test_a_killed_archiver_loses_no_appended_frame(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    with NodeHarness("archiver", settings={"path": str(root), "batch_ms": 20}) as h:
        for n in range(100):
            h.feed_ring(sync(n))
        wait(lambda: h.metric("alphapulse_archiver_frames_archived_total",
                              domain="market-data") >= 100, what="frames journaled")
        assert h.proc is not None
        h.proc.kill()
        h.proc.wait(10)
    assert list(root.rglob("*.journal")) and not list(root.rglob("*.parquet"))
    with NodeHarness("archiver", settings={"path": str(root)}) as again:
        assert again.stop() == 0
        assert "recovered" in again.log()
    assert [f.sequence for f in iter_archive(root)] == list(range(100))
