"""The node runtime: lifecycle, run loop, heartbeats, stop latch, control, metrics, signals.

Lifecycle of :meth:`NodeRuntime.run`:

1. validate the node's settings against its contract; open a context (I/O threads and their
   affinity from configuration), the PUB, the SUB (to every other configured node, filtered
   to the contract's consumed types plus heartbeats and stops), the service ROUTER (recovery
   and stop/resume control), the rings the contract writes and readers on every writer of the
   domains it reads, in the node's ring namespace (its ``ring_namespace`` key, else the
   mesh's) and in every namespace of its ``ring_namespaces`` key
   (:mod:`nodes.runtime.rings`), the offload facility for blocking and async
   work (:mod:`nodes.runtime.offload`), the Prometheus endpoint, and for nodes that obey
   stops the kill flag and the dead man's switch; ``on_start``; compile ``RING_KERNEL``;
2. loop: drain the SUB (each frame to the stop guard and to ``on_frame``), drain the rings
   (batches to ``RING_KERNEL`` or ``on_ring_batch``), run finished offloaded work's
   callbacks, serve the ROUTER, ``on_tick``, heartbeat when due; when a pass did nothing, the
   idle strategy waits. Every wait of a millisecond or more (``block``, and the long sleeps of
   ``backoff`` and ``sleep``) is a ``zmq_poll`` on the sockets and the offload's wake-up pipe,
   so a stop, a control request or a frame ends it at once (see :func:`idle_wait_ms`);
3. on SIGTERM or SIGINT (or :meth:`request_stop`): state STOPPING, ``on_stop``, a last
   heartbeat, close the sockets (pending frames flushed within the linger), unlink the ipc
   files, close the readers and unlink the node's rings, stop the offload threads and the
   metrics server.

A node never dies on bad input: every error from the project's tree is counted by ``kind``;
any other exception from a node hook is counted as ``node_exception`` and logged.

Thread-safety: everything runs on the thread that called :meth:`run`, except the metrics
server thread, which only reads counters, and offloaded work, whose results come back to the
loop thread. Signal handlers only set a flag.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

import numpy as np
import zmq

from alphapulse.errors import AlphaPulseError, ConfigError
from mesh.config import MeshConfig
from mesh.protocol import EmergencyStop, Heartbeat, Message, UnknownTLV
from mesh.protocol.constants import SUPPORTED_VERSIONS, NodeState, RelayDomain, StopScope
from mesh.pubsub import (
    Delivery,
    Publisher,
    Subscriber,
    make_context,
    prepare_endpoint,
    unlink_endpoint,
)
from mesh.rings import RingBatch
from mesh.security import Security
from mesh.stats import MeshStats
from mesh.stop import StopGuard, StopLatch, new_stop_id
from mesh.topics import prefix
from nodes.runtime.control import ControlService
from nodes.runtime.metrics import MetricsServer
from nodes.runtime.node import Node
from nodes.runtime.offload import Offload
from nodes.runtime.rings import NodeRings
from shm.idle import (
    BACKOFF,
    IS_COUNT,
    IS_KIND,
    IS_MAX_NS,
    IS_SLEEP_NS,
    IS_SPINS,
    IS_YIELDS,
    SLEEP,
    IdleStrategy,
    idle_step,
)
from shm.kill_flag import KillFlag

_DRAIN = 256
#: Longest ``zmq_poll`` wait of the ``block`` idle strategy, and of a node that reads rings
#: (rings have no file descriptor to wake a poll).
_BLOCK_MS = 50
_RING_BLOCK_MS = 1


class NodeRuntime:
    """Run one node.

    Parameters
    ----------
    node_cls : type[Node]
        The node class (its ``CONTRACT`` names the kind).
    cfg : MeshConfig
    name : str, optional
        Node name in the configuration (default: the contract's kind).
    """

    def __init__(self, node_cls: type[Node], cfg: MeshConfig, name: str | None = None) -> None:
        self.contract = node_cls.CONTRACT
        self.name = name or self.contract.kind
        self.cfg = cfg
        self.node_cfg = cfg.node(self.name)
        self.settings = self.contract.resolve_settings(self.node_cfg.settings, self.name)
        self.stats = MeshStats()
        self.state = NodeState.STARTING
        self.latch = StopLatch(self.name)
        self.log = logging.getLogger(f"alphapulse.{self.name}")
        self.idle = loop_idle(str(self.settings.get("idle") or cfg.idle))
        self._idle_state = self.idle.state()
        c = self.contract
        #: The namespace of this node's rings (its ``ring_namespace`` key, else the mesh's).
        self.ring_namespace = str(self.settings["ring_namespace"] or cfg.ring_namespace)
        self.rings = NodeRings(self.ring_namespace, self.name, c.writes, c.reads,
                               cfg.ring_capacity, int(c.source), self.stats,
                               extra_namespaces=self.settings["ring_namespaces"])
        self.offload = Offload(self.name)
        self._kernel: Any = None
        self.started_ns = time.time_ns()
        self.guard: StopGuard | None = None
        self.kill_flag: KillFlag | None = None
        #: The host's kill flag this node sets when it latches a stop of scope ALL and clears
        #: when it releases one (the risk node opens it); None: latch and mesh only.
        self.stop_flag: KillFlag | None = None
        self.metrics: MetricsServer | None = None
        self._stop_requested = False
        self._consumed = frozenset(t.TLV_TYPE for t in self.contract.consumes)
        self.node = node_cls(self)

    # -- lifecycle ---------------------------------------------------------------------------

    def request_stop(self, *_: object) -> None:
        """Ask the loop to stop gracefully (signal-safe: only sets a flag)."""
        self._stop_requested = True

    def start(self) -> None:
        """Open sockets, metrics, kill flag; call ``on_start``; send the first heartbeat."""
        cfg = self.cfg
        self.ctx = make_context(cfg)
        self.security = Security(cfg, self.name) if cfg.curve else None
        if self.security is not None:
            self.security.start_authenticator(self.ctx)
        server = self.security.server if self.security else None
        client = self.security.client if self.security else None
        self.pub = Publisher(self.ctx, cfg, self.name, source=self.contract.source,
                             stats=self.stats, secure=server)
        prefixes = [prefix(int(t.DOMAIN), t.TLV_TYPE) for t in self.contract.all_consumes]
        others = [n for n in cfg.nodes if n != self.name]
        self.sub = Subscriber(self.ctx, cfg, others, prefixes, stats=self.stats, secure=client,
                              lazy=True)
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        if server is not None:
            server(self.router)
        prepare_endpoint(self.node_cfg.service)
        self.router.bind(self.node_cfg.service)
        self.control = ControlService(self)
        if self.contract.obeys_stop:
            self.kill_flag = KillFlag(cfg.kill_flag_name)
            self.guard = StopGuard(cfg.deadline_ms * 1_000_000, "risk", self.kill_flag)
        self.rings.open()
        if self.node_cfg.metrics_port:
            self.metrics = MetricsServer(self.name, self.stats, self._gauges,
                                         self.node_cfg.metrics_port, rings=self.rings.counters)
        self.node.on_start()
        kernel = self._kernel = type(self.node).RING_KERNEL  # not via the instance: a numba
        if kernel is not None and self.contract.reads:       # dispatcher binds like a method
            # compile now, not on the first batch in the middle of trading
            kernel(np.zeros(0, np.uint8), np.zeros(1, np.int64), 0, self.node.ring_context)
        self.rings.discover_now(self._deliver_batch)
        self.state = NodeState.RUNNING
        self.heartbeat()
        self.log.info("started: pub %s service %s metrics %s", self.pub.endpoint,
                      self.node_cfg.service, self.node_cfg.metrics_port or "off")

    def run(self, install_signals: bool = True) -> int:
        """Start, loop until asked to stop, shut down; return the exit status."""
        if install_signals:
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        self.start()
        try:
            self._loop()
        finally:
            self.shutdown()
        return 0

    def _loop(self) -> None:
        interval_ns = self.cfg.heartbeat_ms * 1_000_000
        next_beat = time.monotonic_ns() + interval_ns
        poller = zmq.Poller()
        poller.register(self.sub.socket, zmq.POLLIN)
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.offload.wakeup_fd, zmq.POLLIN)
        block_ms = (_RING_BLOCK_MS if self.contract.reads else _BLOCK_MS) \
            if self.idle.kind == "block" else 0
        while not self._stop_requested:
            work = 0
            for _ in range(_DRAIN):
                delivery = self.sub.recv(0)
                if delivery is None:
                    break
                work += 1
                self._dispatch(delivery)
            now = time.monotonic_ns()
            if self.rings:
                work += self.rings.poll(now, self._deliver_batch)
            work += self.offload.run_completions(self._run_callback)
            work += self.control.serve()
            try:
                work += self.node.on_tick(now)
            except AlphaPulseError as exc:
                self.stats.error(exc.kind)
            except Exception:  # a node never dies on one bad pass
                self.stats.error("node_exception")
                self.log.exception("on_tick failed")
            if self.guard is not None:
                state = NodeState.HALTED if self.halted() else NodeState.RUNNING
                if state != self.state:
                    self.state = state
                    self.log.warning("state %s: %s", state.name, self.guard.reason())
                    next_beat = now  # announce the change at once
            if now >= next_beat:
                self.heartbeat()
                next_beat = now + interval_ns
            if work:
                idle_step(self._idle_state, work)
                continue
            wait_ms = block_ms or idle_wait_ms(self._idle_state)
            if wait_ms:
                left_ms = max(0, (next_beat - time.monotonic_ns()) // 1_000_000)
                poller.poll(min(wait_ms, left_ms))
                if not block_ms:
                    self._idle_state[IS_COUNT] += 1
            else:
                idle_step(self._idle_state, 0)

    def shutdown(self) -> None:
        """Graceful stop: ``on_stop``, last heartbeat, close and unlink everything."""
        self.state = NodeState.STOPPING
        try:
            self.node.on_stop()
        except Exception:  # shutdown must finish
            self.stats.error("node_exception")
            self.log.exception("on_stop failed")
        if hasattr(self, "pub"):
            self.heartbeat()
            self.pub.close()
        if hasattr(self, "sub"):
            self.sub.close()
        if hasattr(self, "router"):
            self.router.close(0)
            unlink_endpoint(self.node_cfg.service)
        self.offload.close()
        self.rings.close()
        if self.metrics is not None:
            self.metrics.close()
        if self.kill_flag is not None:
            self.kill_flag.close()
        if self.stop_flag is not None and self.stop_flag is not self.kill_flag:
            self.stop_flag.close()
        if self.security is not None and hasattr(self, "ctx"):
            self.security.stop_authenticator()
        if hasattr(self, "ctx"):
            self.ctx.term()
        self.log.info("stopped")

    # -- frames ------------------------------------------------------------------------------

    def _dispatch(self, delivery: Delivery) -> None:
        """Hand one delivery to the stop guard (system domain) and to ``on_frame``.

        Deliveries are lazy: the TLVs are decoded when the guard or the node first reads
        ``delivery.frame``. A frame whose TLVs turn out malformed is counted by the delivery
        itself (its ``error``), so it is not counted twice here.
        """
        topic = delivery.topic
        try:
            if topic.domain == RelayDomain.SYSTEM and self.guard is not None:
                self.guard.observe(delivery.frame, topic.publisher)
            if topic.tlv_type not in self._consumed:
                return
            self.node.on_frame(delivery)
        except AlphaPulseError as exc:
            if exc is not delivery.error:
                self.stats.error(exc.kind)
        except Exception:  # a node never dies on one bad frame
            self.stats.error("node_exception")
            self.log.exception("on_frame failed")

    def _deliver_batch(self, batch: RingBatch) -> None:
        """Hand one ring batch to the node's ``RING_KERNEL`` or ``on_ring_batch``."""
        node = self.node
        try:
            if self._kernel is not None:
                rejected = int(self._kernel(batch.data, batch.offsets, batch.count,
                                            node.ring_context))
                if rejected:
                    self.stats.errors["ring_frame_rejected"] += rejected
            else:
                node.on_ring_batch(batch)
        except AlphaPulseError as exc:
            self.stats.error(exc.kind)
        except Exception:  # a node never dies on one bad batch
            self.stats.error("node_exception")
            self.log.exception("ring batch from %s failed", batch.ring)

    def _run_callback(self, fn: Any, args: tuple[Any, ...]) -> None:
        """Run an offload completion or posted callable with the hooks' error isolation."""
        try:
            fn(*args)
        except AlphaPulseError as exc:
            self.stats.error(exc.kind)
        except Exception:  # a node never dies on one failed job
            self.stats.error("node_exception")
            self.log.exception("offloaded work failed")

    def write_ring(self, tlvs: Any) -> bool:
        """Write one frame of ``tlvs`` to this node's ring of their domain (see
        :meth:`nodes.runtime.rings.NodeRings.write`); False on a full lossless ring."""
        return self.rings.write(tlvs)

    def publish(self, tlvs: Any, *, key: int | None = None) -> int:
        """Publish one frame of ``tlvs`` (a message or a list); return its header sequence."""
        if isinstance(tlvs, Message | UnknownTLV):
            tlvs = [tlvs]
        return self.pub.publish(tlvs, key=key)

    def publish_frame(self, frame: bytes, tlv_type: int, key: int = 0) -> int:
        """Publish a frame encoded elsewhere (restamped with this node's numbering).

        For relays and producers that hold encoded frames: see
        :meth:`mesh.pubsub.Publisher.publish_frame`.
        """
        return self.pub.publish_frame(frame, tlv_type, key)

    def halted(self) -> bool:
        """True if this node must not act (only nodes whose contract obeys stops): a stop latched
        by another node or on this one (an operator's stop sent to its service endpoint), the
        kill flag, or the dead man's switch."""
        return self.guard is not None and (self.guard.halted() or self.latch.latched)

    # -- stop latch and heartbeats -----------------------------------------------------------

    def raise_stop(self, reason: str, **kwargs: Any) -> EmergencyStop:
        """Latch an emergency stop, publish it and a heartbeat carrying it; return it.

        With a :attr:`stop_flag` and scope ALL, the host's kill flag is set first: every
        executor on this host refuses to sign or send from that store on, before any frame
        leaves (docs/engineering-notes.md §8).
        """
        flag = self.stop_flag
        if flag is not None and not self.latch.latched \
                and int(kwargs.get("scope", StopScope.ALL)) == StopScope.ALL:
            kwargs["stop_id"] = kwargs.get("stop_id") or new_stop_id()
            flag.set(kwargs["stop_id"])
        stop = self.latch.raise_stop(reason, **kwargs)
        self.pub.publish([stop])
        self.heartbeat()
        self.log.warning("emergency stop %d latched: %s", stop.stop_id, reason)
        return stop

    def release_stop(self) -> EmergencyStop | None:
        """Release the latch, publish the resume and a heartbeat; return the resume.

        The host's kill flag (:attr:`stop_flag`) is cleared only when a latch is released
        here, so a flag an operator set while this node was down stays set.
        """
        resume = self.latch.release()
        if resume is not None:
            if self.stop_flag is not None:
                self.stop_flag.clear()
            self.pub.publish([resume])
            self.heartbeat()
            self.log.warning("emergency stop %d released", resume.stop_id)
        return resume

    def heartbeat(self) -> None:
        """Publish ``[Heartbeat]``, plus the latched ``EmergencyStop`` while one is latched."""
        st = self.stats
        s = self.latch.state
        hb = Heartbeat(timestamp_ns=time.time_ns(), started_ns=self.started_ns,
                       frames_in=st.frames_in, frames_out=st.frames_out,
                       errors=st.error_total, gaps=st.gaps, drops=st.drops,
                       stop_id=s.stop_id if s else 0, pid=os.getpid(),
                       interval_ms=self.cfg.heartbeat_ms, state=int(self.state),
                       min_version=min(SUPPORTED_VERSIONS), max_version=max(SUPPORTED_VERSIONS),
                       stop_latched=1 if s else 0, node=self.name)
        self.pub.publish([hb, self.latch.message()] if s else [hb], key=0)

    def _gauges(self) -> dict[str, float]:
        return {"node_state": int(self.state), "stop_latched": 1 if self.latch.latched else 0,
                "halted": 1 if self.state == NodeState.HALTED else 0}

def loop_idle(name: str) -> IdleStrategy:
    """The run loop's idle strategy called ``name``: back-off sleeps from 50 µs up to 1 ms,
    ``block`` polls up to 50 ms; raises :class:`ConfigError` for an unknown kind."""
    try:
        return IdleStrategy(kind=name, spins=100, yields=20, min_sleep_ns=50_000,
                            max_sleep_ns=_BLOCK_MS * 1_000_000 if name == "block" else 1_000_000)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def idle_wait_ms(state: np.ndarray) -> int:
    """Milliseconds the next idle step of ``state`` would sleep, if at least one, else 0.

    The run loop waits that long in ``zmq_poll`` instead (a message ends the wait; a plain
    sleep would not): the back-off's sleeps of 1 ms and more, and every ``sleep`` step. Shorter
    steps (spins, yields, the first back-off sleeps) go to :func:`shm.idle.idle_step`, since
    ``zmq_poll`` counts in whole milliseconds.
    """
    kind = state[IS_KIND]
    if kind == SLEEP:
        return int(state[IS_MAX_NS]) // 1_000_000
    if kind != BACKOFF or state[IS_COUNT] < state[IS_SPINS] + state[IS_YIELDS]:
        return 0
    return int(state[IS_SLEEP_NS]) // 1_000_000
