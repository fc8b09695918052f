"""Per-publisher sequence tracking: gaps, duplicates, reordering and restarts, counted.

A stream is one (publisher, domain/type/key) topic; its stream sequence starts at 1 and grows
by one per message within one *run* of the publisher (its start time, carried in every topic,
see :mod:`mesh.topics`). For every arriving message the tracker returns one verdict:

1. ``FIRST``: the first message seen from this stream (a late joiner starts anywhere).
2. ``NEXT``: exactly the expected sequence of the run tracked.
3. ``GAP``: ahead of the expected sequence, same run; the skipped sequences are remembered as
   missing (at most ``window`` of them) and ``missed`` is how many were skipped.
4. ``LATE``: behind, same run, and one of the missing sequences: reordered, delivered late.
5. ``DUPLICATE``: behind, same run, and not missing: seen before.
6. ``RESTART``: a run other than the one tracked, whatever its sequence: the publisher
   restarted (its counters start again at 1, and a subscriber that reconnects after the
   restart may first see any sequence of the new run, behind or ahead of the old run's).
   Tracking restarts there, and ``missed`` counts the new run's sequences before it
   (``seq - 1``). A run is a name, not an order: any run not tracked is a new one, so a wall
   clock stepped back across a restart changes nothing. ZeroMQ keeps one connection's order
   across reconnects (the SUB side's queue outlives the peer), so every frame of the old run
   that arrives at all arrives before the first of the new run.

Not thread-safe: one tracker per subscriber socket, used by the thread that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Verdict(Enum):
    """What one arriving sequence number means."""

    FIRST = "first"
    NEXT = "next"
    GAP = "gap"
    LATE = "late"
    DUPLICATE = "duplicate"
    RESTART = "restart"


@dataclass(slots=True)
class StreamState:
    """What the tracker remembers of one stream."""

    last: int = 0
    last_header_seq: int = 0
    run: int = 0
    missing: set[int] = field(default_factory=set)


@dataclass(slots=True)
class SequenceCounters:
    """Totals over every stream."""

    gaps: int = 0
    missed: int = 0
    duplicates: int = 0
    reordered: int = 0
    restarts: int = 0


_FIRST = (Verdict.FIRST, 0)
_NEXT = (Verdict.NEXT, 0)
_LATE = (Verdict.LATE, 0)
_DUPLICATE = (Verdict.DUPLICATE, 0)
_RESTART = (Verdict.RESTART, 0)
_GAP = Verdict.GAP


class SequenceTracker:
    """Track stream sequences; count gaps, duplicates, reordering and restarts.

    Parameters
    ----------
    window : int
        Most missing sequences remembered per stream (older ones are forgotten: a very late
        arrival is then counted as a duplicate).

    Attributes
    ----------
    gap_from_header : int
        After a ``GAP`` verdict: the header sequence of the message seen before the gap (what
        a recovery request starts from).
    """

    def __init__(self, window: int = 4096) -> None:
        self.window = window
        self.streams: dict[bytes, StreamState] = {}
        self.counters = SequenceCounters()
        self.gap_from_header = 0

    def observe(self, stream: bytes, seq: int, header_seq: int = 0, run: int = 0
                ) -> tuple[Verdict, int]:
        """Record ``seq`` of ``run`` on ``stream``; return the verdict and how many were skipped.

        The expected case (``NEXT``) is one dict lookup, two compares and two stores.
        """
        st = self.streams.get(stream)
        if st is None:
            self.streams[stream] = StreamState(seq, header_seq, run)
            return _FIRST
        expected = st.last + 1
        if seq == expected and run == st.run:
            st.last = seq
            st.last_header_seq = header_seq
            return _NEXT
        c = self.counters
        if run != st.run:
            c.restarts += 1
            c.missed += seq - 1
            self.streams[stream] = StreamState(seq, header_seq, run)
            return _RESTART if seq == 1 else (Verdict.RESTART, seq - 1)
        if seq > expected:
            missed = seq - expected
            c.gaps += 1
            c.missed += missed
            if missed <= self.window:
                st.missing.update(range(expected, seq))
                if len(st.missing) > self.window:
                    for old in sorted(st.missing)[: len(st.missing) - self.window]:
                        st.missing.discard(old)
            self.gap_from_header = st.last_header_seq
            st.last, st.last_header_seq = seq, header_seq
            return _GAP, missed
        if seq in st.missing:
            st.missing.discard(seq)
            c.reordered += 1
            return _LATE
        c.duplicates += 1
        return _DUPLICATE

    def fill(self, stream: bytes, seq: int) -> bool:
        """Mark a missing ``seq`` as recovered; False if it was not missing (a duplicate)."""
        st = self.streams.get(stream)
        if st is None or seq not in st.missing:
            return False
        st.missing.discard(seq)
        return True

    def advance(self, stream: bytes, seq: int, header_seq: int, run: int) -> bool:
        """Accept a recovered ``seq`` past the stream's tail (or fill it if it was missing).

        For tail recovery and late-join back-fill: the frame is recorded as if it had arrived
        (a stream not seen yet, or seen only in another run, starts there), so its original,
        should it still arrive, is a DUPLICATE. False if ``seq`` was neither past the tail
        nor missing (already seen).
        """
        st = self.streams.get(stream)
        if st is None or st.run != run:
            self.streams[stream] = StreamState(seq, header_seq, run)
            return True
        if seq > st.last:
            st.last, st.last_header_seq = seq, header_seq
            return True
        return self.fill(stream, seq)

    def run(self, stream: bytes) -> int | None:
        """The run tracked on ``stream`` (None if the stream was never seen)."""
        st = self.streams.get(stream)
        return st.run if st else None

    def last_seq(self, stream: bytes) -> int:
        """Stream sequence of the newest message seen on ``stream`` (0 if none)."""
        st = self.streams.get(stream)
        return st.last if st else 0

    def last_header_seq(self, stream: bytes) -> int:
        """Header sequence of the newest message seen on ``stream`` (0 if none)."""
        st = self.streams.get(stream)
        return st.last_header_seq if st else 0
