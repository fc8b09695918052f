"""The same-host kill flag: one line of shared memory that every hot loop can check.

An operator (``alphapulse stop``) or the risk node sets it; executors and strategies read it
before they act. It is a separate POSIX shared-memory segment (``/<namespace>-kill``), laid out
by :mod:`shm.kill_flag_layout`. The segment is created on first open and outlives every process
(a stop survives restarts); only :meth:`KillFlag.unlink` (tests, operators) removes it.

Ordering protocol (the only writers are the set/clear calls below):

1. ``set``: release-store ``STOP_ID``, then release-store ``FLAG = 1``; a reader that sees the
   flag therefore sees the id.
2. ``clear``: release-store ``FLAG = 0`` (the last id stays readable).
3. readers: acquire-load ``FLAG`` (:meth:`KillFlag.is_set` from Python, :func:`flag_is_set`
   from ``@njit`` code on :attr:`KillFlag.words`), then acquire-load ``STOP_ID`` if needed.
4. first open: release-store ``LAYOUT_VERSION``, then compare-and-set ``MAGIC`` from 0; an
   opener that finds another magic or version refuses the segment.

Process-safety: any number of processes may map it; readers never block. One writer at a time
(operators, the risk node) is assumed; concurrent ``set`` calls leave one of the ids.
"""

from __future__ import annotations

import contextlib
import mmap
import os

import numpy as np
import posix_ipc
from numba import njit

from shm import kill_flag_layout as K
from shm import ring
from shm.atomics import load_acquire, store_release
from shm.errors import KillFlagError

__all__ = ["KillFlag", "KillFlagError", "flag_is_set"]


@njit(cache=True, inline="always")
def flag_is_set(words):
    """True while the kill flag in ``words`` (a :attr:`KillFlag.words` view) is set."""
    return load_acquire(words, K.W_FLAG) != 0


class KillFlag:
    """Open (creating if needed) the kill flag segment ``name`` (e.g. ``/ap-kill``).

    Parameters
    ----------
    name : str
        POSIX shared-memory name, starting with ``/``.

    Raises
    ------
    KillFlagError
        The segment cannot be opened, or holds another layout.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        try:
            shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREAT, mode=0o600, size=0)
            try:
                if shm.size < K.SIZE:
                    os.ftruncate(shm.fd, K.SIZE)
                self.mm = mmap.mmap(shm.fd, K.SIZE)
            finally:
                shm.close_fd()
        except (posix_ipc.Error, OSError, ValueError) as exc:
            raise KillFlagError(f"cannot open kill flag {name}: {exc}") from exc
        self.words = np.frombuffer(self.mm, dtype=np.int64)
        if load_acquire(self.words, K.W_MAGIC) == 0:
            store_release(self.words, K.W_VERSION, K.LAYOUT_VERSION)
            ring.claim_word(self.words, K.W_MAGIC, 0, K.MAGIC)
        magic = load_acquire(self.words, K.W_MAGIC)
        version = load_acquire(self.words, K.W_VERSION)
        if (magic, version) != (K.MAGIC, K.LAYOUT_VERSION):
            self.close()
            raise KillFlagError(f"{name} is not a version {K.LAYOUT_VERSION} kill flag")

    def is_set(self) -> bool:
        """True while the flag is set (one acquire load)."""
        return load_acquire(self.words, K.W_FLAG) != 0

    @property
    def stop_id(self) -> int:
        """Id of the stop that last set the flag (0 if never set)."""
        return load_acquire(self.words, K.W_STOP_ID)

    def set(self, stop_id: int) -> None:
        """Set the flag for ``stop_id``: the id first, then the flag (release stores)."""
        store_release(self.words, K.W_STOP_ID, int(stop_id))
        store_release(self.words, K.W_FLAG, 1)

    def clear(self) -> None:
        """Clear the flag (the last stop id stays readable)."""
        store_release(self.words, K.W_FLAG, 0)

    def close(self) -> None:
        """Unmap (the segment stays); idempotent."""
        if hasattr(self, "words"):
            del self.words
        # A numpy view held elsewhere keeps the mapping; it goes when that view does.
        with contextlib.suppress(BufferError):
            self.mm.close()

    def unlink(self) -> None:
        """Unmap and remove the segment from the system (tests, operator cleanup)."""
        self.close()
        with contextlib.suppress(posix_ipc.ExistentialError):
            posix_ipc.unlink_shared_memory(self.name)
