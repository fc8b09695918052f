"""Emergency-stop latency: the risk node's decision to every executor halted (``bench mesh``).

A real risk node (``python -m nodes.runtime risk``) runs in a subprocess; N stand-in executors
(1, 2, 4) run the real node runtime loop (:class:`nodes.runtime.runtime.NodeRuntime`, default
``backoff`` idle, reading the market-data rings like the executor) with a node that only
records, in shared memory, the wall-clock time its loop first finds ``rt.halted()`` true.

The *decision* is the moment the risk node latches the stop: the bench asks its service
endpoint for a stop without an id, so the id the risk node makes is ``time.time_ns()`` at
the decision and comes back in the reply (``OK <id>``). Wall-clock times compare across
processes on one host. Cases, interleaved in rounds (the same machine state for all):

* ``risk decision -> kill flag set (a check refuses)``: the risk node sets the flag right
  after making the stop id and stamps the latch (``EmergencyStop.timestamp_ns``) right after
  the store, so the stamp minus the id bounds decision -> flag stored, read from the stop this
  process receives. From that store on, an executor's check before signing or sending
  refuses (one acquire load; a spinning reader in another process would only add its own
  scheduling delay).
* ``risk decision -> kill flag -> executor loop halted``: stand-ins that do not hear the risk
  node over ZeroMQ at all (its PUB endpoint is elsewhere in their configuration, no dead
  man's switch), so nothing wakes their idle loop: how fast a loop between passes notices
  the flag alone.
* ``risk decision -> EmergencyStop over mesh -> halted``: stand-ins that ignore the kill flag;
  the EmergencyStop frame reaches their SUB and ends their idle wait.

With N executors a sample is the time to the *last* one halted.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from bench.report import Row, latency_row
from mesh.config import load_config
from mesh.protocol import EmergencyStop
from mesh.protocol.constants import RelayDomain, SourceType
from mesh.pubsub import Subscriber
from mesh.stop import encode_control_stop
from mesh.topics import prefix
from nodes.runtime import Contract, Node
from nodes.runtime.testing import write_config
from shm.kill_flag import KillFlag

NAME = "mesh"
EXECUTORS = (1, 2, 4)
MODES = {"flag": "risk decision -> kill flag -> executor loop halted",
         "mesh": "risk decision -> EmergencyStop over mesh -> halted"}
_SLOTS = 2  # per stand-in: [halted wall ns (0 while running), loop passes]


class StandIn(Node):
    """An executor's loop without its trading: records when ``rt.halted()`` first holds."""

    CONTRACT = Contract(kind="stand-in", role="Bench executor stand-in (halted time only).",
                        source=SourceType.EXECUTION_ENGINE, obeys_stop=True,
                        reads=(RelayDomain.MARKET_DATA,))
    #: Set in the child before the runtime is built: (shared int64 view, slot index, mode).
    board: Any = None
    index = 0
    mode = "flag"

    def on_start(self) -> None:
        """In ``mesh`` mode, take the kill flag out of the guard."""
        if self.mode == "mesh" and self.rt.guard is not None:
            self.rt.guard.kill_flag = None

    def on_tick(self, now_ns: int) -> int:
        """Write the halted time once per halt; 0 again when trading may resume."""
        b, i = self.board, self.index * _SLOTS
        b[i + 1] += 1
        if self.rt.halted():
            if b[i] == 0:
                b[i] = time.time_ns()
        elif b[i]:
            b[i] = 0
        return 0


def _stand_in(config: str, name: str, mode: str, index: int, shared) -> None:
    from nodes.runtime.runtime import NodeRuntime

    StandIn.board = np.frombuffer(shared, dtype=np.int64)
    StandIn.index, StandIn.mode = index, mode
    NodeRuntime(StandIn, load_config(config, env={}), name).run()


def write_configs(run_dir: Path) -> tuple[Path, Path]:
    """The mesh config, and the stand-ins' flag-mode copy (risk's PUB elsewhere, no deadline)."""
    keys = {"run_dir": str(run_dir), "default_nodes": False, "metrics_base_port": 0,
            "heartbeat_ms": 200, "deadline_ms": 2000, "idle": "backoff",
            "ring_namespace": f"ap{run_dir.name.replace('-', '').replace('_', '')}"}
    names = ["risk"] + [f"exec{i}" for i in range(1, max(EXECUTORS) + 1)]
    nodes: dict[str, dict[str, Any]] = {n: {} for n in names}
    mesh = write_config(run_dir / "stop.toml", keys, nodes)
    nodes["risk"] = {"pub": f"ipc://{run_dir}/nobody.pub"}
    flag = write_config(run_dir / "stop-flag.toml", dict(keys, deadline_ms=0), nodes)
    return mesh, flag


class _Risk:
    """The risk node subprocess and a DEALER to its service endpoint."""

    def __init__(self, config: Path, ctx: zmq.Context) -> None:
        import subprocess
        import sys

        self.cfg = load_config(config, env={})
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
        self.proc = subprocess.Popen([sys.executable, "-m", "nodes.runtime", "risk", "--config",
                                      str(config), "--log-level", "ERROR"], env=env)
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(self.cfg.node("risk").service)
        self.flag = KillFlag(self.cfg.kill_flag_name)
        self.sub = Subscriber(ctx, self.cfg, ["risk"], [prefix(int(EmergencyStop.DOMAIN),
                                                              EmergencyStop.TLV_TYPE)],
                              recover_types=())
        self.ask(EmergencyStop(latched=0), 30.0)  # up and answering

    def ask(self, stop: EmergencyStop, timeout: float = 5.0) -> int:
        """Send a stop or resume; the stop id of the reply."""
        self.sock.send(encode_control_stop(stop))
        if not self.sock.poll(int(timeout * 1000)):
            raise RuntimeError("risk node did not answer")
        reply = self.sock.recv()
        if not reply.startswith(b"OK"):
            raise RuntimeError(f"risk node replied {reply!r}")
        return int(reply.split()[1])

    def stop(self) -> tuple[int, int]:
        """Ask for a stop: ``(decision ns, decision -> flag stored ns)``."""
        decision = self.ask(EmergencyStop(latched=1, reason="bench"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            d = self.sub.recv(100)
            stop = d.frame.first(EmergencyStop) if d is not None else None
            if isinstance(stop, EmergencyStop) and stop.latched and stop.stop_id == decision:
                return decision, stop.timestamp_ns - decision
        raise RuntimeError("the risk node's EmergencyStop never arrived")

    def close(self) -> None:
        """Stop the risk node, close the socket and remove the flag."""
        self.proc.terminate()
        self.proc.wait(10)
        self.sock.close(0)
        self.sub.close()
        self.flag.unlink()


def _wait(board: np.ndarray, n: int, halted: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        slots = board[0:n * _SLOTS:_SLOTS]
        if bool((slots != 0).all()) if halted else bool((slots == 0).all()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"stand-ins never {'halted' if halted else 'resumed'}: {slots}")
        time.sleep(0.0002)


def _round(risk: _Risk, configs: dict[str, Path], mode: str, n: int, stops: int,
           stored: list[int]) -> list[int]:
    """``stops`` cycles with ``n`` stand-ins in ``mode``; time to the last one halted."""
    fork = mp.get_context("fork")
    shared = fork.RawArray("q", max(EXECUTORS) * _SLOTS)
    board = np.frombuffer(shared, dtype=np.int64)
    procs = [fork.Process(target=_stand_in, daemon=True,
                          args=(str(configs[mode]), f"exec{i + 1}", mode, i, shared))
             for i in range(n)]
    for p in procs:
        p.start()
    out = []
    try:
        deadline = time.monotonic() + 60
        while not (board[1:n * _SLOTS:_SLOTS] > 0).all() or (board[0:n * _SLOTS:_SLOTS]).any():
            if time.monotonic() > deadline:
                raise RuntimeError("stand-ins did not start")
            time.sleep(0.01)
        time.sleep(0.3)  # past the start-up; loops idle
        for _ in range(stops):
            decision, flag_ns = risk.stop()
            stored.append(flag_ns)
            _wait(board, n, True)
            out.append(int(board[0:n * _SLOTS:_SLOTS].max()) - decision)
            risk.ask(EmergencyStop(latched=0))
            _wait(board, n, False)
            time.sleep(0.02 + 0.03 * np.random.random())  # loops back to their idle wait
    finally:
        for p in procs:
            if p.pid is not None:
                os.kill(p.pid, 15)
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    return out


def bench_stop_paths(run_dir: Path, stops: int, rounds: int = 3) -> list[Row]:
    """Decision -> halted over the kill flag and over the mesh, 1/2/4 executors, interleaved."""
    mesh_cfg, flag_cfg = write_configs(run_dir)
    configs = {"flag": flag_cfg, "mesh": mesh_cfg}
    ctx = zmq.Context()
    risk = _Risk(mesh_cfg, ctx)
    samples: dict[tuple[str, int], list[int]] = {(m, n): [] for m in MODES for n in EXECUTORS}
    stored: list[int] = []
    per = max(1, stops // rounds)
    try:
        for _ in range(rounds):
            for n in EXECUTORS:
                for mode in MODES:
                    samples[(mode, n)] += _round(risk, configs, mode, n, per, stored)
    finally:
        risk.close()
        ctx.destroy(0)
    rows = [latency_row(NAME, "risk decision -> kill flag set (a check refuses)",
                        np.array(stored, dtype=np.int64))]
    for mode, label in MODES.items():
        for n in EXECUTORS:
            rows.append(latency_row(NAME, f"{label} ({n} executor{'s' if n > 1 else ''}, last)",
                                    np.array(samples[(mode, n)], dtype=np.int64)))
    return rows
