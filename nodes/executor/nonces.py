"""Nonces for several transactions in flight from one account.

Nonces are handed out in order without asking the chain; after any error (a refused or lost
submission, a nonce taken and never sent) the next :meth:`NonceManager.take` reads the account's
pending count again, so a gap is filled by the next transaction instead of blocking every later one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class NonceManager:
    """Thread-safe nonce source over ``pending_count`` (the chain's pending transaction count)."""

    def __init__(self, pending_count: Callable[[], int]):
        self._pending_count = pending_count
        self._lock = threading.Lock()
        self._next: int | None = None
        self.resyncs = 0

    def take(self) -> int:
        """The next nonce (reads the chain first after a :meth:`resync`)."""
        with self._lock:
            if self._next is None:
                self._next = self._pending_count()
                self.resyncs += 1
            nonce = self._next
            self._next += 1
            return nonce

    def give_back(self, nonce: int) -> None:
        """A nonce taken and never sent: reuse it if it was the last one, else re-read the chain."""
        with self._lock:
            if self._next is not None and nonce == self._next - 1:
                self._next = nonce
            else:
                self._next = None

    def resync(self) -> None:
        """Forget the count; the next :meth:`take` reads it from the chain."""
        with self._lock:
            self._next = None
