"""Mesh counters kept as plain integers on the hot path and read by the metrics exporter.

Incrementing a Python int attribute costs a few tens of nanoseconds; a prometheus-client
``Counter.inc`` takes a lock. The node runtime exports these fields at scrape time instead
(:mod:`nodes.runtime.metrics`).

Thread-safety: written by the one thread that owns the sockets; read by the metrics thread,
which may see a value one increment old (each read of an int attribute is atomic in CPython).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class MeshStats:
    """Frames in and out, sequence anomalies, drops, recovery and errors by kind."""

    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    gaps: int = 0
    missed: int = 0
    duplicates: int = 0
    reordered: int = 0
    restarts: int = 0
    drops: int = 0
    recovered: int = 0
    recovery_failures: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def error(self, kind: str) -> None:
        """Count one error of ``kind`` (a FrameError's or MeshError's ``kind``)."""
        self.errors[kind] += 1

    @property
    def error_total(self) -> int:
        """All errors, every kind."""
        return sum(self.errors.values())
