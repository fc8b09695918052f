"""Ring inspection for operators: what rings a namespace has, who writes and reads, who lags.

Snapshots are taken with acquire loads (:func:`shm.ring.snapshot`) and never store into the
segment, so inspecting a ring cannot disturb its writer or readers. Also finds and removes
leftovers of dead meshes: rings whose writer, gate reader and every reader are dead.

Process safety: any process may inspect any ring at any time; figures are a moment's view.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from shm import layout as L
from shm import ring
from shm.segment import RingName, Segment, list_ring_names, pid_alive, unlink

__all__ = ["ReaderInfo", "RingInfo", "find_leftovers", "list_rings", "remove_leftovers",
           "ring_info"]


@dataclass(slots=True, frozen=True)
class ReaderInfo:
    """One occupied reader slot."""

    slot: int
    pid: int
    alive: bool
    epoch: int
    position: int
    frames_read: int
    frames_lost: int
    lag_bytes: int
    lag_frames: int
    last_seen_s: float | None


@dataclass(slots=True, frozen=True)
class RingInfo:
    """A moment's view of one ring."""

    name: str
    namespace: str
    domain: str
    writer: str
    writer_pid: int
    writer_alive: bool
    epoch: int
    capacity: int
    lossless: bool
    tail: int
    head: int
    fill: float
    frames_written: int
    gate_pid: int
    readers: list[ReaderInfo] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return asdict(self)

    @property
    def alive(self) -> bool:
        """Whether any process still uses the ring (writer or reader)."""
        return self.writer_alive or any(r.alive for r in self.readers)


def _info_from_words(name: RingName, w: np.ndarray) -> RingInfo:
    now = time.monotonic_ns()
    tail, head, cap = int(w[L.W_TAIL]), int(w[L.W_HEAD]), int(w[L.W_CAPACITY])
    written = int(w[L.W_FRAMES_WRITTEN])
    readers = []
    for i in range(int(w[L.W_MAX_READERS])):
        s = L.W_SLOTS + i * L.SLOT_WORDS
        pid = int(w[s + L.SW_PID])
        if pid == 0:
            continue
        pos, seen = int(w[s + L.SW_POSITION]), int(w[s + L.SW_LAST_SEEN])
        readers.append(ReaderInfo(
            slot=i, pid=pid, alive=pid_alive(pid, int(w[s + L.SW_START])),
            epoch=int(w[s + L.SW_EPOCH]), position=pos, frames_read=int(w[s + L.SW_READ]),
            frames_lost=int(w[s + L.SW_LOST]), lag_bytes=max(tail - pos, 0),
            lag_frames=max(written - int(w[s + L.SW_NEXT_SEQ]), 0),
            last_seen_s=(now - seen) / 1e9 if seen else None))
    gate_pid = int(w[L.W_GATE_PID])
    writer_pid = int(w[L.W_WRITER_PID])
    return RingInfo(
        name=name.shm_name, namespace=name.namespace, domain=name.domain, writer=name.writer,
        writer_pid=writer_pid, writer_alive=pid_alive(writer_pid, int(w[L.W_WRITER_START])),
        epoch=int(w[L.W_EPOCH]), capacity=cap,
        lossless=bool(int(w[L.W_FLAGS]) & L.FLAG_LOSSLESS), tail=tail, head=head,
        fill=min(tail - head, cap) / cap if cap else 0.0, frames_written=written,
        gate_pid=gate_pid if pid_alive(gate_pid, int(w[L.W_GATE_START])) else 0,
        readers=readers)


def ring_info(name: RingName) -> RingInfo:
    """Snapshot one ring. Raises RingNotFound, NotARing or LayoutVersionMismatch naming it."""
    with Segment.attach(name) as seg:
        words = np.empty(L.data_offset(seg.max_readers) // 8, np.int64)
        ring.snapshot(seg.words, words)
    return _info_from_words(name, words)


def list_rings(namespace: str | None = None) -> list[RingInfo]:
    """Snapshot every ring of ``namespace`` (all namespaces if None); bad segments raise."""
    return [ring_info(n) for n in list_ring_names(namespace)]


def find_leftovers(namespace: str | None = None) -> list[RingName]:
    """Rings nobody uses any more (writer, gate reader and readers all dead).

    Segments with a ring name that are not valid rings are reported too: nothing can use them.
    """
    found = []
    for name in list_ring_names(namespace):
        try:
            info = ring_info(name)
        except FileNotFoundError:
            continue  # removed meanwhile
        except Exception:  # noqa: BLE001 - a bad segment under a ring name is a leftover too
            found.append(name)
            continue
        if not info.alive and not info.gate_pid:
            found.append(name)
    return found


def remove_leftovers(namespace: str | None = None) -> list[RingName]:
    """Unlink :func:`find_leftovers`; return the names removed."""
    return [n for n in find_leftovers(namespace) if unlink(n)]
