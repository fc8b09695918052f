"""The ring reader's Python facade: attach, claim a slot, read, poll, drain.

Hot paths call :func:`shm.ring.read_one`, :func:`shm.ring.drain_into` or
:func:`shm.ring.drain_cb` from ``@njit`` code with ``reader.words``, ``reader.data`` and
``reader.state``; this class is for setting up and for non-hot paths.
"""

from __future__ import annotations

import os
import time

import numpy as np

from shm import layout as L
from shm import ring
from shm.errors import NoFreeSlot, RingError, RingLapped
from shm.idle import IdleStrategy, idle_step
from shm.segment import RingName, Segment, pid_alive, process_start_ticks, ring_name

__all__ = ["RingReader"]

_ATTACH_RETRIES = 10_000


class RingReader:
    """One reader of a broadcast ring, with a slot in the segment that operators can see.

    Use :meth:`attach`. The writer never waits for this reader (except in lossless mode): a
    reader that falls a whole ring behind counts the frames it lost (:attr:`frames_lost`) and
    resumes at the oldest intact frame. A writer restart is followed transparently.

    Process safety: one RingReader per thread; any number of readers per ring and process.
    """

    def __init__(self, segment: Segment, state: np.ndarray, slot: int, lossless: bool,
                 idle: IdleStrategy, strict: bool) -> None:
        self.segment = segment
        self.words = segment.words
        self.data = segment.data
        self.state = state
        self.slot = slot
        self.lossless = lossless
        self.idle = idle
        self.strict = strict
        self.max_frame = L.max_frame_length(segment.capacity)
        self.buffer = np.empty(self.max_frame, np.uint8)
        self._idle_state = idle.state()
        self._pid = os.getpid()

    @classmethod
    def attach(cls, domain: str, writer: str, *, namespace: str | None = None,
               start: str = "latest", lossless: bool = False,
               idle: str | IdleStrategy | None = None, strict: bool = False) -> RingReader:
        """Attach to ``/ap.<namespace>.<domain>.<writer>`` and claim a reader slot.

        Parameters
        ----------
        start : {"latest", "oldest"}
            Read frames written from now on, or from the oldest intact frame.
        lossless : bool
            Be the gate reader of a lossless ring (the writer waits for it).
        idle : str or IdleStrategy, optional
            How :meth:`poll` waits; back-off by default.
        strict : bool
            Raise :class:`RingLapped` (after counting) when frames are lost.

        Raises
        ------
        RingNotFound, NotARing, LayoutVersionMismatch, NoFreeSlot, RingError
        """
        if start not in ("latest", "oldest"):
            raise ValueError(f"start must be 'latest' or 'oldest', not {start!r}")
        segment = Segment.attach(ring_name(domain, writer, namespace))
        try:
            if lossless:
                cls._claim_gate(segment)
            segment.prefault()
            slot = cls._claim_slot(segment)
            state = cls._init_state(segment, slot, start == "oldest", lossless)
        except Exception:
            segment.close()
            raise
        return cls(segment, state, slot, lossless, IdleStrategy.parse(idle), strict)

    @staticmethod
    def _claim_slot(segment: Segment) -> int:
        pid = os.getpid()
        ticks = process_start_ticks(pid)
        w = segment.words
        for i in range(segment.max_readers):
            base = L.W_SLOTS + i * L.SLOT_WORDS
            owner = int(w[base + L.SW_PID])
            if owner != 0 and pid_alive(owner, int(w[base + L.SW_START])):
                continue
            if ring.claim_slot(w, i, pid, ticks, owner):
                return i
        raise NoFreeSlot(f"ring {segment.name}: all {segment.max_readers} reader slots are taken")

    @staticmethod
    def _init_state(segment: Segment, slot: int, oldest: bool, lossless: bool) -> np.ndarray:
        state = ring.new_reader_state()
        for _ in range(_ATTACH_RETRIES):
            if ring.init_reader(segment.words, state, slot, oldest, lossless):
                return state
        ring.release_slot(segment.words, slot, os.getpid())
        raise RingError(f"ring {segment.name}: could not attach, the writer laps every try")

    @staticmethod
    def _claim_gate(segment: Segment) -> None:
        w = segment.words
        if not int(w[L.W_FLAGS]) & L.FLAG_LOSSLESS:
            raise RingError(f"ring {segment.name} is not lossless; cannot attach as its gate")
        owner = int(w[L.W_GATE_PID])
        if owner and pid_alive(owner, int(w[L.W_GATE_START])):
            raise RingError(f"ring {segment.name} already has a live lossless reader (pid {owner})")
        pid = os.getpid()
        if not ring.claim_word(w, L.W_GATE_PID, owner, pid):
            raise RingError(f"ring {segment.name}: lossless reader slot taken concurrently")
        ring.claim_word(w, L.W_GATE_START, int(w[L.W_GATE_START]), process_start_ticks(pid))

    # -- reading --------------------------------------------------------------------------
    @property
    def name(self) -> RingName:
        """The ring's name."""
        return self.segment.name

    @property
    def frames_read(self) -> int:
        """Frames delivered to this reader."""
        return int(self.state[ring.RS_READ])

    @property
    def frames_lost(self) -> int:
        """Frames this reader lost because the writer lapped it (exact)."""
        return int(self.state[ring.RS_LOST])

    @property
    def laps(self) -> int:
        """How many times the writer lapped this reader."""
        return int(self.state[ring.RS_LAPS])

    @property
    def epoch(self) -> int:
        """The writer epoch this reader follows."""
        return int(self.state[ring.RS_EPOCH])

    @property
    def resyncs(self) -> int:
        """Writer restarts this reader followed."""
        return int(self.state[ring.RS_RESYNCS])

    @property
    def anomalies(self) -> int:
        """Intact-but-malformed records met (corruption; 0 in a healthy ring)."""
        return int(self.state[ring.RS_ANOMALIES])

    def _check_lost(self, lost_before: int) -> None:
        if self.strict and self.frames_lost != lost_before:
            raise RingLapped(f"ring {self.name}: lost {self.frames_lost - lost_before} frames "
                             f"({self.frames_lost} in all)")

    def read_into(self, out: np.ndarray) -> int:
        """Copy the next frame into ``out``; return its length or 0 if there is none yet.

        Raises ``ValueError`` if ``out`` is smaller than :attr:`max_frame` (uint8, C order).
        """
        if out.dtype != np.uint8 or out.ndim != 1 or out.shape[0] < self.max_frame:
            raise ValueError(f"out buffer ({out.dtype}, {out.shape}) is smaller than ring "
                             f"{self.name}'s max frame of {self.max_frame} bytes")
        lost = self.frames_lost
        n = int(ring.read_one(self.words, self.data, self.state, out))
        self._check_lost(lost)
        return n

    def read(self) -> bytes | None:
        """The next frame as bytes, or None if there is none yet (never blocks)."""
        n = self.read_into(self.buffer)
        return bytes(self.buffer[:n]) if n else None

    def poll(self, timeout: float | None = None) -> bytes | None:
        """The next frame, idling per the reader's strategy; None after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        state = self._idle_state
        while True:
            frame = self.read()
            if frame is not None:
                idle_step(state, 1)
                return frame
            ring.heartbeat(self.words, self.state)
            if deadline is not None and time.monotonic() >= deadline:
                return None
            idle_step(state, 0)

    def drain(self, max_frames: int = 1024) -> list[bytes]:
        """Every frame available now (at most ``max_frames``), oldest first."""
        out = np.empty(max(self.max_frame, 1 << 16), np.uint8)
        offsets = np.empty(max_frames + 1, np.int64)
        lost = self.frames_lost
        frames: list[bytes] = []
        while len(frames) < max_frames:
            n = int(ring.drain_into(self.words, self.data, self.state, out, offsets,
                                    max_frames - len(frames)))
            if n == 0:
                break
            frames.extend(bytes(out[offsets[i]:offsets[i + 1]]) for i in range(n))
        self._check_lost(lost)
        return frames

    def writer_alive(self) -> bool:
        """Whether the ring's writer process is alive (a dead writer just means no frames)."""
        w = self.words
        return pid_alive(int(w[L.W_WRITER_PID]), int(w[L.W_WRITER_START]))

    def close(self) -> None:
        """Free the reader slot (and the lossless gate) and unmap (idempotent)."""
        if self.segment.closed:
            return
        if os.getpid() == self._pid:
            ring.release_slot(self.words, self.slot, self._pid)
            if self.lossless:
                ring.claim_word(self.words, L.W_GATE_PID, self._pid, 0)
        del self.words, self.data
        self.segment.close()

    def __enter__(self) -> RingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
