"""Several real nodes as separate processes on a private mesh, and an observer of everything.

Each node is ``python -m nodes.runtime KIND`` with its own log; the observer subscribes to every
node's stream. :meth:`LiveMesh.close` stops the nodes (SIGTERM, then SIGKILL), closes the sockets
and removes the rings and the kill flag of the mesh's namespace, also when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from mesh.config import load_config
from mesh.delivery import Delivery
from mesh.protocol import Heartbeat, Message
from mesh.protocol.constants import NodeState
from mesh.pubsub import Subscriber
from nodes.runtime.testing import StartedAndClosed, write_config
from shm.kill_flag import KillFlag
from shm.segment import list_ring_names, unlink


class LiveMesh(StartedAndClosed):
    """Nodes ``{name: (kind, settings)}`` in ``run_dir``, started in the given order."""

    def __init__(self, run_dir: Path, nodes: dict[str, tuple[str, dict[str, Any]]], **mesh: Any):
        self.run_dir = run_dir
        self.nodes = nodes
        keys = {"run_dir": str(run_dir), "default_nodes": False, "metrics_base_port": 0,
                "heartbeat_ms": 100, "deadline_ms": 3000, "idle": "backoff",
                "ring_namespace": "ap" + run_dir.name.replace("-", "").replace("_", "")[-12:]}
        keys.update(mesh)
        tables = {name: dict(settings) for name, (_, settings) in nodes.items()}
        tables["observer"] = {}
        self.config_path = write_config(run_dir / "mesh.toml", keys, tables)
        self.cfg = load_config(self.config_path, env={})
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.deliveries: list[Delivery] = []
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.sub = Subscriber(self.ctx, self.cfg, list(nodes), [b""])

    def start(self, timeout: float = 90.0) -> None:
        """Spawn every node; wait until each one's heartbeat says RUNNING."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
        for name, (kind, _) in self.nodes.items():
            log = (self.run_dir / f"{name}.log").open("wb")
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "nodes.runtime", kind, "--name", name, "--config", str(self.config_path)],
                stdout=log, stderr=subprocess.STDOUT, env=env)
            log.close()
        running: set[str] = set()
        deadline = time.monotonic() + timeout
        while running != set(self.nodes):
            if time.monotonic() > deadline:
                raise AssertionError(f"not running within {timeout} s: {set(self.nodes) - running}\n{self.logs()}")
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited with {proc.returncode}\n{self.log(name)[-3000:]}")
            self.collect(timeout=0.2)
            running = {hb.node for hb in self.produced(Heartbeat) if hb.state in (NodeState.RUNNING, NodeState.HALTED)}

    def collect(self, until: Callable[[list[Delivery]], bool] | None = None, timeout: float = 5.0) -> bool:
        """Receive until ``until(deliveries)`` holds (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while True:
            if until is not None and until(self.deliveries):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return until is None
            d = self.sub.recv(int(min(left, 0.1) * 1000) + 1)
            if d is not None:
                self.deliveries.append(d)

    def produced(self, cls: type[Message]) -> list[Any]:
        """Every ``cls`` TLV received so far."""
        return [t for d in self.deliveries for t in d.frame.tlvs if type(t) is cls]

    def frames_with(self, cls: type[Message]) -> list[tuple[Any, ...]]:
        """The TLVs of every frame whose first TLV is a ``cls``."""
        return [d.frame.tlvs for d in self.deliveries if d.frame.tlvs and type(d.frame.tlvs[0]) is cls]

    def alphapulse(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``alphapulse ARGS --config <this mesh>`` as an operator would."""
        return subprocess.run([sys.executable, "-m", "mesh", *args, "--config", str(self.config_path)],
                              capture_output=True, text=True, timeout=30,
                              env={k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")})

    def log(self, name: str) -> str:
        """A node's output so far."""
        return (self.run_dir / f"{name}.log").read_text(errors="replace")

    def logs(self, tail: int = 1500) -> str:
        """The end of every node's log."""
        return "\n".join(f"--- {n} ---\n{self.log(n)[-tail:]}" for n in self.nodes)

    def close(self) -> None:
        """Stop every node, close the observer, remove the namespace's rings and kill flag."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.sub.socket.close(0)
        self.sub.recovery.close()
        self.ctx.term()
        for name in list_ring_names(self.cfg.ring_namespace):
            unlink(name)
        with contextlib.suppress(Exception):
            KillFlag(self.cfg.kill_flag_name).unlink()
