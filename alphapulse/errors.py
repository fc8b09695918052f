"""The one error tree of AlphaPulse, at the floor of the house (imports nothing).

Every error the project raises on purpose derives from :class:`AlphaPulseError`, with one
subclass per subsystem and specific leaves defined beside the code that raises them
(``mesh.protocol.errors``, ``shm.errors``, ``contracts.client``, ...). Foreign errors are translated with
``raise ... from exc``. Nodes log, count and carry on; the command line prints the message and
exits with status 2.
"""

from __future__ import annotations


class AlphaPulseError(Exception):
    """Root of every error AlphaPulse raises on purpose.

    ``kind`` is a short stable label used as the ``kind`` value of error counters.
    """

    kind: str = "error"


class ProtocolError(AlphaPulseError):
    """A frame or a message value that does not follow the AlphaPulse wire format."""

    kind = "protocol"


class RingError(AlphaPulseError):
    """A shared-memory ring used wrongly or found in a bad state."""

    kind = "ring"


class MeshError(AlphaPulseError):
    """A ZeroMQ transport, configuration or node-runtime failure."""

    kind = "mesh"


class ChainError(AlphaPulseError):
    """A failure talking to a chain, a contract or the devnet."""

    kind = "chain"


class ConfigError(AlphaPulseError):
    """Configuration or a command-line argument that cannot be used (a bad key, value or file)."""

    kind = "config"
