"""The ring writer's Python facade: create or take over a ring, write frames.

Hot paths call :func:`shm.ring.write_frame` from ``@njit`` code with ``writer.words``,
``writer.data`` and ``writer.state``; this class is for setting up and for non-hot paths.
"""

from __future__ import annotations

import os
import time

import numpy as np

from shm import layout as L
from shm import ring
from shm.errors import FrameTooLarge, RingError, RingExists, WriterAlive
from shm.idle import IdleStrategy, idle_step
from shm.segment import RingName, Segment, pid_alive, process_start_ticks, ring_name

__all__ = ["RingWriter"]


class RingWriter:
    """The one writer of a broadcast ring.

    Use :meth:`create`. Writing never waits for readers; on a lossless ring :meth:`write`
    returns False while the gate reader is a full ring behind (back-pressure).

    Process safety: one RingWriter per ring on the whole host (a second live writer gets
    :class:`WriterAlive`); not thread-safe.
    """

    def __init__(self, segment: Segment, state: np.ndarray, epoch: int) -> None:
        self.segment = segment
        self.words = segment.words
        self.data = segment.data
        self.state = state
        self.epoch = epoch
        self.max_frame = L.max_frame_length(segment.capacity)
        self._pid = os.getpid()

    @classmethod
    def create(cls, domain: str, writer: str, *, namespace: str | None = None,
               capacity: int = 1 << 20, max_readers: int = L.DEFAULT_MAX_READERS,
               lossless: bool = False, exist_ok: bool = True) -> RingWriter:
        """Create the ring ``/ap.<namespace>.<domain>.<writer>``, or take it over.

        An existing ring whose writer is dead is taken over with a new epoch (readers
        resynchronize); its geometry must match.

        Raises
        ------
        WriterAlive
            Another live process writes this ring.
        RingExists
            It exists and ``exist_ok`` is False.
        RingError
            The existing ring's capacity or mode differs.
        """
        name = ring_name(domain, writer, namespace)
        try:
            segment = Segment.create(name, capacity, max_readers, lossless)
        except RingExists:
            if not exist_ok:
                raise
            segment = Segment.attach(name)
            try:
                cls._check_takeover(segment, name, capacity, lossless)
            except Exception:
                segment.close()
                raise
        pid = os.getpid()
        old = int(segment.words[L.W_WRITER_PID])
        if not ring.claim_word(segment.words, L.W_WRITER_PID, old, pid):
            segment.close()
            raise WriterAlive(f"ring {name}: another process took it over concurrently")
        segment.prefault(write=True)
        state = ring.new_writer_state()
        epoch = ring.begin_epoch(segment.words, segment.data, state, pid,
                                 process_start_ticks(pid))
        return cls(segment, state, int(epoch))

    @staticmethod
    def _check_takeover(segment: Segment, name: RingName, capacity: int, lossless: bool) -> None:
        w = segment.words
        pid, start = int(w[L.W_WRITER_PID]), int(w[L.W_WRITER_START])
        if pid != os.getpid() and pid_alive(pid, start):
            raise WriterAlive(f"ring {name} is written by live pid {pid}")
        if segment.capacity != capacity:
            raise RingError(f"ring {name} has capacity {segment.capacity}, not {capacity}")
        if bool(int(w[L.W_FLAGS]) & L.FLAG_LOSSLESS) != lossless:
            raise RingError(f"ring {name} lossless mode differs from lossless={lossless}")

    @property
    def name(self) -> RingName:
        """The ring's name."""
        return self.segment.name

    @property
    def frames_written(self) -> int:
        """Frames written to this ring over all epochs."""
        return int(self.state[ring.WS_SEQ])

    def _as_array(self, frame: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
        arr = frame if isinstance(frame, np.ndarray) else np.frombuffer(frame, dtype=np.uint8)
        if arr.dtype != np.uint8 or arr.ndim != 1:
            raise TypeError(f"frames are 1-d uint8 arrays or bytes, not {arr.dtype}{arr.shape}")
        arr = np.ascontiguousarray(arr)
        if not 0 < arr.shape[0] <= self.max_frame:
            raise FrameTooLarge(
                f"frame of {arr.shape[0]} bytes does not fit ring {self.name}: frames must be "
                f"1..{self.max_frame} bytes (capacity {self.segment.capacity})")
        return arr

    def write(self, frame: bytes | bytearray | memoryview | np.ndarray) -> bool:
        """Write one frame; return False only on a full lossless ring (back-pressure).

        Raises :class:`FrameTooLarge` for an empty frame or one over :attr:`max_frame`.
        """
        if type(frame) is bytes and 0 < len(frame) <= self.max_frame:  # the usual case: half the checks' cost
            return bool(ring.write_frame(self.words, self.data, self.state, np.frombuffer(frame, np.uint8),
                                         len(frame)))
        arr = self._as_array(frame)
        return bool(ring.write_frame(self.words, self.data, self.state, arr, arr.shape[0]))

    def write_wait(self, frame: bytes | bytearray | memoryview | np.ndarray,
                   timeout: float | None = None, idle: str | IdleStrategy | None = None) -> bool:
        """Write one frame, idling while a lossless ring is full; False after ``timeout`` s."""
        arr = self._as_array(frame)
        idle_state = IdleStrategy.parse(idle).state()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not ring.write_frame(self.words, self.data, self.state, arr, arr.shape[0]):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            idle_step(idle_state, 0)
        return True

    def close(self) -> None:
        """Unmap the ring (it stays for readers; :meth:`unlink` removes its name); idempotent."""
        if not self.segment.closed:
            del self.words, self.data
            self.segment.close()

    def unlink(self) -> bool:
        """Remove the ring's name from the host."""
        return self.segment.unlink()

    def __enter__(self) -> RingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
