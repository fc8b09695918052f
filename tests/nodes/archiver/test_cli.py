"""``alphapulse archive stats`` and ``alphapulse replay``: numbers, exit 2 on a bad archive,
ZeroMQ frames back onto the mesh, the pace and the progress bar."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
import zmq

from mesh.cli import main
from mesh.config import load_config
from mesh.protocol import decode_frame, encode_frame
from mesh.protocol.messages.market import Trade
from mesh.pubsub import Subscriber
from mesh.topics import prefix
from nodes.archiver.replay import Pace, Progress, parse_speed, topic_key
from nodes.archiver.store import DomainStore
from nodes.runtime.testing import short_dir
from tests.nodes.archiver.test_store import sync


def trade(n: int) -> bytes:
    """A Trade frame whose price is ``n``."""
    return encode_frame([Trade(asset_id=3, price=n, volume=1, execution_timestamp_ns=1, venue=2,
                               asset_type=1, reserved=0, side=0)], source=1, sequence=n,
                        timestamp_ns=1_000 + n)


def test_stats_reports_frames_bytes_and_ratio(tmp_path: Path, capsys) -> None:
    store = DomainStore(tmp_path, "market-data", 1 << 20, 3600)
    store.append([(time.time_ns() + i, "ring:r", sync(i)) for i in range(500)])
    part = store.rotate()
    assert part is not None
    assert main(["archive", "stats", str(tmp_path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    md = stats["domains"]["market-data"]
    assert (md["parts"], md["frames"], md["raw_bytes"]) == (1, 500, 500 * len(sync(0)))
    assert md["file_bytes"] == part.path.stat().st_size and stats["ratio"] > 1
    assert main(["archive", "stats", str(tmp_path)]) == 0
    assert "market-data" in capsys.readouterr().out


def test_bad_archives_exit_2_with_one_line(tmp_path: Path, capsys) -> None:
    assert main(["replay", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip().endswith("does not exist")
    bad = tmp_path / "date=2026-01-01" / "domain=signal" / "x.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1 but not really")
    for argv in (["replay", str(tmp_path)], ["archive", "stats", str(tmp_path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "not a readable Parquet file" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["replay", str(tmp_path), "--speed", "0"])
    assert exc.value.code == 2


def test_replay_publishes_zmq_frames_as_the_replay_node(tmp_path: Path, unique_name: str,
                                                          capsys) -> None:
    archive = tmp_path / "archive"
    store = DomainStore(archive, "market-data", 1 << 20, 3600)
    now = time.time_ns()
    store.append([(now + i, f"zmq:1/001/{5:016x}/collector-cex:{1:016x}:{i + 1:x}", trade(i))
                  for i in range(20)])
    store.rotate()
    with short_dir() as run:
        config = run / "mesh.toml"
        config.write_text(f'[mesh]\nrun_dir = "{run}"\ndefault_nodes = false\n'
                          f'ring_namespace = "{unique_name}"\n[nodes.replay]\n[nodes.listener]\n')
        cfg = load_config(config, env={})
        ctx = zmq.Context()
        sub = Subscriber(ctx, cfg, ["replay"], [prefix(1)])
        try:
            assert main(["replay", str(archive), "--config", str(config), "--speed", "max",
                         "--settle", "1"]) == 0
            got = []
            deadline = time.monotonic() + 30
            while len(got) < 20 and time.monotonic() < deadline:
                d = sub.recv(200)
                if d is not None:
                    got.append(d)
        finally:
            sub.close()
            ctx.term()
    assert "replayed 20 frames (0 into rings, 20 onto the mesh" in capsys.readouterr().out
    assert [d.frame.first(Trade).price for d in got] == list(range(20))  # type: ignore[union-attr]
    assert {d.topic.key for d in got} == {5} and {d.topic.publisher for d in got} == {"replay"}
    assert [d.header.timestamp_ns for d in got] == [1_000 + i for i in range(20)]
    assert decode_frame(got[0].raw).header.sequence == 1  # the replay publisher's numbering


def test_pace_speed_and_progress() -> None:
    slept: list[float] = []
    pace = Pace(2.0, sleep=slept.append)
    pace.wait(0)
    pace.wait(4_000_000_000)  # 4 s recorded, at 2x: due 2 s after the start
    assert len(slept) == 1 and 1.9 < slept[0] <= 2.0
    fast = Pace(parse_speed("max"), sleep=slept.append)
    fast.wait(0)
    fast.wait(10**12)
    assert len(slept) == 1
    assert parse_speed("1") == 1.0 and parse_speed("10") == 10.0
    quiet = io.StringIO()
    bar = Progress(10, out=quiet)
    bar.step(10)
    bar.close()
    assert quiet.getvalue() == ""  # not a terminal

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = Progress(4, out=tty)
    bar.step(4)
    bar.close()
    assert "100% 4/4 frames" in tty.getvalue()
    assert topic_key(f"zmq:2/033/{42:016x}/strategy:{1:016x}:1") == 42


def written(namespace: str) -> bool:
    """Whether the replay's ring exists and holds a frame."""
    from shm.errors import RingError
    from shm.inspect import ring_info
    from shm.segment import list_ring_names
    try:
        return any(ring_info(n).frames_written for n in list_ring_names(namespace))
    except RingError:  # still being created
        return False


def test_ctrl_c_stops_a_paced_replay_cleanly(tmp_path: Path, unique_name: str) -> None:
    import os
    import signal
    import subprocess
    import sys

    from shm.segment import list_ring_names

    archive = tmp_path / "archive"
    store = DomainStore(archive, "market-data", 1 << 20, 3600)
    now = time.time_ns()
    store.append([(now, "ring:r", sync(0)), (now + 600 * 10**9, "ring:r", sync(1))])
    store.rotate()
    with short_dir() as run:
        config = run / "mesh.toml"
        config.write_text(f'[mesh]\nrun_dir = "{run}"\ndefault_nodes = false\n'
                          f'ring_namespace = "{unique_name}"\n[nodes.replay]\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
        proc = subprocess.Popen([sys.executable, "-m", "mesh", "replay", str(archive),
                                 "--config", str(config), "--speed", "1"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not written(unique_name):  # the first frame is in: now it sleeps 600 s
                assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130 and "Traceback" not in err
    assert not list_ring_names(unique_name)
