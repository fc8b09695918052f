"""Errors of the shared-memory segments (rings, kill flag), all under :class:`alphapulse.errors.RingError`."""

from __future__ import annotations

from alphapulse.errors import RingError

__all__ = [
    "BadRingName", "FrameTooLarge", "KillFlagError", "LayoutVersionMismatch", "NoFreeSlot", "NotARing",
    "RingError", "RingExists", "RingLapped", "RingNotFound", "WriterAlive",
]


class BadRingName(RingError, ValueError):
    """A namespace, domain or writer name that cannot be part of a segment name."""

    kind = "ring_bad_name"


class RingNotFound(RingError, FileNotFoundError):
    """No segment of that name exists."""

    kind = "ring_not_found"


class RingExists(RingError, FileExistsError):
    """A segment of that name exists and the caller asked for a fresh one."""

    kind = "ring_exists"


class NotARing(RingError):
    """A segment that is not an AlphaPulse ring (wrong magic, size or geometry)."""

    kind = "ring_not_a_ring"


class LayoutVersionMismatch(RingError):
    """A ring written with another layout version than this code reads."""

    kind = "ring_layout_version"


class FrameTooLarge(RingError, ValueError):
    """A frame longer than the ring accepts (a bug in the caller, not back-pressure)."""

    kind = "ring_frame_too_large"


class WriterAlive(RingError):
    """Another live process is the writer of this ring."""

    kind = "ring_writer_alive"


class NoFreeSlot(RingError):
    """Every reader slot of the ring belongs to a live process."""

    kind = "ring_no_free_slot"


class RingLapped(RingError):
    """A strict reader lost frames because the writer lapped it (loss is counted first)."""

    kind = "ring_lapped"


class KillFlagError(RingError):
    """The kill-flag segment cannot be opened or holds a foreign layout."""

    kind = "kill_flag"
