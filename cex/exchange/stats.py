"""What the local exchange server did, for tests and the command's log."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ExchangeStats:
    """Counters of one server, safe to read from another thread through :meth:`snapshot`.

    Attributes
    ----------
    connections : Counter
        Websocket clients connected now, by venue (``binance``, ``binance_user``, ``coinbase``).
    connects : Counter
        Websocket connections accepted since the start, by venue.
    closed_by_server : Counter
        Connections the server closed (a limit, a missed pong, a ``disconnect`` step), by reason.
    rest : Counter
        REST requests answered, by path.
    sent : Counter
        Websocket messages sent, by venue.
    received : Counter
        Websocket messages received (pings and pongs included), by venue.
    published : Counter
        Live-mode messages built, by stream type or channel (``depth@100ms``, ``l2_data``).
    """

    connections: Counter[str] = field(default_factory=Counter)
    connects: Counter[str] = field(default_factory=Counter)
    closed_by_server: Counter[str] = field(default_factory=Counter)
    rest: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    published: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bump(self, counter: str, key: str, n: int = 1) -> None:
        """Add ``n`` to ``getattr(self, counter)[key]``."""
        with self._lock:
            getattr(self, counter)[key] += n

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A copy of every counter, as plain dicts."""
        with self._lock:
            return {name: dict(getattr(self, name)) for name in
                    ("connections", "connects", "closed_by_server", "rest", "sent", "received",
                     "published")}
