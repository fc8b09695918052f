"""AlphaPulse mesh: the wire protocol, the ZeroMQ transport, mesh configuration and the CLI.

The protocol (``mesh.protocol``) knows nothing of transports; the transport modules carry its
frames over ZeroMQ PUB/SUB; ``mesh.cli`` is the ``alphapulse`` command line.
"""
