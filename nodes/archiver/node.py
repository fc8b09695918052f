"""The archiver node: every market-data ring and every ZeroMQ domain, to Parquet.

- Rings: the runtime's readers on every market-data ring, asked to be each lossless ring's
  gate (:class:`mesh.rings.DomainReaders` ``gate``); broadcast rings are read from their
  oldest frame and what their writers lap is counted (``ring_lost``).
- ZeroMQ: a lazy subscriber of its own to every domain of every other node (no decoding; the
  size and CRC32 are checked on arrival, journaled streams' gaps are recovered).
- Frames are buffered on the loop thread with their receive time (``time.time_ns()``) and
  written by one job at a time on ``rt.offload`` (:class:`nodes.archiver.store.DomainStore`);
  parts rotate by size, age and UTC day; ``on_stop`` waits for the job, writes the rest and
  closes every part as Parquet.

See docs/archive.md for the layout and the guarantees.
"""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

from alphapulse.errors import AlphaPulseError
from mesh.delivery import Delivery
from mesh.domains import ring_domain
from mesh.protocol.constants import RelayDomain, SourceType
from mesh.pubsub import Subscriber
from mesh.rings import RingBatch
from mesh.stats import MeshStats
from mesh.topics import prefix
from nodes.archiver.metrics import ArchiverCollector, ArchiverCounts
from nodes.archiver.store import DomainStore, PartClosed, recover
from nodes.runtime import ConfigKey, Contract, Node

__all__ = ["ArchiverNode"]

_DRAIN = 1024  # ZeroMQ frames taken per pass


class ArchiverNode(Node):
    """Archive every frame it can see (see the module docstring)."""

    CONTRACT = Contract(
        kind="archiver",
        role="Writes every market-data ring frame and every ZeroMQ frame to Parquet.",
        source=SourceType.STATE_MANAGER,
        reads=(RelayDomain.MARKET_DATA,),
        config={
            "path": ConfigKey("", "archive root (default: <run_dir>/archive)"),
            "batch_frames": ConfigKey(4096, "frames that make a write job"),
            "batch_ms": ConfigKey(200, "longest a frame waits for its write job"),
            "max_buffered": ConfigKey(1_000_000, "frames buffered while a write is slow; "
                                                 "beyond, new frames are dropped and counted"),
            "part_bytes": ConfigKey(64 << 20, "rotate a part at this many frame bytes"),
            "part_seconds": ConfigKey(300, "rotate a part this long after its first frame"),
        },
    )

    def on_start(self) -> None:
        """Recover parts a killed archiver left, become the rings' gate, subscribe to all."""
        rt, s = self.rt, self.rt.settings
        self.root = Path(s["path"] or Path(rt.cfg.run_dir) / "archive")
        self.root.mkdir(parents=True, exist_ok=True)
        self.counts = ArchiverCounts()
        self.batch_frames = int(s["batch_frames"])
        self.batch_ns = int(s["batch_ms"]) * 1_000_000
        self.max_buffered = int(s["max_buffered"])
        self.stores: dict[str, DomainStore] = {}
        self.buffers: dict[str, list[tuple[int, str, bytes]]] = defaultdict(list)
        self.buffered = 0
        self.oldest_ns = 0
        self.job: Future[Any] | None = None
        self.writing: dict[str, int] = {}
        for part in recover(self.root):
            rt.log.warning("recovered %s: %d frames (%d torn bytes cut)", part.path, part.rows,
                           part.torn)
        for readers in rt.rings.readers:
            readers.gate = True
        self.sub_stats = MeshStats()
        others = [n for n in rt.cfg.nodes if n != rt.name]
        client = rt.security.client if rt.security is not None else None
        self.sub = Subscriber(rt.ctx, rt.cfg, others, [prefix(int(d)) for d in RelayDomain],
                              stats=self.sub_stats, secure=client, lazy=True)
        self.collector = ArchiverCollector(rt.name, self.counts, self._gauges)
        if rt.metrics is not None:
            rt.metrics.registry.register(self.collector)
        rt.log.info("archiving to %s", self.root)

    def _gauges(self) -> dict[str, float]:
        gated = sum(len(r.gated) for r in self.rt.rings.readers)
        return {"buffered_frames": self.buffered, "gated_rings": gated}

    # -- receiving (loop thread) ---------------------------------------------------------------

    def _take(self, domain: str, records: list[tuple[int, str, bytes]]) -> None:
        room = self.max_buffered - self.buffered
        if room < len(records):
            self.counts.dropped[domain, "overflow"] += len(records) - max(room, 0)
            records = records[:max(room, 0)]
        if not records:
            return
        if not self.buffered:
            self.oldest_ns = time.monotonic_ns()
        self.buffers[domain].extend(records)
        self.buffered += len(records)

    def on_ring_batch(self, batch: RingBatch) -> None:
        """Buffer a ring batch (copies), stamped with one receive time."""
        now = time.time_ns()
        source = f"ring:{batch.ring}"
        if batch.lost:
            self.counts.dropped[batch.ring.domain, "ring_lost"] += batch.lost
        self._take(batch.ring.domain, [(now, source, f) for f in batch.frames()])

    def _drain_sub(self) -> int:
        n = 0
        missed = self.sub_stats.missed
        while n < _DRAIN:
            d: Delivery | None = self.sub.recv(0)
            if d is None:
                break
            n += 1
            t = d.topic
            source = f"zmq:{t.stream.decode()}{t.run:016x}:{t.stream_seq:x}"
            self._take(ring_domain(t.domain), [(time.time_ns(), source, d.raw)])
        if self.sub_stats.missed != missed:
            self.counts.dropped["zmq", "stream_gap"] += self.sub_stats.missed - missed
        return n

    def on_tick(self, now_ns: int) -> int:
        """Take ZeroMQ frames; start a write job when a batch is due and none runs."""
        work = self._drain_sub()
        if self.job is None:
            due = self.buffered >= self.batch_frames or (
                self.buffered and now_ns - self.oldest_ns >= self.batch_ns)
            rotate = any(st.due(time.time_ns()) for st in self.stores.values())
            if due or rotate:
                pending = self._swap()
                self.job = self.rt.offload.call(self._write, pending, False,
                                                on_done=self._written)
                work += 1
        return work

    def _swap(self) -> dict[str, list[tuple[int, str, bytes]]]:
        pending, self.buffers = dict(self.buffers), defaultdict(list)
        self.buffered = 0
        self.writing = {domain: len(records) for domain, records in pending.items()}
        return pending

    # -- writing (one job at a time, on an offload thread) -------------------------------------

    def _store(self, domain: str) -> DomainStore:
        st = self.stores.get(domain)
        if st is None:
            s = self.rt.settings
            st = self.stores[domain] = DomainStore(self.root, domain, int(s["part_bytes"]),
                                                   float(s["part_seconds"]))
        return st

    def _write(self, pending: dict[str, list[tuple[int, str, bytes]]], final: bool
               ) -> list[tuple[str, PartClosed]]:
        closed: list[tuple[str, PartClosed]] = []
        for domain, records in pending.items():
            closed += [(domain, p) for p in self._store(domain).append(records)]
        now = time.time_ns()
        for domain, st in list(self.stores.items()):
            if final or st.due(now):
                part = st.rotate()
                if part is not None:
                    closed.append((domain, part))
        return closed

    def _written(self, future: Future[Any]) -> None:
        self.job = None
        try:
            closed = future.result()
        except (OSError, AlphaPulseError) as exc:
            for domain, n in self.writing.items():
                self.counts.dropped[domain, "write_error"] += n
            self.rt.stats.error("archive_write")
            self.rt.log.error("archive write failed: %s", exc)  # noqa: TRY400 - counted, expected
            return
        self._account(closed)

    def _account(self, closed: list[tuple[str, PartClosed]]) -> None:
        for domain, n in self.writing.items():
            self.counts.archived[domain] += n
        self.writing = {}
        for domain, part in closed:
            c = self.counts
            c.parts += 1
            c.raw[domain] += part.raw_bytes
            c.compressed[domain] += part.file_bytes
            ratio = part.raw_bytes / part.file_bytes if part.file_bytes else 0.0
            self.rt.log.info("closed %s: %d frames, %d bytes raw, %d on disk, ratio %.2f "
                             "(archive so far %.2f)", part.path, part.rows, part.raw_bytes,
                             part.file_bytes, ratio, c.ratio)

    def on_stop(self) -> None:
        """Finish the running job, write what is buffered, close every part as Parquet."""
        self._drain_sub()
        self.rt.rings.poll(time.monotonic_ns(), self.on_ring_batch)
        if self.job is not None:
            wait([self.job], timeout=60)
            if not self.job.done():  # the disk hangs: leave the journals for recovery
                self.rt.log.error("archive write still running after 60 s; %d buffered "
                                  "frames not written", self.buffered)
                self.sub.close()
                return
            self._written(self.job)
        self._account(self._write(self._swap(), True))
        self.sub.close()
