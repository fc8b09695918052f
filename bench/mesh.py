"""Mesh hop latency and throughput beside raw pyzmq PUB/SUB; emergency-stop latency.

Latency cases (ipc; round trip through an echo process, divided by 2; every case sends the
same pre-encoded 200-byte frame, ``[ExecutionResult, 4-byte padding TLV]``, under a topic of
the same length). All cases run interleaved in rounds, so they see the same machine state,
and every side of every case blocks in a poll between messages (no spinning on 2 cores):

* ``raw pyzmq hop (idiomatic)``: ``send_multipart`` / ``Socket.poll`` / ``recv_multipart``, the
  calls a plain pyzmq program makes (the baseline the issue's figures were first taken with).
* ``raw pyzmq hop (lean)``: ``send(SNDMORE)`` + ``send`` / ``zmq_poll`` / two ``recv``: the
  cheapest pyzmq calls, the floor any layer above pyzmq is compared with.
* ``mesh layer hop``: :meth:`Publisher.publish_frame` (header sequence, timestamp and CRC
  restamped, topic numbered, journaled) and a lazy :class:`Subscriber` (two-part shape, topic,
  header and CRC32 checked, gap/duplicate tracking), TLVs left undecoded; the echo relays the
  frame with ``publish_frame``. This is what the mesh adds to pyzmq.
* ``mesh encode+publish+recv+decode hop``: :meth:`Publisher.publish` encodes the messages; the
  subscriber decodes every TLV; the echo decodes and re-encodes. The full cost to a node that
  builds and reads messages.

``overhead_p50_pct`` compares each mesh row with the lean raw row (all rounds pooled);
``vs_idiomatic_p50_pct`` with the idiomatic one. Because the machine's load drifts between
rounds, each round's p50s are also compared within the round: ``rounds_median_pct`` is the
median over rounds of that round's overhead over lean raw, ``rounds_min_pct`` /
``rounds_max_pct`` its spread. ``--pin`` puts this process on one CPU and the echoes on
another (:mod:`bench.pinning`); on a machine shared with other work it can hurt as well as
help, so it is off by default.

Throughput cases: one process sends N frames as fast as it can, the other receives (raw
idiomatic, mesh layer, mesh full).

* ``stop -> halted (risk call)``: a risk node runs in a subprocess; this process is the executor
  (Subscriber + StopGuard). Time from sending the stop to the risk node's service endpoint until
  the guard reports halted; then resume and wait until it clears.
* ``stop -> halted (alphapulse stop)``: the same, timed from launching the ``alphapulse stop``
  command (includes its interpreter start-up).
* the risk node's decision to 1, 2 and 4 executors halted, over the kill flag and over the
  mesh, see :mod:`bench._mesh_stop`.

Profile rows (``per call: ...``): the CPU of each step of a mesh hop and of lean raw pyzmq's,
in one process, see :mod:`bench._mesh_profile`.
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
from mesh.protocol import EmergencyStop, ExecutionResult, UnknownTLV, encode_frame
from mesh.pubsub import Publisher, Subscriber
from mesh.stop import StopGuard
from mesh.topics import prefix

NAME = "mesh"
ROUNDS = 20
QUIT_KEY = 0xFFFF
TOPIC = b"3/050/0000000000000001/ping1:18b9c1d2e3f40a5b:1"  # as long as the mesh topics below
MESSAGES = [ExecutionResult(opportunity_id=1, strategy_id=1, amount_in=10**18),
            UnknownTLV(200, bytes(4))]  # padding: the frame is exactly 200 bytes
FRAME = encode_frame(MESSAGES, source=42)
assert len(FRAME) == 200

#: case -> (ping node, pong node) in the private mesh
_NODES = {"layer": ("ping1", "pong1"), "full": ("ping2", "pong2")}
CASES = {"idiomatic": "raw pyzmq hop (idiomatic)", "lean": "raw pyzmq hop (lean)",
         "layer": "mesh layer hop", "full": "mesh encode+publish+recv+decode hop"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Benchmark options."""
    p.add_argument("--hops", type=int, default=5000, help="round trips per latency case")
    p.add_argument("--count", type=int, default=100_000, help="frames per throughput case")
    p.add_argument("--stops", type=int, default=100, help="stop/resume cycles")
    p.add_argument("--cli-stops", type=int, default=10,
                   help="cycles through the alphapulse stop/resume commands (0: none)")
    p.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved latency rounds")
    p.add_argument("--pin", action="store_true", help="this process and the echoes on two CPUs")
    p.add_argument("--only", choices=("latency", "profile", "throughput", "stop"), default=None,
                   help="run one group of cases")


def _mesh_cfg(run_dir: Path):
    from nodes.runtime.testing import private_mesh

    return private_mesh(run_dir, ["ping", "ping1", "pong1", "ping2", "pong2", "risk"],
                        sndhwm=1_000_000, rcvhwm=1_000_000, heartbeat_ms=200)


# -- echo processes ---------------------------------------------------------------------------


def _echo(case: str, config: str, a: str, b: str, ready, pin: bool = False) -> None:
    """Send back every frame received, the way the case's ping side sends it."""
    if pin:
        from bench.pinning import pin as pin_cpu
        pin_cpu(1)
    ctx = zmq.Context()
    if case in ("idiomatic", "lean"):
        sub, pub = ctx.socket(zmq.SUB), ctx.socket(zmq.PUB)
        sub.subscribe(b"")
        sub.connect(a)
        pub.bind(b)
        ready.set()
        items = [(sub, zmq.POLLIN)]
        while True:
            if case == "idiomatic":
                sub.poll(-1)
                topic, data = sub.recv_multipart()
            else:
                zmq.zmq_poll(items, -1)
                topic, data = sub.recv(), sub.recv()
            if data == b"quit":
                break
            if case == "idiomatic":
                pub.send_multipart((topic, data))
            else:
                pub.send(topic, zmq.SNDMORE)
                pub.send(data)
    else:
        from mesh.config import load_config

        cfg = load_config(config, env={})
        ping, pong = _NODES[case]
        mpub = Publisher(ctx, cfg, pong, source=42)
        msub = Subscriber(ctx, cfg, [ping], [prefix(3)], recover_types=(),
                          lazy=case == "layer")
        ready.set()
        while True:
            d = msub.recv(-1)
            if d.topic.key == QUIT_KEY:
                break
            if case == "layer":
                mpub.publish_frame(d.raw, d.topic.tlv_type, d.topic.key)
            else:
                mpub.publish(d.frame.tlvs)
        msub.close()
        mpub.close()
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


class _Case:
    """One latency case: its echo process and its ping side's send / wait-for-reply."""

    def __init__(self, case: str, run_dir: Path, config: Path, cfg, ctx: zmq.Context,
                 pin: bool = False) -> None:
        self.case = case
        a, b = f"ipc://{run_dir}/{case}-a", f"ipc://{run_dir}/{case}-b"
        ready = mp.Event()
        if case in ("idiomatic", "lean"):
            self.pub, self.sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
            self.pub.bind(a)
        else:
            ping, pong = _NODES[case]
            self.mpub = Publisher(ctx, cfg, ping, source=42)
        self.proc = mp.Process(target=_echo, args=(case, str(config), a, b, ready, pin),
                               daemon=True)
        self.proc.start()
        if not ready.wait(10):
            raise RuntimeError(f"{case} echo did not start")
        if case in ("idiomatic", "lean"):
            self.sub.subscribe(b"")
            self.sub.connect(b)
        else:
            self.msub = Subscriber(ctx, cfg, [pong], [prefix(3)], recover_types=(),
                                   lazy=case == "layer")
        _join(self._send, self._probe)

    def _send(self) -> None:
        if self.case in ("idiomatic", "lean"):
            self.pub.send_multipart((TOPIC, FRAME))
        else:
            self.mpub.publish_frame(FRAME, 50, 1)

    def _probe(self, ms: int) -> bool:
        if self.case in ("idiomatic", "lean"):
            if self.sub.poll(ms):
                self.sub.recv_multipart()
                return True
            return False
        return self.msub.recv(ms) is not None

    def run(self, hops: int) -> np.ndarray:
        """``hops`` round trips / 2, in ns."""
        out = np.empty(hops, dtype=np.int64)
        clock = time.perf_counter_ns
        if self.case == "idiomatic":
            pub, sub = self.pub, self.sub
            for i in range(hops):
                t0 = clock()
                pub.send_multipart((TOPIC, FRAME))
                sub.poll(-1)
                sub.recv_multipart()
                out[i] = (clock() - t0) // 2
        elif self.case == "lean":
            pub, sub = self.pub, self.sub
            items, poll = [(sub, zmq.POLLIN)], zmq.zmq_poll
            for i in range(hops):
                t0 = clock()
                pub.send(TOPIC, zmq.SNDMORE)
                pub.send(FRAME)
                poll(items, -1)
                sub.recv()
                sub.recv()
                out[i] = (clock() - t0) // 2
        elif self.case == "layer":
            mpub, msub = self.mpub, self.msub
            for i in range(hops):
                t0 = clock()
                mpub.publish_frame(FRAME, 50, 1)
                msub.recv(-1)
                out[i] = (clock() - t0) // 2
        else:
            mpub, msub = self.mpub, self.msub
            for i in range(hops):
                t0 = clock()
                mpub.publish(MESSAGES)
                msub.recv(-1).frame  # noqa: B018  (eager subscriber: decoded on arrival)
                out[i] = (clock() - t0) // 2
        return out

    def close(self) -> None:
        """Stop the echo and close this side."""
        if self.case in ("idiomatic", "lean"):
            self.pub.send_multipart((TOPIC, b"quit"))
        elif self.case == "layer":
            self.mpub.publish_frame(FRAME, 50, QUIT_KEY)
        else:
            self.mpub.publish(MESSAGES, key=QUIT_KEY)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
        if self.case in ("idiomatic", "lean"):
            self.pub.close(0)
            self.sub.close(0)
        else:
            self.msub.close()
            self.mpub.close()


def bench_latency(run_dir: Path, config: Path, cfg, hops: int, rounds: int = ROUNDS,
                  pin: bool = False) -> list[Row]:
    """Every latency case, interleaved in ``rounds`` rounds; one row per case."""
    from bench.pinning import cpus, unpin
    from bench.pinning import pin as pin_cpu

    allowed = cpus()
    if pin:
        pin_cpu(0)
    ctx = zmq.Context()
    cases = {}
    try:
        for name in CASES:
            cases[name] = _Case(name, run_dir, config, cfg, ctx, pin)
        samples: dict[str, list[np.ndarray]] = {name: [] for name in CASES}
        per_round = max(1, hops // rounds)
        for r in range(rounds):
            order = list(cases.items())
            if r % 2:  # no case always runs right after another
                order.reverse()
            for name, case in order:
                samples[name].append(case.run(per_round))
    finally:
        for case in cases.values():
            case.close()
        ctx.destroy(0)
        if pin:
            unpin(allowed)
    got = {name: np.concatenate(s) for name, s in samples.items()}
    lean, idiomatic = float(np.median(got["lean"])), float(np.median(got["idiomatic"]))
    lean_r = np.array([np.median(s) for s in samples["lean"]])
    rows = []
    for name, label in CASES.items():
        extra = {}
        if name in ("layer", "full"):
            p50 = float(np.median(got[name]))
            per = 100 * (np.array([np.median(s) for s in samples[name]]) - lean_r) / lean_r
            extra = {"overhead_p50_pct": round(100 * (p50 - lean) / lean, 1),
                     "vs_idiomatic_p50_pct": round(100 * (p50 - idiomatic) / idiomatic, 1),
                     "rounds_median_pct": round(float(np.median(per)), 1),
                     "rounds_min_pct": round(float(per.min()), 1),
                     "rounds_max_pct": round(float(per.max()), 1)}
        rows.append(latency_row(NAME, label + " (200 B)", got[name], **extra))
    return rows


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
    result.put((n, time.perf_counter() - t0, 0))
    ctx.destroy(0)


def _mesh_sink(config: str, count: int, lazy: bool, ready, result) -> None:
    from mesh.config import load_config

    cfg = load_config(config, env={})
    ctx = zmq.Context()
    sub = Subscriber(ctx, cfg, ["ping"], [prefix(3)], recover_types=(), lazy=lazy)
    ready.set()
    sub.recv(-1)
    t0 = time.perf_counter()
    n = 1
    while n < count and (d := sub.recv(2000)) is not None:
        if not lazy:
            d.frame  # noqa: B018  (decoded on arrival)
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
    for _ in range(count):
        pub.send_multipart((TOPIC, FRAME))
    n, secs, _ = result.get(timeout=60)
    proc.join(5)
    rows.append(rate_row(NAME, "raw pyzmq throughput (idiomatic)", n, secs, frame_bytes=200,
                         received=n))
    pub.close(0)
    for lazy, label in ((True, "mesh layer throughput"),
                        (False, "mesh encode+publish+recv+decode throughput")):
        mpub = Publisher(ctx, cfg, "ping", source=42)
        ready, result = mp.Event(), mp.Queue()
        proc = mp.Process(target=_mesh_sink, args=(str(config), count, lazy, ready, result),
                          daemon=True)
        proc.start()
        ready.wait(10)
        time.sleep(0.3)
        for _ in range(count):
            if lazy:
                mpub.publish_frame(FRAME, 50, 1)
            else:
                mpub.publish(MESSAGES)
        n, secs, gaps = result.get(timeout=60)
        proc.join(5)
        rows.append(rate_row(NAME, label, n, secs, frame_bytes=200, received=n, gaps=gaps))
        mpub.close()
    ctx.destroy(0)
    return rows


# -- emergency stop ---------------------------------------------------------------------------


def bench_stop(config: Path, cfg, stops: int, cli_stops: int = 10) -> list[Row]:
    """Stop-to-halted latency through the risk node, by its call and by the CLI."""
    from mesh.cli.control import send_control

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
        send_control(cfg, "risk", EmergencyStop(latched=0), 60.0)  # risk is up (slow when loaded)
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
        cli_samples = np.empty(cli_stops, dtype=np.int64)
        for i in range(cli_samples.size):  # interpreter start-ups: slow on a loaded machine
            t0 = time.perf_counter_ns()
            proc = subprocess.Popen([cli, "stop", "--config", str(config), "--reason", "bench"],
                                    stdout=subprocess.DEVNULL, env=env)
            wait(True, 60)
            cli_samples[i] = time.perf_counter_ns() - t0
            proc.wait(60)
            subprocess.run([cli, "resume", "--config", str(config)], stdout=subprocess.DEVNULL,
                           env=env, timeout=60, check=False)
            wait(False, 60)
        if cli_stops:
            rows.append(latency_row(NAME, "stop -> halted (alphapulse stop)", cli_samples))
    finally:
        risk.terminate()
        risk.wait(10)
        sub.close()
        ctx.destroy(0)
        from shm.kill_flag import KillFlag
        KillFlag(cfg.kill_flag_name).unlink()
    return rows


def run(args: argparse.Namespace) -> list[Row]:
    """Run every case; return the rows."""
    from bench._mesh_profile import bench_profile
    from bench._mesh_stop import bench_stop_paths
    from nodes.runtime.testing import short_dir

    only = getattr(args, "only", None)
    rows: list[Row] = []
    with short_dir("apbench-") as run_dir:
        config, cfg = _mesh_cfg(run_dir)
        if only in (None, "latency"):
            rows += bench_latency(run_dir, config, cfg, args.hops, args.rounds, args.pin)
        if only in (None, "profile"):
            rows += bench_profile(FRAME, TOPIC)
        if only in (None, "throughput"):
            rows += bench_throughput(run_dir, config, cfg, args.count)
        if only in (None, "stop"):
            rows += bench_stop(config, cfg, args.stops, args.cli_stops)
    if only in (None, "stop"):
        with short_dir("apstop-") as run_dir:
            rows += bench_stop_paths(run_dir, args.stops)
    return rows
