"""Reading every ring of a domain: the readers a node or a tap holds on the host's writers.

Rings are per writer (``/ap.<namespace>.<domain>.<writer>``, see :mod:`shm.segment`); a
consumer of a domain wants every writer of it, also writers that appear later or restart. A
:class:`DomainReaders` keeps one broadcast :class:`shm.reader.RingReader` per writer:

1. :meth:`DomainReaders.discover` lists the namespace's segments; it attaches to each new
   writer's ring of the domain, and re-attaches when a name now points to a new segment (a
   writer that unlinked its ring and created a fresh one: another inode). A writer restarting
   on the same segment needs nothing: the reader follows its new epoch by itself.
2. :meth:`DomainReaders.drain` drains every reader into one shared buffer, a batch per ring,
   and hands each batch to a callback. Draining also refreshes each reader slot's heartbeat.
3. A ring whose name is gone (or now names another segment) is drained one last time at the
   next discovery, then its reader is closed; its counters are kept.

Loss is not an error: a reader lapped by its writer counts the frames it lost (exactly) and
goes on; :meth:`DomainReaders.counters` reports frames read and lost per ring.

Ring domains are the protocol's relay domains, named ``market-data``, ``signal``,
``execution`` and ``system`` (:func:`mesh.domains.ring_domain`).

Not thread-safe: one DomainReaders per polling thread.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from mesh.domains import ring_domain
from mesh.protocol.constants import RelayDomain
from shm import layout as L
from shm import ring
from shm.errors import LayoutVersionMismatch, NotARing, RingError
from shm.inspect import ring_info
from shm.reader import RingReader
from shm.segment import SHM_DIR, RingName, list_ring_names

__all__ = ["DomainReaders", "RingBatch", "RingCounters"]

#: Frames per batch handed to a consumer.
BATCH_FRAMES = 256
#: Bytes of the shared drain buffer (a batch stops early when the next frame does not fit).
BATCH_BYTES = 1 << 20


@dataclass(slots=True)
class RingBatch:
    """Frames drained from one ring, back to back in ``data``; valid until the next drain.

    Frame ``i`` is ``data[offsets[i]:offsets[i + 1]]``. Iterating yields ``memoryview``\\ s
    of the frames (copy with ``bytes()`` to keep one). ``lost`` is how many frames the reader
    lost (lapped by the writer) since the previous batch from this ring: they were written
    before this batch's last frame and will never be read. ``ring`` names where the batch
    came from: its ``namespace`` and ``writer`` (also properties of the batch).
    """

    ring: RingName
    data: np.ndarray
    offsets: np.ndarray
    count: int
    lost: int = 0

    def __len__(self) -> int:
        return self.count

    @property
    def namespace(self) -> str:
        """The ring namespace of the ring the batch came from."""
        return self.ring.namespace

    @property
    def writer(self) -> str:
        """The writer (node name) of the ring the batch came from."""
        return self.ring.writer

    def __iter__(self) -> Iterator[memoryview]:
        view = self.data.data
        offs = self.offsets
        for i in range(self.count):
            yield view[int(offs[i]):int(offs[i + 1])]

    def frames(self) -> list[bytes]:
        """Copies of the batch's frames (one copy of the batch, then a slice per frame)."""
        offs = self.offsets[:self.count + 1].tolist()
        blob = self.data[:offs[-1]].tobytes()
        return [blob[a:b] for a, b in itertools.pairwise(offs)]


@dataclass(slots=True, frozen=True)
class RingCounters:
    """One reader's counters on one ring (exact, from the reader's own state)."""

    ring: str
    frames_read: int
    frames_lost: int
    epoch: int


class DomainReaders:
    """Broadcast readers on every writer's ring of one domain in a namespace.

    Parameters
    ----------
    namespace : str
        Ring namespace (the mesh configuration's ``ring_namespace``).
    domain : RelayDomain or str
        The domain to read (``market-data``...).
    exclude : str, optional
        A writer name to leave out (a node does not read its own ring).
    start : {"oldest", "latest"}
        Where a new reader starts: the oldest intact frame, or frames written from now on.
    writers : collection of str, optional
        Only these writers (all when None).
    gate : bool
        Be the gate (the one lossless reader) of every lossless ring whose gate is free; a
        lossless ring whose gate another live process holds, and every broadcast ring, get a
        broadcast reader (``gated`` names the rings this set gates).
    on_error : callable, optional
        Called with each :class:`shm.errors.RingError` met while attaching. A segment that is
        not a ring, or of another layout version, is reported once and skipped until its name
        points to another segment; other errors (no free reader slot) are retried, and
        reported, at every discovery.
    """

    def __init__(self, namespace: str, domain: RelayDomain | str, *, exclude: str | None = None,
                 start: str = "oldest", writers: frozenset[str] | None = None,
                 on_error: Callable[[RingError], None] | None = None, gate: bool = False
                 ) -> None:
        self.namespace = namespace
        self.domain = domain if isinstance(domain, str) else ring_domain(domain)
        self.exclude = exclude
        self.start = start
        self.writers = writers
        self.on_error = on_error
        self.gate = gate
        self.gated: set[RingName] = set()
        self.readers: dict[RingName, RingReader] = {}
        self._inodes: dict[RingName, int] = {}
        self._refused: dict[RingName, int] = {}
        self._quiet: dict[RingName, int] = {}
        self._retired: dict[str, RingCounters] = {}
        self._unreported: dict[RingName, int] = {}
        self._out = np.empty(BATCH_BYTES, np.uint8)
        self._offsets = np.empty(BATCH_FRAMES + 1, np.int64)

    # -- discovery -----------------------------------------------------------------------------

    def discover(self, deliver: Callable[[RingBatch], None] | None = None) -> int:
        """Attach to new writers' rings, re-attach replaced ones, drop vanished ones.

        A ring that vanished or was replaced is first drained to ``deliver`` (when given), so
        nothing its writer wrote before leaving is lost. Returns the readers attached.
        """
        present: dict[RingName, int] = {}
        for name in list_ring_names(self.namespace):
            if name.domain != self.domain or name.writer == self.exclude:
                continue
            if self.writers is not None and name.writer not in self.writers:
                continue
            inode = _inode(name)
            if inode:
                present[name] = inode
        attached = 0
        for name in list(self.readers):
            if present.get(name) != self._inodes.get(name):
                self._retire(name, deliver)
        for name, inode in present.items():
            if name in self.readers or self._refused.get(name) == inode:
                continue
            try:
                reader = self._attach(name)
            except RingError as exc:
                if isinstance(exc, NotARing | LayoutVersionMismatch):
                    if self._quiet.get(name) == inode:
                        continue  # reported already; still unfinished: retried quietly
                    if _unsized(name):  # maybe a ring being created: retried, reported once
                        self._quiet[name] = inode
                    else:
                        self._refused[name] = inode
                if self.on_error is not None:
                    self.on_error(exc)
                continue
            if _inode(name) != inode:  # replaced while we attached: next discovery retries
                reader.close()
                continue
            self.readers[name] = reader
            self._inodes[name] = inode
            attached += 1
        return attached

    def _attach(self, name: RingName) -> RingReader:
        """The gate reader of a lossless ring with a free gate (if ``gate``), else broadcast.

        The broadcast reader comes first, as for every ring: once it is attached the ring is
        whole (formatted), so reading its mode cannot mistake a ring being created for a
        foreign segment.
        """
        self.gated.discard(name)
        reader = RingReader.attach(name.domain, name.writer, namespace=name.namespace,
                                   start=self.start)
        if not self.gate:
            return reader
        try:
            info = ring_info(name)
            if info.lossless and info.gate_pid:
                error: RingError | None = RingError(
                    f"ring {name}: pid {info.gate_pid} holds the gate; read as a broadcast reader")
            elif info.lossless:
                gate = RingReader.attach(name.domain, name.writer, namespace=name.namespace,
                                         lossless=True)
                reader.close()
                self.gated.add(name)
                return gate
            else:
                error = None
        except RingError as exc:  # a claim that lost a race: broadcast
            error = exc
        if error is not None and self.on_error is not None:
            self.on_error(error)
        return reader

    def _retire(self, name: RingName, deliver: Callable[[RingBatch], None] | None = None) -> None:
        reader = self.readers.pop(name)
        self._inodes.pop(name, None)
        if deliver is not None:
            self._drain_one(name, reader, deliver, 1 << 30)
        c = self._counters(name, reader)
        old = self._retired.get(str(name))
        if old is not None:
            c = RingCounters(c.ring, c.frames_read + old.frames_read,
                             c.frames_lost + old.frames_lost, c.epoch)
        self._retired[str(name)] = c
        reader.close()

    # -- reading -------------------------------------------------------------------------------

    def drain(self, deliver: Callable[[RingBatch], None], budget: int = 4 * BATCH_FRAMES) -> int:
        """Hand every ring's new frames, in batches, to ``deliver``; return how many frames.

        Reads at most ``budget`` frames per ring per call, so one busy writer cannot starve
        the others or the caller's loop.
        """
        total = 0
        for name, reader in self.readers.items():
            total += self._drain_one(name, reader, deliver, budget)
        return total

    def _drain_one(self, name: RingName, reader: RingReader,
                   deliver: Callable[[RingBatch], None], budget: int) -> int:
        total = 0
        out, offsets = self._out, self._offsets
        while total < budget:
            lost = reader.frames_lost
            n = int(ring.drain_into(reader.words, reader.data, reader.state, out, offsets,
                                    min(BATCH_FRAMES, budget - total)))
            lost = reader.frames_lost - lost + self._unreported.pop(name, 0)
            if n == 0:
                if lost:
                    self._unreported[name] = lost
                break
            total += n
            deliver(RingBatch(name, out, offsets, n, lost))
        return total

    def counters(self) -> list[RingCounters]:
        """Frames read and lost per ring, including rings this set has since left."""
        live = {str(n): self._counters(n, r) for n, r in self.readers.items()}
        out = dict(self._retired)
        for key, c in live.items():
            old = out.get(key)
            out[key] = c if old is None else RingCounters(
                key, c.frames_read + old.frames_read, c.frames_lost + old.frames_lost, c.epoch)
        return sorted(out.values(), key=lambda c: c.ring)

    @staticmethod
    def _counters(name: RingName, reader: RingReader) -> RingCounters:
        return RingCounters(str(name), reader.frames_read, reader.frames_lost, reader.epoch)

    def close(self) -> None:
        """Close every reader (frees their slots); idempotent."""
        for name in list(self.readers):
            with contextlib.suppress(RingError):
                self._retire(name)


def _unsized(name: RingName) -> bool:
    """Whether the segment's creator has not finished it: smaller than a ring header, or its
    magic word still zero (a creator slower than an attacher's wait, on a loaded host)."""
    try:
        with open(os.path.join(SHM_DIR, name.shm_name.lstrip("/")), "rb") as f:
            head = f.read(L.SLOTS_OFF)
    except OSError:
        return True
    magic = head[8 * L.W_MAGIC:8 * L.W_MAGIC + 8]
    return len(head) < L.SLOTS_OFF or magic == bytes(8)


def _inode(name: RingName) -> int:
    """Inode of the ring's segment file (0 if gone): a re-created ring gets another one."""
    try:
        return os.stat(os.path.join(SHM_DIR, name.shm_name.lstrip("/"))).st_ino
    except OSError:
        return 0
