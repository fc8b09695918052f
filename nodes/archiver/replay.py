"""Replay an archive: ring frames back into a ring, ZeroMQ frames back onto the mesh.

``alphapulse replay ARCHIVE`` (registered in ``nodes/archiver/cli.py``):

- frames archived from a ring (``source`` ``ring:...``) are written, byte for byte, to one
  ring of this host, ``/ap.<ring_namespace>.<domain>.<writer>`` (``--writer``, default
  ``replay``), in the archive's order: readers of the domain (strategies) discover it within
  their discovery interval, as they find any new writer;
- frames archived from ZeroMQ (``zmq:<topic>``) are published as the mesh node ``--as``
  (default ``replay``, which the mesh configuration must declare so that subscribers connect
  to it), with the recorded topic's type and key and header timestamp; the publisher numbers
  them anew (its own header sequence and stream sequences);
- pace: ``--speed 1`` keeps the recorded gaps between receive times, ``--speed N`` divides them
  by N, ``--speed max`` writes as fast as it can.

Nothing here waits on a reader except at the start (``--readers``) and the end (until the
readers present have read every frame, at most ``--linger`` seconds, then the ring is
unlinked).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from alphapulse.errors import ConfigError
from nodes.archiver.read import ArchivedFrame

__all__ = ["Pace", "Progress", "ReplayCounts", "parse_speed", "replay_frames"]


def parse_speed(text: str) -> float:
    """``--speed``: ``max`` (0.0: no waiting) or a positive factor (1 = recorded pace)."""
    if text.strip().lower() == "max":
        return 0.0
    try:
        speed = float(text)
    except ValueError:
        speed = -1.0
    if not speed > 0 or speed == float("inf"):
        raise ConfigError(f"--speed must be 'max' or a positive number, not {text!r}")
    return speed


class Pace:
    """Sleeps so that frame ``recv_ns`` goes out ``(recv_ns - first) / speed`` after the start."""

    def __init__(self, speed: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.speed = speed
        self.sleep = sleep
        self._first = -1
        self._start = 0

    def wait(self, recv_ns: int) -> None:
        """Wait until ``recv_ns``'s moment (at once for ``speed`` 0 or a past moment)."""
        if self.speed == 0.0:
            return
        now = time.monotonic_ns()
        if self._first < 0:
            self._first, self._start = recv_ns, now
            return
        due = self._start + int(max(0, recv_ns - self._first) / self.speed)
        if due > now:
            self.sleep((due - now) / 1e9)


class Progress:
    """A one-line progress bar on a terminal (nothing when ``out`` is not a tty)."""

    def __init__(self, total: int, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.total = max(total, 1)
        self.out = out
        self.width = width
        self.on = out.isatty()
        self._last = 0.0
        self.done = 0

    def step(self, n: int = 1) -> None:
        """Count ``n`` frames; redraw at most ten times a second."""
        self.done += n
        now = time.monotonic()
        if self.on and (now - self._last >= 0.1 or self.done >= self.total):
            self._last = now
            filled = min(self.width, self.width * self.done // self.total)
            self.out.write(f"\r[{'#' * filled}{' ' * (self.width - filled)}] "
                           f"{100 * self.done // self.total:3d}% {self.done}/{self.total} frames")
            self.out.flush()

    def close(self) -> None:
        """End the line."""
        if self.on:
            self.out.write("\n")
            self.out.flush()


@dataclass(slots=True)
class ReplayCounts:
    """Frames replayed into rings and onto the mesh, and frames skipped (full ring)."""

    ring: int = 0
    mesh: int = 0
    refused: int = 0


def topic_key(source: str) -> int:
    """The key field of an archived ``zmq:<topic>`` source (0 if it has none)."""
    topic = source[4:]
    try:
        return int(topic[6:22], 16) if topic[5:6] == "/" else 0
    except ValueError:
        return 0


def replay_frames(frames: Iterable[ArchivedFrame], *, pace: Pace,
                  write_ring: Callable[[bytes], bool] | None,
                  publish: Callable[[ArchivedFrame], None] | None,
                  progress: Progress | None = None) -> ReplayCounts:
    """Send every frame where it came from, at ``pace``; return the counts.

    ``write_ring`` (None: ring frames are skipped) returns False when a lossless ring is full;
    such a frame is counted ``refused``. ``publish`` (None: ZeroMQ frames are skipped).
    """
    counts = ReplayCounts()
    for f in frames:
        pace.wait(f.recv_ns)
        if f.source.startswith("ring:"):
            if write_ring is not None:
                if write_ring(f.frame):
                    counts.ring += 1
                else:
                    counts.refused += 1
        elif publish is not None:
            publish(f)
            counts.mesh += 1
        if progress is not None:
            progress.step()
    return counts


def only_sources(frames: Iterable[ArchivedFrame], ring: bool, mesh: bool
                 ) -> Iterator[ArchivedFrame]:
    """The frames from rings (``ring``) and/or from ZeroMQ (``mesh``)."""
    for f in frames:
        if (ring and f.source.startswith("ring:")) or (mesh and f.source.startswith("zmq:")):
            yield f
