"""``bridge-in``: a remote bridge-out's rings, written into local market-data rings.

Subscribes to one bridge-out over tcp as a CURVE client (:mod:`nodes.bridge.link`) through a
mesh :class:`~mesh.pubsub.Subscriber` (two-part shape, topic, header and CRC32 checked,
sequences tracked, every malformed message counted by kind and dropped), then writes each
frame's exact bytes into the local ring named after its source
(``/ap.<ring_namespace>.market-data.<origin>--<writer>``), which local readers (strategy,
cexdex, every :class:`mesh.rings.DomainReaders`) find like any writer's ring.

A gap in a source's stream (ring losses at bridge-out, high-water-mark drops, reconnects; also
frames lost at the end of a burst, which the source's next beat reveals) or a restart of
bridge-out first writes invalidations for everything consumers may hold from that
source (:meth:`nodes.bridge.streams.SourceHoldings.invalidations`), then the frame that
revealed it. Frames that could not be written into the ring are counted (``where="write"``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from alphapulse.errors import AlphaPulseError
from mesh.delivery import Delivery
from mesh.domains import ring_domain
from mesh.protocol import Heartbeat
from mesh.protocol.constants import InvalidationReason, RelayDomain, SourceType
from mesh.protocol.errors import FrameError
from mesh.pubsub import Subscriber
from mesh.sequence import Verdict
from nodes.bridge.link import LinkEvents, LinkKeys
from nodes.bridge.metrics import BridgeCollector, SourceCounts
from nodes.bridge.streams import (
    BEAT_KEY,
    DOMAIN,
    KEY,
    TLV_TYPE,
    BadSource,
    SourceHoldings,
    split_source,
)
from nodes.runtime import ConfigKey, Contract, Node
from shm.writer import RingWriter

#: Most sources (rings) one bridge-in writes; more is hostile or a misconfiguration.
MAX_SOURCES = 256
#: Messages read per pass of the loop.
_BUDGET = 4096
#: A source whose ring could not be opened is tried again after this long.
_RETRY_NS = 1_000_000_000
_MARKET = ring_domain(RelayDomain.MARKET_DATA)


@dataclass(slots=True)
class Source:
    """One remote ring: its local writer, what consumers hold from it, its counters."""

    writer: RingWriter
    counts: SourceCounts
    holdings: SourceHoldings = field(default_factory=SourceHoldings)
    last: int = 0  # stream sequence of the last frame taken (or declared lost)
    run: int = 0  # bridge-out run of ``last``


class BridgeInNode(Node):
    """Write a remote bridge-out's frames into local rings (see the module docstring)."""

    CONTRACT = Contract(
        kind="bridge-in",
        role="Writes a remote bridge-out's market-data frames into local rings named after "
             "their source; invalidates what consumers hold on a gap.",
        source=SourceType.MARKET_DATA_RELAY,
        config={
            "connect": ConfigKey("tcp://127.0.0.1:7300", "the bridge-out endpoint"),
            "server_key": ConfigKey("bridge-out", "name of the bridge-out's listed public key"),
            "key": ConfigKey("", "name of this bridge's key pair (default: the node name)"),
            "keys_dir": ConfigKey("", "key files (default: the mesh keys_dir)"),
            "origins": ConfigKey("", "comma-separated origins accepted (default: any)"),
            "rcvhwm": ConfigKey(100_000, "frames queued before ZeroMQ drops"),
            "invalidate": ConfigKey(True, "write invalidations into the ring on a gap"),
        },
    )

    def on_start(self) -> None:
        """Connect the CURVE subscriber on its own context; register the bridge metrics."""
        rt, s = self.rt, self.rt.settings
        self.origins = frozenset(o.strip() for o in str(s["origins"]).split(",") if o.strip())
        self.invalidate = bool(s["invalidate"])
        self.sources: dict[str, Source] = {}
        self.refused: dict[str, int] = {}
        self.counts: dict[str, SourceCounts] = {}
        self.link: Counter[str] = Counter()
        self.ctx = zmq.Context(io_threads=1)
        self.keys = LinkKeys(Path(str(s["keys_dir"])) if s["keys_dir"] else rt.cfg.keys_path,
                             str(s["key"]) or rt.name)
        self.sub = Subscriber(self.ctx, rt.cfg, (), (b"",), stats=rt.stats, recover_types=(),
                              lazy=True, backfill=False)
        self.sub.socket.rcvhwm = int(s["rcvhwm"])
        self.keys.client(self.sub.socket, str(s["server_key"]))
        self.events = LinkEvents(self.sub.socket)
        self.endpoint = str(s["connect"])
        self.sub.socket.connect(self.endpoint)
        if rt.metrics is not None:
            rt.metrics.registry.register(BridgeCollector(rt.name, self.counts, self.link))
        rt.log.info("bridge-in: subscribed to %s", self.endpoint)

    def on_tick(self, now_ns: int) -> int:
        """Take what arrived (at most a budget per pass); count the link's events."""
        work = 0
        recv = self.sub.recv
        for _ in range(_BUDGET):
            d = recv(0)
            if d is None:
                break
            work += 1
            try:
                self.take(d)
            except AlphaPulseError as exc:
                self.rt.stats.error(exc.kind)
        if self.events.poll():
            self.link.update(self.events.counts)
            self.events.counts.clear()
        return work

    def take(self, d: Delivery) -> None:
        """Check one delivery's stream, invalidate on a gap, write the frame to its ring."""
        topic = d.topic
        if topic.domain != DOMAIN or topic.tlv_type != TLV_TYPE or \
                topic.key not in (KEY, BEAT_KEY):
            self.rt.stats.error("bridge_wrong_topic")
            return
        if d.header.domain != DOMAIN:
            self.rt.stats.error("bridge_wrong_domain")
            return
        if topic.key == BEAT_KEY:
            self._beat(d)
            return
        src = self.sources.get(topic.publisher)
        if src is None:
            src = self._open(topic.publisher)
            if src is None:
                return
        verdict, seq, c = d.verdict, topic.stream_seq, src.counts
        if verdict is Verdict.LATE or (topic.run == src.run and seq <= src.last):
            return  # after its gap was declared and invalidated: too old
        if verdict is Verdict.RESTART:
            self._lost(src, "restart", seq - 1)
        elif verdict is Verdict.GAP and seq > src.last + 1:
            self._lost(src, "gap", seq - src.last - 1)
        src.last, src.run = seq, topic.run
        raw = d.raw
        src.holdings.note(raw)
        try:
            ok = src.writer.write(raw)
        except AlphaPulseError as exc:
            self.rt.stats.error(exc.kind)
            ok = False
        if ok:
            c.frames += 1
            self.rt.stats.frames_out += 1
        else:
            c.lost["write"] += 1

    def _beat(self, d: Delivery) -> None:
        """A source's beat: frames it sent that never came are a gap (lost at a tail)."""
        src = self.sources.get(d.topic.publisher)
        if src is None or src.run != d.topic.run:
            return  # nothing held from this run: its first frame tells
        try:
            beat = d.frame.first(Heartbeat)
        except FrameError:
            return  # counted by the delivery
        if not isinstance(beat, Heartbeat):
            self.rt.stats.error("bridge_bad_beat")
            return
        if beat.frames_out > src.last:
            self._lost(src, "tail", beat.frames_out - src.last)
            src.last = beat.frames_out

    def _lost(self, src: Source, kind: str, frames: int) -> None:
        """Count a gap of ``frames`` and invalidate what consumers hold from ``src``."""
        src.counts.gaps[kind] += 1
        src.counts.lost["link"] += frames
        if self.invalidate:
            self._invalidate(src)

    def _invalidate(self, src: Source) -> None:
        for frame in src.holdings.invalidations(InvalidationReason.RECOVERY):
            if src.writer.write(frame):
                src.counts.invalidations += 1
            else:
                src.counts.lost["write"] += 1

    def _open(self, name: str) -> Source | None:
        """The local ring of source ``name`` (created now); None, counted, if refused."""
        try:
            origin, _ = split_source(name)
        except BadSource as exc:
            self.rt.stats.error(exc.kind)
            return None
        if self.origins and origin not in self.origins:
            self.rt.stats.error("bridge_unknown_origin")
            return None
        if len(self.sources) >= MAX_SOURCES:
            self.rt.stats.error("bridge_too_many_sources")
            return None
        now = time.monotonic_ns()
        if now < self.refused.get(name, 0):
            self.rt.stats.error("bridge_ring_refused")
            return None
        cfg = self.rt.cfg
        try:
            writer = RingWriter.create(_MARKET, name, namespace=cfg.ring_namespace,
                                       capacity=cfg.ring_capacity)
        except AlphaPulseError as exc:
            self.refused[name] = now + _RETRY_NS
            self.rt.stats.error(exc.kind)
            self.rt.log.warning("bridge-in: cannot open the ring of %s: %s", name, exc)
            return None
        counts = self.counts.setdefault(name, SourceCounts())
        src = self.sources[name] = Source(writer, counts)
        self.rt.log.info("bridge-in: writing %s", writer.name)
        return src

    def on_stop(self) -> None:
        """Close the link; unlink and close the rings this node wrote."""
        self.events.close()
        self.sub.close()
        self.keys.close()
        self.ctx.term()
        for src in self.sources.values():
            src.writer.unlink()
            src.writer.close()
        self.sources.clear()
