"""Ring segments: names, create, attach, unlink, list; process liveness.

A ring is the POSIX shared-memory object ``/ap.<namespace>.<domain>.<writer>`` (on Linux the
file ``/dev/shm/ap.<namespace>.<domain>.<writer>``), one per domain and per writer inside a
mesh namespace, so parallel test workers and several meshes on one host never collide. Names
are made of ``[A-Za-z0-9_-]``, at most 64 characters each.

A :class:`Segment` maps the object read-write with ``mmap`` and exposes it as two numpy arrays
over the same bytes, ``words`` (int64) and ``data`` (uint8), the arguments of every kernel in
:mod:`shm.ring`. Readers map read-write too: they store into their own slot, and a read-only
mapping would give numba another array type.

Process safety: create/attach/unlink are safe to call concurrently from many processes
(creation is ``O_CREAT | O_EXCL``; the magic word is published last with a CAS).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import time
from dataclasses import dataclass

import numpy as np
import posix_ipc

from shm import layout as L
from shm import ring
from shm.errors import BadRingName, LayoutVersionMismatch, NotARing, RingExists, RingNotFound

__all__ = [
    "PREFIX", "RingName", "Segment", "default_namespace", "format_header", "list_ring_names", "pid_alive",
    "process_start_ticks", "ring_name", "unlink",
]

PREFIX = "ap."
SHM_DIR = "/dev/shm"
_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_INIT_WAIT_S = 1.0


def default_namespace() -> str:
    """The mesh namespace: ``$ALPHAPULSE_NAMESPACE`` or ``"default"``."""
    return os.environ.get("ALPHAPULSE_NAMESPACE", "default")


@dataclass(slots=True, frozen=True)
class RingName:
    """The three parts of a ring's name."""

    namespace: str
    domain: str
    writer: str

    @property
    def shm_name(self) -> str:
        """The POSIX shared-memory name (``/ap.ns.domain.writer``)."""
        return f"/{PREFIX}{self.namespace}.{self.domain}.{self.writer}"

    def __str__(self) -> str:
        return self.shm_name

    @classmethod
    def parse(cls, shm_name: str) -> RingName | None:
        """Parse ``/ap.ns.domain.writer`` (leading slash optional); None if not a ring name."""
        base = shm_name.lstrip("/")
        if not base.startswith(PREFIX):
            return None
        parts = base[len(PREFIX):].split(".")
        if len(parts) != 3 or not all(_PART.match(p) for p in parts):
            return None
        return cls(*parts)


def ring_name(domain: str, writer: str, namespace: str | None = None) -> RingName:
    """Validate and build a ring name; raise :class:`BadRingName` naming the bad part."""
    ns = default_namespace() if namespace is None else namespace
    for what, part in (("namespace", ns), ("domain", domain), ("writer", writer)):
        if not isinstance(part, str) or not _PART.match(part):
            raise BadRingName(f"bad ring {what} {part!r}: use 1-64 characters of [A-Za-z0-9_-]")
    return RingName(ns, domain, writer)


def process_start_ticks(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22); 0 if gone.

    Stored beside a pid so that a reused pid is not taken for the original process.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[19])


def pid_alive(pid: int, start_ticks: int = 0) -> bool:
    """Whether ``pid`` runs (not a zombie) and, if ``start_ticks`` is given, is the same process."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    rest = stat[stat.rindex(b")") + 2:].split()
    if rest[0] in (b"Z", b"X"):
        return False
    return not (start_ticks and int(rest[19]) != start_ticks)


class Segment:
    """One mapped ring segment.

    Attributes
    ----------
    name : RingName
    words : numpy.ndarray of int64 over the whole segment
    data : numpy.ndarray of uint8 over the whole segment
    capacity, max_readers : int
        Geometry read from the header.

    Process safety: share the arrays only with kernels of :mod:`shm.ring`; one Segment per
    process and ring is enough (close it once).
    """

    def __init__(self, name: RingName, mapping: mmap.mmap) -> None:
        self.name = name
        self._mmap: mmap.mmap | None = mapping
        self.words = np.frombuffer(mapping, dtype=np.int64)
        self.data = np.frombuffer(mapping, dtype=np.uint8)
        self.capacity = int(self.words[L.W_CAPACITY])
        self.max_readers = int(self.words[L.W_MAX_READERS])

    # -- construction --------------------------------------------------------------------
    @classmethod
    def create(cls, name: RingName, capacity: int, max_readers: int = L.DEFAULT_MAX_READERS,
               lossless: bool = False) -> Segment:
        """Create and initialize a new segment; raise :class:`RingExists` if it exists.

        Protocol: ``O_CREAT | O_EXCL`` (zero-filled), write the config line, then publish the
        magic word with a CAS; attachers wait (briefly) for the magic.
        """
        L.check_capacity(capacity, max_readers)
        size = L.segment_size(capacity, max_readers)
        try:
            shm = posix_ipc.SharedMemory(name.shm_name, posix_ipc.O_CREX, mode=0o600, size=size)
        except posix_ipc.ExistentialError as exc:
            raise RingExists(f"ring {name} already exists") from exc
        try:
            mapping = mmap.mmap(shm.fd, size)
        finally:
            shm.close_fd()
        words = np.frombuffer(mapping, dtype=np.int64)
        format_header(words, capacity, max_readers, lossless)
        del words
        return cls(name, mapping)

    @classmethod
    def attach(cls, name: RingName) -> Segment:
        """Map an existing segment, checking magic, layout version and geometry.

        Raises
        ------
        RingNotFound, NotARing, LayoutVersionMismatch
            Each message names the segment.
        """
        try:
            shm = posix_ipc.SharedMemory(name.shm_name)
        except posix_ipc.ExistentialError as exc:
            raise RingNotFound(f"no ring {name}") from exc
        try:
            size = shm.size
            if size < L.SLOTS_OFF:
                raise NotARing(f"segment {name} is not a ring: {size} bytes, smaller than a header")
            mapping = mmap.mmap(shm.fd, size)
        finally:
            shm.close_fd()
        try:
            cls._check(name, mapping, size)
        except Exception:
            mapping.close()
            raise
        return cls(name, mapping)

    @staticmethod
    def _check(name: RingName, mapping: mmap.mmap, size: int) -> None:
        view = np.frombuffer(mapping, dtype=np.int64, count=L.SLOTS_OFF // 8)
        deadline = time.monotonic() + _INIT_WAIT_S
        while int(view[L.W_MAGIC]) == 0 and time.monotonic() < deadline:
            time.sleep(0.005)  # a creator between O_EXCL and publishing the magic
        head = view.copy()
        del view  # no buffer export may outlive a failed check: the caller unmaps
        if int(head[L.W_MAGIC]) != L.MAGIC:
            raise NotARing(f"segment {name} is not a ring (magic {int(head[L.W_MAGIC]):#018x})")
        version = int(head[L.W_VERSION])
        if version != L.LAYOUT_VERSION:
            raise LayoutVersionMismatch(
                f"ring {name} has layout version {version}; this code reads {L.LAYOUT_VERSION}")
        capacity, readers = int(head[L.W_CAPACITY]), int(head[L.W_MAX_READERS])
        try:
            L.check_capacity(capacity, readers)
        except ValueError as exc:
            raise NotARing(f"segment {name} has a bad geometry: {exc}") from exc
        if (int(head[L.W_DATA_OFFSET]) != L.data_offset(readers)
                or size < L.segment_size(capacity, readers)):
            raise NotARing(f"segment {name} is {size} bytes, too small for capacity {capacity}")

    def prefault(self, write: bool = False) -> None:
        """Map every page now (``MADV_POPULATE_*``, else a touch per page), off the hot path."""
        mapping = self._mmap
        if mapping is None:
            return
        advice = getattr(mmap, "MADV_POPULATE_WRITE" if write else "MADV_POPULATE_READ", None)
        if advice is not None:
            try:
                mapping.madvise(advice)
                return
            except OSError:
                pass
        if write:
            self.data[::mmap.PAGESIZE] = self.data[::mmap.PAGESIZE]
        else:
            int(self.data[::mmap.PAGESIZE].sum())

    # -- teardown ------------------------------------------------------------------------
    def close(self) -> None:
        """Drop the arrays and unmap (idempotent). Arrays handed out elsewhere keep it mapped."""
        mapping, self._mmap = self._mmap, None
        if mapping is None:
            return
        del self.words, self.data
        with contextlib.suppress(BufferError):
            mapping.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._mmap is None

    def unlink(self) -> bool:
        """Remove the segment's name (mappings stay valid until closed); False if already gone."""
        return unlink(self.name)

    def __enter__(self) -> Segment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Segment({self.name}, capacity={self.capacity})"


def format_header(words: np.ndarray, capacity: int, max_readers: int, lossless: bool) -> None:
    """Write the config line of a zero-filled segment, publishing the magic word last (CAS).

    Works on any int64 array of :func:`shm.layout.segment_size` bytes (tests use plain ones).
    """
    words[L.W_VERSION] = L.LAYOUT_VERSION
    words[L.W_CAPACITY] = capacity
    words[L.W_MAX_READERS] = max_readers
    words[L.W_FLAGS] = L.FLAG_LOSSLESS if lossless else 0
    words[L.W_DATA_OFFSET] = L.data_offset(max_readers)
    words[L.W_CREATED] = time.time_ns()
    ring.claim_word(words, L.W_MAGIC, 0, L.MAGIC)


def unlink(name: RingName | str) -> bool:
    """Remove a ring's shared-memory name; return False if it did not exist."""
    shm_name = name.shm_name if isinstance(name, RingName) else "/" + name.lstrip("/")
    try:
        posix_ipc.unlink_shared_memory(shm_name)
    except posix_ipc.ExistentialError:
        return False
    return True


def list_ring_names(namespace: str | None = None) -> list[RingName]:
    """Ring names present on this host, in one namespace or (``None``) all, sorted."""
    try:
        entries = os.listdir(SHM_DIR)
    except FileNotFoundError:
        return []
    names = [n for n in (RingName.parse(e) for e in entries) if n is not None]
    if namespace is not None:
        names = [n for n in names if n.namespace == namespace]
    return sorted(names, key=lambda n: (n.namespace, n.domain, n.writer))
