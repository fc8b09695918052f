"""A loopback TCP port that is free right now (for tests, benches and the local exchange).

The port is drawn at random from 10000-19999, below Linux's ephemeral range (32768-60999 by
default): the kernel's own choice (binding port 0) is an ephemeral port, which every outgoing
connection on the host (an HTTP client, a ZeroMQ ``connect``) may take between the probe and
the server's bind; seen in CI as a node's metrics server failing with EADDRINUSE. Nothing the
project starts listens in this range by default (devnet 8545, metrics 9100+, dashboard 8700,
test anvils 20000+). Whoever binds the port next may still lose a race for it to another
prober, so callers that start a server on it retry with another port when the bind fails.
"""

from __future__ import annotations

import random
import socket

#: The range probed: below the ephemeral range, above the project's fixed default ports.
LOW, HIGH = 10_000, 20_000
#: Random probes before falling back to the kernel's choice.
TRIES = 64
#: Drawn from the OS, not the ``random`` module: a test that seeds ``random`` in two xdist
#: workers must not make them draw the same ports.
_RNG = random.SystemRandom()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    for _ in range(TRIES):
        port = _RNG.randrange(LOW, HIGH)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
