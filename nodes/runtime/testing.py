"""Contract-test harness: run a node in a subprocess, feed it frames, check what it emits.

::

    with NodeHarness("risk", settings={"max_consecutive_failures": 2}) as h:
        h.feed(ExecutionResult(status=ExecutionStatus.REVERTED))
        h.feed(ExecutionResult(status=ExecutionStatus.REVERTED))
        alerts = h.wait_for(RiskAlert)
        h.assert_contract()

Every harness gets its own short run directory under ``/tmp`` (ipc paths stay under the
107-byte limit), its own ipc endpoints and a free Prometheus port, so pytest-xdist workers
never collide. The harness plays a node called ``feeder`` (an XPUB, so :meth:`feed` waits
until the node has subscribed: no slow-joiner loss) and collects everything the node publishes.
Everything is torn down on exit, also on failure: the process (SIGTERM, then SIGKILL), the
sockets, the run directory, every ring of the harness's private ring namespace.

Ring nodes get the same treatment: :meth:`NodeHarness.feed_ring` writes frames into a ring
of the harness's own (writer ``feeder``) once the node has attached a reader to it, and
:meth:`NodeHarness.wait_for_ring` reads what the node writes to its rings::

    with NodeHarness("tests.nodes.ring_nodes:TradeRelay") as h:
        h.feed_ring(Trade(asset_id=1, price=10, volume=1))
        relayed = h.wait_for_ring(Trade)
        h.assert_contract()

Not thread-safe: one harness per test thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Self, cast

import zmq

from alphapulse.ports import free_port
from mesh.config import MeshConfig, load_config
from mesh.domains import ring_domain
from mesh.protocol import EmergencyStop, Message, decode_frame, encode_frame
from mesh.protocol.constants import RelayDomain, SourceType
from mesh.protocol.messages import TraceContext
from mesh.pubsub import Delivery, Publisher, Subscriber
from mesh.rings import DomainReaders, RingBatch
from mesh.security import Security, generate_keys
from mesh.stop import encode_control_stop
from nodes.runtime.catalog import load_node
from nodes.runtime.contract import Contract
from shm.inspect import ring_info
from shm.segment import RingName, list_ring_names, unlink
from shm.writer import RingWriter


class StartedAndClosed:
    """``with X(...) as x``: :meth:`start` on entry (closing again if it fails), :meth:`close` on exit."""

    def start(self) -> None:
        """Bring everything up."""
        raise NotImplementedError

    def close(self) -> None:
        """Tear everything down (also after a failed start)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HarnessError(AssertionError):
    """The node under test did not do what the test waited for, or broke its contract."""


@contextlib.contextmanager
def short_dir(prefix: str = "ap-"):
    """A fresh directory under /tmp (short enough for ipc paths), removed afterwards."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    try:
        yield Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, mesh: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> Path:
    """Write a mesh TOML file with the given ``[mesh]`` keys and ``[nodes.*]`` tables."""
    lines = ["[mesh]"] + [f"{k} = {_toml_value(v)}" for k, v in mesh.items()]
    for name, body in nodes.items():
        lines.append(f"\n[nodes.{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in body.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def private_mesh(run_dir: Path, nodes: Iterable[str], **mesh: Any) -> tuple[Path, MeshConfig]:
    """A minimal mesh config in ``run_dir``: only ``nodes``, fast heartbeats, no default ports."""
    keys = {"run_dir": str(run_dir), "default_nodes": False, "metrics_base_port": 0,
            "heartbeat_ms": 100, "deadline_ms": 1000, "idle": "backoff",
            "ring_namespace": f"ap{run_dir.name.replace('-', '').replace('_', '')}"}
    keys.update(mesh)
    node_tables: dict[str, dict[str, Any]] = {n: {} for n in nodes}
    path = write_config(run_dir / "mesh.toml", keys, node_tables)
    return path, load_config(path, env={})


def reader_ready(ring: RingName, pid: int) -> bool:
    """Whether process ``pid`` holds a reader slot on ``ring`` positioned in its current epoch
    (it has claimed the slot and chosen where to start: frames written now reach it)."""
    info = ring_info(ring)
    return any(r.pid == pid and r.epoch == info.epoch for r in info.readers)


#: How long a feed waits for the node to attach to the harness's ring: a node compiles its
#: ring kernel on first attach, which takes tens of seconds on a loaded 2-core host.
RING_ATTACH_S = 60.0
#: How long a wait for something the node must do (subscribe, publish, write, answer) may take
#: by default before it fails; each ends as soon as its condition holds.
WAIT_S = 30.0


class NodeHarness(StartedAndClosed):
    """Run node ``kind`` in a subprocess against a private mesh; feed and collect frames.

    Parameters
    ----------
    kind : str
        Node kind from the catalog or ``module:Class``.
    settings : dict, optional
        The node's configuration keys.
    mesh : dict, optional
        Extra ``[mesh]`` keys.
    extra_nodes : iterable of str
        More node names to declare (other subprocesses a test starts itself).
    start_timeout : float
        Seconds to wait for the node's first heartbeat.
    curve : bool
        Run the node with ``curve = true`` on tcp endpoints (free loopback ports): key pairs
        for the node and ``feeder`` are generated in ``<run_dir>/keys``; the harness speaks
        as ``feeder`` (the feeder is a CURVE server with its own ZAP authenticator, the
        collector and :meth:`control` are CURVE clients pinned to the node's key).
    """

    def __init__(self, kind: str, *, settings: dict[str, Any] | None = None,
                 mesh: dict[str, Any] | None = None, extra_nodes: Iterable[str] = (),
                 name: str | None = None, start_timeout: float = 60.0,
                 curve: bool = False) -> None:
        self.node_cls = load_node(kind)
        self.contract: Contract = self.node_cls.CONTRACT
        self.kind = kind
        self.name = name or self.contract.kind
        self.settings = dict(settings or {})
        self.mesh_keys = dict(mesh or {})
        self.extra_nodes = list(extra_nodes)
        self.start_timeout = start_timeout
        self.curve = curve
        self.security: Security | None = None
        self.deliveries: list[Delivery] = []
        #: Frames the node wrote to its rings, with the ring's domain, in order.
        self.ring_frames: list[tuple[RelayDomain, bytes]] = []
        self._ring_feeders: dict[tuple[RelayDomain, str, str], RingWriter] = {}
        self._ring_sequence = 0
        self._ring_collectors: dict[RelayDomain, DomainReaders] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._stack = contextlib.ExitStack()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Write the config, bind the feeder, spawn the node, wait for its first heartbeat."""
        self.run_dir = self._stack.enter_context(short_dir())
        self.metrics_port = free_port()
        keys = {"run_dir": str(self.run_dir), "default_nodes": False, "metrics_base_port": 0,
                "heartbeat_ms": 100, "deadline_ms": 1000, "idle": "backoff",
                "ring_namespace": "ap" + self.run_dir.name[3:].replace("_", "")}
        nodes = {self.name: {"metrics_port": self.metrics_port, **self.settings},
                 "feeder": {}, **{n: {} for n in self.extra_nodes}}
        if self.curve:
            keys["curve"] = True
            for name in (self.name, "feeder"):
                nodes[name] = {"pub": f"tcp://127.0.0.1:{free_port()}",
                               "service": f"tcp://127.0.0.1:{free_port()}", **nodes[name]}
        keys.update(self.mesh_keys)
        self.config_path = write_config(self.run_dir / "mesh.toml", keys, nodes)
        self.cfg = load_config(self.config_path, env={})
        if self.cfg.curve:
            for name in (self.name, "feeder"):
                generate_keys(self.cfg.keys_path, name)
        ctx = zmq.Context()
        self.ctx: zmq.Context[zmq.Socket[bytes]] | None = ctx  # None once closed
        client = None
        if self.cfg.curve:
            self.security = Security(self.cfg, "feeder")
            self.security.start_authenticator(ctx)
            client = self.security.client
        # The PUB binds a scratch ipc path: its tcp port is left free for the XPUB below.
        scratch = replace(self.cfg.node("feeder"), pub=f"ipc://{self.run_dir}/feeder0.pub")
        self.feeder = Publisher(ctx, replace(self.cfg, nodes={**self.cfg.nodes,
                                                              "feeder": scratch}),
                                "feeder", source=SourceType.DASHBOARD)
        # Swap in an XPUB so we can see the node's subscriptions arrive (no slow joiner).
        self.feeder.socket.close(0)
        self.feeder.endpoint = self.cfg.node("feeder").pub
        self.feeder.socket = ctx.socket(zmq.XPUB)
        self.feeder.socket.linger = 0
        if self.security is not None:
            self.security.server(self.feeder.socket)
        self.feeder.socket.bind(self.feeder.endpoint)
        self._subscriptions: set[bytes] = set()
        self.collector = Subscriber(ctx, self.cfg, [self.name], [b""], secure=client)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
        self.log_path = self.run_dir / f"{self.name}.log"
        log = self._stack.enter_context(self.log_path.open("wb"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nodes.runtime", self.kind, "--name", self.name,
             "--config", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT, env=env)
        from mesh.protocol import Heartbeat
        self.wait_for(Heartbeat, timeout=self.start_timeout)

    def close(self) -> None:
        """Stop the node (SIGTERM, then SIGKILL), close sockets, remove the run directory."""
        with contextlib.suppress(HarnessError):
            self.stop()
        for attr in ("collector", "feeder"):
            obj = getattr(self, attr, None)
            if obj is not None:
                obj.socket.close(0)
                if attr == "collector":
                    obj.recovery.close()
        if self.security is not None:
            self.security.stop_authenticator()
            self.security = None
        ctx = getattr(self, "ctx", None)
        if ctx is not None:
            ctx.term()
            self.ctx = None
        self._close_rings()
        with contextlib.suppress(Exception):
            from shm.kill_flag import KillFlag
            KillFlag(self.cfg.kill_flag_name).unlink()
        self._stack.close()

    def _close_rings(self) -> None:
        for collector in self._ring_collectors.values():
            collector.close()
        self._ring_collectors.clear()
        for writer in self._ring_feeders.values():
            writer.unlink()
            writer.close()
        self._ring_feeders.clear()
        cfg = getattr(self, "cfg", None)
        if cfg is not None:  # the node's own rings, if it died before unlinking them
            for name in list_ring_names(cfg.ring_namespace):
                unlink(name)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the node and wait; SIGKILL after ``timeout``. Returns the exit status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                raise HarnessError(f"{self.name} ignored SIGTERM for {timeout} s") from None
        return proc.returncode

    def log(self) -> str:
        """The node's stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    # -- feeding and collecting --------------------------------------------------------------

    def _wait_subscribed(self, topic_prefix: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        sock = self.feeder.socket
        while not any(topic_prefix.startswith(s) for s in self._subscriptions):
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(int(left * 1000) + 1):
                return False
            msg = sock.recv()
            if msg[:1] == b"\x01":
                self._subscriptions.add(msg[1:])
        return True

    def feed(self, *tlvs: Message, key: int | None = None, timeout: float = WAIT_S) -> int:
        """Publish one frame from ``feeder`` once the node subscribes to its type."""
        first = tlvs[0]
        want = b"%d/%03d/" % (int(first.DOMAIN), first.TLV_TYPE)
        if not self._wait_subscribed(want, timeout):
            raise HarnessError(f"{self.name} never subscribed to {want!r}")
        return self.feeder.publish(list(tlvs), key=key)

    def feed_raw(self, topic: bytes, data: bytes) -> None:
        """Send arbitrary bytes (malformed-input tests)."""
        self._wait_subscribed(topic[:6], 5.0)
        self.feeder.socket.send_multipart([topic, data])

    # -- rings -----------------------------------------------------------------------------

    def ring_feeder(self, domain: RelayDomain = RelayDomain.MARKET_DATA,
                    writer: str = "feeder", capacity: int = 1 << 16,
                    namespace: str | None = None) -> RingWriter:
        """The harness's ring of ``domain`` written as ``writer`` (created on first use), in
        the mesh's ring namespace or ``namespace`` (a node's ``ring_namespaces``)."""
        key = (domain, writer, namespace or self.cfg.ring_namespace)
        if key not in self._ring_feeders:
            self._ring_feeders[key] = RingWriter.create(
                ring_domain(domain), writer, namespace=key[2], capacity=capacity)
        return self._ring_feeders[key]

    def drop_ring_feeder(self, domain: RelayDomain = RelayDomain.MARKET_DATA,
                         writer: str = "feeder", namespace: str | None = None) -> None:
        """Unlink and close the harness's ring (a writer leaving); the next feed makes anew."""
        ring = self._ring_feeders.pop((domain, writer, namespace or self.cfg.ring_namespace))
        ring.unlink()
        ring.close()

    def wait_ring_reader(self, writer: RingWriter, timeout: float = RING_ATTACH_S) -> None:
        """Wait until the node reads ``writer``'s ring (slot claimed and positioned)."""
        pid = self.proc.pid if self.proc is not None else -1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if reader_ready(writer.name, pid):
                return
            time.sleep(0.01)
        raise HarnessError(f"{self.name} never attached to ring {writer.name}\n"
                           f"--- node log ---\n{self.log()[-3000:]}")

    def feed_ring(self, *tlvs: Message, writer: str = "feeder", timeout: float = RING_ATTACH_S,
                  namespace: str | None = None) -> int:
        """Write one frame of ``tlvs`` to the harness's ring of their domain (in ``namespace``,
        default the mesh's) once the node reads that ring; return the frame's header sequence."""
        seq = self._ring_sequence
        frame = encode_frame(list(tlvs), source=int(SourceType.DASHBOARD), sequence=seq)
        self.feed_ring_raw(frame, RelayDomain(tlvs[0].DOMAIN), writer=writer, timeout=timeout,
                           namespace=namespace)
        self._ring_sequence = seq + 1
        return seq

    def feed_ring_raw(self, frame: bytes, domain: RelayDomain = RelayDomain.MARKET_DATA, *,
                      writer: str = "feeder", timeout: float = RING_ATTACH_S,
                      namespace: str | None = None) -> None:
        """Write arbitrary bytes as one ring frame (malformed-input tests)."""
        ring = self.ring_feeder(domain, writer, namespace=namespace)
        self.wait_ring_reader(ring, timeout)
        if not ring.write(frame):
            raise HarnessError(f"ring {ring.name} is full")

    def collect_ring(self, until: Callable[[list[tuple[RelayDomain, bytes]]], bool] | None = None,
                     timeout: float = 5.0) -> list[tuple[RelayDomain, bytes]]:
        """Read the node's rings until ``until(all ring frames so far)`` holds or ``timeout``."""
        if not self._ring_collectors:
            for domain in self.contract.writes:
                self._ring_collectors[domain] = DomainReaders(
                    self.cfg.ring_namespace, domain, writers=frozenset({self.name}))
        deadline = time.monotonic() + timeout
        while True:
            for domain, readers in self._ring_collectors.items():
                def keep(batch: RingBatch, domain: RelayDomain = domain) -> None:
                    self.ring_frames.extend((domain, f) for f in batch.frames())
                readers.discover(keep)
                readers.drain(keep)
            if until is not None and until(self.ring_frames):
                return self.ring_frames
            if time.monotonic() >= deadline:
                return self.ring_frames
            time.sleep(0.005)

    def ring_produced(self, cls: type[Message]) -> list[Message]:
        """Every ``cls`` TLV the node wrote to its rings so far, in order."""
        return [t for _, raw in self.ring_frames for t in decode_frame(raw).tlvs
                if type(t) is cls]

    def wait_for_ring(self, cls: type[Message], count: int = 1, timeout: float = WAIT_S,
                      where: Callable[[Any], bool] | None = None) -> list[Message]:
        """Wait until the node wrote ``count`` matching ``cls`` TLVs to its rings."""
        return self._wait_matching(self.ring_produced, self.collect_ring, cls, count, timeout,
                                   where, " in its rings")

    # -- collecting from the mesh --------------------------------------------------------------

    def collect(self, until: Callable[[list[Delivery]], bool] | None = None,
                timeout: float = 5.0) -> list[Delivery]:
        """Receive until ``until(all deliveries so far)`` holds or ``timeout``; return all."""
        deadline = time.monotonic() + timeout
        while True:
            if until is not None and until(self.deliveries):
                return self.deliveries
            left = deadline - time.monotonic()
            if left <= 0:
                return self.deliveries
            d = self.collector.recv(int(min(left, 0.2) * 1000) + 1)
            if d is not None:
                self.deliveries.append(d)

    def produced(self, cls: type[Message]) -> list[Message]:
        """Every ``cls`` TLV collected so far, in order."""
        return [t for d in self.deliveries for t in d.frame.tlvs if type(t) is cls]

    def wait_for(self, cls: type[Message], count: int = 1, timeout: float = WAIT_S,
                 where: Callable[[Any], bool] | None = None) -> list[Message]:
        """Wait until ``count`` matching ``cls`` TLVs were collected; raise on timeout."""
        return self._wait_matching(self.produced, self.collect, cls, count, timeout, where, "")

    def _wait_matching(self, produced: Callable[[type[Message]], list[Message]],
                       collect: Callable[..., object], cls: type[Message], count: int,
                       timeout: float, where: Callable[[Any], bool] | None,
                       place: str) -> list[Message]:
        def match() -> list[Message]:
            return [t for t in produced(cls) if where is None or where(t)]
        collect(lambda _: len(match()) >= count, timeout)
        found = match()
        if len(found) < count:
            raise HarnessError(f"{self.name}: {len(found)} of {count} {cls.__name__}{place} "
                               f"within {timeout} s\n--- node log ---\n{self.log()[-3000:]}")
        return found

    def assert_contract(self) -> None:
        """Every collected frame, from the mesh and from the node's rings: declared domain and
        types only, one source, checksum ok; ring frames only in rings the contract writes."""
        allowed = {t.TLV_TYPE: t for t in self.contract.all_produces}
        for domain, raw in self.ring_frames:
            frame = decode_frame(raw)
            if domain not in self.contract.writes:
                raise HarnessError(f"{self.name} wrote a ring of {domain.name}, not in its "
                                   f"contract")
            if frame.header.source != int(self.contract.source):
                raise HarnessError(f"ring frame from source {frame.header.source}, contract "
                                   f"says {int(self.contract.source)}")
            if frame.header.domain != int(domain):
                raise HarnessError(f"ring frame of domain {frame.header.domain} in the "
                                   f"{domain.name} ring")
            for tlv in frame.tlvs:
                number = getattr(tlv, "TLV_TYPE", getattr(tlv, "tlv_type", None))
                if number not in allowed or (int(allowed[number].DOMAIN) != int(domain)
                                             and number != TraceContext.TLV_TYPE):  # rides any frame
                    raise HarnessError(f"{self.name} wrote type {number} to its {domain.name} "
                                       f"ring; contract allows {sorted(allowed)}")
        for d in self.deliveries:
            frame = decode_frame(d.raw)
            if frame.header.source != int(self.contract.source):
                raise HarnessError(f"frame from source {frame.header.source}, contract says "
                                   f"{int(self.contract.source)}")
            if d.topic.publisher != self.name:
                raise HarnessError(f"frame published as {d.topic.publisher!r}")
            for tlv in frame.tlvs:
                number = getattr(tlv, "TLV_TYPE", getattr(tlv, "tlv_type", None))
                if number not in allowed:
                    raise HarnessError(f"{self.name} produced type {number}, not in its "
                                       f"contract {sorted(allowed)}")
            if frame.header.domain != int(allowed[d.topic.tlv_type].DOMAIN):
                raise HarnessError(f"type {d.topic.tlv_type} sent on domain "
                                   f"{frame.header.domain}")

    # -- control and metrics -----------------------------------------------------------------

    def control(self, stop: EmergencyStop, timeout: float = WAIT_S) -> bytes:
        """Send a stop/resume to the node's service endpoint; return its reply status."""
        # cast, not a None check: after close() this still fails as before (AttributeError)
        sock = cast("zmq.Context[zmq.Socket[bytes]]", self.ctx).socket(zmq.DEALER)
        sock.linger = 0
        try:
            service = self.cfg.node(self.name).service
            if self.security is not None:
                self.security.client(sock, self.name, service)
            sock.connect(service)
            sock.send(encode_control_stop(stop))
            if not sock.poll(int(timeout * 1000)):
                raise HarnessError(f"{self.name} did not answer a control request")
            return sock.recv()
        finally:
            sock.close(0)

    def metrics(self) -> str:
        """The node's Prometheus exposition text."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """One sample's value from :meth:`metrics` (0.0 if absent)."""
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in self.metrics().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                head, _, value = line.rpartition(" ")
                if all(part in head for part in want.split(",") if part):
                    return float(value)
        return 0.0
