"""Per-publisher sequence tracking: gaps, duplicates, reordering and restarts, counted.

A stream is one (publisher, domain/type/key) topic; its stream sequence starts at 1 and grows
by one per message (see :mod:`mesh.topics`). For every arriving message the tracker returns
one verdict:

1. ``FIRST``: the first message seen from this stream (a late joiner starts anywhere).
2. ``NEXT``: exactly the expected sequence.
3. ``GAP``: ahead of the expected sequence; the skipped sequences are remembered as missing
   (at most ``window`` of them) and ``missed`` is how many were skipped.
4. ``LATE``: behind, and one of the missing sequences: reordered, delivered late.
5. ``DUPLICATE``: behind and not missing: seen before.
6. ``RESTART``: sequence 1 after a higher one: the publisher restarted; tracking restarts.

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
    missing: set[int] = field(default_factory=set)


@dataclass(slots=True)
class SequenceCounters:
    """Totals over every stream."""

    gaps: int = 0
    missed: int = 0
    duplicates: int = 0
    reordered: int = 0
    restarts: int = 0


class SequenceTracker:
    """Track stream sequences; count gaps, duplicates, reordering and restarts.

    Parameters
    ----------
    window : int
        Most missing sequences remembered per stream (older ones are forgotten: a very late
        arrival is then counted as a duplicate).
    """

    def __init__(self, window: int = 4096) -> None:
        self.window = window
        self.streams: dict[bytes, StreamState] = {}
        self.counters = SequenceCounters()

    def observe(self, stream: bytes, seq: int, header_seq: int = 0) -> tuple[Verdict, int]:
        """Record ``seq`` on ``stream``; return the verdict and how many were skipped (GAP)."""
        st = self.streams.get(stream)
        if st is None:
            self.streams[stream] = StreamState(seq, header_seq)
            return Verdict.FIRST, 0
        expected = st.last + 1
        if seq == expected:
            st.last, st.last_header_seq = seq, header_seq
            return Verdict.NEXT, 0
        c = self.counters
        if seq > expected:
            missed = seq - expected
            c.gaps += 1
            c.missed += missed
            if missed <= self.window:
                st.missing.update(range(expected, seq))
                if len(st.missing) > self.window:
                    for old in sorted(st.missing)[: len(st.missing) - self.window]:
                        st.missing.discard(old)
            st.last, st.last_header_seq = seq, header_seq
            return Verdict.GAP, missed
        if seq == 1:
            c.restarts += 1
            self.streams[stream] = StreamState(1, header_seq)
            return Verdict.RESTART, 0
        if seq in st.missing:
            st.missing.discard(seq)
            c.reordered += 1
            return Verdict.LATE, 0
        c.duplicates += 1
        return Verdict.DUPLICATE, 0

    def fill(self, stream: bytes, seq: int) -> bool:
        """Mark a missing ``seq`` as recovered; False if it was not missing (a duplicate)."""
        st = self.streams.get(stream)
        if st is None or seq not in st.missing:
            return False
        st.missing.discard(seq)
        return True

    def last_header_seq(self, stream: bytes) -> int:
        """Header sequence of the newest message seen on ``stream`` (0 if none)."""
        st = self.streams.get(stream)
        return st.last_header_seq if st else 0
