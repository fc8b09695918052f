"""The node interface: two or three small methods over the runtime.

A node is a class with a ``CONTRACT`` and any of these hooks; the runtime calls them from its
one loop thread, so a node needs no locks::

    class Echo(Node):
        CONTRACT = Contract("echo", "Republishes trades.", SourceType.DASHBOARD,
                            consumes=(Trade,), produces=(Trade,))

        def on_frame(self, delivery):
            self.rt.publish(delivery.frame.tlvs)

A node whose contract reads rings gets their frames in batches: ``on_ring_batch`` in Python,
or, when the class names a ``RING_KERNEL``, in compiled code without a return to Python per
frame::

    @njit
    def count_syncs(data, offsets, count, ctx):   # -> frames it could not use
        for i in range(count):
            ctx[0] += 1
        return 0

    class Counter(Node):
        CONTRACT = Contract("counter", "Counts market data.", SourceType.DASHBOARD,
                            reads=(RelayDomain.MARKET_DATA,))
        RING_KERNEL = count_syncs

        def on_start(self):
            self.ring_context = np.zeros(1, np.int64)

``self.rt`` is the :class:`~nodes.runtime.runtime.NodeRuntime`: ``publish``, ``write_ring``,
``offload``, ``settings``, ``stats``, ``raise_stop``, ``release_stop``, ``halted``, ``log``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from nodes.runtime.contract import Contract

if TYPE_CHECKING:
    from mesh.pubsub import Delivery
    from mesh.rings import RingBatch
    from nodes.runtime.runtime import NodeRuntime


class Node:
    """Base of every node. Override the hooks you need; all run on the loop thread."""

    CONTRACT: ClassVar[Contract]
    #: Optional ``@njit`` kernel ``(data, offsets, count, ring_context) -> int`` that consumes
    #: a drained batch of ring frames (frame ``i`` is ``data[offsets[i]:offsets[i + 1]]``) and
    #: returns how many frames it rejected (counted as ``ring_frame_rejected`` errors). Frames
    #: are untrusted bytes and compiled code does not bounds-check: check every frame's length
    #: (and the magic, the TLV type and length) before reading a field.
    RING_KERNEL: ClassVar[Any] = None

    def __init__(self, rt: NodeRuntime) -> None:
        self.rt = rt
        #: Passed to ``RING_KERNEL`` with every batch (typically numpy arrays of state).
        self.ring_context: Any = None

    def on_start(self) -> None:
        """Called once the sockets are up, before the first pass of the loop."""

    def on_frame(self, delivery: Delivery) -> None:
        """Called for every delivered frame whose first TLV is a consumed type."""

    def on_ring_batch(self, batch: RingBatch) -> None:
        """Called with each batch of frames read from a ring (when there is no ``RING_KERNEL``).

        The batch is valid only during the call; :func:`nodes.runtime.rings.decoded` decodes
        it, counting malformed frames.
        """

    def on_tick(self, now_ns: int) -> int:
        """Called every pass of the loop (monotonic ns); return how much work was done."""
        return 0

    def on_stop(self) -> None:
        """Called once on a graceful stop, before the final heartbeat and socket close."""
