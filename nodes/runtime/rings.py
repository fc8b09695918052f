"""A node's rings: the rings it writes and the readers on every writer of the domains it reads.

The contract names them (``Contract.writes``, ``Contract.reads``, as relay domains); the
runtime opens a :class:`NodeRings` at start and polls it every pass of the loop:

1. ``open``: one ring per written domain, named after the node
   (``/ap.<ring_namespace>.<domain>.<node>``, capacity ``ring_capacity``), taken over with a
   new epoch when a dead predecessor left it; one :class:`mesh.rings.DomainReaders` per read
   domain, which leaves the node's own ring out, and one more per read domain and extra
   namespace (``extra_namespaces``: a node that also reads another ring namespace's writers,
   e.g. a second chain's collector). Each batch names its ring (``batch.ring``: namespace,
   domain, writer; ``batch.namespace``, ``batch.writer``).
2. ``poll``: every ``DISCOVER_NS`` look for writers that appeared, were replaced or left; then
   drain every reader, a batch at a time, into the node (its ``RING_KERNEL`` in compiled code,
   or its ``on_ring_batch`` hook). Draining also heartbeats the node's reader slots.
3. ``close``: close the readers (their slots free at once), unlink the node's own rings
   (readers still attached drain what is left, then let go).

Every frame written, read and lost is counted per ring (:meth:`NodeRings.counters`, labelled
by the ring's whole name ``/ap.<namespace>.<domain>.<writer>``, so rings of two namespaces
never share a label); the runtime exports them to Prometheus.

Not thread-safe: owned by the node's loop thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from alphapulse.errors import AlphaPulseError
from mesh.protocol import Frame, Message, UnknownTLV, decode_frame, encode_frame
from mesh.protocol.constants import RelayDomain
from mesh.rings import DomainReaders, RingBatch, ring_domain
from mesh.stats import MeshStats
from shm.errors import RingError
from shm.writer import RingWriter

__all__ = ["DISCOVER_NS", "NodeRings", "RingCount", "decoded"]

#: How often a node looks for new, replaced or vanished writers of the domains it reads.
DISCOVER_NS = 200_000_000


@dataclass(slots=True, frozen=True)
class RingCount:
    """One ring's counters as this node sees them (``role`` is ``writer`` or ``reader``)."""

    ring: str
    role: str
    frames: int
    lost: int = 0


class NodeRings:
    """The rings of one node (see the module docstring).

    Parameters
    ----------
    namespace : str
        Ring namespace (mesh ``ring_namespace``).
    node : str
        Node name: the writer name of its rings.
    writes, reads : iterable of RelayDomain
        Domains the node writes and reads.
    capacity : int
        Capacity of the rings it creates (a power of two).
    source : int
        SourceType stamped in frames :meth:`write` encodes.
    stats : MeshStats
        Where attach errors are counted.
    extra_namespaces : iterable of str
        Further namespaces whose writers of every read domain the node also reads (the node's
        own namespace among them is ignored).
    """

    def __init__(self, namespace: str, node: str, writes: Iterable[RelayDomain],
                 reads: Iterable[RelayDomain], capacity: int, source: int,
                 stats: MeshStats, extra_namespaces: Iterable[str] = ()) -> None:
        self.namespace = namespace
        self.read_namespaces = tuple(dict.fromkeys((namespace, *extra_namespaces)))
        self.node = node
        self.write_domains = tuple(writes)
        self.read_domains = tuple(reads)
        self.capacity = capacity
        self.source = source
        self.stats = stats
        self.writers: dict[RelayDomain, RingWriter] = {}
        self.readers: list[DomainReaders] = []
        self._sequence: dict[RelayDomain, int] = {}
        self._next_discovery = 0

    def __bool__(self) -> bool:
        return bool(self.write_domains or self.read_domains)

    def open(self) -> None:
        """Create (or take over) the node's rings and the readers of its read domains."""
        for domain in self.write_domains:
            self.writers[domain] = RingWriter.create(ring_domain(domain), self.node,
                                                     namespace=self.namespace,
                                                     capacity=self.capacity)
            self._sequence[domain] = 0
        for namespace in self.read_namespaces:
            for domain in self.read_domains:
                self.readers.append(DomainReaders(namespace, domain, exclude=self.node,
                                                  on_error=self._attach_error))

    def _attach_error(self, exc: RingError) -> None:
        self.stats.error(exc.kind)

    # -- writing ---------------------------------------------------------------------------

    def writer(self, domain: RelayDomain = RelayDomain.MARKET_DATA) -> RingWriter:
        """The node's writer of ``domain`` (its ``words``/``data``/``state`` feed ``@njit``
        writers); raises ``KeyError`` if the contract does not write that domain."""
        return self.writers[domain]

    def write(self, tlvs: Message | UnknownTLV | list[Message | UnknownTLV]) -> bool:
        """Encode one frame of ``tlvs`` and write it to the ring of its domain.

        The header's sequence counts the frames this node wrote to that ring. Returns False
        only on a full lossless ring (back-pressure).
        """
        if isinstance(tlvs, Message | UnknownTLV):
            tlvs = [tlvs]
        first = tlvs[0]
        domain = RelayDomain(RelayDomain.MARKET_DATA if isinstance(first, UnknownTLV)
                             else first.DOMAIN)
        writer = self.writers[domain]
        seq = self._sequence[domain]
        ok = writer.write(encode_frame(tlvs, source=self.source, sequence=seq))
        if ok:
            self._sequence[domain] = seq + 1
        return ok

    def write_frame(self, frame: bytes, domain: RelayDomain = RelayDomain.MARKET_DATA) -> bool:
        """Write an already encoded frame to the node's ring of ``domain`` (no restamp)."""
        return self.writers[domain].write(frame)

    # -- reading ---------------------------------------------------------------------------

    def poll(self, now_ns: int, deliver: Callable[[RingBatch], None]) -> int:
        """Discover writers when due, then drain every reader into ``deliver``; frames read."""
        if not self.readers:
            return 0
        if now_ns >= self._next_discovery:
            self._next_discovery = now_ns + DISCOVER_NS
            for readers in self.readers:
                readers.discover(deliver)
        return sum(readers.drain(deliver) for readers in self.readers)

    def discover_now(self, deliver: Callable[[RingBatch], None]) -> None:
        """Discover at once (start-up; tests), whatever the schedule."""
        self._next_discovery = 0
        self.poll(time.monotonic_ns(), deliver)

    def counters(self) -> list[RingCount]:
        """Frames written per own ring, frames read and lost per ring read."""
        out = [RingCount(str(w.name), "writer", w.frames_written) for w in self.writers.values()]
        for readers in self.readers:
            out += [RingCount(c.ring, "reader", c.frames_read, c.frames_lost)
                    for c in readers.counters()]
        return out

    def close(self, unlink: bool = True) -> None:
        """Close the readers; close (and by default unlink) the node's own rings."""
        for readers in self.readers:
            readers.close()
        for writer in self.writers.values():
            if unlink:
                writer.unlink()
            writer.close()
        self.writers.clear()


def decoded(batch: RingBatch, stats: MeshStats,
            types: frozenset[int] | None = None) -> Iterator[Frame]:
    """Decode a batch's frames one by one, counting (and skipping) malformed ones.

    ``types``: keep only frames whose first TLV is one of these type numbers. A frame that
    fails to decode is counted in ``stats`` by its error's ``kind``; nothing else is lost.
    """
    for raw in batch.frames():  # bytes decode faster than memoryviews of the batch
        try:
            frame = decode_frame(raw)
        except AlphaPulseError as exc:
            stats.error(exc.kind)
            continue
        if types is not None:
            first = frame.tlvs[0] if frame.tlvs else None
            number = getattr(first, "TLV_TYPE", getattr(first, "tlv_type", None))
            if number not in types:
                continue
        yield frame
