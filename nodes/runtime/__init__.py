"""The node runtime every AlphaPulse process stands on.

A node is a small class (:class:`Node`) with a :class:`Contract`; :class:`NodeRuntime` gives it
sockets, a run loop with a configurable idle strategy, heartbeats, the emergency-stop latch,
graceful SIGTERM/SIGINT handling and a Prometheus endpoint. ``python -m nodes.runtime KIND``
runs one; :mod:`nodes.runtime.testing` runs one in a subprocess for contract tests.
"""

from nodes.runtime.contract import ConfigKey, Contract
from nodes.runtime.node import Node

__all__ = ["ConfigKey", "Contract", "Node"]
