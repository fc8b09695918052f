"""The node interface: two or three small methods over the runtime.

A node is a class with a ``CONTRACT`` and any of these hooks; the runtime calls them from its
one loop thread, so a node needs no locks::

    class Echo(Node):
        CONTRACT = Contract("echo", "Republishes trades.", SourceType.DASHBOARD,
                            consumes=(Trade,), produces=(Trade,))

        def on_frame(self, delivery):
            self.rt.publish(delivery.frame.tlvs)

``self.rt`` is the :class:`~nodes.runtime.runtime.NodeRuntime`: ``publish``, ``settings``,
``stats``, ``raise_stop``, ``release_stop``, ``halted``, ``log``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from nodes.runtime.contract import Contract

if TYPE_CHECKING:
    from mesh.pubsub import Delivery
    from nodes.runtime.runtime import NodeRuntime


class Node:
    """Base of every node. Override the hooks you need; all run on the loop thread."""

    CONTRACT: ClassVar[Contract]

    def __init__(self, rt: NodeRuntime) -> None:
        self.rt = rt

    def on_start(self) -> None:
        """Called once the sockets are up, before the first pass of the loop."""

    def on_frame(self, delivery: Delivery) -> None:
        """Called for every delivered frame whose first TLV is a consumed type."""

    def on_tick(self, now_ns: int) -> int:
        """Called every pass of the loop (monotonic ns); return how much work was done."""
        return 0

    def on_stop(self) -> None:
        """Called once on a graceful stop, before the final heartbeat and socket close."""
