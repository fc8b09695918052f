"""The default deployment under supervisord on a private devnet, and an observer of all of it.

A helper of ``python -m bench e2e`` and of the chaos test (``tests/chaos/``), not a benchmark of
its own. :class:`SupervisedMesh` brings a devnet up itself (so it can read the balances before
any trade), then runs ``alphapulse run`` against it with a private run directory, ring
namespace and supervisor socket, and no metrics ports (several meshes share a host). It talks to
supervisord over XML-RPC on the run directory's unix socket, by program name, and never assumes
which programs exist beyond the ones it asks about.

:class:`Observer` is a thread that subscribes to every node's stream (with the mesh's recovery,
so it misses nothing the publishers still hold) and reads every market-data ring from its oldest
frame, keeping what the bench and the chaos test need. :meth:`SupervisedMesh.close` stops the
run (SIGINT, as Ctrl-C), the devnet, and removes the namespace's rings and kill flag, also when
the caller failed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import posix_ipc
import zmq
from supervisor.xmlrpc import SupervisorTransport

from alphapulse.ports import free_port
from contracts import devnet
from contracts.client import Chain
from contracts.pools import erc20
from mesh.config import MeshConfig, load_config
from mesh.delivery import Delivery
from mesh.protocol import (
    ArbitrageOpportunity,
    BlockEnd,
    ExecutionResult,
    Heartbeat,
    Message,
    decode_frame,
    decode_header,
)
from mesh.pubsub import Subscriber
from mesh.rings import DomainReaders, RingBatch
from mesh.topics import prefix
from nodes.runtime.testing import StartedAndClosed
from shm.errors import NotARing, RingError
from shm.segment import list_ring_names, unlink

#: supervisord programs that are not nodes of the mesh (never killed by the chaos test).
NOT_NODES = frozenset({"simulator", "exchange", "devnet", "process-events"})
#: What the observer subscribes to (the rest of the mesh's traffic would only cost it time).
OBSERVED = (ArbitrageOpportunity, ExecutionResult, Heartbeat)
#: Bound on the run itself, in case its caller dies without stopping it.
RUN_BOUND_S = 1800


@dataclass(slots=True)
class RingFrame:
    """One market-data frame as the observer read it."""

    ring: str
    sequence: int
    timestamp_ns: int
    block_end: BlockEnd | None


@dataclass(slots=True)
class Seen:
    """What the observer collected (appended by its thread; read after :meth:`Observer.stop`
    or under ``lock``)."""

    deliveries: list[tuple[int, Delivery]] = field(default_factory=list)
    ring_frames: list[RingFrame] = field(default_factory=list)
    ring_lost: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Observer:
    """Subscribe to every node and read the market-data rings until :meth:`stop`.

    Two threads: one receives from the mesh (a receive may wait on recovery), one reads the
    rings, so neither holds the other up. ``types``: the message types subscribed to (frames
    whose first TLV is one of them). ``ring_writers``: only these writers' rings (None: all).
    ``keep_ring_frames``: keep each frame's header (and any BlockEnd), or only count what was
    read and lost.
    """

    def __init__(self, cfg: MeshConfig, *, types: tuple[type[Message], ...] = OBSERVED,
                 ring_writers: frozenset[str] | None = None, keep_ring_frames: bool = True) -> None:
        self.cfg = cfg
        self.seen = Seen()
        self.keep = keep_ring_frames
        self._halt = threading.Event()
        self._ctx: zmq.Context[Any] = zmq.Context()
        self.sub = Subscriber(self._ctx, cfg, list(cfg.nodes),
                              [prefix(int(t.DOMAIN), int(t.TLV_TYPE)) for t in types])
        self.ring_writers = ring_writers
        self.rings: dict[str, DomainReaders] = {}  # per writer: see _discover
        self._uninitialized: set[str] = set()
        self.error: BaseException | None = None
        self._threads = [threading.Thread(target=self._guard, args=(f,), name=f"e2e-{f.__name__}", daemon=True)
                         for f in (self._receive, self._read_rings)]

    def start(self) -> None:
        """Start both threads."""
        for t in self._threads:
            t.start()

    def is_alive(self) -> bool:
        """True while both threads run."""
        return all(t.is_alive() for t in self._threads)

    def _guard(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by stop()
            self.error = exc

    def _receive(self) -> None:
        while not self._halt.is_set():
            d = self.sub.recv(50)
            if d is not None:
                with self.seen.lock:
                    self.seen.deliveries.append((time.time_ns(), d))

    def _read_rings(self) -> None:
        next_discovery = 0.0
        while not self._halt.is_set():
            now = time.monotonic()
            if now >= next_discovery:
                self._discover()
                next_discovery = now + 0.2
            if not sum(r.drain(self._on_batch) for r in self.rings.values()):
                time.sleep(0.001)
        for r in self.rings.values():
            r.drain(self._on_batch, 1 << 30)

    def _discover(self) -> None:
        """One DomainReaders per writer. A segment found before its creator published the
        magic word (slower than the attacher's 1 s wait on a loaded machine) is refused by
        DomainReaders until its name points elsewhere; its reader set, which never read
        anything, is dropped and made again at the next discovery (a segment that is truly not
        a ring is only retried every 200 ms)."""
        for name in list_ring_names(self.cfg.ring_namespace):
            if name.domain == "market-data" and name.writer not in self.rings and \
                    (self.ring_writers is None or name.writer in self.ring_writers):
                self.rings[name.writer] = DomainReaders(
                    self.cfg.ring_namespace, "market-data", writers=frozenset({name.writer}),
                    on_error=functools.partial(self._ring_error, name.writer))
        for writer, readers in list(self.rings.items()):
            readers.discover(self._on_batch)
            if writer in self._uninitialized and not readers.counters():
                readers.close()
                del self.rings[writer]
        self._uninitialized.clear()

    def _ring_error(self, writer: str, exc: RingError) -> None:
        if isinstance(exc, NotARing):
            self._uninitialized.add(writer)

    def _on_batch(self, batch: RingBatch) -> None:
        name = str(batch.ring)
        with self.seen.lock:
            if batch.lost:
                self.seen.ring_lost[name] = self.seen.ring_lost.get(name, 0) + batch.lost
            if not self.keep:
                return
            for raw in batch.frames():
                header = decode_header(raw)
                frame = decode_frame(raw, verify_checksum=False)
                end = frame.first(BlockEnd)
                self.seen.ring_frames.append(RingFrame(name, header.sequence, header.timestamp_ns,
                                                       end if isinstance(end, BlockEnd) else None))

    def counters(self) -> dict[str, tuple[int, int]]:
        """Frames read and lost per ring by this observer (call after :meth:`stop`)."""
        return {c.ring: (c.frames_read, c.frames_lost) for r in self.rings.values() for c in r.counters()}

    def stop(self) -> None:
        """Stop the thread, close the sockets and readers; re-raise what ended it early."""
        self._halt.set()
        for t in self._threads:
            t.join(10)
        self.sub.close()
        self._ctx.term()
        for r in self.rings.values():
            r.close()
        if self.error is not None:
            raise self.error

    def frames_with(self, cls: type) -> list[tuple[int, Any]]:
        """``(received_ns, tlvs)`` of every delivery whose first TLV is a ``cls``."""
        with self.seen.lock:
            got = list(self.seen.deliveries)
        return [(t, d.frame.tlvs) for t, d in got if d.frame.tlvs and type(d.frame.tlvs[0]) is cls]


class SupervisedMesh(StartedAndClosed):
    """``alphapulse run`` of the default deployment on a private devnet (a context manager)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ap-e2e-", dir="/tmp"))
        self.run_dir = self.root / "run"
        self.run_dir.mkdir()
        self.paths = devnet.DevnetPaths.of(self.root / "devnet")
        self.namespace = "ape2e" + self.root.name[-8:].replace("_", "").lower()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
        env.update(ALPHAPULSE_RUN_DIR=str(self.run_dir), ALPHAPULSE_RING_NAMESPACE=self.namespace,
                   ALPHAPULSE_METRICS_BASE_PORT="0", ALPHAPULSE_DEVNET_DIR=str(self.paths.run_dir))
        self.env = env
        self.cfg = load_config(None, env=env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.manifest: dict[str, Any] = {}
        self.chain: Chain | None = None
        self.before: dict[str, int] = {}
        self.start_block = 0  # the head when the devnet was up, before any node ran

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Devnet up, balances read, then ``alphapulse run`` against it (not waited for)."""
        port = free_port()
        self.env["ALPHAPULSE_DEVNET_PORT"] = str(port)  # a devnet program finds it up and keeps it
        self.manifest, _ = devnet.up(self.paths, port=port)
        self.chain = Chain(self.manifest["rpc_url"])
        self.before = self.balances()
        self.start_block = int(self.chain.rpc("eth_blockNumber"), 16)
        log = (self.root / "run.out").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mesh", "run", "--devnet-dir", str(self.paths.run_dir),
             "--devnet-port", str(port), "--seconds", str(RUN_BOUND_S)], env=self.env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def close(self) -> None:
        """Stop the run (SIGINT), the devnet, and remove what the mesh left in /dev/shm."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        for paths in (self.paths, devnet.DevnetPaths.of(f"{self.paths.run_dir}-b")):  # chain B's too
            with contextlib.suppress(Exception):
                devnet.down(paths)
        with contextlib.suppress(posix_ipc.ExistentialError):
            posix_ipc.unlink_shared_memory("/" + self.cfg.kill_flag_name.lstrip("/"))
        for ring in list_ring_names(self.namespace) + list_ring_names(f"{self.namespace}-b"):
            unlink(ring)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- supervisord --------------------------------------------------------------------------

    def supervisor(self) -> Any:
        """supervisord's XML-RPC interface (``supervisor.*``) over the run's unix socket."""
        url = f"unix://{self.run_dir / 'supervisor.sock'}"
        proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, url))
        return proxy.supervisor

    def programs(self) -> dict[str, dict[str, Any]]:
        """supervisord's process info by program name ({} while it is not answering)."""
        try:
            return {p["name"]: p for p in self.supervisor().getAllProcessInfo()}
        except (OSError, xmlrpc.client.Error):
            return {}

    def node_programs(self) -> list[str]:
        """Programs that are nodes of the mesh: declared in the configuration, not in NOT_NODES."""
        return sorted(n for n in self.programs() if n in self.cfg.nodes and n not in NOT_NODES)

    def wait_running(self, timeout: float = 300.0, check: Callable[[], None] | None = None) -> None:
        """Wait until supervisord reports every program RUNNING (``check`` called meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            progs = self.programs()
            if progs and all(p["statename"] == "RUNNING" for p in progs.values()):
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"alphapulse run exited: {self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not all RUNNING within {timeout} s: "
                                     f"{ {n: p['statename'] for n, p in progs.items()} }")
            if check is not None:
                check()
            time.sleep(0.5)

    def output(self, tail: int = 3000) -> str:
        """The end of ``alphapulse run``'s own output."""
        return (self.root / "run.out").read_text(errors="replace")[-tail:]

    def log(self, program: str, tail: int = 3000) -> str:
        """The end of a program's log."""
        path = self.run_dir / "logs" / f"{program}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    # -- the chain ----------------------------------------------------------------------------

    def balances(self) -> dict[str, int]:
        """The recipient's balance of every devnet token, and the executor's ETH (``gas``)."""
        assert self.chain is not None
        out = {s: int(erc20(self.chain, t["address"]).functions.balanceOf(self.manifest["recipient"]).call())
               for s, t in self.manifest["tokens"].items()}
        out["gas"] = int(self.chain.rpc("eth_getBalance", [self.manifest["executor"], "latest"]), 16)
        return out
