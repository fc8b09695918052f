"""The same-host kill flag: a few bytes of POSIX shared memory that hot loops read directly.

::

     0        4        8                16       17               64
     +--------+--------+----------------+--------+----------------+
     | magic  | version| stop_id u64    | flag u8| reserved       |
     +--------+--------+----------------+--------+----------------+

Setting: write ``stop_id``, then the flag byte (on x86-64 stores are not reordered with other
stores, so a reader that sees the flag sees the id). Clearing: the flag byte only. A reader's
check is one byte load from a mapped page: :meth:`KillFlag.is_set` costs ~50 ns from Python;
``KillFlag.array`` (a numpy ``uint8`` view) lets numba kernels read ``array[FLAG_OFFSET]``.

The segment is created on first open and outlives every process (a stop survives restarts);
only :meth:`KillFlag.unlink` (tests, operators) removes it.

Process-safety: any number of processes may map it; readers never block. Thread-safety: the
byte read is atomic; one writer at a time (operators) is assumed.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct

import posix_ipc

from alphapulse.errors import MeshError

MAGIC = 0x4B494C4C  # "KILL"
VERSION = 1
MAGIC_OFFSET = 0
VERSION_OFFSET = MAGIC_OFFSET + 4
STOP_ID_OFFSET = VERSION_OFFSET + 4
FLAG_OFFSET = STOP_ID_OFFSET + 8
SIZE = 64
_HEAD = struct.Struct("<II")
_U64 = struct.Struct("<Q")


class KillFlagError(MeshError):
    """The kill flag segment cannot be opened or has a foreign layout."""

    kind = "kill_flag"


class KillFlag:
    """Open (creating if needed) the kill flag segment ``name`` (e.g. ``/ap-kill``).

    Parameters
    ----------
    name : str
        POSIX shared-memory name, starting with ``/``.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        try:
            shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREAT, mode=0o600, size=0)
            if shm.size < SIZE:
                os.ftruncate(shm.fd, SIZE)
            self.mm = mmap.mmap(shm.fd, SIZE)
            shm.close_fd()
        except (posix_ipc.Error, OSError, ValueError) as exc:
            raise KillFlagError(f"cannot open kill flag {name}: {exc}") from exc
        magic, version = _HEAD.unpack_from(self.mm, 0)
        if magic == 0:
            _HEAD.pack_into(self.mm, 0, MAGIC, VERSION)
        elif (magic, version) != (MAGIC, VERSION):
            raise KillFlagError(f"{name} is not a version {VERSION} kill flag")

    def is_set(self) -> bool:
        """True while the flag is set: one byte load."""
        return self.mm[FLAG_OFFSET] != 0

    @property
    def stop_id(self) -> int:
        """Id of the stop that set the flag (0 if never set)."""
        return _U64.unpack_from(self.mm, STOP_ID_OFFSET)[0]

    @property
    def array(self):
        """A numpy ``uint8`` view of the segment for numba kernels (read ``[FLAG_OFFSET]``)."""
        import numpy as np
        return np.frombuffer(self.mm, dtype=np.uint8)

    def set(self, stop_id: int) -> None:
        """Set the flag for ``stop_id`` (id first, then the flag byte)."""
        _U64.pack_into(self.mm, STOP_ID_OFFSET, stop_id)
        self.mm[FLAG_OFFSET] = 1

    def clear(self) -> None:
        """Clear the flag (the last stop id stays readable)."""
        self.mm[FLAG_OFFSET] = 0

    def close(self) -> None:
        """Unmap (the segment stays)."""
        # A live numpy view keeps the mapping; it goes when the view does.
        with contextlib.suppress(BufferError):
            self.mm.close()

    def unlink(self) -> None:
        """Remove the segment from the system (tests, operator cleanup)."""
        self.close()
        with contextlib.suppress(posix_ipc.ExistentialError):
            posix_ipc.unlink_shared_memory(self.name)
