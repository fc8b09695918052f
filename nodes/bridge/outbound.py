"""``bridge-out``: every market-data ring of this host, frame for frame, onto tcp with CURVE.

The runtime reads every writer's market-data ring (from the oldest intact frame, like every
local reader) and hands each batch to :meth:`BridgeOutNode.on_ring_batch`, which sends each
frame's exact bytes as ``[topic, frame]`` on a PUB socket of its own (:mod:`nodes.bridge.link`)
under the ring's source topic (:mod:`nodes.bridge.streams`). Frames the reader lost (the
writer lapped it) are skipped in the stream sequence, so the receiver counts them as a gap
and invalidates. Every ``heartbeat_ms`` each source's beat carries the last sequence sent. Rings a bridge-in wrote (``<origin>--<writer>``) are never sent on.

A PUB never blocks: past ``sndhwm`` ZeroMQ drops, and the receiver sees the gap.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import zmq

from mesh.protocol.constants import RelayDomain, SourceType
from mesh.pubsub import prepare_endpoint
from mesh.rings import RingBatch
from nodes.bridge.link import LinkEvents, LinkKeys
from nodes.bridge.metrics import BridgeCollector, SourceCounts
from nodes.bridge.streams import (
    BEAT_KEY,
    BadSource,
    beat_frame,
    check_origin,
    is_bridged,
    source_name,
    topic_head,
)
from nodes.runtime import ConfigKey, Contract, Node

_SNDMORE = zmq.SNDMORE


def _names(text: str) -> frozenset[str]:
    return frozenset(w.strip() for w in text.split(",") if w.strip())


class BridgeOutNode(Node):
    """Republish this host's market-data rings over tcp + CURVE (see the module docstring)."""

    CONTRACT = Contract(
        kind="bridge-out",
        role="Republishes every market-data ring of the host over tcp with CURVE, exact frames.",
        source=SourceType.MARKET_DATA_RELAY,
        reads=(RelayDomain.MARKET_DATA,),
        config={
            "listen": ConfigKey("tcp://127.0.0.1:7300", "tcp endpoint the bridge PUB binds"),
            "origin": ConfigKey("", "this host's name in source names (default: hostname)"),
            "writers": ConfigKey("", "comma-separated writers to bridge (default: all)"),
            "key": ConfigKey("", "name of this bridge's key pair (default: the node name)"),
            "keys_dir": ConfigKey("", "key files; listed public keys may connect "
                                      "(default: the mesh keys_dir)"),
            "sndhwm": ConfigKey(100_000, "frames queued per subscriber before ZeroMQ drops"),
        },
    )

    def on_start(self) -> None:
        """Bind the CURVE PUB on its own context; register the bridge metrics."""
        rt, s = self.rt, self.rt.settings
        self.origin = check_origin(str(s["origin"]))
        self.writers = _names(str(s["writers"]))
        self.run = rt.started_ns
        # ring writer -> [topic head, stream seq, counts, beat topic head, beat seq];
        # None for a ring not sent (bridged, or not among ``writers``)
        self.heads: dict[str, list[Any] | None] = {}
        self.beat_ns = rt.cfg.heartbeat_ms * 1_000_000
        self.next_beat = 0
        self.counts: dict[str, SourceCounts] = {}
        self.link: Counter[str] = Counter()
        self.ctx = zmq.Context(io_threads=1)
        self.keys = LinkKeys(Path(str(s["keys_dir"])) if s["keys_dir"] else rt.cfg.keys_path,
                             str(s["key"]) or rt.name)
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.sndhwm = int(s["sndhwm"])
        self.sock.linger = 500
        self.keys.serve(self.ctx, self.sock)
        self.events = LinkEvents(self.sock)
        self.endpoint = str(s["listen"])
        prepare_endpoint(self.endpoint)
        self.sock.bind(self.endpoint)
        if rt.metrics is not None:
            rt.metrics.registry.register(BridgeCollector(rt.name, self.counts, self.link))
        rt.log.info("bridge-out %s: publishing market-data rings on %s", self.origin,
                    self.endpoint)

    def _head(self, writer: str) -> list[Any] | None:
        if is_bridged(writer) or (self.writers and writer not in self.writers):
            return None
        try:
            source = source_name(self.origin, writer)
        except BadSource as exc:
            self.rt.stats.error(exc.kind)
            return None
        counts = self.counts.setdefault(source, SourceCounts())
        return [topic_head(source, self.run), 0, counts,
                topic_head(source, self.run, BEAT_KEY), 0]

    def on_ring_batch(self, batch: RingBatch) -> None:
        """Send the batch's frames; skip the sequence numbers of the frames the reader lost."""
        key = batch.ring.writer
        if key not in self.heads:
            self.heads[key] = self._head(key)
        head = self.heads[key]
        if head is None:
            return
        topic, seq, counts = head[0], head[1], head[2]
        if batch.lost:
            seq += batch.lost
            counts.lost["ring"] += batch.lost
        sock = self.sock
        for frame in batch:
            seq += 1
            sock.send(b"%s%x" % (topic, seq), _SNDMORE)
            sock.send(frame)
        head[1] = seq
        counts.frames += batch.count
        self.rt.stats.frames_out += batch.count

    def on_tick(self, now_ns: int) -> int:
        """Beat every source when due; count the link's events."""
        if now_ns >= self.next_beat:
            self.next_beat = now_ns + self.beat_ns
            self._beat()
        n = self.events.poll()
        if n:
            self.link.update(self.events.counts)
            self.events.counts.clear()
        return 0

    def _beat(self) -> None:
        """Send each source's beat: the last stream sequence sent (tail losses show at B)."""
        now = time.time_ns()
        for head in self.heads.values():
            if head is None or not head[1]:
                continue
            head[4] += 1
            self.sock.send(b"%s%x" % (head[3], head[4]), _SNDMORE)
            self.sock.send(beat_frame(self.rt.name, head[1], now))

    def on_stop(self) -> None:
        """Close the link (pending frames flushed within the linger)."""
        self.events.close()
        self.sock.close(500)
        self.keys.close()
        self.ctx.term()
