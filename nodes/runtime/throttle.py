"""A log line per kind of trouble at most once per interval, with how many were held back.

A boundary that meets bad input counts every occurrence (``rt.stats.error``) but must not
write a log line for each: a venue sending junk a thousand times a second would bury the log.
:class:`ThrottledLog` writes the first line of a kind, holds the next ones back for
``every_s`` seconds, and says how many it held back in its next line of that kind.
"""

from __future__ import annotations

import logging
import time


class ThrottledLog:
    """Warnings of ``prefix: kind: detail``, at most one per kind every ``every_s`` seconds.

    Parameters
    ----------
    log : logging.Logger
        Where the lines go (warning level).
    prefix : str
        The node's name, first on each line.
    every_s : float
        Shortest interval between two lines of one kind.
    """

    def __init__(self, log: logging.Logger, prefix: str, every_s: float) -> None:
        self.log = log
        self.prefix = prefix
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def note(self, kind: str, detail: str = "") -> bool:
        """Log ``kind`` now unless one was logged less than ``every_s`` ago; True if logged."""
        now = time.monotonic()
        if now - self._last.get(kind, -1e18) < self.every_s:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        self._last[kind] = now
        more = self._held.pop(kind, 0)
        self.log.warning("%s: %s%s%s", self.prefix, kind, f": {detail}" if detail else "",
                         f" ({more} more since the last report)" if more else "")
        return True
