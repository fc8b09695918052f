"""Mesh hop latency and throughput beside raw pyzmq PUB/SUB; emergency-stop latency.

Cases (ipc, one run, same machine state):

* ``raw pub/sub hop`` / ``mesh pub/sub hop``: round trip through an echo process divided by 2,
  ~200-byte frame (raw: 200 opaque bytes; mesh: one ExecutionResult frame, 194 bytes, encoded,
  topic-numbered, decoded, CRC-checked and sequence-tracked at each end, re-encoded by the echo).
  Both sides block in ``poll`` (no spinning on a 2-core host).
* ``raw/mesh throughput``: one process sends N frames as fast as it can, the other receives.
* ``stop -> halted (risk call)``: a risk node runs in a subprocess; this process is the executor
  (Subscriber + StopGuard). Time from sending the stop to the risk node's service endpoint until
  the guard reports halted; then resume and wait until it clears.
* ``stop -> halted (alphapulse stop)``: the same, timed from launching the ``alphapulse stop``
  command (includes its interpreter start-up).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zmq

from bench.report import Row, latency_row, rate_row
from mesh.protocol import EmergencyStop, ExecutionResult
from mesh.pubsub import Publisher, Subscriber
from mesh.stop import StopGuard
from mesh.topics import prefix

NAME = "mesh"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Benchmark options."""
    p.add_argument("--hops", type=int, default=5000, help="round trips per latency case")
    p.add_argument("--count", type=int, default=100_000, help="frames per throughput case")
    p.add_argument("--stops", type=int, default=100, help="stop/resume cycles")


def _mesh_cfg(run_dir: Path):
    from nodes.runtime.testing import private_mesh

    return private_mesh(run_dir, ["ping", "pong", "risk"], sndhwm=1_000_000,
                        rcvhwm=1_000_000, heartbeat_ms=200)


# -- echo processes ---------------------------------------------------------------------------


def _raw_echo(a: str, b: str, ready) -> None:
    ctx = zmq.Context()
    sub, pub = ctx.socket(zmq.SUB), ctx.socket(zmq.PUB)
    sub.subscribe(b"")
    sub.connect(a)
    pub.bind(b)
    ready.set()
    while True:
        topic, data = sub.recv_multipart()
        if data == b"quit":
            break
        pub.send_multipart((topic, data))
    ctx.destroy(0)


def _mesh_echo(config: str, ready) -> None:
    from mesh.config import load_config

    cfg = load_config(config, env={})
    ctx = zmq.Context()
    pub = Publisher(ctx, cfg, "pong", source=42)
    sub = Subscriber(ctx, cfg, ["ping"], [prefix(3)])
    ready.set()
    while True:
        d = sub.recv(-1)
        if d.frame.tlvs[0].opportunity_id == 0xFFFF_FFFF:
            break
        pub.publish(d.frame.tlvs)
    ctx.destroy(0)


def _join(send, recv, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        send()
        if recv(50):
            while recv(20):
                pass
            return
    raise RuntimeError("echo never joined")


def bench_raw(run_dir: Path, hops: int) -> np.ndarray:
    """Raw PUB/SUB round trips / 2, in ns."""
    a, b = f"ipc://{run_dir}/raw-a", f"ipc://{run_dir}/raw-b"
    ready = mp.Event()
    ctx = zmq.Context()
    pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    pub.bind(a)
    proc = mp.Process(target=_raw_echo, args=(a, b, ready), daemon=True)
    proc.start()
    ready.wait(10)
    sub.subscribe(b"")
    sub.connect(b)
    payload = os.urandom(200)
    topic = b"3/050/0000000000000000/ping:1"

    def recv(ms: int) -> bool:
        if sub.poll(ms):
            sub.recv_multipart()
            return True
        return False
    _join(lambda: pub.send_multipart((topic, payload)), recv)
    out = np.empty(hops, dtype=np.int64)
    for i in range(hops):
        t0 = time.perf_counter_ns()
        pub.send_multipart((topic, payload))
        sub.poll(-1)
        sub.recv_multipart()
        out[i] = (time.perf_counter_ns() - t0) // 2
    pub.send_multipart((topic, b"quit"))
    proc.join(5)
    ctx.destroy(0)
    return out


def bench_mesh(run_dir: Path, config: Path, cfg, hops: int) -> np.ndarray:
    """Mesh Publisher/Subscriber round trips / 2, in ns."""
    ready = mp.Event()
    ctx = zmq.Context()
    pub = Publisher(ctx, cfg, "ping", source=42)
    proc = mp.Process(target=_mesh_echo, args=(str(config), ready), daemon=True)
    proc.start()
    ready.wait(10)
    sub = Subscriber(ctx, cfg, ["pong"], [prefix(3)], recover_types=())
    msg = ExecutionResult(opportunity_id=1, strategy_id=1, amount_in=10**18)
    _join(lambda: pub.publish([msg]), lambda ms: sub.recv(ms) is not None)
    out = np.empty(hops, dtype=np.int64)
    for i in range(hops):
        t0 = time.perf_counter_ns()
        pub.publish([msg])
        sub.recv(-1)
        out[i] = (time.perf_counter_ns() - t0) // 2
    pub.publish([ExecutionResult(opportunity_id=0xFFFF_FFFF)])
    proc.join(5)
    sub.close()
    pub.close()
    ctx.destroy(0)
    return out


# -- throughput -------------------------------------------------------------------------------


def _raw_sink(a: str, count: int, ready, result) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.rcvhwm = 0
    sub.subscribe(b"")
    sub.connect(a)
    ready.set()
    sub.recv_multipart()  # the first one starts the clock
    t0 = time.perf_counter()
    n = 1
    while n < count and sub.poll(2000):
        sub.recv_multipart()
        n += 1
    result.put((n, time.perf_counter() - t0))
    ctx.destroy(0)


def _mesh_sink(config: str, count: int, ready, result) -> None:
    from mesh.config import load_config

    cfg = load_config(config, env={})
    ctx = zmq.Context()
    sub = Subscriber(ctx, cfg, ["ping"], [prefix(3)], recover_types=())
    ready.set()
    sub.recv(-1)
    t0 = time.perf_counter()
    n = 1
    while n < count and sub.recv(2000) is not None:
        n += 1
    result.put((n, time.perf_counter() - t0, sub.stats.gaps))
    sub.close()
    ctx.destroy(0)


def bench_throughput(run_dir: Path, config: Path, cfg, count: int) -> list[Row]:
    """Raw and mesh frames per second, sender to receiver."""
    rows = []
    ctx = zmq.Context()
    a = f"ipc://{run_dir}/tp-a"
    pub = ctx.socket(zmq.PUB)
    pub.sndhwm = 0
    pub.bind(a)
    ready, result = mp.Event(), mp.Queue()
    proc = mp.Process(target=_raw_sink, args=(a, count, ready, result), daemon=True)
    proc.start()
    ready.wait(10)
    time.sleep(0.3)  # slow joiner
    payload, topic = os.urandom(200), b"3/050/0000000000000000/ping:1"
    for _ in range(count):
        pub.send_multipart((topic, payload))
    n, secs = result.get(timeout=60)
    proc.join(5)
    rows.append(rate_row(NAME, "raw pub/sub throughput", n, secs, frame_bytes=200,
                         received=n))
    pub.close(0)
    mpub = Publisher(ctx, cfg, "ping", source=42)
    ready, result = mp.Event(), mp.Queue()
    proc = mp.Process(target=_mesh_sink, args=(str(config), count, ready, result), daemon=True)
    proc.start()
    ready.wait(10)
    time.sleep(0.3)
    msg = ExecutionResult(opportunity_id=1, strategy_id=1)
    for _ in range(count):
        mpub.publish([msg])
    n, secs, gaps = result.get(timeout=60)
    proc.join(5)
    rows.append(rate_row(NAME, "mesh pub/sub throughput", n, secs, frame_bytes=194,
                         received=n, gaps=gaps))
    mpub.close()
    ctx.destroy(0)
    return rows


# -- emergency stop ---------------------------------------------------------------------------


def bench_stop(config: Path, cfg, stops: int) -> list[Row]:
    """Stop-to-halted latency through the risk node, by its call and by the CLI."""
    from mesh.cli.mesh_commands import send_control

    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
    risk = subprocess.Popen([sys.executable, "-m", "nodes.runtime", "risk", "--config",
                             str(config), "--log-level", "WARNING"], env=env)
    ctx = zmq.Context()
    sub = Subscriber(ctx, cfg, ["risk"], [prefix(4)], recover_types=())
    guard = StopGuard(deadline_ns=0)

    def wait(halted: bool, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while guard.halted() != halted:
            d = sub.recv(100)
            if d is not None:
                guard.observe(d.frame, d.topic.publisher)
            if time.monotonic() > deadline:
                raise RuntimeError("stop state never reached")

    rows = []
    try:
        send_control(cfg, "risk", EmergencyStop(latched=0), 15.0)  # risk is up
        time.sleep(0.5)
        samples = np.empty(stops, dtype=np.int64)
        for i in range(stops):
            t0 = time.perf_counter_ns()
            send_control(cfg, "risk", EmergencyStop(latched=1, reason="bench"), 5.0)
            wait(True)
            samples[i] = time.perf_counter_ns() - t0
            send_control(cfg, "risk", EmergencyStop(latched=0), 5.0)
            wait(False)
        rows.append(latency_row(NAME, "stop -> halted (risk call)", samples))
        cli = str(Path(sys.executable).parent / "alphapulse")
        cli_samples = np.empty(min(10, stops), dtype=np.int64)
        for i in range(cli_samples.size):
            t0 = time.perf_counter_ns()
            proc = subprocess.Popen([cli, "stop", "--config", str(config), "--reason", "bench"],
                                    stdout=subprocess.DEVNULL, env=env)
            wait(True, 15)
            cli_samples[i] = time.perf_counter_ns() - t0
            proc.wait(15)
            subprocess.run([cli, "resume", "--config", str(config)], stdout=subprocess.DEVNULL,
                           env=env, timeout=15, check=False)
            wait(False, 15)
        rows.append(latency_row(NAME, "stop -> halted (alphapulse stop)", cli_samples))
    finally:
        risk.terminate()
        risk.wait(10)
        sub.close()
        ctx.destroy(0)
        from nodes.runtime.kill_flag import KillFlag
        KillFlag(cfg.kill_flag_name).unlink()
    return rows


def run(args: argparse.Namespace) -> list[Row]:
    """Run every case; return the rows."""
    from nodes.runtime.testing import short_dir

    with short_dir("apbench-") as run_dir:
        config, cfg = _mesh_cfg(run_dir)
        raw = bench_raw(run_dir, args.hops)
        mesh = bench_mesh(run_dir, config, cfg, args.hops)
        raw_p50, mesh_p50 = float(np.median(raw)), float(np.median(mesh))
        rows = [latency_row(NAME, "raw pub/sub hop (200 B)", raw),
                latency_row(NAME, "mesh pub/sub hop (194 B)", mesh,
                            overhead_p50_pct=round(100 * (mesh_p50 - raw_p50) / raw_p50, 1))]
        rows += bench_throughput(run_dir, config, cfg, args.count)
        rows += bench_stop(config, cfg, args.stops)
    return rows
