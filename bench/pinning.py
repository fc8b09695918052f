"""CPU pinning for benchmarks: a writer and a reader each on its own CPU where possible."""

from __future__ import annotations

import os


def cpus() -> list[int]:
    """The CPUs this process may run on, in order."""
    return sorted(os.sched_getaffinity(0))


def pin(index: int) -> int | None:
    """Pin the calling process to the ``index``-th allowed CPU (wrapping); return it or None."""
    allowed = cpus()
    if len(allowed) < 2:
        return None
    cpu = allowed[index % len(allowed)]
    os.sched_setaffinity(0, {cpu})
    return cpu


def unpin(allowed: list[int]) -> None:
    """Restore the affinity saved by :func:`cpus`."""
    os.sched_setaffinity(0, set(allowed))
