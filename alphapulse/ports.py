"""A loopback TCP port that is free right now (for tests, benches and the local exchange).

The kernel hands out an unused ephemeral port; whoever binds it next may still lose a race for
it, so callers that start a server on it retry with another port when the bind fails.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
